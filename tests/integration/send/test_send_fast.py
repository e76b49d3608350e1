"""The fast sender (``store_fast.py``) against real peers: what DCMTK storescp writes from
it is what it writes from pynetdicom's own sender for the same files, byte for byte; a
peer that stops reading mid-file gets the association aborted after the network timeout,
the file says so, and the rest go over a new association."""

from __future__ import annotations

import time

import pytest
from pydicom import dcmread

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.send import send
from pacsadmin.core.dimse.send_result import FileState
from tests.peers import start_storescp

from .conftest import make_series

pytestmark = pytest.mark.integration


def _files(peer) -> dict[str, bytes]:
    out = {}
    for p in peer.storage[0].rglob("*"):
        if p.is_file():
            out[str(dcmread(p, stop_before_pixels=True).SOPInstanceUID)] = p.read_bytes()
    return out


def test_storescp_writes_the_same_files_from_both_senders(start_peer, tmp_path, samples):
    make_series(tmp_path / "in" / "series", 20, rows=96, columns=80)
    fast_peer = start_peer(start_storescp, tmp_path / "a", extra_args=["+xa"])
    slow_peer = start_peer(start_storescp, tmp_path / "b", extra_args=["+xa"])
    fast = send(LocalAE(), fast_peer.node(), [tmp_path / "in"])
    slow = send(LocalAE(), slow_peer.node(), [tmp_path / "in"], fast=False)
    assert fast.ok and slow.ok, [f.meaning for f in fast.failed + slow.failed]
    assert [(f.sop_instance, f.status, f.accepted_syntax) for f in fast.files] == [
        (f.sop_instance, f.status, f.accepted_syntax) for f in slow.files
    ]
    a, b = _files(fast_peer), _files(slow_peer)
    assert len(a) == 23 and a.keys() == b.keys()
    for uid in a:  # storescp's own file meta is the same too: the whole file compares
        assert a[uid] == b[uid], uid


def test_a_peer_that_stops_reading_is_aborted_after_the_network_timeout(tmp_path):
    """A pynetdicom SCP whose DUL stops reading while the second file is being sent
    (the seam's stall_reading): after the network timeout the association is aborted, the
    file is failed with that sentence, and the rest go over a new association."""
    import threading

    from pynetdicom import AE, evt
    from pynetdicom.sop_class import CTImageStorage

    from pacsadmin.core.dimse import _pynetdicom
    from pacsadmin.core.nodes import DicomNode
    from pacsadmin.core.settings import Timeouts

    # 8 MB each: more than the loopback's socket buffers hold, so the writes block
    files = make_series(tmp_path / "in", 3, rows=2048, columns=2048)
    gate = threading.Event()
    stalls = []
    stored = []

    def on_store(event):
        stored.append(event.request.AffectedSOPInstanceUID)
        if len(stored) == 1 and not stalls:  # after the first file: stop reading
            stalls.append(_pynetdicom.stall_reading(event.assoc, gate))
            stalls[0].__enter__()
        return 0x0000

    scp = AE("STALL")
    scp.add_supported_context(CTImageStorage, "1.2.840.10008.1.2.1")
    scp.maximum_pdu_size = 16384
    server = scp.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    try:
        node = DicomNode("stall", "STALL", "127.0.0.1", server.server_address[1]).validated()
        local = LocalAE(timeouts=Timeouts(connect=5, acse=5, dimse=30, network=2))
        t0 = time.monotonic()
        result = send(local, node, files)
        took = time.monotonic() - t0
    finally:
        gate.set()
        for assoc in server.active_associations:  # the stalled one: not left running
            assoc.abort()
            assoc.join(10)
        server.shutdown()
    states = [f.state for f in result.files]
    assert states[0] is FileState.STORED
    assert states[1] is FileState.FAILED, result.files[1].meaning
    assert "stopped reading for 2 s (network timeout)" in result.files[1].meaning
    assert "not confirmed stored" in result.files[1].meaning
    assert took < 25  # the network timeout, not the DIMSE timeout (30 s)
    assert states[2:] == [FileState.STORED]  # over a new association
    assert result.associations == 2
