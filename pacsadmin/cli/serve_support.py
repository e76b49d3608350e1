"""What ``pacsadmin serve`` needs around the SCP: its event channel, its stop flag, and the
watch on the process that started it (``--exit-with-parent``).

The event types and their JSON form live in :mod:`pacsadmin.core.dimse.scp_events`, shared
with the window that reads them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
import sys
import threading
import time
from typing import Any

from pacsadmin.core.dimse import scp_events
from pacsadmin.core.dimse.scp_events import (
    AssociationClosed,
    AssociationOpened,
    AssociationProgress,
    Event,
)

log = logging.getLogger("pacsadmin.scp")

PROGRESS_INTERVAL = 0.5  # seconds between two progress events of one association

_KINDS: dict[str, type[scp_events.Association]] = {
    "open": AssociationOpened,
    "store": AssociationProgress,
    "close": AssociationClosed,
}


class EventPrinter:
    """``--events``: one JSON line per event on stdout (a LocalScp listener, too).

    A C-STORE becomes a progress event at most every :data:`PROGRESS_INTERVAL` seconds per
    association.  When stdout is gone (the reader died) the printer goes quiet: the SCP
    keeps its archive consistent and stops as it would otherwise."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[int, float] = {}
        self.pid = os.getpid()
        self.broken = False

    def emit(self, event: Event) -> None:
        try:
            line = scp_events.to_json_line(event) + "\n"
        except ValueError:  # a NaN, say: a bug, never a reason to stop serving
            log.exception("serve --events: cannot write a %s event", event.KIND)
            return
        with self._lock:
            if self.broken:
                return
            try:
                sys.stdout.write(line)
                sys.stdout.flush()
            except (OSError, ValueError):  # EPIPE, or stdout closed
                self.broken = True
                with contextlib.suppress(OSError):  # no "Exception ignored" at exit
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())
                    os.close(devnull)

    def __call__(self, kind: str, rec: Any) -> None:
        """LocalScp's listener: ("open" | "store" | "close", a record snapshot)."""
        cls = _KINDS.get(kind)
        if cls is None:
            return
        now = time.monotonic()
        with self._lock:
            if cls is AssociationProgress:
                if now - self._last.get(rec.id, 0.0) < PROGRESS_INTERVAL:
                    return
                self._last[rec.id] = now
            elif cls is AssociationClosed:
                self._last.pop(rec.id, None)
            else:
                self._last[rec.id] = now
        self.emit(rec.event(cls, self.pid))


class StopFlag:
    """Set once, with the reason: a signal, or the parent gone (``--exit-with-parent``)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        self.message = ""

    def set(self, reason: str, message: str) -> None:
        if not self._event.is_set():
            self.reason, self.message = reason, message
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


def stop_on_signals() -> StopFlag:
    """A :class:`StopFlag` set by SIGINT and SIGTERM."""
    stop = StopFlag()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set(scp_events.STOP_SIGNAL, f"on {signal.Signals(signum).name}")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


class ParentWatch:
    """``--exit-with-parent``: set ``stop`` when the process that started this one is gone.

    Two signs, either suffices: stdin, when it is a pipe or a socket, reaches end of file
    (the parent held its other end; the kernel closes it however the parent ended, SIGKILL
    included), and the parent process id changes (an orphan is re-parented).  :meth:`poll`
    checks the second; call it every half second or so."""

    def __init__(self, stop: StopFlag) -> None:
        self.stop = stop
        self.ppid = os.getppid()
        self.watches_stdin = _is_pipe(0)
        if self.watches_stdin:
            threading.Thread(
                target=self._read_stdin, name="pacsadmin-parent-watch", daemon=True
            ).start()

    def _read_stdin(self) -> None:
        try:
            while os.read(0, 65536):
                pass  # the parent has nothing to say; input is ignored
        except OSError:
            pass
        self._gone("stdin closed")

    def poll(self) -> bool:
        if os.getppid() != self.ppid:
            self._gone("parent process id changed")
        return self.stop.is_set()

    def _gone(self, why: str) -> None:
        log.info("serve: the process that started it ended (%s); stopping", why)
        self.stop.set(scp_events.STOP_PARENT_GONE, f"the process that started it ended ({why})")


def _is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
