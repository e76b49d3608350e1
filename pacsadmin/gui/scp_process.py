"""The local SCP in its own process, started and watched by the GUI.

``pacsadmin --config-dir HOME serve --events`` runs in a :class:`QProcess` (a receiver at
full speed in the GUI process would compete with the GUI thread for the GIL: issue 3,
section 5).  Its stdout carries one small JSON line per association event; QProcess reads
them on the GUI thread, so no bridge is needed.  Stopping is terminate (the serve command
stops cleanly on SIGTERM), then kill after a timeout.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import deque
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal, Slot

log = logging.getLogger("pacsadmin.gui.scp")

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class ScpProcess(QObject):
    """States: "stopped", "starting", "listening", "stopping", "failed"."""

    listening = Signal(str, int)  # AE title, port
    failed = Signal(str)  # why, in a sentence
    stopped = Signal()
    server_event = Signal(dict)  # one parsed JSON line: open / progress / close / listening
    # (not "event": that would hide QObject.event, the method Qt calls for every event)

    def __init__(self, home: Path, ae_title: str, port: int, parent: QObject | None = None):
        super().__init__(parent)
        self.home, self.ae_title, self.port = Path(home), ae_title, port
        self.state = "stopped"
        self.message = f"SCP {ae_title}:{port} not running"
        self._buf = b""
        self._stderr: deque[str] = deque(maxlen=30)
        self.proc = QProcess(self)
        self.proc.setProgram(sys.executable)
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
        self.state = "starting"
        self.message = f"SCP {self.ae_title}:{self.port} starting…"
        args = ["-m", "pacsadmin", "--config-dir", str(self.home), "serve", "--events"]
        self.proc.setArguments([*args, "--aet", self.ae_title, "--port", str(self.port)])
        self.proc.start()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Terminate, then kill after ``timeout_ms``; True when the process has ended."""
        if not self.running:
            return True
        self.state = "stopping"
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
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                log.debug("scp: %s", line[:500])  # serve logs it to the file itself
                continue
            if not isinstance(ev, dict):
                continue
            if ev.get("event") == "listening" and self.state != "listening":
                self.state = "listening"
                self.port = int(ev.get("port") or self.port)
                self.message = f"SCP {self.ae_title}:{self.port} listening"
                self.listening.emit(self.ae_title, self.port)
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
        self._on_proc_stderr()
        if self.state == "stopping":
            self.state, self.message = "stopped", f"SCP {self.ae_title}:{self.port} stopped"
            self.stopped.emit()
            return
        self._fail(self._reason(code))

    @Slot(QProcess.ProcessError)
    def _on_proc_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._fail(
                f"SCP {self.ae_title}:{self.port} could not start: {self.proc.errorString()}"
            )

    def _fail(self, message: str) -> None:
        self.state, self.message = "failed", message
        self.failed.emit(message)

    def _reason(self, code: int) -> str:
        err = "\n".join(self._stderr)
        head = f"SCP {self.ae_title}:{self.port} "
        if "Address already in use" in err or "in use" in err.lower():
            return (
                head + f"not started: port {self.port} is already in use by another program "
                "(stop it, or choose another scp_port in the settings)"
            )
        if "cannot listen" in err:
            line = next(x for x in reversed(self._stderr) if "cannot listen" in x)
            return head + "not started: " + line.split(": ", 1)[-1]
        last = self._stderr[-1] if self._stderr else f"exit code {code}"
        return head + f"stopped unexpectedly: {last}"


def describe_event(ev: dict[str, Any]) -> str:
    """One line for the Activity log (no patient data is in the events)."""
    who = f"{ev.get('calling_ae', '?')} @ {ev.get('address', '?')}"
    if ev.get("rejected"):
        return f"association from {who} rejected: {ev['rejected']}"
    n, dup, bad = ev.get("stored", 0), ev.get("duplicates", 0), ev.get("failed", 0)
    tail = " (aborted)" if ev.get("aborted") else ""
    return f"association from {who} closed: {n} stored, {dup} duplicate(s), {bad} failed{tail}"
