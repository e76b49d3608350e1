"""The fast C-STORE sender's protocol handling (PS3.8 9.3, PS3.7 9.3.1), against the
standard's rules and pynetdicom's own encoders and decoders.

The peer is a thread on the other end of a real socket pair that reads and writes raw
PDUs (a scripted peer: what DCMTK and Orthanc never do on purpose: a command set split
over PDUs, PDVs of several contexts in one PDU, an A-ABORT or an A-RELEASE-RQ instead of
the response, a peer that stops reading).  The lease handed to the sender is a stand-in
for the seam's ``SocketLease`` over that socket.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from io import BytesIO
from pathlib import Path

import pytest
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import split_dataset

from pacsadmin.core.dimse import _pynetdicom, store_fast
from pacsadmin.core.dimse.pdu import (
    A_RELEASE_RP,
    A_RELEASE_RQ,
    Messages,
    ProtocolError,
    a_abort,
    command,
    element,
    p_data,
    parse_command,
    parse_pdvs,
)
from pacsadmin.core.dimse.store_fast import StoreStream, dataset_offset, store_rq
from tests.unit.archive.dsgen import make_ds, write

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"


class Lease:
    """The seam's SocketLease for a socket of a socket pair (no association around it)."""

    def __init__(self, sock: socket.socket, peer_max: int) -> None:
        self.sock, self.peer_max_pdu = sock, peer_max
        self.held = False

    def take(self) -> socket.socket:
        self.held = True
        return self.sock

    def give_back(self) -> None:
        self.held = False


def read_pdu(sock: socket.socket) -> bytes:
    head = b""
    while len(head) < 6:
        chunk = sock.recv(6 - len(head))
        if not chunk:
            return b""
        head += chunk
    length = struct.unpack(">I", head[2:6])[0]
    body = bytearray()
    while len(body) < length:
        chunk = sock.recv(min(1 << 20, length - len(body)))
        if not chunk:
            break
        body += chunk
    return head + bytes(body)


def read_message(sock: socket.socket) -> list[bytes]:
    """PDUs until a data set's last fragment (a C-STORE-RQ's end)."""
    pdus = []
    while True:
        pdu = read_pdu(sock)
        assert pdu[:1] == b"\x04", pdu[:16]
        pdus.append(pdu)
        if any(not mch & 1 and mch & 2 for _c, mch, _f in parse_pdvs(pdu[6:])):
            return pdus


def rsp_command(msg_id: int, sop_instance: str, status: int = 0, comment: bytes = b"") -> bytes:
    uid = sop_instance.encode() + b"\x00" * (len(sop_instance) % 2)
    els = [
        element(0x00000002, None, CT.encode() + b"\x00" * (len(CT) % 2)),
        element(0x00000100, "H", 0x8001),
        element(0x00000120, "H", msg_id),
        element(0x00000800, "H", 0x0101),
        element(0x00000900, "H", status),
    ]
    if comment:
        els.append(element(0x00000902, None, comment))
    els.append(element(0x00001000, None, uid))
    return command(els)


@pytest.fixture
def ct_file(tmp_path) -> tuple[Path, str]:
    ds = make_ds(rows=128, columns=128)
    return write(ds, tmp_path / "ct.dcm"), str(ds.SOPInstanceUID)


def pair(peer_max: int = 16384, **kw):
    ours, theirs = socket.socketpair()
    theirs.settimeout(10)
    kw.setdefault("network_timeout", 5.0)
    kw.setdefault("dimse_timeout", 5.0)
    stream = StoreStream(Lease(ours, peer_max), {(CT, EXPLICIT): 1}, **kw)
    return stream, theirs


def serve(theirs: socket.socket, script) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def run() -> None:
        try:
            script(theirs, box)
        except Exception as exc:  # the test asserts on it
            box["error"] = exc

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, box


def send_ct(stream: StoreStream, ct_file, msg_id: int = 7):
    path, uid = ct_file
    return stream.store(str(path), CT, uid, EXPLICIT, msg_id)


