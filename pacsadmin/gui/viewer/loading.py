"""Loading for the viewer, Qt-free: the functions its background jobs run.

``open_job`` scans and decodes in one pass (each file read once) and reports frames of
the first series met as they come; ``fill`` decodes the rest of a series, nearest slices
first.  Both report per-file errors and carry on (docs/safety.md rule 3).

Results go out in batches (:class:`Batches`): each reported item is a tuple of entries, the
first sent at once, the next ones at most every ``BATCH_INTERVAL`` seconds.  One report per
frame woke the GUI thread ~400 times per 500-slice series, and each wake took the GIL from
the decoding thread: the whole series loaded at half the speed of the same work alone.
"""

from __future__ import annotations

import time
from typing import Any

from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.geometry import read_geometry
from pacsadmin.core.imaging.loader import FILE_ERRORS, LoadedImage, load_image, preamble_note
from pacsadmin.core.imaging.render import Frame, open_frame
from pacsadmin.core.imaging.series import ScanResult, scan

#: Seconds between two batches of decoded frames sent to the GUI thread.
BATCH_INTERVAL = 0.05


class Batches:
    """Collects entries and reports them as one tuple: the first entry at once (the first
    image on screen), then at most every ``interval`` seconds, and on :meth:`flush`."""

    def __init__(self, ctx: Any, interval: float = BATCH_INTERVAL) -> None:
        self.ctx = ctx
        self.interval = interval
        self._items: list[Any] = []
        self._last: float | None = None
        self.sent = 0

    def add(self, entry: Any) -> bool:
        """Queue ``entry``; True when a batch went out."""
        self._items.append(entry)
        now = time.perf_counter()
        if self._last is None or now - self._last >= self.interval:
            self.flush(now)
            return True
        return False

    def flush(self, now: float | None = None) -> None:
        if self._items:
            self.ctx.report(tuple(self._items))
            self.sent += len(self._items)
            self._items = []
            self._last = time.perf_counter() if now is None else now


def load(path: str, index: int, image: LoadedImage | None = None) -> Frame:
    """Decode one frame (runs on a worker thread or synchronously)."""
    frame = open_frame(image if image is not None else path, index)
    if frame.image.geometry.frames == 1:  # keep only the decoded values in memory
        del frame.image.ds.PixelData
    return frame


def fill(ctx: Any, slots: list[tuple[str, int]], start: int, skip: frozenset[int]) -> int:
    """The background job: decode every slot not in ``skip``, nearest to ``start`` first;
    report ``(slot, Frame | message)`` entries in batches.  One bad file never stops it
    (rule 3)."""
    order = sorted(
        (j for j in range(len(slots)) if j not in skip), key=lambda j: (abs(j - start), j)
    )
    images: dict[str, LoadedImage] = {}  # multi-frame files are read once
    multi = _multi(slots)
    batches = Batches(ctx)
    for n, j in enumerate(order):
        if ctx.cancelled:
            break
        path, k = slots[j]
        try:
            image = images.get(path)
            if image is None and path in multi:
                image = images[path] = load_image(path)
            entry: Any = load(path, k, image)
        except ImageError as exc:
            entry = str(exc)
        if batches.add((j, entry)):
            ctx.progress(n + 1, len(order))
    batches.flush()
    ctx.progress(batches.sent, len(order))
    return len(order)


def open_job(ctx: Any, paths: list[str]) -> ScanResult:
    """Scan and decode in one pass (each file read once): frames of the first series met
    are reported as ``(path, frame index, Frame | message)`` entries, in batches, while the
    scan goes on."""
    state: dict[str, str | None] = {"series": None}
    batches = Batches(ctx)

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
            note = preamble_note(info.path, getattr(ds, "preamble", None))
            image = LoadedImage(info.path, ds, geo, [note] if note else [], info.attrs)
            for k in range(geo.frames):
                if ctx.cancelled:
                    return
                batches.add((info.path, k, load(info.path, k, image)))
        except ImageError as exc:
            batches.add((info.path, 0, str(exc)))
        except FILE_ERRORS as exc:
            batches.add((info.path, 0, f"the image cannot be read ({type(exc).__name__})"))

    try:
        return scan(paths, cancelled=lambda: ctx.cancelled, on_file=on_file)
    finally:
        batches.flush()  # before the job's result, so the viewer has every frame


def _multi(slots: list[tuple[str, int]]) -> set[str]:
    return {p for p, k in slots if k > 0}
