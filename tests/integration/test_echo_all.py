"""Echo all in a process of its own: ``pacsadmin echo-all`` (text and ``--events``), the
typed events' codec, and :func:`echo_all_in_process` as the window's job runs it
(results as partials, cancel, a start-up failure as an error, a vanished parent)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.echo import echo
from pacsadmin.core.dimse.echo_all import (
    EchoProcessError,
    echo_all_in_process,
    echo_process_command,
)
from pacsadmin.core.dimse.echo_events import (
    SCHEMA_VERSION,
    EchoNodeResult,
    EchoRunEnded,
    EchoRunFailed,
    EchoRunStarted,
    Unreadable,
    Unsupported,
    parse_line,
    to_json_line,
)
from pacsadmin.core.jobs import JobPartial, JobRunner, JobState
from pacsadmin.core.nodes import DicomNode, NodeDirectory, NodeTimeouts, parse_target
from pacsadmin.core.paths import AppPaths
from tests.peers import app_argv, app_cli, free_port

pytestmark = pytest.mark.integration


class Silent:
    """Accepts connections and never answers (a hung peer)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)
        self._th.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.accepted.append(self.sock.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._th.join(5)
        for c in self.accepted:
            c.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    s = Silent()
    yield s
    s.close()


def _home(pacs_home, nodes: list[DicomNode]):
    paths = AppPaths.resolve(str(pacs_home)).ensure()
    directory = NodeDirectory(paths.nodes_file)
    for n in nodes:
        directory.add(n)
    return paths


# ------------------------------------------------------------------ the codec
def test_events_round_trip_real_results(storescp):
    local = LocalAE()
    good = echo(local, parse_target(f"{storescp.aet}@127.0.0.1:{storescp.port}"))
    bad = echo(local, parse_target(f"NOBODY@127.0.0.1:{free_port()}"))
    assert good.ok and not bad.ok
    for ev in (
        EchoRunStarted(2, 2),
        EchoNodeResult(0, "good", good),
        EchoNodeResult(1, "bad", bad),
        EchoRunEnded(2, 2, False),
        EchoRunFailed("No nodes to echo."),
    ):
        line = to_json_line(ev)
        assert "\n" not in line and json.loads(line)["v"] == SCHEMA_VERSION
        assert parse_line(line) == ev  # frozen dataclasses: every field, transcript included
    back = parse_line(to_json_line(EchoNodeResult(0, "good", good)))
    assert isinstance(back, EchoNodeResult)
    assert back.series.results[0].transcript_text() == good.results[0].transcript_text()
    assert back.series.latency() == good.latency()


@pytest.mark.parametrize(
    "line, why",
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"event": "ended", "done": 1, "total": 1, "cancelled": false}', "no schema version"),
        ('{"v": 1, "done": 1}', "no event kind"),
        ('{"v": 1, "event": "exploded"}', "unknown event kind 'exploded'"),
        ('{"v": 1, "event": "ended", "done": 1}', "ended: no 'total'"),
        ('{"v": 1, "event": "ended", "done": "1", "total": 1, "cancelled": false}', "wrong type"),
        ('{"v": 1, "event": "result", "index": 0, "node": "x", "results": [{}]}', "result: no"),
        ('{"v": 1, "event": "failed", "message": "' + "x" * 300_000 + '"}', "longer than"),
    ],
)
def test_a_line_that_is_not_an_event_says_why_and_never_raises(line, why):
    got = parse_line(line)
    assert isinstance(got, Unreadable) and why in got.why, got


def test_another_schema_version_is_named_not_guessed():
    got = parse_line('{"v": 2, "event": "ended", "done": 1, "total": 1, "cancelled": false}')
    assert got == Unsupported(2, "ended")
    assert "schema 2 (a newer pacsadmin)" in got.message


# ------------------------------------------------------------------ the command
def test_cli_echo_all_prints_a_line_per_node_and_audits_each(pacs_home, storescp):
    refused = free_port()
    paths = _home(
        pacs_home,
        [
            DicomNode("up", storescp.aet, "127.0.0.1", storescp.port),
            DicomNode("down", "GONE", "127.0.0.1", refused),
        ],
    )
    p = app_cli(paths.home, "echo-all")
    out = p.stdout.decode()
    assert p.returncode == 1, (out, p.stderr.decode())  # one failed
    assert "up: ok: Echo to" in out
    assert "down: FAILED: TCP connect failed: Connection refused" in out
    assert out.rstrip().endswith("2/2 echoed")
    audited = {e.node: e.outcome for e in AuditLog(paths.audit_db).entries(action="echo")}
    assert audited == {"up": "success", "down": "failure"}
    # only the answering one: exit 0
    assert app_cli(paths.home, "echo-all", "up").returncode == 0


def test_cli_echo_all_events_are_typed_lines(pacs_home, storescp):
    paths = _home(pacs_home, [])
    target = f"{storescp.aet}@127.0.0.1:{storescp.port}"
    p = app_cli(paths.home, "echo-all", "--events", "--concurrency", "2", target, target)
    events = [parse_line(line) for line in p.stdout.decode().splitlines()]
    assert p.returncode == 0, p.stderr.decode()
    assert events[0] == EchoRunStarted(2, 2)
    assert events[-1] == EchoRunEnded(2, 2, False)
    results = sorted((e for e in events[1:-1]), key=lambda e: e.index)
    assert [(e.index, e.node, e.series.ok) for e in results] == [
        (0, target, True),
        (1, target, True),
    ]
    # no nodes at all: a failed event, and the reason on stderr
    p = app_cli(paths.home, "echo-all", "--events")
    assert p.returncode == 1
    assert [parse_line(line) for line in p.stdout.decode().splitlines()] == [
        EchoRunFailed("No nodes to echo: add nodes to the directory, or name them.")
    ]


