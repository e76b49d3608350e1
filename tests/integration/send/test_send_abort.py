"""A peer killed mid-send: the result says which files were stored and which were not;
a cancel stops between files and reports the rest as not sent."""

from __future__ import annotations

import pytest

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.send import send
from pacsadmin.core.dimse.send_result import FileState
from pacsadmin.core.jobs import CancelToken, JobContext, JobProgress
from tests.peers import start_storescp

from .conftest import make_series, received

pytestmark = pytest.mark.integration
KILL_AT = 40


def test_peer_killed_mid_send_is_reported_per_file(start_peer, tmp_path):
    files = make_series(tmp_path / "in", 300, rows=128, columns=128)
    peer = start_peer(start_storescp, tmp_path / "scp")

    def on_event(e):  # runs on the sending thread, after each file's row
        if isinstance(e, JobProgress) and e.done == KILL_AT:
            peer.proc.kill()  # by PID: the storescp this test started
            peer.proc.wait(10)

    result = send(LocalAE(), peer.node(), files, ctx=JobContext(0, CancelToken(), on_event))
    assert len(result.files) == 300
    states = [f.state for f in result.files]
    assert states[:KILL_AT] == [FileState.STORED] * KILL_AT
    assert FileState.STORED not in states[KILL_AT + 1 :]
    # what the result calls stored is exactly what the peer wrote
    stored = {f.sop_instance for f in result.files if f.ok}
    assert stored == set(received(peer)) - ({result.files[KILL_AT].sop_instance} - stored)
    lost = [f for f in result.files if not f.ok]
    assert lost and not result.ok
    assert all(f.state in (FileState.FAILED, FileState.NOT_SENT) for f in lost)
    for f in lost:
        assert "not" in f.meaning.lower(), f.meaning  # "not confirmed stored" / "Not sent"
    assert any(f.state is FileState.NOT_SENT and "Not sent" in f.meaning for f in lost)


def test_cancel_between_files(storescp, tmp_path):
    files = make_series(tmp_path / "in", 30)
    token = CancelToken()

    def on_event(e):
        if isinstance(e, JobProgress) and e.done == 10:
            token.cancel()

    result = send(LocalAE(), storescp.node(), files, ctx=JobContext(0, token, on_event))
    assert result.cancelled
    assert [f.state for f in result.files[:10]] == [FileState.STORED] * 10, [
        f.meaning for f in result.files[:3]
    ]
    assert all(f.state is FileState.NOT_SENT for f in result.files[10:])
    assert all("cancelled" in f.meaning for f in result.files[10:])
    assert len(received(storescp)) == 10


def test_cancel_mid_file_closes_the_connection_after_the_grace_period(tmp_path):
    """A peer that never answers the second C-STORE: the cancel waits the grace period
    for it, then closes the connection; the file says so, the rest are not sent."""
    import threading
    import time

    from pynetdicom import AE, evt
    from pynetdicom.sop_class import CTImageStorage

    from pacsadmin.core.nodes import DicomNode

    files = make_series(tmp_path / "in", 4)
    entered, release = threading.Event(), threading.Event()
    calls = []

    def on_store(event):
        calls.append(1)
        if len(calls) == 2:
            entered.set()
            release.wait(20)  # bounded: the test sets it at the end
        return 0x0000

    scp = AE("HANG")
    scp.add_supported_context(CTImageStorage, "1.2.840.10008.1.2.1")
    server = scp.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    token = CancelToken()
    threading.Thread(target=lambda: entered.wait(20) and token.cancel(), daemon=True).start()
    try:
        node = DicomNode("hang", "HANG", "127.0.0.1", server.server_address[1]).validated()
        t0 = time.monotonic()
        result = send(
            LocalAE(), node, files, ctx=JobContext(0, token, lambda e: None), cancel_grace=0.5
        )
        took = time.monotonic() - t0
    finally:
        release.set()
        server.shutdown()
    assert took < 10  # not the DIMSE timeout (30 s)
    states = [f.state for f in result.files]
    assert states == [FileState.STORED, FileState.FAILED, FileState.NOT_SENT, FileState.NOT_SENT]
    assert "Cancelled while it was being sent" in result.files[1].meaning
    assert result.cancelled
