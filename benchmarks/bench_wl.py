"""Window/level: one W/L change rendered to a 1024x1024 display buffer (core, no Qt).

For a 512x512 CT (int16, rescale), a 2048x2500 CR (12-bit) and a 3328x4096 mammogram
(12-bit MONOCHROME1) frame: the median time of one W/L change through
``DisplayBuffer.render`` (build the 8-bit LUT over every stored value, then one ``take`` over
the display-resolution samples), beside a plain numpy copy of the same frame (the memory
floor) measured in the same run.  Goal: at least 60 updates/s (under 16.7 ms) each.
Notes give updates/s, the one-time sampling cost (on zoom/pan/frame change), and the
time of the same W/L applied to the full-resolution frame.

``wl.view_*`` (when PySide6 is installed): the same W/L change through the viewer's
canvas (pyqtgraph ImageItem in a 1024x1024 view, offscreen) including a synchronous
repaint, beside the same numpy copy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, median_time

NAME = "wl"
VIEW = 1024
GOAL_PER_S = 60.0
N = 60

CASES = (
    # name, rows, cols, dtype, bits stored, photometric, rescale intercept
    ("ct_512", 512, 512, np.int16, 16, "MONOCHROME2", -1024.0),
    ("cr_2048x2500", 2500, 2048, np.uint16, 12, "MONOCHROME2", 0.0),
    ("mg_3328x4096", 4096, 3328, np.uint16, 12, "MONOCHROME1", 0.0),
)


def _pipeline(rows, cols, dtype, bits, photometric, intercept, frame):
    from pacsadmin.core.imaging.geometry import Geometry
    from pacsadmin.core.imaging.luts import Rescale, Window
    from pacsadmin.core.imaging.pipeline import FramePipeline

    geo = Geometry(
        rows=rows,
        columns=cols,
        frames=1,
        samples=1,
        bits_allocated=16,
        bits_stored=bits,
        high_bit=bits - 1,
        signed=np.dtype(dtype).kind == "i",
        photometric=photometric,
        planar_configuration=0,
        transfer_syntax="1.2.840.10008.1.2.1",
        encapsulated=False,
        pixel_bytes=frame.nbytes,
    )
    return FramePipeline(
        geometry=geo,
        photometric=photometric,
        modality=Rescale(1.0, intercept),
        voi=Window(40, 400),
        voi_choices=(),
        invert=photometric == "MONOCHROME1",
        presentation="",
        padding=None,
        stored_range=(int(frame.min()), int(frame.max())),
        decoder="synthetic",
        frame_index=0,
    )


def _frame(rows, cols, dtype, bits, intercept):
    rng = np.random.default_rng(0)
    hi = (1 << bits) - 1 if np.dtype(dtype).kind == "u" else 3000
    lo = 0 if np.dtype(dtype).kind == "u" else -1024
    # smooth content plus noise, so the frame is not all one cache line
    y, x = np.mgrid[0:rows, 0:cols]
    base = (np.sin(x / 37.0) + np.cos(y / 53.0) + 2) / 4 * (hi - lo) + lo
    noise = rng.integers(-50, 50, size=(rows, cols))
    return np.clip(base + noise, lo, hi).astype(dtype)


def run() -> list[Result]:
    from pacsadmin.core.imaging.display import DisplayBuffer
    from pacsadmin.core.imaging.luts import Window

    results = []
    for name, rows, cols, dtype, bits, photometric, intercept in CASES:
        frame = _frame(rows, cols, dtype, bits, intercept)
        pipe = _pipeline(rows, cols, dtype, bits, photometric, intercept, frame)

        def prepare(pipe=pipe, frame=frame):
            return DisplayBuffer.for_view(pipe, frame, VIEW, VIEW)

        sample_s = median_time(prepare, 5, 1)
        buf = DisplayBuffer.for_view(pipe, frame, VIEW, VIEW)
        k = [0]

        def update(buf=buf, k=k):
            k[0] += 1
            out = buf.render(Window(100 + (k[0] % 50) * 10, 300 + (k[0] % 7) * 50))
            assert out.dtype == np.uint8 and max(out.shape) == VIEW

        def copy(frame=frame):
            frame.copy()

        # interleave figure and reference so both see the same load
        upd, ref = [], []
        for _ in range(3):
            upd.append(median_time(update, N // 3, 2))
            ref.append(median_time(copy, N // 3, 2))
        t_upd, t_copy = sorted(upd)[1], sorted(ref)[1]

        def full(frame=frame, pipe=pipe):
            pipe.with_voi(Window(500, 700)).to_uint8(frame)

        t_full = median_time(full, 7, 1)
        per_s = 1.0 / t_upd
        results.append(
            Result(
                f"wl.{name}",
                t_upd * 1000,
                "ms",
                t_copy * 1000,
                "numpy copy of the frame",
                f">= {GOAL_PER_S:g} updates/s",
                per_s >= GOAL_PER_S,
                notes=(
                    f"{per_s:.0f} updates/s; display buffer {buf.samples.shape[1]}x"
                    f"{buf.samples.shape[0]}; sampling once per zoom/pan/frame "
                    f"{sample_s * 1000:.1f} ms; full-resolution W/L {t_full * 1000:.1f} ms "
                    f"({1 / t_full:.0f}/s)"
                ),
            )
        )
    results += _view_results()
    return results


def _view_results() -> list[Result]:
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError:
        return []
    from pacsadmin.core.imaging.luts import Window
    from pacsadmin.core.imaging.render import Frame
    from pacsadmin.gui.viewer.canvas import ImageCanvas

    app = QApplication.instance() or QApplication([])
    canvas = ImageCanvas()
    canvas.resize(VIEW, VIEW)
    canvas.show()
    app.processEvents()
    out = []
    for name, rows, cols, dtype, bits, photometric, intercept in CASES:
        frame = _frame(rows, cols, dtype, bits, intercept)
        pipe = _pipeline(rows, cols, dtype, bits, photometric, intercept, frame)
        canvas.show_frame(Frame(None, 0, frame, pipe), keep_view=False)  # type: ignore[arg-type]
        app.processEvents()
        k = [0]

        def update(k=k):
            k[0] += 1
            canvas.set_voi(Window(100 + (k[0] % 50) * 10, 300 + (k[0] % 7) * 50))
            canvas.viewport().repaint()

        def copy(frame=frame):
            frame.copy()

        upd, ref = [], []
        for _ in range(3):
            upd.append(median_time(update, N // 3, 2))
            ref.append(median_time(copy, N // 3, 2))
        t_upd, t_copy = sorted(upd)[1], sorted(ref)[1]
        shape = canvas.image_array().shape
        out.append(
            Result(
                f"wl.view_{name}",
                t_upd * 1000,
                "ms",
                t_copy * 1000,
                "numpy copy of the frame",
                f">= {GOAL_PER_S:g} updates/s",
                1 / t_upd >= GOAL_PER_S,
                notes=f"{1 / t_upd:.0f} updates/s incl. pyqtgraph repaint; on screen "
                f"{shape[1]}x{shape[0]}",
            )
        )
    canvas.close()
    return out


if __name__ == "__main__":
    print(f"# {NAME}: {__doc__.strip().splitlines()[0]}")
    for r in run():
        print(r.line())
