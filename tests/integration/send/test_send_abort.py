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
    assert [f.state for f in result.files[:10]] == [FileState.STORED] * 10
    assert all(f.state is FileState.NOT_SENT for f in result.files[10:])
    assert all("cancelled" in f.meaning for f in result.files[10:])
    assert len(received(storescp)) == 10
