"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs on whichever thread happens to allocate when a threshold is crossed:
often a worker.  If a cycle it frees holds a QObject that lives on the GUI thread (a
dialog's Python wrapper, a timer), Qt destroys it from the wrong thread and may abort the
process.  So while the window is up, automatic collection is off and a GUI-thread timer
collects when the generation-0 count passes the usual threshold (a recipe long used in
PyQt applications).

What exists at start-up (the modules of PySide6, pydicom, pynetdicom, numpy, pyqtgraph:
~110,000 objects) is moved out of the collector's sight with ``gc.freeze()`` once it has
been collected: a full collection walked all of it, 60-95 ms on the GUI thread (measured
in the GUI tests), a visible stall; now it walks only what the session made since.
Objects frozen at start-up are still freed by reference counting; only a cycle among
them that became garbage later would stay, and those are module-level, for the process.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer, Slot


class GuiGarbageCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self.threshold = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        gc.disable()
        gc.collect()
        gc.freeze()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.unfreeze()
        gc.collect()
        if self._was_enabled:
            gc.enable()

    @Slot()
    def _on_timer_timeout(self) -> None:
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.threshold
        if c0 > t0:
            gen = 2 if c2 > t2 else 1 if c1 > t1 else 0
            gc.collect(gen)
