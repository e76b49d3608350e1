"""The ONLY module that moves results from worker threads to the GUI thread.

:class:`JobBridge` is one QObject living on the GUI thread.  Its listener (called by the
:class:`~pacsadmin.core.jobs.JobRunner` on worker threads) only puts the frozen event in a
thread-safe queue and, when the queue was idle, wakes the bridge with one queued signal.
On the GUI thread a single-shot QTimer drains the queue in batches under a time budget
(the shape of Picard's ``_process_callback_batch``): consecutive partial results of a job
go out as one list, a progress event is dropped when a newer one of the same job is
already waiting, and when the budget is spent
the rest waits for the next tick so the event loop never stalls.

A job's result goes back to whoever asked for it (Picard's ``run_task(func, next_func)``):
:meth:`JobBridge.submit` takes per-job callbacks (``on_done``, ``on_partials``,
``on_progress``) that run on the GUI thread, in order with the job's other events.  The
broadcast signals are for views of *all* jobs (the Jobs panel, the activity log); a
consumer never keeps a dictionary of job ids to filter them.

Background errors (``threading.excepthook``) travel the same road as
:class:`BackgroundError` events.  See docs/architecture.md, "Threads and processes".
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from pacsadmin.core.jobs import (
    Job,
    JobContext,
    JobEvent,
    JobFinished,
    JobLog,
    JobPartial,
    JobProgress,
    JobRunner,
    JobStarted,
    JobSubmitted,
    Summarize,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class BackgroundError:
    """An exception nobody caught on a worker thread."""

    message: str
    details: str


@dataclass(frozen=True)
class JobCallbacks:
    """What the code that submitted a job wants to hear of it (GUI thread)."""

    on_done: Callable[[JobFinished], None] | None = None
    on_partials: Callable[[list[Any]], None] | None = None
    on_progress: Callable[[JobProgress], None] | None = None


class JobBridge(QObject):
    """Job events from worker threads, delivered as Qt signals on the GUI thread."""

    jobSubmitted = Signal(object)  # JobSubmitted
    jobStarted = Signal(object)  # JobStarted
    jobProgress = Signal(object)  # JobProgress (only the newest of a batch)
    jobPartials = Signal(int, list)  # job_id, [item, ...] in order
    jobLog = Signal(object)  # JobLog
    jobFinished = Signal(object)  # JobFinished
    backgroundError = Signal(object)  # BackgroundError

    _wake = Signal()  # emitted from any thread; queued to the GUI thread

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        budget_ms: float = 8.0,
        coalesce_ms: int = 5,
    ) -> None:
        super().__init__(parent)
        self.budget_s = budget_ms / 1000.0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending: deque[Any] = deque()  # GUI thread only
        self._latest_progress: dict[int, JobProgress] = {}  # GUI thread only
        self._lock = threading.Lock()
        self._scheduled = False
        self._closed = False
        self._unsubscribe: list[Any] = []
        self._runner: JobRunner | None = None
        self._callbacks: dict[int, JobCallbacks] = {}  # GUI thread only
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(coalesce_ms)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._wake.connect(self._on_wake, Qt.ConnectionType.QueuedConnection)
        self.batches = 0  # statistics for tests and the debug view
        self.delivered = 0

    # ------------------------------------------------------------------ any thread
    def attach(self, runner: JobRunner) -> None:
        self._runner = runner
        self._unsubscribe.append(runner.subscribe(self.post))

    def post(self, event: JobEvent | BackgroundError) -> None:
        """Thread-safe: queue ``event`` for the GUI thread (the runner's listener)."""
        if self._closed:
            return
        self._queue.put(event)
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        self._wake.emit()

    # ------------------------------------------------------------------ GUI thread
    def submit(
        self,
        fn: Callable[[JobContext], T],
        *,
        name: str,
        node: str | None = None,
        lane: str = "dimse",
        quiet: bool = False,
        summarize: Summarize | None = None,
        on_done: Callable[[JobFinished], None] | None = None,
        on_partials: Callable[[list[Any]], None] | None = None,
        on_progress: Callable[[JobProgress], None] | None = None,
        slot: str | None = None,
        slot_limit: int | None = None,
    ) -> Job[T]:
        """Run ``fn(ctx)`` on the attached runner; the callbacks run on the GUI thread.

        ``on_done(JobFinished)`` is called exactly once, whatever the job's end (success,
        failure, cancelled, even cancelled before it started), after its last partials and
        progress.  Each callback runs before the matching broadcast signal, so the views
        of all jobs see the state the job's owner made of the event.  Call this on the GUI
        thread only: events are delivered there, so the callbacks are registered before any
        event of the job can be.  ``slot``, ``slot_limit``: see :meth:`JobRunner.submit`.
        """
        if self._runner is None:
            raise RuntimeError("JobBridge.submit before attach(runner)")
        job = self._runner.submit(
            fn,
            name=name,
            node=node,
            lane=lane,
            quiet=quiet,
            summarize=summarize,
            slot=slot,
            slot_limit=slot_limit,
        )
        if on_done or on_partials or on_progress:
            self._callbacks[job.id] = JobCallbacks(on_done, on_partials, on_progress)
        return job

    def _call(self, fn: Callable[[Any], None], arg: Any) -> None:
        """A callback that raises is reported, and never stops the delivery of others."""
        try:
            fn(arg)
        except Exception as exc:
            log.exception("job callback failed")
            self.backgroundError.emit(
                BackgroundError(f"Internal error: {exc}", traceback.format_exc())
            )

    def close(self) -> None:
        """Stop listening and delivering (the window is closing)."""
        self._closed = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._timer.stop()
        self._callbacks.clear()

    def flush(self) -> None:
        """Deliver everything queued now, ignoring the budget (tests, shutdown)."""
        while self._drain(budget_s=None):
            pass

    @Slot()
    def _on_wake(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def _on_timer_timeout(self) -> None:
        if self._closed:
            return
        if self._drain(budget_s=self.budget_s):
            self._timer.start(0)  # more to do: let the event loop breathe first

    def _take(self, limit: int) -> None:
        try:
            for _ in range(limit):
                ev = self._queue.get_nowait()
                if isinstance(ev, JobProgress):
                    self._latest_progress[ev.job_id] = ev
                self._pending.append(ev)
        except queue.Empty:
            pass

    def _superseded(self, ev: Any) -> bool:
        """A progress event with a newer one of the same job already pending."""
        return isinstance(ev, JobProgress) and self._latest_progress.get(ev.job_id) is not ev

    def _drain(self, budget_s: float | None) -> bool:
        """Deliver a batch; True when events are left for another tick."""
        t0 = time.perf_counter()
        self._take(2000)
        self.batches += 1
        while self._pending:
            self._deliver_group()
            if budget_s is not None and time.perf_counter() - t0 > budget_s:
                break
            if not self._pending:
                self._take(2000)
        if self._pending:
            return True
        with self._lock:
            if self._queue.empty():
                self._scheduled = False
                return False
        return True

    def _deliver_group(self) -> None:
        """Emit the first pending event, merged with its like neighbours."""
        ev = self._pending.popleft()
        if self._superseded(ev):
            return
        if isinstance(ev, JobPartial):
            items = [ev.item]
            while self._pending and len(items) < 1000:
                nxt = self._pending[0]
                if self._superseded(nxt):  # progress interleaved with results: skip it
                    self._pending.popleft()
                elif isinstance(nxt, JobPartial) and nxt.job_id == ev.job_id:
                    items.append(self._pending.popleft().item)
                else:
                    break
            # the submitter's callback first, then the views of all jobs: a broadcast
            # listener sees the state the job's owner made of the event
            self.delivered += len(items)
            cbs = self._callbacks.get(ev.job_id)
            if cbs is not None and cbs.on_partials is not None:
                self._call(cbs.on_partials, items)
            self.jobPartials.emit(ev.job_id, items)
            return
        if isinstance(ev, JobProgress):  # the newest of its job
            del self._latest_progress[ev.job_id]
            self.delivered += 1
            cbs = self._callbacks.get(ev.job_id)
            if cbs is not None and cbs.on_progress is not None:
                self._call(cbs.on_progress, ev)
            self.jobProgress.emit(ev)
            return
        self.delivered += 1
        if isinstance(ev, JobFinished):
            cbs = self._callbacks.pop(ev.job_id, None)
            if cbs is not None and cbs.on_done is not None:
                self._call(cbs.on_done, ev)
            self.jobFinished.emit(ev)
            return
        signal = {
            JobSubmitted: self.jobSubmitted,
            JobStarted: self.jobStarted,
            JobLog: self.jobLog,
            BackgroundError: self.backgroundError,
        }.get(type(ev))
        if signal is not None:
            signal.emit(ev)
