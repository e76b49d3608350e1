"""The peer fixtures themselves: they start, answer and stop (by PID)."""

from __future__ import annotations

import os
import socket

import pytest

from tests.peers import HostEntry, orthanc_rest, start_dcmqrscp

pytestmark = pytest.mark.integration


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); our Popen.wait() reaped it, so this means alive
    return True


@pytest.mark.parametrize("name", ["storescp", "dcmqrscp", "orthanc"])
def test_peer_listens_and_stops(name, request):
    peer = request.getfixturevalue(name)
    assert peer.host == "127.0.0.1" and peer.port > 0 and peer.pid > 0
    assert peer.target == f"{peer.aet}@127.0.0.1:{peer.port}"
    with socket.create_connection((peer.host, peer.port), timeout=5):
        pass
    peer.stop()
    assert not peer.alive()
    assert not _pid_alive(peer.pid)


def test_orthanc_rest_and_modalities(orthanc):
    system = orthanc_rest(orthanc, "GET", "/system")
    assert system["DicomAet"] == "ORTHANC"
    assert system["DicomPort"] == orthanc.port
    assert "pacsadmin" in orthanc_rest(orthanc, "GET", "/modalities")


def test_dcmqrscp_config_has_areas_and_hosts(start_peer, tmp_path):
    qr = start_peer(
        start_dcmqrscp,
        tmp_path / "qr",
        aet="QR1",
        more_aets=["QR2"],
        hosts=[HostEntry("dest", "DEST", "127.0.0.1", 11113)],
    )
    text = qr.config.read_text()
    assert "dest = (DEST, 127.0.0.1, 11113)" in text
    assert [p.name for p in qr.storage] == ["QR1", "QR2"]
    assert all(p.is_dir() for p in qr.storage)


def test_dcmqrscp_survives_several_associations(dcmqrscp):
    """Debian's dcmqrscp 3.6.7 in --single-process mode dies after one association."""
    import subprocess

    for _ in range(3):
        r = subprocess.run(
            ["echoscu", "-aec", dcmqrscp.aet, dcmqrscp.host, str(dcmqrscp.port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.returncode == 0, r.stderr + dcmqrscp.log()
    assert dcmqrscp.alive()


def test_a_peer_that_cannot_start_says_why(tmp_path):
    """A clear error with the peer's own output, not a hang."""
    from tests.peers import PeerStartError, PeerUnavailable, start_storescp

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        try:
            with pytest.raises(PeerStartError) as err:
                start_storescp(tmp_path / "s", port=port, timeout=10)
        except PeerUnavailable as exc:
            pytest.skip(str(exc))
    msg = str(err.value)
    assert "storescp" in msg and "did not start" in msg
    assert "its output" in msg