# ------------------------------------------------------------------ byte for byte
@pytest.mark.parametrize("peer_max", [16384, 0, 4096 + 3])
@pytest.mark.parametrize("block", [store_fast.BLOCK, 10000])
def test_request_bytes_are_pynetdicoms(ct_file, peer_max, block, monkeypatch):
    """What goes on the wire is what pynetdicom's encoder makes of the same C-STORE (its
    data set the file's bytes after the meta group), for several peer maximums and read
    block sizes (a block boundary inside a fragment)."""
    monkeypatch.setattr(store_fast, "BLOCK", block)
    path, uid = ct_file
    stream, theirs = pair(peer_max)

    def script(sock, box):
        box["pdus"] = read_message(sock)
        sock.sendall(p_data(1, rsp_command(7, uid), True, 0))

    th, box = serve(theirs, script)
    out = send_ct(stream, ct_file)
    th.join(10)
    assert out is not None and out.status == 0 and not out.lost, out
    _meta, offset = split_dataset(path)
    req = C_STORE()
    req.MessageID, req.Priority = 7, 2
    req.AffectedSOPClassUID, req.AffectedSOPInstanceUID = CT, uid
    req.DataSet = BytesIO(path.read_bytes()[offset:])
    assert b"".join(box["pdus"]) == _pynetdicom.dimse_pdus(req, 1, peer_max)
    decoded = _pynetdicom.decode_dimse(box["pdus"])
    assert decoded.AffectedSOPInstanceUID == uid and decoded.MessageID == 7


def test_move_originator_fields_are_pynetdicoms():
    req = C_STORE()
    req.MessageID, req.Priority = 3, 2
    req.AffectedSOPClassUID, req.AffectedSOPInstanceUID = CT, "1.2.3.45"
    req.MoveOriginatorApplicationEntityTitle, req.MoveOriginatorMessageID = "MOVESCU", 99
    req.DataSet = BytesIO(b"")
    theirs = _pynetdicom.dimse_pdus(req, 5, 0)
    ours = store_rq(CT, "1.2.3.45", 3, originator_aet="MOVESCU", originator_id=99)
    assert parse_pdvs(theirs[6:])[0][2] == ours


def test_response_bytes_decode_as_pynetdicoms():
    rsp = C_STORE()
    rsp.MessageIDBeingRespondedTo, rsp.Status = 12, 0xA700
    rsp.AffectedSOPClassUID, rsp.AffectedSOPInstanceUID = CT, "1.2.3.4"
    rsp.ErrorComment = "disk full"
    raw = _pynetdicom.dimse_pdus(rsp, 3, 16384)
    [(ctx, cmd, data)] = Messages().feed(raw[6:])
    assert ctx == 3 and data is None
    assert cmd[0x00000120] == 12 and cmd[0x00000900] == 0xA700
    assert cmd[0x00000902].rstrip(b" \x00") == b"disk full"
    assert cmd[0x00001000].rstrip(b"\x00") == b"1.2.3.4"


def test_dataset_offset_is_pynetdicoms(ct_file):
    path, _ = ct_file
    head = path.read_bytes()
    assert dataset_offset(head) == split_dataset(path)[1]
    assert dataset_offset(head[200:]) is None  # no preamble: not Part 10
    assert dataset_offset(head[: split_dataset(path)[1] - 3]) is None  # meta cut short


# ------------------------------------------------------------------ framing rules
def test_messages_fragment_flags_and_contexts():
    cmd = rsp_command(1, "1.2.3")
    m = Messages()
    # a command set split over three PDUs: bits 01, 01, 03
    assert m.feed(p_data(1, cmd[:10], True, 0, last=False)[6:]) == []
    assert m.feed(p_data(1, cmd[10:30], True, 0, last=False)[6:]) == []
    assert m.partial
    [(ctx, got, data)] = m.feed(p_data(1, cmd[30:], True, 0)[6:])
    assert (ctx, data) == (1, None) and got == parse_command(cmd) and not m.partial
    # one PDU, PDVs of two contexts: both messages, in order
    with_data = command([element(0x00000100, "H", 0x0001), element(0x00000800, "H", 0x0001)])
    body = p_data(3, with_data, True, 0)[6:] + p_data(1, cmd, True, 0)[6:]
    body += p_data(3, b"ab", False, 0, last=False)[6:] + p_data(3, b"cd", False, 0)[6:]
    pdu = struct.pack(">BxI", 4, len(body)) + body
    got = m.feed(pdu[6:])
    assert [(c, d) for c, _cmd, d in got] == [(1, None), (3, b"abcd")]


