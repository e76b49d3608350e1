"""The SCP's overall deadline per association: a watchdog thread that ends, from outside,
every association that has lasted longer than ``scp_association_deadline`` seconds.

pynetdicom's network timeout only sees silence: a peer that sends one byte a second is
never idle, and would hold one of the SCP's association slots (``scp_max_associations``)
for as long as it likes.  The watchdog counts from the TCP connection (``EVT_CONN_OPEN``)
and, when the deadline passes, shuts the connection down at the socket
(:func:`~pacsadmin.core.dimse._pynetdicom.cut_connection`).  It does not hook into any read
loop, so it ends an association whatever reads its socket (pynetdicom's DUL or a fast
receive path).  The association then closes as after a lost connection: its incomplete
temp files are removed (no partial file), and the SCP goes on serving the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pacsadmin.core.dimse import _pynetdicom

log = logging.getLogger("pacsadmin.scp")


class Watchdog:
    """Associations and their deadlines; ``on_expired(assoc)`` runs on the watchdog's
    thread just before the connection is cut (record why there)."""

    def __init__(self, seconds: float, on_expired: Callable[[Any], None]) -> None:
        self.seconds = float(seconds)
        self.on_expired = on_expired
        self.poll = min(1.0, max(0.05, self.seconds / 20))
        self._due: dict[int, tuple[float, Any]] = {}  # id(assoc) -> (monotonic due, assoc)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Watchdog:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="pacsadmin-scp-deadline", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def add(self, assoc: Any) -> None:
        with self._lock:
            self._due[id(assoc)] = (time.monotonic() + self.seconds, assoc)

    def remove(self, assoc: Any) -> None:
        with self._lock:
            self._due.pop(id(assoc), None)

    def expired(self, now: float | None = None) -> list[Any]:
        """The associations past their deadline, taken off the watch."""
        now = time.monotonic() if now is None else now
        with self._lock:
            late = [k for k, (due, _) in self._due.items() if due <= now]
            return [self._due.pop(k)[1] for k in late]

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            for assoc in self.expired():
                try:
                    self.on_expired(assoc)
                except Exception:  # recording why must never keep the connection open
                    log.exception("SCP: the association deadline's record failed")
                _pynetdicom.cut_connection(assoc)
