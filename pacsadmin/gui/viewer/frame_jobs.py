"""The viewer's background work: scanning what was opened, decoding frames, filling the
rest of a series.  Each job's results come back through its own callbacks on the GUI
thread (:meth:`JobBridge.submit`) and go into the :class:`ViewerModel`; without a bridge
(tests, tools) the same work runs synchronously.  The functions the jobs run are Qt-free
(:mod:`pacsadmin.gui.viewer.loading`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.render import Frame
from pacsadmin.core.imaging.series import ScanResult, scan
from pacsadmin.core.imaging.viewer_model import ViewerModel
from pacsadmin.core.jobs import Job, JobFinished, JobState
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.viewer.loading import fill, load, open_job


class FrameJobs:
    """Starts and cancels the viewer's jobs; the model receives what they produce."""

    def __init__(
        self,
        model: ViewerModel,
        bridge: JobBridge | None,
        on_scanned: Callable[[ScanResult], None],
        on_scan_failed: Callable[[str], None],
    ) -> None:
        self.model = model
        self.bridge = bridge
        self.on_scanned = on_scanned
        self.on_scan_failed = on_scan_failed
        self._open: Job[Any] | None = None
        self._fill: Job[Any] | None = None
        self._frames: dict[int, Job[Any]] = {}  # slot -> its decode job (to cancel)

    @property
    def busy(self) -> bool:
        """Scanning, or filling the series in the background."""
        return self._open is not None or self._fill is not None

    # ------------------------------------------------------------------ opening
    def open(self, paths: list[str]) -> None:
        """Scan files/folders; frames of the first series are shown as they decode."""
        self.cancel_all()
        self.model.reset()
        if self.bridge is None:
            self.on_scanned(scan(paths))
            return
        self._open = self.bridge.submit(
            lambda ctx: open_job(ctx, paths),
            name="Open images",
            lane="dimse",
            on_partials=self._on_open_partials,
            on_done=self._on_open_done,
        )

    def _on_open_partials(self, items: list[Any]) -> None:
        # each item is a batch (tuple) of (path, frame, Frame | reason) entries
        for path, k, entry in (e for batch in items for e in batch):
            self.model.add_early((path, k), entry)

    def _on_open_done(self, ev: JobFinished) -> None:
        self._open = None
        if isinstance(ev.result, ScanResult):
            self.on_scanned(ev.result)
        elif ev.state is not JobState.CANCELLED:  # cancelled: a newer open replaced it
            self.on_scan_failed(ev.error or "The files could not be read")

    # ------------------------------------------------------------------ frames
    def request(self, slot: int) -> None:
        """Decode ``slot`` unless it is decoded or on its way."""
        m = self.model
        if slot in m.frames or slot in self._frames or not 0 <= slot < len(m.slots):
            return
        path, k = m.slots[slot]
        if self.bridge is None:
            try:
                m.put_frame(slot, load(path, k))
            except ImageError as exc:
                m.put_frame(slot, str(exc))
            return
        slots = m.slots

        def done(ev: JobFinished) -> None:
            self._frames.pop(slot, None)
            if m.slots is not slots:  # another series since
                return
            entry: Frame | str = (
                ev.result
                if isinstance(ev.result, Frame)
                else (ev.error or "The image could not be decoded")
            )
            m.put_frame(slot, entry, replace=False)

        self._frames[slot] = self.bridge.submit(
            lambda ctx: load(path, k),
            name=f"Decode {os.path.basename(path)}",
            lane="dimse",
            on_done=done,
        )

    def fill(self, start: int) -> None:
        """Decode the rest of the series in the background, nearest to ``start`` first."""
        if self._fill is not None:
            self._fill.cancel()
            self._fill = None
        m = self.model
        if self.bridge is None or len(m.frames) >= len(m.slots):
            return
        slots, done = list(m.slots), m.done_slots()
        current = m.slots

        def partials(items: list[Any]) -> None:
            if m.slots is not current:
                return
            for slot, entry in (e for batch in items for e in batch):
                if slot not in m.frames:
                    self._frames.pop(slot, None)
                    m.put_frame(slot, entry, replace=False)

        def finished(ev: JobFinished) -> None:
            if self._fill is not None and self._fill.id == ev.job_id:
                self._fill = None

        self._fill = self.bridge.submit(
            lambda ctx: fill(ctx, slots, start, done),
            name="Decode series",
            lane="dimse",
            on_partials=partials,
            on_done=finished,
        )

    def forget_frames(self) -> None:
        """A new series: the decodes asked for the old one are of no use."""
        for job in self._frames.values():
            job.cancel()
        self._frames.clear()

    def cancel_all(self) -> None:
        for job in (self._open, self._fill, *self._frames.values()):
            if job is not None:
                job.cancel()
        self._open = self._fill = None
        self._frames.clear()
