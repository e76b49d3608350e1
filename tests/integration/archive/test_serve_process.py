"""``pacsadmin serve`` as the window runs it: ``--events --exit-with-parent`` in a process
of its own.  A parent killed with SIGKILL leaves no SCP holding the port; a start-up
failure is a typed ``failed`` event with a reason, and every start and stop is audited."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pacsadmin.core.archive import Archive
from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse import scp_events
from pacsadmin.core.dimse.scp_events import Failed, Listening, parse_line
from pacsadmin.core.paths import AppPaths
from tests.peers import free_port, serve_argv
from tests.unit.archive.dsgen import make_ds, write

from .conftest import run

pytestmark = pytest.mark.integration

# A stand-in for the window: starts serve the way ScpProcess does (stdin and stdout pipes,
# or stdin from /dev/null to leave only the parent-id check), reports serve's process id
# and its "listening" events, then waits to be killed.
PARENT = r"""
import subprocess, sys, time
mode, workers, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
stdin = subprocess.PIPE if mode == "pipe" else subprocess.DEVNULL
p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE)
print(p.pid, flush=True)
for _ in range(workers):
    sys.stdout.buffer.write(p.stdout.readline())
    sys.stdout.flush()
time.sleep(3600)
"""


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie that nobody reaped yet (an orphan's fate here)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


def _serve_audit(home: Path) -> list:
    """The audit log's serve entries, newest first."""
    return AuditLog(AppPaths.resolve(str(home)).audit_db).entries(action="serve")


def _bind_again(port: int) -> None:
    """Listen on ``port`` (SO_REUSEADDR, as serve does: a leftover TIME_WAIT connection of
    a sender does not count, a socket still listening does)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(1)


@pytest.mark.parametrize(
    "mode, workers",
    [("pipe", 1), ("devnull", 1), ("pipe", 2)],
    ids=["stdin-closes", "parent-id-changes", "two-workers"],
)
def test_serve_exits_when_its_parent_is_killed(tmp_path, mode, workers):
    home = tmp_path / "home"
    port = free_port()
    argv = serve_argv(home, "ORPHAN", port, "--events", "--exit-with-parent", workers=workers)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, mode, str(workers), *argv],
        stdout=subprocess.PIPE,
        start_new_session=True,  # the SIGKILL below reaches the parent only
    )
    serve_pid = 0
    try:
        serve_pid = int(parent.stdout.readline())
        ready = [parse_line(parent.stdout.readline()) for _ in range(workers)]
        assert all(isinstance(e, Listening) and e.port == port for e in ready), ready
        pids = {serve_pid, *(e.pid for e in ready)}  # the worker processes too
        d = tmp_path / "send"
        for i in range(3):
            write(make_ds(seed=i), d / f"{i}.dcm")
        p = run(["storescu", "-aec", "ORPHAN", "+sd", "127.0.0.1", str(port), str(d)])
        assert p.returncode == 0, p.stderr.decode(errors="replace")

        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        t0 = time.monotonic()
        while not all(_gone(pid) for pid in pids) and time.monotonic() - t0 < 15:
            time.sleep(0.05)
        took = time.monotonic() - t0
        print(f"serve ({mode}, {workers} worker(s)) exited {took:.2f} s after the SIGKILL")
        assert all(_gone(pid) for pid in pids), f"still running after {took:.1f} s"
        assert took < 5.0, f"serve took {took:.1f} s to notice and stop"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if serve_pid and not _gone(serve_pid):
            os.kill(serve_pid, signal.SIGKILL)
    _bind_again(port)  # the port is free
    with Archive(home / "archive", sweep=False) as archive:  # stopped cleanly: consistent
        rep = archive.verify()
        assert rep.ok and rep.temp_files == 0, rep
        assert archive.counts()["instances"] == 3
    entries = _serve_audit(home)
    assert [e.outcome for e in entries] == ["stopped", "started"]
    assert "the process that started it ended" in entries[0].summary


def _failed_start(argv: list[str]) -> tuple[int, list[object], str]:
    p = subprocess.run([*argv, "--events"], capture_output=True, timeout=120)
    events = [parse_line(line) for line in p.stdout.splitlines() if line.strip()]
    return p.returncode, events, p.stderr.decode(errors="replace")


def test_start_up_failures_are_failed_events_with_a_reason(tmp_path):
    home = tmp_path / "home"
    with socket.socket() as s:  # the port in use
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        rc, events, err = _failed_start(serve_argv(home, "BUSY", port))
    assert rc == 1 and len(events) == 1, (events, err)
    (ev,) = events
    assert isinstance(ev, Failed) and ev.reason == scp_events.PORT_IN_USE
    assert f"port {port} on 127.0.0.1 is already in use by another program" in ev.message
    assert "not started: " + ev.message in err and "Traceback" not in err

    rc, events, err = _failed_start(serve_argv(home, "BAD\\AET", free_port()))
    assert rc == 2 and [type(e) for e in events] == [Failed], err
    assert events[0].reason == scp_events.BAD_AE_TITLE and "backslash" in events[0].message

    argv = serve_argv(home, "NOWHERE", free_port())
    rc, events, err = _failed_start([*argv, "--bind", "192.0.2.1"])  # not this host's
    assert rc == 1 and events[0].reason == scp_events.ADDRESS_UNAVAILABLE, (events, err)

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "archive").write_text("a file where the archive folder should be")
    for workers in (1, 2):
        rc, events, err = _failed_start(serve_argv(broken, "NOARCH", free_port(), workers=workers))
        assert rc == 1 and len(events) == 1, (events, err)
        assert events[0].reason == scp_events.ARCHIVE_UNUSABLE
        assert str(broken / "archive") in events[0].message and "Traceback" not in err

    audit = _serve_audit(home)
    assert [e.outcome for e in audit] == ["failed"] * 3
    assert "already in use" in audit[-1].summary


def test_serve_stopped_by_sigterm_says_so_and_is_audited(tmp_path):
    home = tmp_path / "home"
    port = free_port()
    proc = subprocess.Popen(
        serve_argv(home, "TERM", port, "--events"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert isinstance(parse_line(proc.stdout.readline()), Listening)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    (stopped,) = [parse_line(line) for line in out.splitlines() if line.strip()]
    assert stopped == scp_events.Stopped(proc.pid, scp_events.STOP_SIGNAL, "on SIGTERM")
    entries = _serve_audit(home)
    assert [(e.outcome, e.summary) for e in entries] == [
        ("stopped", "SCP stopped: on SIGTERM"),
        ("started", "SCP started"),
    ]
    assert entries[0].target == f"TERM:{port}"
