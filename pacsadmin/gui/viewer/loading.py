"""Loading for the viewer, Qt-free: the functions its background jobs run.

``open_job`` scans and decodes in one pass (each file read once) and reports frames of
the first series met as they come; ``fill`` decodes the rest of a series, nearest slices
first.  Both report per-file errors and carry on (RELIABILITY rule 3).
"""

from __future__ import annotations

from typing import Any

from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.geometry import read_geometry
from pacsadmin.core.imaging.loader import FILE_ERRORS, LoadedImage, load_image, preamble_note
from pacsadmin.core.imaging.render import Frame, open_frame
from pacsadmin.core.imaging.series import ScanResult, scan


def load(path: str, index: int, image: LoadedImage | None = None) -> Frame:
    """Decode one frame (runs on a worker thread or synchronously)."""
    frame = open_frame(image if image is not None else path, index)
    if frame.image.geometry.frames == 1:  # keep only the decoded values in memory
        del frame.image.ds.PixelData
    return frame


def fill(ctx: Any, slots: list[tuple[str, int]], start: int, skip: frozenset[int]) -> int:
    """The background job: decode every slot not in ``skip``, nearest to ``start`` first;
    report each ``(slot, Frame | message)``.  One bad file never stops it (rule 3)."""
    order = sorted(
        (j for j in range(len(slots)) if j not in skip), key=lambda j: (abs(j - start), j)
    )
    images: dict[str, LoadedImage] = {}  # multi-frame files are read once
    multi = _multi(slots)
    for n, j in enumerate(order):
        if ctx.cancelled:
            break
        path, k = slots[j]
        try:
            image = images.get(path)
            if image is None and path in multi:
                image = images[path] = load_image(path)
            ctx.report((j, load(path, k, image)))
        except ImageError as exc:
            ctx.report((j, str(exc)))
        ctx.progress(n + 1, len(order))
    return len(order)


def open_job(ctx: Any, paths: list[str]) -> ScanResult:
    """Scan and decode in one pass (each file read once): frames of the first series met
    are reported as ``(path, frame index, Frame | message)`` while the scan goes on."""
    state: dict[str, str | None] = {"series": None}

    def on_file(info: Any, ds: Any) -> None:
        if not info.has_pixels or ctx.cancelled:
            return
        if state["series"] is None:
            state["series"] = info.series_uid
        if info.series_uid != state["series"]:
            return  # other series decode when they are opened
        try:
            geo = info.geometry  # checked while scanning (native: against the length)
            if geo is None or geo.encapsulated:  # encapsulated: the item structure too
                geo = read_geometry(ds)
            note = preamble_note(info.path)
            image = LoadedImage(info.path, ds, geo, [note] if note else [])
            for k in range(geo.frames):
                if ctx.cancelled:
                    return
                ctx.report((info.path, k, load(info.path, k, image)))
        except ImageError as exc:
            ctx.report((info.path, 0, str(exc)))
        except FILE_ERRORS as exc:
            ctx.report((info.path, 0, f"the image cannot be read ({type(exc).__name__})"))

    return scan(paths, cancelled=lambda: ctx.cancelled, on_file=on_file)


def _multi(slots: list[tuple[str, int]]) -> set[str]:
    return {p for p, k in slots if k > 0}
