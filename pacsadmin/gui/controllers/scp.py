"""The local SCP in its own process, started and watched by the GUI.

``pacsadmin --config-dir HOME serve --events`` runs in a :class:`QProcess` (a receiver at
full speed in the GUI process would compete with the GUI thread for the GIL: issue 3,
section 5).  Its stdout carries one small JSON line per event, parsed by the same code
that wrote it (:mod:`pacsadmin.core.dimse.scp_events`): QProcess reads them on the GUI
thread, so no bridge is needed.  A start-up failure arrives as a ``failed`` event with a
reason and a sentence.  ``serve`` is started with ``--exit-with-parent``: a window that
crashes closes its end of serve's stdin, and serve stops (the port is free again).
Stopping is terminate (serve stops cleanly on SIGTERM), then kill after a timeout.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal, Slot

from pacsadmin.core.appfiles import self_command
from pacsadmin.core.dimse import scp_events
from pacsadmin.core.dimse.scp_events import (
    AssociationClosed,
    Failed,
    Listening,
    Stopped,
    Unreadable,
    Unsupported,
)

log = logging.getLogger("pacsadmin.gui.scp")

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class ScpProcess(QObject):
    """States: "stopped", "starting", "listening", "stopping", "failed".

    ``status`` is the state in a few words (the status bar), ``message`` the whole sentence
    (a failure's reason included)."""

    listening = Signal(str, int)  # AE title, port
    failed = Signal(str)  # why, in a sentence
    stopped = Signal()
    server_event = Signal(object)  # every scp_events event, typed (Listening, Association...)
    # (not "event": that would hide QObject.event, the method Qt calls for every event)

    def __init__(self, home: Path, ae_title: str, port: int, parent: QObject | None = None):
        super().__init__(parent)
        self.home, self.ae_title, self.port = Path(home), ae_title, port
        self.state = "stopped"
        self.message = self.status = f"SCP {ae_title}:{port} not running"
        self._buf = b""
        self.failure: Failed | None = None  # serve's failed event of this start, if any
        self._why: str | None = None  # a failed event's sentence, or why it cannot be read
        self._stop_reason = ""  # a stopped event's message (serve stopped by itself)
        self._stderr: deque[str] = deque(maxlen=30)
        self.proc = QProcess(self)
        self.proc.setProgram(self_command()[0])  # python, or the packaged app's program
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        path = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", _PACKAGE_PARENT + (os.pathsep + path if path else ""))
        self.proc.setProcessEnvironment(env)
        self.proc.readyReadStandardOutput.connect(self._on_proc_stdout)
        self.proc.readyReadStandardError.connect(self._on_proc_stderr)
        self.proc.finished.connect(self._on_proc_finished)
        self.proc.errorOccurred.connect(self._on_proc_error)

    @property
    def running(self) -> bool:
        return self.proc.state() != QProcess.ProcessState.NotRunning

    def pid(self) -> int:
        return int(self.proc.processId())

    def start(self) -> None:
        if self.running:
            return
        self._buf = b""
        self._stderr.clear()
        self.failure, self._why, self._stop_reason = None, None, ""
        self.state = "starting"
        self.message = self.status = f"SCP {self.ae_title}:{self.port} starting…"
        self.proc.setArguments(self.arguments())
        self.proc.start()

    def arguments(self) -> list[str]:
        """The Python command line of ``serve``: its events on stdout, and it stops when
        this process ends (its end of serve's stdin closes)."""
        args = [*self_command()[1:], "--config-dir", str(self.home), "serve", "--events"]
        return [*args, "--exit-with-parent", "--aet", self.ae_title, "--port", str(self.port)]

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Terminate, then kill after ``timeout_ms``; True when the process has ended."""
        if not self.running:
            return True
        self.state = "stopping"
        self.status = self.message = f"SCP {self.ae_title}:{self.port} stopping…"
        self.proc.terminate()
        if not self.proc.waitForFinished(timeout_ms):
            log.warning("the SCP process did not stop in %d ms; killing it", timeout_ms)
            self.proc.kill()
            self.proc.waitForFinished(3000)
        return not self.running

    # ------------------------------------------------------------------ process slots
    @Slot()
    def _on_proc_stdout(self) -> None:
        self._buf += bytes(self.proc.readAllStandardOutput().data())
        *lines, self._buf = self._buf.split(b"\n")
        if len(self._buf) > scp_events.MAX_LINE:  # no end of line in sight: not an event
            log.debug("scp: an overlong line dropped (%d bytes so far)", len(self._buf))
            self._buf = b""
        for raw in lines:
            if not raw.strip():
                continue
            ev = scp_events.parse_line(raw)
            if isinstance(ev, Unreadable):
                log.debug("scp: not an event (%s): %s", ev.why, ev.line)
                continue
            if isinstance(ev, Unsupported):  # another pacsadmin's serve: cannot follow it
                if self._why is None:
                    log.warning("scp: %s", ev.message)
                    self._why = f"cannot be followed: {ev.message}"
                    self.stop()  # -> _on_proc_finished says why
                return
            if isinstance(ev, Listening) and self.state == "starting":
                self.state = "listening"
                self.port = ev.port
                self.message = self.status = f"SCP {self.ae_title}:{self.port} listening"
                self.listening.emit(self.ae_title, self.port)
            elif isinstance(ev, Failed):
                self.failure, self._why = ev, f"not started: {ev.message}"
            elif isinstance(ev, Stopped):
                self._stop_reason = ev.message or ev.reason
            self.server_event.emit(ev)

    @Slot()
    def _on_proc_stderr(self) -> None:
        text = bytes(self.proc.readAllStandardError().data()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                self._stderr.append(line)
                log.debug("scp: %s", line[:500])  # serve logs it to the file itself

    @Slot(int, QProcess.ExitStatus)
    def _on_proc_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._on_proc_stdout()  # the last lines (a failed event) may not have been read
        self._on_proc_stderr()
        head = f"SCP {self.ae_title}:{self.port} "
        if self._why is not None:
            self._fail(head + self._why)
        elif self.state == "stopping":
            self.state = "stopped"
            self.message = self.status = head + "stopped"
            self.stopped.emit()
        elif self._stop_reason:  # stopped cleanly, but not by us (a kill from a terminal)
            self._fail(head + f"stopped: {self._stop_reason}")
        else:  # serve died before it could say why: its last words on stderr
            last = self._stderr[-1] if self._stderr else f"exit code {code}"
            how = "not started" if self.state == "starting" else "stopped unexpectedly"
            self._fail(head + f"{how}: {last}")

    @Slot(QProcess.ProcessError)
    def _on_proc_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._fail(
                f"SCP {self.ae_title}:{self.port} could not start: {self.proc.errorString()}"
            )

    @property
    def died_silently(self) -> bool:
        """It ended with neither a ``failed`` nor a ``stopped`` event: killed, or crashed.
        serve audits its own start, stop and start-up failure; this end it could not."""
        return self.state == "failed" and self.failure is None and not self._stop_reason

    def _fail(self, message: str) -> None:
        self.state, self.message = "failed", message
        self.status = f"SCP {self.ae_title}:{self.port} not running"
        self.failed.emit(message)


def describe_event(ev: AssociationClosed) -> str:
    """One line for the Activity log (no patient data is in the events)."""
    who = f"{ev.calling_ae or '?'} @ {ev.address or '?'}"
    if ev.rejected:
        return f"association from {who} rejected: {ev.rejected}"
    tail = " (aborted)" if ev.aborted else ""
    return (
        f"association from {who} closed: {ev.stored} stored, {ev.duplicates} duplicate(s), "
        f"{ev.failed} failed{tail}"
    )