@pytest.mark.parametrize(
    "body",
    [
        p_data(1, b"data", False, 0)[6:],  # a data set with no command before it
        p_data(1, command([element(0x00000100, "H", 1), element(0x00000800, "H", 1)]), True, 0)[6:]
        + p_data(1, b"x", True, 0)[6:],  # a command fragment inside a data set
        b"\x00\x00\x00\x01\x01",  # a PDV item shorter than its header
        b"\x00\x00\x00\x09\x01\x03ab",  # a PDV item longer than its PDU
        p_data(1, b"\x00\x00\x00\x01\x08\x00\x00\x00", True, 0)[6:],  # element past the end
    ],
)
def test_messages_protocol_errors(body):
    with pytest.raises(ProtocolError):
        Messages().feed(body)


# ------------------------------------------------------------------ responses
def test_response_split_over_pdus_with_another_context(ct_file):
    """The response's command set over three PDUs; the middle one also carries a PDV of
    another presentation context (a C-CANCEL-RQ), given to ``on_message``."""
    _path, uid = ct_file
    seen = []
    stream, theirs = pair(on_message=lambda c, cmd, d: seen.append((c, cmd[0x100])) or True)
    cmd = rsp_command(7, uid, 0xB000)
    cancel = command([element(0x00000100, "H", 0x0FFF), element(0x00000120, "H", 1)])

    def script(sock, box):
        read_message(sock)
        sock.sendall(p_data(1, cmd[:20], True, 0, last=False))
        body = p_data(3, cancel, True, 0)[6:] + p_data(1, cmd[20:40], True, 0, last=False)[6:]
        sock.sendall(struct.pack(">BxI", 4, len(body)) + body)
        sock.sendall(p_data(1, cmd[40:], True, 0))

    th, _box = serve(theirs, script)
    out = send_ct(stream, ct_file)
    th.join(10)
    assert out is not None and out.status == 0xB000 and not out.lost
    assert seen == [(3, 0x0FFF)]
    assert stream.pause()  # nothing of the peer's left unread: pynetdicom may take over


def test_error_comment_is_read(ct_file):
    _path, uid = ct_file
    stream, theirs = pair()

    def script(sock, box):
        read_message(sock)
        sock.sendall(p_data(1, rsp_command(7, uid, 0xA700, b"disk full "), True, 0))

    _th, _box = serve(theirs, script)
    out = send_ct(stream, ct_file)
    assert out is not None and out.status == 0xA700 and out.comment == "disk full"


@pytest.mark.parametrize(
    "answer, lost",
    [
        (lambda uid: p_data(1, rsp_command(7, "1.2.3.999"), True, 0), "protocol"),  # not ours
        (lambda uid: p_data(1, rsp_command(8, uid), True, 0), "protocol"),  # other msg id
        (lambda uid: p_data(3, rsp_command(7, uid), True, 0), "protocol"),  # other context
        (lambda uid: b"\x02\x00\x00\x00\x00\x00", "protocol"),  # an A-ASSOCIATE-AC
    ],
)
def test_wrong_responses_abort(ct_file, answer, lost):
    _path, uid = ct_file
    stream, theirs = pair()

    def script(sock, box):
        read_message(sock)
        sock.sendall(answer(uid))
        box["last"] = read_pdu(sock)

    th, box = serve(theirs, script)
    out = send_ct(stream, ct_file)
    th.join(10)
    assert out is not None and out.status is None and out.lost == lost, out
    assert box["last"][:1] == b"\x07"  # we aborted
    assert not stream.pause() and send_ct(stream, ct_file) is out  # never reused


