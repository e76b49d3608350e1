"""The Connectivity Doctor against real peers on 127.0.0.1: DCMTK, Orthanc, pynetdicom,
and small socket servers that misbehave on purpose.  Core API and the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.echo import diagnose, echo
from pacsadmin.core.nodes import DicomNode, NodeTimeouts, parse_target
from pacsadmin.core.settings import Timeouts
from tests.peers import app_cli, free_port

pytestmark = pytest.mark.integration

LOCAL = LocalAE(timeouts=Timeouts(connect=10, acse=15, dimse=15, network=30))
A_ABORT = b"\x07\x00\x00\x00\x00\x04\x00\x00\x00\x00"  # source 0 (service user), reason 0


def _steps(r) -> dict[str, str]:
    return {s.key: s.status for s in r.steps}


def _explain(r) -> str:
    return r.transcript_text()


# ------------------------------------------------------------------ misbehaving servers
class SocketServer:
    """A one-thread TCP server on 127.0.0.1; ``handler(conn)`` runs per connection."""

    def __init__(self, handler) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.conns.append(conn)
            try:
                if self.handler is not None:
                    self.handler(conn)
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def socket_server() -> Iterator:
    servers: list[SocketServer] = []

    def make(handler) -> SocketServer:
        s = SocketServer(handler)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def _read_pdu(conn: socket.socket) -> bytes:
    conn.settimeout(10)
    head = b""
    while len(head) < 6:
        chunk = conn.recv(6 - len(head))
        if not chunk:
            return head
        head += chunk
    length = int.from_bytes(head[2:6], "big")
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return head + body


@pytest.fixture
def pynetdicom_scp():
    """Start a pynetdicom AE as an SCP: ``start(ae, handlers) -> port``."""
    servers = []

    def start(ae, handlers=()) -> int:
        port = free_port()
        servers.append(ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers))
        return port

    yield start
    for s in servers:
        s.shutdown()


# ------------------------------------------------------------------ success
@pytest.mark.parametrize("name", ["storescp", "dcmqrscp", "orthanc"])
def test_echo_succeeds_against_real_peer(name, request):
    peer = request.getfixturevalue(name)
    r = diagnose(LOCAL, peer.node())
    assert r.ok, _explain(r) + peer.log()
    assert r.failed_step is None
    assert _steps(r) == {
        "dns": "ok",
        "tcp": "ok",
        "tls": "skipped",
        "associate": "ok",
        "echo": "ok",
        "release": "ok",
    }
    assert r.echo_status == 0
    assert r.summary.startswith(f"Echo to {peer.target} succeeded")
    assert [c["result"] for c in r.contexts] == [0]
    assert r.peer_implementation
    assert all(s.ms is not None and s.ms >= 0 for s in r.steps if s.status == "ok")
    assert 0 < r.total_ms < 15_000
    assert peer.alive()


def test_transcript_shows_the_whole_exchange(storescp):
    r = diagnose(LOCAL, storescp.node())
    assert r.ok, _explain(r)
    kinds = [line.kind for line in r.transcript]
    for kind in (
        "A-ASSOCIATE-RQ",
        "A-ASSOCIATE-AC",
        "C-ECHO-RQ",
        "C-ECHO-RSP",
        "A-RELEASE-RQ",
        "A-RELEASE-RP",
    ):
        assert kind in kinds, kinds
    order = [kinds.index(k) for k in ("A-ASSOCIATE-RQ", "A-ASSOCIATE-AC", "C-ECHO-RQ")]
    assert order == sorted(order)
    assert kinds.index("C-ECHO-RSP") < kinds.index("A-RELEASE-RQ") < kinds.index("A-RELEASE-RP")
    text = r.transcript_text()
    assert "called AE 'STORESCP', calling AE 'PACSADMIN'" in text
    assert "Status=0x0000" in text
    assert f"target: {storescp.target}" in text


def test_survey_mode_lists_the_peers_contexts(orthanc):
    r = diagnose(LOCAL, orthanc.node(), mode="survey")
    assert r.ok, _explain(r)
    assert len(r.contexts) > 1
    accepted = {c["abstract_syntax"] for c in r.contexts if c["result"] == 0}
    assert "1.2.840.10008.1.1" in accepted
    assert "1.2.840.10008.5.1.4.1.2.2.1" in accepted  # Orthanc answers Study Root C-FIND


def test_echo_series_latency(storescp):
    series = echo(LOCAL, storescp.node(), count=3)
    assert series.ok and series.succeeded == 3
    lat = series.latency()
    assert lat is not None
    assert 0 < lat["min"] <= lat["median"] <= lat["max"]


# ------------------------------------------------------------------ failures, one per step
def test_wrong_called_ae_is_rejected_and_decoded(dcmqrscp):
    node = replace(dcmqrscp.node(), ae_title="NOSUCHAE")
    r = diagnose(LOCAL, node)
    assert not r.ok
    assert r.failed_step is not None and r.failed_step.key == "associate", _explain(r)
    detail = r.failed_step.detail
    assert "rejected permanently" in detail
    assert "by the service user" in detail
    assert "called AE title not recognized" in detail
    assert "NOSUCHAE" in r.failed_step.advice
    assert _steps(r)["echo"] == "skipped"
    assert "A-ASSOCIATE-RJ" in [line.kind for line in r.transcript]
    assert dcmqrscp.alive()
    assert diagnose(LOCAL, dcmqrscp.node()).ok  # and it still answers its own title


def test_wrong_called_ae_rejected_by_orthanc(orthanc):
    r = diagnose(LOCAL, replace(orthanc.node(), ae_title="NOSUCHAE"))
    assert r.failed_step is not None and r.failed_step.key == "associate", _explain(r)
    assert "called AE title not recognized" in r.failed_step.detail


def test_storescp_accepts_any_called_ae(storescp):
    r = diagnose(LOCAL, replace(storescp.node(), ae_title="WHATEVER"))
    assert r.ok, _explain(r)


def test_closed_port_is_refused_at_tcp():
    node = parse_target(f"ANY@127.0.0.1:{free_port()}")
    r = diagnose(LOCAL, node)
    assert r.failed_step is not None and r.failed_step.key == "tcp"
    assert "connection refused" in r.failed_step.detail.lower()
    assert _steps(r)["dns"] == "ok"
    assert _steps(r)["associate"] == "skipped"


def test_unresolvable_host_fails_at_dns():
    node = parse_target("ANY@no-such-node.invalid:104")
    r = diagnose(LOCAL, node, timeout=10)
    assert r.failed_step is not None and r.failed_step.key == "dns", _explain(r)
    assert "no-such-node.invalid" in r.failed_step.detail
    assert _steps(r)["tcp"] == "skipped"


def test_silent_listener_times_out_at_associate(socket_server):
    server = socket_server(None)  # accepts, never answers
    node = parse_target(f"SILENT@127.0.0.1:{server.port}")
    t0 = time.monotonic()
    r = diagnose(LOCAL, node, timeout=1.5)
    elapsed = time.monotonic() - t0
    assert r.failed_step is not None and r.failed_step.key == "associate", _explain(r)
    assert "within 1.5 s" in r.failed_step.detail
    assert "ACSE timeout" in r.failed_step.detail
    assert 1.4 <= elapsed < 6.0, elapsed  # the configured timeout, plus slack for a busy box
    # the A-ABORT after the timeout is ours: the transcript says so, not "by the peer"
    aborts = [line for line in r.transcript if line.kind == "A-ABORT"]
    assert [line.direction for line in aborts] == [">>"], _explain(r)
    assert "aborted by us" in aborts[0].text, aborts[0].text
    assert "peer" not in aborts[0].text, aborts[0].text


def test_per_node_acse_timeout_applies(socket_server):
    server = socket_server(None)
    node = replace(parse_target(f"SILENT@127.0.0.1:{server.port}"), timeouts=NodeTimeouts(acse=1.0))
    t0 = time.monotonic()
    r = diagnose(LOCAL, node)
    elapsed = time.monotonic() - t0
    assert r.failed_step is not None and r.failed_step.key == "associate"
    assert 0.9 <= elapsed < 5.0, elapsed


def test_abort_instead_of_association_answer(socket_server):
    def handler(conn):
        pdu = _read_pdu(conn)
        assert pdu[:1] == b"\x01"  # A-ASSOCIATE-RQ
        conn.sendall(A_ABORT)
        time.sleep(0.5)
        conn.close()

    server = socket_server(handler)
    r = diagnose(LOCAL, parse_target(f"ABORTER@127.0.0.1:{server.port}"), timeout=10)
    assert r.failed_step is not None and r.failed_step.key == "associate", _explain(r)
    assert "aborted" in r.failed_step.detail.lower()
    assert "service user" in r.failed_step.detail
    received = [line for line in r.transcript if line.kind == "A-ABORT" and line.direction == "<<"]
    assert len(received) == 1, _explain(r)
    assert "aborted by the peer (service user)" in received[0].text


def test_an_http_answer_is_named_not_dicom_and_not_a_timeout(socket_server):
    def handler(conn):
        _read_pdu(conn)  # our A-ASSOCIATE-RQ, as a web server reads a bad request
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        time.sleep(0.5)
        conn.close()

    server = socket_server(handler)
    t0 = time.monotonic()
    r = diagnose(LOCAL, parse_target(f"WEB@127.0.0.1:{server.port}"), timeout=10)
    assert time.monotonic() - t0 < 5  # not the ACSE timeout
    f = r.failed_step
    assert f is not None and f.key == "associate", _explain(r)
    assert "not DICOM" in f.detail and '"HTTP/1.0 400 Bad Request"' in f.detail, f.detail
    assert "timeout" not in f.detail.lower()
    assert "web (HTTP) server" in f.advice
    lines = [line for line in r.transcript if line.kind == "NOT DICOM"]
    assert len(lines) == 1 and "HTTP/1.0 400 Bad Request" in lines[0].text


def test_a_tls_answer_to_plain_dicom_says_turn_tls_on(socket_server):
    def handler(conn):
        _read_pdu(conn)
        conn.sendall(b"\x15\x03\x03\x00\x02\x02\x46")  # a TLS alert record
        time.sleep(0.5)
        conn.close()

    server = socket_server(handler)
    r = diagnose(LOCAL, parse_target(f"TLSONLY@127.0.0.1:{server.port}"), timeout=10)
    f = r.failed_step
    assert f is not None and f.key == "associate", _explain(r)
    assert "not DICOM" in f.detail and "\\x15\\x03\\x03" in f.detail, f.detail
    assert "turn TLS on" in f.advice


def test_doctor_against_orthancs_http_port_says_what_came_back(orthanc, pacs_home):
    node = replace(orthanc.node(), port=orthanc.http_port, ae_title="ORTHANC")
    r = diagnose(LOCAL, node, timeout=10)
    f = r.failed_step
    assert f is not None and f.key == "associate", _explain(r)
    assert "not DICOM" in f.detail and "HTTP/1." in f.detail, f.detail
    assert r.total_ms < 5000
    # the command a user runs says the same
    p = app_cli(pacs_home, "doctor", f"ORTHANC@127.0.0.1:{orthanc.http_port}", "-t", "5")
    out = p.stdout.decode()
    assert p.returncode == 1
    assert "A-ASSOCIATE" in out and "not DICOM" in out and '"HTTP/1.' in out, out
    assert "ACSE timeout" not in out and "no answer" not in out.lower(), out


def test_connection_closed_without_answer(socket_server):
    def handler(conn):
        _read_pdu(conn)
        conn.close()

    server = socket_server(handler)
    r = diagnose(LOCAL, parse_target(f"CLOSER@127.0.0.1:{server.port}"), timeout=10)
    assert r.failed_step is not None and r.failed_step.key == "associate", _explain(r)
    assert "closed the connection" in r.failed_step.detail


def test_abort_instead_of_echo_answer(pynetdicom_scp):
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification

    def on_echo(event):
        event.assoc.abort()
        return 0x0000

    ae = AE("ABORTER")
    ae.add_supported_context(Verification)
    port = pynetdicom_scp(ae, [(evt.EVT_C_ECHO, on_echo)])
    r = diagnose(LOCAL, parse_target(f"ABORTER@127.0.0.1:{port}"), timeout=10)
    assert _steps(r)["associate"] == "ok", _explain(r)
    assert r.failed_step is not None and r.failed_step.key == "echo", _explain(r)
    assert "aborted by the peer" in r.failed_step.detail
    assert "instead of answering the C-ECHO" in r.failed_step.detail
    assert _steps(r)["release"] == "skipped"


def test_peer_without_verification(pynetdicom_scp):
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage

    ae = AE("NOVERIF")
    ae.add_supported_context(CTImageStorage)
    port = pynetdicom_scp(ae)
    r = diagnose(LOCAL, parse_target(f"NOVERIF@127.0.0.1:{port}"), timeout=10)
    assert r.failed_step is not None and r.failed_step.key == "associate", _explain(r)
    assert "none of the proposed presentation contexts" in r.failed_step.detail
    assert "Verification" in r.failed_step.advice
    assert [c["result"] for c in r.contexts] == [3]  # abstract syntax not supported


def test_dimse_timeout_when_echo_is_never_answered(pynetdicom_scp):
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification

    gate = threading.Event()

    def on_echo(event):
        gate.wait(10)
        return 0x0000

    ae = AE("STUCK")
    ae.add_supported_context(Verification)
    port = pynetdicom_scp(ae, [(evt.EVT_C_ECHO, on_echo)])
    t0 = time.monotonic()
    try:
        r = diagnose(LOCAL, parse_target(f"STUCK@127.0.0.1:{port}"), timeout=1.5)
    finally:
        gate.set()
    elapsed = time.monotonic() - t0
    assert r.failed_step is not None and r.failed_step.key == "echo", _explain(r)
    assert "DIMSE timeout" in r.failed_step.detail
    assert elapsed < 8.0, elapsed


# ------------------------------------------------------------------ the CLI
def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("pacsadmin")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pacsadmin"]
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ},  # PACSADMIN_HOME: the test's temp folder (tests/conftest.py)
    )


@pytest.mark.parametrize("name", ["storescp", "dcmqrscp", "orthanc"])
def test_cli_echo_succeeds(name, request):
    peer = request.getfixturevalue(name)
    p = _cli("echo", peer.target)
    assert p.returncode == 0, p.stderr + peer.log()
    assert f"Echo to {peer.target} succeeded" in p.stdout
    assert p.stderr == ""


def test_cli_echo_json(storescp):
    p = _cli("echo", storescp.target, "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["ok"] is True and data["count"] == 1 and data["succeeded"] == 1
    r = data["results"][0]
    assert r["target"] == storescp.target
    assert r["echo_status"] == 0
    assert [s["step"] for s in r["steps"]] == ["dns", "tcp", "tls", "associate", "echo", "release"]
    assert r["presentation_contexts"][0]["result"] == 0


def test_cli_echo_failure_exit_1_with_diagnosis_on_stderr(dcmqrscp):
    p = _cli("echo", f"NOSUCHAE@127.0.0.1:{dcmqrscp.port}")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "A-ASSOCIATE failed" in p.stderr
    assert "called AE title not recognized" in p.stderr
    assert "What to do:" in p.stderr


def test_cli_echo_json_failure(tmp_path):
    p = _cli("echo", f"ANY@127.0.0.1:{free_port()}", "--json")
    assert p.returncode == 1
    data = json.loads(p.stdout)
    assert data["ok"] is False
    steps = {s["step"]: s for s in data["results"][0]["steps"]}
    assert steps["tcp"]["status"] == "failed"
    assert "refused" in steps["tcp"]["detail"].lower()
    assert "TCP connect failed" in p.stderr


def test_cli_echo_timeout_option(socket_server):
    server = socket_server(None)
    t0 = time.monotonic()
    p = _cli("echo", f"SILENT@127.0.0.1:{server.port}", "--timeout", "1")
    elapsed = time.monotonic() - t0
    assert p.returncode == 1
    assert "ACSE timeout" in p.stderr
    assert elapsed < 30, elapsed  # includes the interpreter's start


@pytest.mark.parametrize(
    "args",
    [
        ["echo", "not a target"],
        ["echo", "no-such-node"],
        ["echo", "AE@127.0.0.1:70000"],
        ["echo", "ATITLETHATISTOOLONG@127.0.0.1:104"],
        ["echo", "AE@127.0.0.1:104", "--count", "0"],
        ["echo", "AE@127.0.0.1:104", "--timeout", "soon"],
        ["echo"],
    ],
)
def test_cli_echo_usage_errors_exit_2(args):
    p = _cli(*args)
    assert p.returncode == 2, (args, p.stdout, p.stderr)
    assert p.stderr.strip()
    assert "Traceback" not in p.stderr


def test_cli_count_prints_min_median_max(storescp):
    p = _cli("echo", storescp.target, "--count", "3")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("succeeded (") == 3
    assert "3/3 echoes succeeded" in p.stdout
    assert "min" in p.stdout and "median" in p.stdout and "max" in p.stdout


def test_cli_echo_by_node_name_and_audit(storescp):
    add = _cli(
        "nodes",
        "add",
        "test-store",
        "--ae-title",
        storescp.aet,
        "--host",
        storescp.host,
        "--port",
        str(storescp.port),
        "--description",
        "storescp of the integration tests",
    )
    assert add.returncode == 0, add.stderr
    p = _cli("echo", "test-store")
    assert p.returncode == 0, p.stderr
    fail = _cli("echo", f"ANY@127.0.0.1:{free_port()}")
    assert fail.returncode == 1
    audit = _cli("audit", "--json")
    assert audit.returncode == 0, audit.stderr
    entries = json.loads(audit.stdout)
    echoes = [e for e in entries if e["action"] == "echo"]
    assert len(echoes) == 2, entries
    by_outcome = {e["outcome"]: e for e in echoes}
    assert by_outcome["success"]["node"] == "test-store"
    assert by_outcome["success"]["target"] == storescp.target
    assert by_outcome["failure"]["details"]["failed_step"] == "tcp"


def test_cli_doctor_prints_every_step(storescp):
    p = _cli("doctor", storescp.target, "--transcript")
    assert p.returncode == 0, p.stderr
    for title in ("DNS resolution", "TCP connect", "A-ASSOCIATE", "C-ECHO", "A-RELEASE"):
        assert title in p.stdout
    assert "Presentation contexts:" in p.stdout
    assert "A-ASSOCIATE-RQ" in p.stdout and "A-RELEASE-RP" in p.stdout


def test_stopped_peer_is_refused(storescp):
    """After the peer stops, the same node is refused: nothing is cached."""
    node: DicomNode = storescp.node()
    assert diagnose(LOCAL, node).ok
    storescp.stop()
    r = diagnose(LOCAL, node)
    assert r.failed_step is not None and r.failed_step.key == "tcp"
