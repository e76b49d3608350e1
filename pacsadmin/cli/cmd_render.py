"""``pacsadmin render``: one frame of a DICOM image to PNG through the display pipeline.

The same pipeline as the viewer (pacsadmin.core.imaging), headless: no annotations, the
image's own size, 8-bit grayscale for monochrome and RGB for color.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, cast

DESCRIPTION = """\
Render one frame of a DICOM image to a PNG through the display pipeline (modality LUT,
VOI window or LUT, MONOCHROME1/INVERSE presentation), exactly as the viewer shows it.

Frames are numbered from 1, as DICOM numbers them (Referenced Frame Number): --frame 1 is
the first frame.  The default window is the file's first Window Center/Width (or its first
VOI LUT when it has no window), else the full range of the modality values.

The folder of OUT.png must exist (it is not created).

exit codes: 0 written, 1 the image cannot be rendered or written (the reason is printed),
2 usage.
"""

#: ``--window -600,1500`` is read as ``--window=-600,1500`` (see cli.main).
NEGATIVE_VALUE_OPTIONS = ("--window",)


def _window(text: str) -> tuple[float, float]:
    try:
        center, width = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not CENTER,WIDTH (for example 40,400 or -600,1500)"
        ) from None
    if width < 1:  # PS3.3 C.11.2.1.2.1: LINEAR needs a width of at least 1
        raise argparse.ArgumentTypeError("the window width must be at least 1")
    return center, width


def _frame(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("frames are numbered from 1")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser(
        "render",
        help="render a DICOM image frame to PNG (exit 0 ok, 1 cannot render, 2 usage)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="a DICOM file")
    p.add_argument("-o", "--output", metavar="OUT.png", required=True, help="PNG to write")
    p.add_argument(
        "--frame", type=_frame, default=1, metavar="N", help="frame number, from 1 (default 1)"
    )
    voi = p.add_mutually_exclusive_group()
    voi.add_argument(
        "--window",
        type=_window,
        metavar="CENTER,WIDTH",
        help="window in modality units (HU for CT), LINEAR function; e.g. --window -600,1500",
    )
    voi.add_argument(
        "--preset",
        metavar="NAME",
        help="a window preset: brain, subdural, stroke, lung, mediastinum, abdomen, liver, "
        "bone, or one of yours (presets.json in the app folder)",
    )
    voi.add_argument(
        "--auto",
        action="store_const",
        const="minmax",
        help="window from the image: min/max of the modality values (padding excluded)",
    )
    voi.add_argument(
        "--auto-percentile",
        dest="auto",
        action="store_const",
        const="percentile",
        help="window from the image: 1st to 99th percentile of the modality values",
    )
    p.add_argument("--json", action="store_true", help="print the applied pipeline as JSON")
    p.set_defaults(func=run_render)


def run_render(args: argparse.Namespace, ctx: Any) -> int:
    import dataclasses
    import json
    import warnings
    from pathlib import Path

    from pacsadmin.cli.main import UsageError
    from pacsadmin.core.imaging.errors import ImageError
    from pacsadmin.core.imaging.presets import find_preset, load_user_presets

    preset = None
    if args.preset:
        user, problems = load_user_presets(ctx.paths.home / "presets.json")
        for problem in problems:
            print(f"pacsadmin render: {problem}", file=sys.stderr)
        try:
            preset = find_preset(args.preset, user)
        except ImageError as exc:
            raise UsageError(str(exc)) from None
    folder = Path(args.output).parent
    if not folder.is_dir():  # before any work; and write_png never creates it
        print(f"pacsadmin render: the folder {folder} does not exist", file=sys.stderr)
        return 1
    try:
        with warnings.catch_warnings():  # pydicom's notes on odd values: not for this output
            warnings.filterwarnings("ignore", category=UserWarning, module="pydicom")
            image, pipe = render_file(args, preset)
    except ImageError as exc:
        print(f"pacsadmin render: {args.file}: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError:
        print(f"pacsadmin render: the folder {folder} does not exist", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"pacsadmin render: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr
        )
        return 1
    desc = pipe.describe()
    if args.json:
        out = dataclasses.asdict(desc)
        out.update(output=args.output, width=int(image.shape[1]), height=int(image.shape[0]))
        print(json.dumps(out, indent=2))
    else:
        mode = "RGB" if image.ndim == 3 else "8-bit gray"
        print(f"wrote {args.output}: {image.shape[1]}x{image.shape[0]} {mode}; {desc.voi}")
    return 0


def render_file(args: argparse.Namespace, preset: Any = None) -> tuple[Any, Any]:
    """Render ``args.file`` to ``args.output``: (image, pipeline).  The file boundary of
    render: whatever a damaged file raises comes out as ImageError with its reason;
    OSError is the output's (it could not be written)."""
    import dataclasses

    from pacsadmin.core.imaging.display import auto_window
    from pacsadmin.core.imaging.errors import image_error
    from pacsadmin.core.imaging.luts import Window
    from pacsadmin.core.imaging.png import write_png
    from pacsadmin.core.imaging.render import open_frame, render_frame

    try:
        frame = open_frame(args.file, args.frame - 1)
        pipe = frame.pipeline
        if not pipe.is_color:
            if args.window:
                window = cast("tuple[float, float]", args.window)  # from _window()
                pipe = pipe.with_voi(Window(*window, "LINEAR", "", "user"))
            elif preset is not None:
                pipe = pipe.with_voi(preset.window())
            elif args.auto:
                pct = (1.0, 99.0) if args.auto == "percentile" else None
                pipe = pipe.with_voi(auto_window(pipe, frame.stored, pct))
        elif args.window or preset or args.auto:
            print("pacsadmin render: a color image has no window; ignored", file=sys.stderr)
        image = render_frame(dataclasses.replace(frame, pipeline=pipe))
        write_png(args.output, image)
    except OSError:
        raise  # reading errors are ImageError already (open_frame): this is the output's
    except Exception as exc:
        raise image_error(exc) from exc
    return image, pipe