def test_abort_in_the_middle(ct_file):
    """The peer aborts after the first PDU of the data set: reported with its source and
    reason; the connection is closed."""
    stream, theirs = pair(4096)

    def script(sock, box):
        read_pdu(sock)
        read_pdu(sock)
        sock.sendall(a_abort(2, 6))
        time.sleep(0.2)
        box["rest"] = sock.recv(1 << 20)

    th, _box = serve(theirs, script)
    out = send_ct(stream, ct_file)
    th.join(10)
    assert out is not None and out.lost == "aborted" and out.abort == (2, 6)


def test_release_request_in_the_middle_is_answered(ct_file):
    stream, theirs = pair()

    def script(sock, box):
        read_message(sock)
        sock.sendall(A_RELEASE_RQ)
        box["answer"] = read_pdu(sock)
        box["then"] = sock.recv(10)

    th, box = serve(theirs, script)
    out = send_ct(stream, ct_file)
    th.join(10)
    assert out is not None and out.lost == "released" and out.status is None
    assert box["answer"] == A_RELEASE_RP and box["then"] == b""  # then the close


def test_a_peer_that_stops_reading_is_aborted_after_the_network_timeout(tmp_path):
    big = make_ds(rows=1024, columns=1024)
    path = write(big, tmp_path / "big.dcm")
    stream, theirs = pair(network_timeout=0.5)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    t0 = time.monotonic()
    out = stream.store(str(path), CT, str(big.SOPInstanceUID), EXPLICIT, 1)
    took = time.monotonic() - t0
    assert out is not None and out.lost == "write timeout", out
    assert "stopped reading for 0.5 s" in out.detail
    assert took < 5
    theirs.close()


def test_no_response_within_the_dimse_timeout(ct_file):
    stream, theirs = pair(dimse_timeout=0.5)

    def script(sock, box):
        read_message(sock)
        box["last"] = read_pdu(sock)

    th, box = serve(theirs, script)
    t0 = time.monotonic()
    out = send_ct(stream, ct_file)
    th.join(10)
    assert out is not None and out.lost == "response timeout" and time.monotonic() - t0 < 5
    assert box["last"][:1] == b"\x07"


def test_connection_closed_before_the_response(ct_file):
    stream, theirs = pair()

    def script(sock, box):
        read_message(sock)
        sock.close()

    _th, _box = serve(theirs, script)
    out = send_ct(stream, ct_file)
    assert out is not None and out.lost == "closed"


def test_not_part10_or_no_context_is_left_to_pynetdicom(tmp_path, ct_file):
    path, uid = ct_file
    raw = tmp_path / "raw.dcm"
    raw.write_bytes(path.read_bytes()[split_dataset(path)[1] :])
    stream, theirs = pair()
    assert stream.store(str(raw), CT, uid, EXPLICIT, 1) is None
    assert stream.store(str(path), CT, uid, "1.2.840.10008.1.2", 1) is None
    theirs.setblocking(False)
    with pytest.raises(BlockingIOError):
        theirs.recv(10)  # nothing was sent
    assert stream.pause() and not stream.lease.held


@pytest.mark.parametrize("kind", ["C_MOVE", "C_GET"])
def test_pending_retrieve_responses_are_pynetdicoms(kind):
    from pynetdicom import dimse_primitives

    from pacsadmin.core.dimse.qr_send import pending_rsp

    rsp = getattr(dimse_primitives, kind)()
    rsp.MessageID = rsp.MessageIDBeingRespondedTo = 17
    rsp.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.2.2.2"
    rsp.Status = 0xFF00
    rsp.NumberOfRemainingSuboperations, rsp.NumberOfCompletedSuboperations = 40, 2
    rsp.NumberOfFailedSuboperations, rsp.NumberOfWarningSuboperations = 1, 0
    assert p_data(3, pending_rsp(rsp), True, 16384) == _pynetdicom.dimse_pdus(rsp, 3, 16384)