# ------------------------------------------------------------------ as the window runs it
def _run_job(fn, *, cancel_when=None, timeout: float = 60.0):
    runner = JobRunner(workers=1, priority_workers=1)
    partials: list[object] = []
    t_cancel: float | None = None
    runner.subscribe(lambda ev: partials.append(ev.item) if isinstance(ev, JobPartial) else None)
    try:
        job = runner.submit(fn, name="echo all", lane="priority")
        deadline = time.monotonic() + timeout
        while not job.future.done() and time.monotonic() < deadline:
            if cancel_when is not None and cancel_when():
                cancel_when = None
                t_cancel = time.monotonic()
                runner.cancel(job.id)
            time.sleep(0.01)
        assert job.future.done(), "the job did not end"
        took_after_cancel = None if t_cancel is None else time.monotonic() - t_cancel
        return job, partials, took_after_cancel
    finally:
        assert runner.shutdown(10)


def test_in_process_results_arrive_as_partials(pacs_home, storescp):
    paths = _home(pacs_home, [])
    nodes = [
        DicomNode("up", storescp.aet, "127.0.0.1", storescp.port),
        DicomNode("down", "GONE", "127.0.0.1", free_port()),
    ]
    job, partials, _ = _run_job(lambda ctx: echo_all_in_process(paths.home, nodes, ctx))
    assert job.state is JobState.SUCCEEDED, job.error
    summary = job.future.result()
    assert summary.total == 2 and summary.succeeded == 1 and not summary.cancelled
    assert sorted((p.index, p.node, p.series.ok) for p in partials) == [
        (0, "up", True),
        (1, "down", False),
    ]
    assert summary.results[1].results[0].failed_step.key == "tcp"


def test_in_process_cancel_ends_the_echoes_at_once(pacs_home, silent):
    paths = _home(pacs_home, [])
    slow = NodeTimeouts(connect=5, acse=120, dimse=120, network=120)
    nodes = [
        DicomNode(f"hung-{i}", "HUNG", "127.0.0.1", silent.port, timeouts=slow) for i in (0, 1)
    ]
    job, partials, took = _run_job(
        lambda ctx: echo_all_in_process(paths.home, nodes, ctx),
        cancel_when=lambda: len(silent.accepted) == 2,
    )
    assert job.state is JobState.CANCELLED
    assert took is not None and took < 10, took  # not the 120 s ACSE timeout
    assert len(partials) == 2
    for p in partials:
        assert "Cancelled by the user" in p.series.results[0].summary


def test_in_process_failure_to_start_is_an_error_with_the_reason(pacs_home):
    paths = _home(pacs_home, [])
    # a node list the process cannot read: it says so in a failed event
    cmd = [*echo_process_command(paths.home)]
    job, _, _ = _run_job(lambda ctx: echo_all_in_process(paths.home, [], ctx, command=cmd))
    assert job.state is JobState.FAILED
    assert "No nodes to echo" in job.error
    # a process that dies without an ended event: its last stderr line is the reason
    crash = [*app_argv(paths.home), "no-such-command"]
    job, _, _ = _run_job(lambda ctx: echo_all_in_process(paths.home, [], ctx, command=crash))
    assert job.state is JobState.FAILED
    assert "ended without finishing (exit code 2)" in job.error
    assert "invalid choice" in job.error
    with pytest.raises(EchoProcessError):
        echo_all_in_process(paths.home, [], command=crash)


def test_the_echo_process_ends_when_its_parent_closes_stdin(pacs_home, silent):
    """A window that crashes closes the pipe: the echoes are cancelled, the process ends."""
    paths = _home(pacs_home, [])
    slow = NodeTimeouts(connect=5, acse=120, dimse=120, network=120)
    node = DicomNode("hung", "HUNG", "127.0.0.1", silent.port, timeouts=slow)
    proc = subprocess.Popen(
        echo_process_command(paths.home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps({"v": SCHEMA_VERSION, "nodes": [node.to_json()]}) + "\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while not silent.accepted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert silent.accepted
    t0 = time.monotonic()
    proc.stdin.close()
    out = proc.stdout.read()  # to its end: the process closed it
    assert proc.wait(15) == 1  # cancelled: not every node echoed
    assert time.monotonic() - t0 < 10
    events = [parse_line(line) for line in out.splitlines()]
    assert events[-1] == EchoRunEnded(1, 1, True)
    assert "Cancelled by the user" in events[1].series.results[0].summary


def test_a_cancelled_echo_process_ends_even_if_an_echo_does_not():
    """The last resort after a cancel: an echo stuck past the grace period (its reactor
    missed the closed socket) does not keep the process, nor the window's job, waiting."""
    code = (
        "import time\n"
        "from pacsadmin.core.dimse.echo_all import cancel_then_exit\n"
        "from pacsadmin.core.jobs import CancelToken\n"
        "token = CancelToken()\n"
        "cancel_then_exit(token, grace=0.5)\n"
        "assert token.cancelled\n"
        "time.sleep(60)  # an echo that never ends\n"
    )
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert p.returncode == 1 and not p.stderr, p.stderr.decode()  # os._exit(1), no error
    assert time.monotonic() - t0 < 10
