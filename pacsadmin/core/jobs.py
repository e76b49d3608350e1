"""Background jobs on ``concurrent.futures``, Qt-free.

The :class:`JobRunner` owns named executors, each for a reason (the shape of Picard's
``tagger._init_threads``):

* ``dimse``: a bounded pool for network work, with a per-node limit so one slow PACS
  cannot take every worker and a peer is never flooded with associations;
* ``priority``: a small lane so an echo answers at once while long transfers run;
* ``io``: one thread for index and file writes (one writer, no SQLite races).

Jobs report through a :class:`JobContext`: ``progress``, ``report`` (partial results) and
``log``; the runner turns these into frozen event dataclasses delivered to subscribers
(the GUI's ``job_bridge``, the CLI) on the worker thread.  A :class:`CancelToken` is checked
by the job at every response boundary; queued jobs are dropped.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pacsadmin.core.errors import JobCancelled

log = logging.getLogger(__name__)
T = TypeVar("T")


class CancelToken:
    """A ``threading.Event`` with callbacks (to abort an association at once)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks = list(self._callbacks)
        for cb in callbacks:
            try:
                cb()
            except Exception:  # a failing callback must not stop the others
                log.exception("cancel callback failed")

    def on_cancel(self, cb: Callable[[], None]) -> Callable[[], None]:
        """Run ``cb`` on cancel (at once if already cancelled); return an unregister."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(cb)
                return lambda: self._remove(cb)
        cb()
        return lambda: None

    def _remove(self, cb: Callable[[], None]) -> None:
        with self._lock:
            if cb in self._callbacks:
                self._callbacks.remove(cb)

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelled("Cancelled by the user.")

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


# ------------------------------------------------------------------ events (immutable)
@dataclass(frozen=True)
class JobEvent:
    job_id: int


@dataclass(frozen=True)
class JobSubmitted(JobEvent):
    name: str
    node: str | None
    submitted_at: float
    quiet: bool = False  # internal housekeeping (reload a list...): not shown as a user's job


@dataclass(frozen=True)
class JobStarted(JobEvent):
    started_at: float


@dataclass(frozen=True)
class JobProgress(JobEvent):
    done: int
    total: int | None
    message: str = ""


@dataclass(frozen=True)
class JobPartial(JobEvent):
    item: Any


@dataclass(frozen=True)
class JobLog(JobEvent):
    message: str


@dataclass(frozen=True)
class JobFinished(JobEvent):
    state: JobState
    result: Any
    error: str  # a sentence for the user; "" on success
    elapsed: float
    # the Jobs panel's one-line result ("3 imported, 1 duplicate") and whether it is good
    # news; from the ``summarize`` given to :meth:`JobRunner.submit`, computed on the worker
    summary: str = ""
    ok: bool | None = None


Listener = Callable[[JobEvent], None]
Summarize = Callable[[Any], tuple[str, bool | None]]


class JobContext:
    """What a job sees: its token and ways to report."""

    def __init__(self, job_id: int, token: CancelToken, emit: Listener) -> None:
        self.job_id = job_id
        self.token = token
        self._emit = emit

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def check(self) -> None:
        self.token.raise_if_cancelled()

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        self._emit(JobProgress(self.job_id, done, total, message))

    def report(self, item: Any) -> None:
        self._emit(JobPartial(self.job_id, item))

    def log(self, message: str) -> None:
        self._emit(JobLog(self.job_id, message))


def null_context() -> JobContext:
    """A context for direct (CLI, test) calls: no listener, never cancelled."""
    return JobContext(0, CancelToken(), lambda e: None)


@dataclass
class Job(Generic[T]):
    id: int
    name: str
    node: str | None
    lane: str
    token: CancelToken
    future: Future[T]
    submitted_at: float
    state: JobState = JobState.QUEUED
    started_at: float | None = None
    finished_at: float | None = None
    error: str = ""
    _fn: Callable[[JobContext], T] | None = field(default=None, repr=False)
    _summarize: Summarize | None = field(default=None, repr=False)
    # the concurrency slot the job counts against (dimse lane): its node's, unless the
    # submitter named one of its own ("retrieve:PACS" with its own limit)
    slot: str | None = None
    slot_limit: int | None = None

    def cancel(self) -> None:
        self.token.cancel()


def describe_exception(exc: BaseException) -> str:
    """A sentence for the user; our own errors already are one."""
    from pacsadmin.core.errors import PacsAdminError

    if isinstance(exc, PacsAdminError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class JobRunner:
    LANES = ("dimse", "priority", "io")

    def __init__(self, *, workers: int = 8, per_node_limit: int = 2, priority_workers: int = 4):
        self._executors = {
            # network work: bounded, so a hundred queued jobs never open a hundred sockets
            "dimse": ThreadPoolExecutor(workers, thread_name_prefix="pacs-dimse"),
            # echo and other quick probes: never wait behind a long transfer
            "priority": ThreadPoolExecutor(priority_workers, thread_name_prefix="pacs-prio"),
            # one writer for the index and files
            "io": ThreadPoolExecutor(1, thread_name_prefix="pacs-io"),
        }
        self.per_node_limit = per_node_limit
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._jobs: dict[int, Job[Any]] = {}
        self._node_running: dict[str, int] = {}
        self._node_waiting: dict[str, deque[Job[Any]]] = {}
        self._listeners: list[Listener] = []
        self._closed = False

    # ------------------------------------------------------------------ listeners
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)
        return lambda: self._unsubscribe(listener)

    def _unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _emit(self, event: JobEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("job listener failed")

    # ------------------------------------------------------------------ submit
    def submit(
        self,
        fn: Callable[[JobContext], T],
        *,
        name: str,
        node: str | None = None,
        lane: str = "dimse",
        quiet: bool = False,
        summarize: Summarize | None = None,
        slot: str | None = None,
        slot_limit: int | None = None,
    ) -> Job[T]:
        """Run ``fn(ctx)`` in the background.  ``node`` keys the per-node limit.

        ``slot``/``slot_limit``: on the dimse lane, count the job against ``slot`` with
        its own limit instead of the node's (retrieves: at most N at once to one PACS,
        queued beyond that, without taking the node's slots from queries and echoes).

        ``summarize(result) -> (text, ok)`` gives the one-line result shown for the job
        (the Jobs panel, the CLI); it runs on the worker whenever the job returns a result
        (a cancelled job may return one too)."""
        if lane not in self._executors:
            raise ValueError(f"unknown lane {lane!r}")
        with self._lock:
            if self._closed:
                raise RuntimeError("the job runner is shut down")
            job: Job[T] = Job(
                next(self._ids),
                name,
                node,
                lane,
                CancelToken(),
                Future(),
                time.monotonic(),
                _fn=fn,
                _summarize=summarize,
                slot=slot if slot is not None else node,
                slot_limit=slot_limit,
            )
            self._jobs[job.id] = job
        self._emit(JobSubmitted(job.id, name, node, job.submitted_at, quiet))
        job.token.on_cancel(lambda: self._drop_if_queued(job))
        self._dispatch_or_wait(job)
        return job

    def _dispatch_or_wait(self, job: Job[Any]) -> None:
        with self._lock:
            if job.slot is not None and job.lane == "dimse":
                running = self._node_running.get(job.slot, 0)
                limit = job.slot_limit or self.per_node_limit
                if running >= limit:
                    self._node_waiting.setdefault(job.slot, deque()).append(job)
                    return
                self._node_running[job.slot] = running + 1
            self._executors[job.lane].submit(self._run, job)

    def _drop_if_queued(self, job: Job[Any]) -> None:
        with self._lock:
            if job.state is not JobState.QUEUED:
                return
            waiting = self._node_waiting.get(job.slot or "")
            if waiting and job in waiting:
                waiting.remove(job)
            job.state = JobState.CANCELLED
        self._finish(
            job, JobState.CANCELLED, None, "Cancelled before it started.", release_slot=False
        )

    def _run(self, job: Job[Any]) -> None:
        with self._lock:
            if job.state is not JobState.QUEUED:  # cancelled while queued in the executor
                self._release_node_slot(job)
                return
            job.state = JobState.RUNNING
            job.started_at = time.monotonic()
        self._emit(JobStarted(job.id, job.started_at))
        ctx = JobContext(job.id, job.token, self._emit)
        assert job._fn is not None
        try:
            result = job._fn(ctx)
        except JobCancelled as exc:
            self._finish(job, JobState.CANCELLED, None, str(exc))
        except BaseException as exc:  # a job never dies silently
            log.warning(
                "job %s (%s) failed: %s",
                job.id,
                job.name,
                describe_exception(exc),
                exc_info=not _is_expected(exc),
            )
            self._finish(job, JobState.FAILED, exc, describe_exception(exc))
        else:
            state = JobState.CANCELLED if job.token.cancelled else JobState.SUCCEEDED
            self._finish(job, state, result, "")

    def _finish(
        self, job: Job[Any], state: JobState, result: Any, error: str, release_slot: bool = True
    ) -> None:
        with self._lock:
            job.state = state
            job.finished_at = time.monotonic()
            job.error = error
            if release_slot:
                self._release_node_slot(job)
        elapsed = job.finished_at - (job.started_at or job.submitted_at)
        if state is JobState.FAILED and isinstance(result, BaseException):
            job.future.set_exception(result)
            result = None
        elif state is JobState.CANCELLED and result is None:
            # set_result only when cancel() fails (the job is running)
            job.future.cancel() or job.future.set_result(None)  # type: ignore[func-returns-value]
        else:
            job.future.set_result(result)
        summary, ok = _summarize(job, result) if result is not None else ("", None)
        self._emit(JobFinished(job.id, state, result, error, elapsed, summary, ok))

    def _release_node_slot(self, job: Job[Any]) -> None:
        if job.slot is None or job.lane != "dimse":
            return
        nxt = None
        waiting = self._node_waiting.get(job.slot)
        while waiting:
            candidate = waiting.popleft()
            if candidate.state is JobState.QUEUED:
                nxt = candidate
                break
        if nxt is not None:
            self._executors[nxt.lane].submit(self._run, nxt)
        else:
            self._node_running[job.slot] = max(0, self._node_running.get(job.slot, 1) - 1)

    # ------------------------------------------------------------------ queries
    def get(self, job_id: int) -> Job[Any] | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job[Any]]:
        with self._lock:
            return list(self._jobs.values())

    def active(self) -> list[Job[Any]]:
        return [j for j in self.jobs() if not j.state.finished]

    def cancel(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job:
            job.cancel()

    def cancel_all(self) -> None:
        for job in self.active():
            job.cancel()

    def forget_finished(self, keep: int = 200) -> None:
        with self._lock:
            done = [j for j in self._jobs.values() if j.state.finished]
            for j in done[:-keep] if keep else done:
                del self._jobs[j.id]

    # ------------------------------------------------------------------ shutdown
    def shutdown(self, timeout: float = 5.0) -> bool:
        """Cancel everything, wait up to ``timeout`` s; True when every worker ended."""
        with self._lock:
            self._closed = True
        self.cancel_all()
        deadline = time.monotonic() + timeout
        for ex in self._executors.values():
            ex.shutdown(wait=False, cancel_futures=True)
        ok = True
        for ex in self._executors.values():
            for t in list(getattr(ex, "_threads", ())):
                t.join(max(0.0, deadline - time.monotonic()))
                ok = ok and not t.is_alive()
        return ok


def _summarize(job: Job[Any], result: Any) -> tuple[str, bool | None]:
    if job._summarize is None:
        return "", None
    try:
        return job._summarize(result)
    except Exception:  # a summary must never lose the result
        log.exception("job %s (%s): summarize failed", job.id, job.name)
        return "", None


def _is_expected(exc: BaseException) -> bool:
    from pacsadmin.core.errors import PacsAdminError

    return isinstance(exc, (PacsAdminError, OSError, TimeoutError))
