"""Run a core function the way a job runs, with Ctrl-C as its Cancel.

The function runs on a worker thread with a :class:`~pacsadmin.core.jobs.JobContext`;
the main thread waits and, on Ctrl-C, cancels the token, so a C-FIND or C-MOVE gets its
C-CANCEL and a send stops between files, and the command can still print what arrived
(exit 130).  One copy for find, send, move and get.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pacsadmin.core.jobs import CancelToken, JobContext, JobEvent

T = TypeVar("T")


def run_cancellable(
    fn: Callable[[JobContext], T],
    *,
    name: str,
    on_event: Callable[[JobEvent], None] | None = None,
) -> tuple[T, bool]:
    """``(fn's result, interrupted)``; an exception of ``fn`` is raised here."""
    token = CancelToken()
    job = JobContext(0, token, on_event or (lambda e: None))
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["result"] = fn(job)
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name=f"pacsadmin-{name}", daemon=True).start()
    interrupted = False
    # an Event, not Thread.join: a KeyboardInterrupt inside join() can leave is_alive()
    # saying False while the thread still runs
    while not done.is_set():
        try:
            done.wait(0.2)
        except KeyboardInterrupt:
            interrupted = True
            token.cancel()
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result, interrupted
