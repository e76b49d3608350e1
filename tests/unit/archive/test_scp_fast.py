"""The storage SCP's fast receive (core/dimse/scp_fast.py) against the standard's rules.

A hand-written peer (tests/rawpeer.py, bytes built with core/dimse/pdu.py) sends what real
SCUs rarely do: fragments of every size, a command set split over PDUs, PDVs of several
presentation contexts in one PDU, an A-ABORT or A-RELEASE in the middle of a data set,
malformed PDUs.  Each received file is compared byte for byte with what the old path
(pynetdicom's chunked receive, ``ScpConfig(fast_receive=False)``) writes from the same
bytes, and each response with the old path's response.
"""

from __future__ import annotations

import threading
import time

import pytest

from pacsadmin.core.archive import Archive
from pacsadmin.core.dimse import scp_receive
from pacsadmin.core.dimse.pdu import a_abort, a_release_rq, p_data_tf, pdv_item
from pacsadmin.core.settings import Timeouts
from tests.conftest import SCP_AET
from tests.rawpeer import CT, EXPLICIT, FIND, MR, VERIFICATION, RawPeer, echo_rq, store_rq

from .dsgen import make_ds
from .test_scp import dataset_bytes, scu, wait_until

CONTEXTS = [(1, CT, EXPLICIT), (3, MR, EXPLICIT), (5, VERIFICATION, EXPLICIT), (7, FIND, EXPLICIT)]
PREAMBLE = b"\x00" * 128 + b"DICM"


def _data(tmp_path, **kw):
    ds = make_ds(**kw)
    path = tmp_path / f"ds{len(list(tmp_path.glob('ds*.dcm')))}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return ds, dataset_bytes(path)


def _files(archive: Archive) -> list[bytes]:
    return sorted(archive.path_of(rel).read_bytes() for rel in archive.layout.iter_files())


def _closed(scp, n: int = 1):
    assert wait_until(lambda: not scp.active() and len(scp.finished) >= n), scp.active()
    return scp.finished[n - 1]


def _nothing_left(archive: Archive) -> None:
    assert wait_until(lambda: not list(archive.layout.tmp_dir.iterdir()))
    assert not list(archive.layout.iter_files())
    assert archive.counts()["instances"] == 0


@pytest.fixture
def both(start_scp, archive, tmp_path):
    """The fast SCP over ``archive`` and the old path's SCP over another archive."""
    old_archive = Archive(tmp_path / "old-archive")
    fast = start_scp()
    old = start_scp(old_archive, fast_receive=False)
    yield (fast, archive), (old, old_archive)
    old_archive.close()


def _send_fragments(peer: RawPeer, cid: int, ds, data: bytes, frag: int, empty_last: bool):
    peer.send(p_data_tf([pdv_item(cid, 3, store_rq(7, ds.SOPClassUID, ds.SOPInstanceUID))]))
    chunks = [data[i : i + frag] for i in range(0, len(data), frag)]
    for n, chunk in enumerate(chunks):
        last = 2 if n == len(chunks) - 1 and not empty_last else 0
        peer.send(p_data_tf([pdv_item(cid, last, chunk)]))
    if empty_last:  # a last fragment with no data (PS3.8 allows it)
        peer.send(p_data_tf([pdv_item(cid, 2, b"")]))


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on the NUL inside a UID
@pytest.mark.parametrize(
    "frag,empty_last,sop_uid",
    [
        (7, False, None),  # odd sizes: fragments end inside elements and headers
        (1000, True, None),
        (16372, False, "1.2.3.4.5"),  # odd-length UID: padded with NUL in the file meta
        (100000, False, "1.2\x00.3"),  # a NUL inside: pydicom keeps it, so must we
    ],
)
def test_fragments_are_stored_byte_identical_to_the_old_path(
    both, tmp_path, frag, empty_last, sop_uid
):
    ds, data = _data(tmp_path, rows=64, columns=64, sop_uid=sop_uid)
    responses = []
    for scp, _ in both:
        peer = RawPeer(scp.port, SCP_AET, CONTEXTS)
        _send_fragments(peer, 1, ds, data, frag, empty_last)
        responses.append(peer.raw_response())
        peer.send(a_release_rq())
        assert peer.next_pdu()[0] == 0x06  # A-RELEASE-RP
        peer.close()
        assert _closed(scp).stored == 1
    (_, fast_archive), (_, old_archive) = both
    (got,) = _files(fast_archive)
    assert got == _files(old_archive)[0]
    assert got.startswith(PREAMBLE) and got.endswith(data)
    assert responses[0] == responses[1]  # the C-STORE-RSP, byte for byte
    assert not list(fast_archive.layout.tmp_dir.iterdir())


def test_failure_response_with_error_comment_is_the_old_paths(both, tmp_path):
    ds = make_ds()
    del ds.StudyInstanceUID  # not archivable: 0xC210 with an Error Comment
    path = tmp_path / "x.dcm"
    ds.save_as(path, enforce_file_format=True)
    data = dataset_bytes(path)
    responses = []
    for scp, _ in both:
        peer = RawPeer(scp.port, SCP_AET, CONTEXTS)
        _send_fragments(peer, 1, ds, data, 4000, False)
        responses.append(peer.raw_response())
        peer.close()
    assert responses[0] == responses[1]
    assert b"not archived" in responses[0]


def test_command_set_split_over_several_pdus(start_scp, archive, tmp_path):
    scp = start_scp()
    ds, data = _data(tmp_path)
    cmd = store_rq(3, ds.SOPClassUID, ds.SOPInstanceUID)
    peer = RawPeer(scp.port, SCP_AET, CONTEXTS)
    for part, last in ((cmd[:5], 1), (cmd[5:40], 1), (cmd[40:], 3)):  # one PDU each
        peer.send(p_data_tf([pdv_item(1, last, part)]))
    peer.send(p_data_tf([pdv_item(1, 2, data)]))
    rsp = peer.response()
    assert (rsp[0x0100], rsp[0x0120], rsp[0x0900]) == (0x8001, 3, 0)
    peer.send(a_release_rq())
    assert peer.next_pdu()[0] == 0x06
    assert _closed(scp).stored == 1
    assert _files(archive)[0].endswith(data)


def test_pdvs_of_several_contexts_in_one_pdu(start_scp, archive, tmp_path):
    """One P-DATA-TF: a C-ECHO on Verification, a CT store's command and data on context
    1, an MR store's command on context 3; the MR data set follows in the next PDU."""
    scp = start_scp()
    ct, ct_data = _data(tmp_path)
    mr, mr_data = _data(tmp_path, modality="MR")
    peer = RawPeer(scp.port, SCP_AET, CONTEXTS)
    peer.send(
        p_data_tf(
            [
                pdv_item(5, 3, echo_rq(1)),
                pdv_item(1, 3, store_rq(2, ct.SOPClassUID, ct.SOPInstanceUID)),
                pdv_item(1, 0, ct_data[:100]),
                pdv_item(1, 2, ct_data[100:]),
                pdv_item(3, 3, store_rq(3, mr.SOPClassUID, mr.SOPInstanceUID)),
            ]
        )
    )
    peer.send(p_data_tf([pdv_item(3, 2, mr_data)]))
    got = [peer.response() for _ in range(3)]
    assert [(r[0x0100], r[0x0120], r[0x0900]) for r in got] == [
        (0x8030, 1, 0),
        (0x8001, 2, 0),
        (0x8001, 3, 0),
    ]
    peer.send(a_release_rq())
    assert peer.next_pdu()[0] == 0x06
    rec = _closed(scp)
    assert rec.stored == 2
    assert sorted(f[-len(ct_data) :] == ct_data for f in _files(archive)).count(True) == 1
    assert "C-ECHO-RQ" in rec.transcript.text()


@pytest.mark.parametrize("end", ["abort", "release"])
def test_abort_or_release_in_the_middle_of_a_data_set(start_scp, archive, tmp_path, end):
    scp = start_scp()
    ds, data = _data(tmp_path, rows=128, columns=128)
    peer = RawPeer(scp.port, SCP_AET, CONTEXTS)
    peer.send(p_data_tf([pdv_item(1, 3, store_rq(1, ds.SOPClassUID, ds.SOPInstanceUID))]))
    peer.send(p_data_tf([pdv_item(1, 0, data[:20000])]))
    # the temp file exists (the fragment was written), then the peer ends the association
    assert wait_until(lambda: any(archive.layout.tmp_dir.iterdir()))
    if end == "abort":
        peer.send(a_abort(0, 0))
    else:
        peer.send(a_release_rq())
        assert peer.next_pdu()[0] == 0x06  # pynetdicom answers the release
    peer.close()
    rec = _closed(scp)
    _nothing_left(archive)
    assert rec.aborted  # an incomplete transfer was discarded (as on the old path)
    assert "1 incomplete transfer(s) discarded" in rec.errors
    # and the SCP goes on
    a = scu().associate("127.0.0.1", scp.port, ae_title=SCP_AET)
    assert a.send_c_store(make_ds()).Status == 0
    a.release()


def _malformed(case: str, ds, data: bytes) -> tuple[bytes, int | None]:
    """(what the peer sends after the association, the A-ABORT reason expected; None for
    a PDU left to pynetdicom)."""
    cmd = pdv_item(1, 3, store_rq(1, ds.SOPClassUID, ds.SOPInstanceUID))
    start = p_data_tf([cmd, pdv_item(1, 0, data[:3000])])
    if case == "pdv-longer-than-its-pdu":
        bad = bytearray(p_data_tf([pdv_item(1, 0, data[3000:4000])]))
        bad[6:10] = (5000).to_bytes(4, "big")
        return start + bytes(bad), 6
    if case == "data-without-command":
        return p_data_tf([pdv_item(1, 2, data)]), 5
    if case == "context-not-accepted":
        return p_data_tf([pdv_item(9, 3, store_rq(1, CT, "1.2.3"))]), 5
    if case == "data-on-another-context":
        return start + p_data_tf([pdv_item(3, 2, data[3000:])]), 5
    if case == "command-before-the-data-set-ended":
        return start + p_data_tf([cmd]), 5
    if case == "empty-p-data":
        return b"\x04\x00\x00\x00\x00\x02\x00\x00", 6
    if case == "unknown-pdu-type":
        return start + b"\x0a\x00\x00\x00\x00\x04abcd", None
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "pdv-longer-than-its-pdu",
        "data-without-command",
        "context-not-accepted",
        "data-on-another-context",
        "command-before-the-data-set-ended",
        "empty-p-data",
        "unknown-pdu-type",
    ],
)
def test_malformed_pdus_abort_with_a_reason_and_leave_no_file(start_scp, archive, tmp_path, case):
    scp = start_scp()
    ds, data = _data(tmp_path, rows=64, columns=64)
    peer = RawPeer(scp.port, SCP_AET, CONTEXTS)
    sent, reason = _malformed(case, ds, data)
    peer.send(sent)
    kind, body = peer.next_pdu()
    assert kind == 0x07, (kind, body)  # A-ABORT
    assert body[2] == 2  # source: the service provider
    if reason is not None:
        assert body[3] == reason
    peer.close()
    rec = _closed(scp)
    assert rec.aborted
    if reason is not None:
        assert any("protocol error from the peer" in e for e in rec.errors), rec.errors
        assert "A-ABORT" in rec.transcript.text()
    _nothing_left(archive)
    a = scu().associate("127.0.0.1", scp.port, ae_title=SCP_AET)  # the SCP goes on
    assert a.send_c_store(make_ds()).Status == 0
    a.release()


def test_other_messages_fall_back_to_pynetdicom(start_scp, archive):
    """C-FIND in a storage association: the fast path hands it to pynetdicom, which
    serves the rest of the association (stores included)."""
    from pydicom.dataset import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND_MODEL

    scp = start_scp()
    first = make_ds(patient_name="FIRST^ONE")
    a = scu().associate("127.0.0.1", scp.port, ae_title=SCP_AET)
    try:
        assert a.send_c_echo().Status == 0
        assert a.send_c_store(first).Status == 0
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.StudyInstanceUID = ""
        q.PatientName = ""
        got = [(s.Status, i) for s, i in a.send_c_find(q, FIND_MODEL)]
        assert [s for s, _ in got] == [0xFF00, 0x0000]
        assert got[0][1].StudyInstanceUID == first.StudyInstanceUID
        assert a.send_c_store(make_ds()).Status == 0
        assert a.send_c_echo().Status == 0
    finally:
        a.release()
    rec = _closed(scp)
    assert (rec.stored, rec.finds, rec.aborted) == (2, 1, False)
    assert archive.counts()["instances"] == 2


def test_an_abort_from_a_watchdog_ends_the_read_loop(start_scp, archive, tmp_path):
    """Another thread aborts the association (the per-association deadline's watchdog):
    the fast reader, waiting for the rest of a data set, stops within its read slice and
    pynetdicom ends the association; the temp file is removed.  (Whether the A-ABORT PDU
    gets out first is a race inside pynetdicom: ``abort()`` from another thread also
    kills the association, whose thread may shut the socket down before the DUL thread
    sends the PDU; the pynetdicom path has the same race.)"""
    scp = start_scp()
    ds, data = _data(tmp_path, rows=64, columns=64)
    peer = RawPeer(scp.port, SCP_AET, CONTEXTS)
    peer.send(p_data_tf([pdv_item(1, 3, store_rq(1, ds.SOPClassUID, ds.SOPInstanceUID))]))
    peer.send(p_data_tf([pdv_item(1, 0, data[:1000])]))
    assert wait_until(lambda: scp.ae.active_associations and any(archive.layout.tmp_dir.iterdir()))
    (assoc,) = scp.ae.active_associations
    t0 = time.monotonic()
    threading.Thread(target=assoc.abort, daemon=True).start()
    try:
        kind, _ = peer.next_pdu()
        assert kind == 0x07  # an A-ABORT, or the connection closed
    except ConnectionError:
        pass
    assert time.monotonic() - t0 < 2.0
    peer.close()
    assert _closed(scp).aborted
    _nothing_left(archive)


def test_network_timeout_mid_data_set_aborts(start_scp, archive, tmp_path):
    scp = start_scp(timeouts=Timeouts(network=1.0))
    ds, data = _data(tmp_path, rows=64, columns=64)
    peer = RawPeer(scp.port, SCP_AET, CONTEXTS)
    peer.send(p_data_tf([pdv_item(1, 3, store_rq(1, ds.SOPClassUID, ds.SOPInstanceUID))]))
    peer.send(p_data_tf([pdv_item(1, 0, data[:1000])]))
    t0 = time.monotonic()
    kind, _ = peer.next_pdu()  # then silence: the SCP aborts after the network timeout
    assert kind == 0x07
    assert 0.8 < time.monotonic() - t0 < 5.0
    peer.close()
    rec = _closed(scp)
    assert rec.aborted
    assert any("no data from the peer" in e for e in rec.errors)
    _nothing_left(archive)


def test_spare_temp_files_do_not_outlive_the_association(start_scp, archive, tmp_path):
    scp = start_scp()
    a = scu().associate("127.0.0.1", scp.port, ae_title=SCP_AET)
    for _ in range(3):
        assert a.send_c_store(make_ds()).Status == 0
    a.release()
    rec = _closed(scp)
    assert (rec.stored, rec.errors, rec.aborted) == (3, [], False)
    assert not list(archive.layout.tmp_dir.iterdir())
    assert not scp_receive.forget(object())  # nothing registered to anyone


def test_a_failure_while_archiving_answers_c211_and_the_association_goes_on(
    start_scp, archive, monkeypatch
):
    scp = start_scp()
    real = scp._store_received
    calls = {"n": 0}

    def failing_once(*args):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug")
        return real(*args)

    monkeypatch.setattr(scp, "_store_received", failing_once)
    a = scu().associate("127.0.0.1", scp.port, ae_title=SCP_AET)
    try:
        assert a.send_c_store(make_ds()).Status == 0xC211
        assert a.send_c_store(make_ds()).Status == 0
    finally:
        a.release()
    rec = _closed(scp)
    assert (rec.stored, rec.failed, rec.aborted) == (1, 1, False)
    assert not list(archive.layout.tmp_dir.iterdir())


def test_a_message_handed_back_in_the_middle_of_a_pdu_is_read_whole_by_pynetdicom(
    start_scp, archive, tmp_path
):
    """A C-FIND after a C-STORE on a storage association: the fast path hands the C-FIND
    to pynetdicom while its identifier's PDU has arrived only in part; pynetdicom reads the
    part it is given, then the rest from the socket, and answers."""
    from pydicom.dataset import Dataset
    from pynetdicom.dsutils import encode

    from pacsadmin.core.dimse.pdu import command, element

    scp = start_scp()
    ds, data = _data(tmp_path)
    peer = RawPeer(scp.port, SCP_AET, CONTEXTS)
    _send_fragments(peer, 1, ds, data, 4000, False)
    assert peer.response()[0x0900] == 0
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = ""
    find = command(
        [
            element(0x00000002, None, FIND.encode()),
            element(0x00000100, "H", 0x0020),
            element(0x00000110, "H", 5),
            element(0x00000700, "H", 0),
            element(0x00000800, "H", 0x0000),
        ]
    )
    identifier = p_data_tf([pdv_item(7, 2, encode(q, False, True))])
    peer.send(p_data_tf([pdv_item(7, 3, find)]) + identifier[:9])  # a PDU cut short
    time.sleep(0.3)
    peer.send(identifier[9:])
    got = [peer.response()]
    while got[-1][0x0900] in (0xFF00, 0xFF01):
        got.append(peer.response())
    assert got[0][0x0100] == 0x8020 and got[0][0x0120] == 5
    assert [r[0x0900] for r in got] == [0xFF00, 0x0000]  # the study stored just before
    peer.send(a_release_rq())
    assert peer.next_pdu()[0] == 0x06
    rec = _closed(scp)
    assert (rec.stored, rec.finds, rec.aborted) == (1, 1, False)


def test_a_store_the_fast_path_does_not_take_is_pynetdicoms_as_before(both, tmp_path):
    """A C-STORE of an MR image on the CT context: the fast path hands it (and the rest
    of the association) to pynetdicom, which answers as it did before the fast path."""
    mr, mr_data = _data(tmp_path, modality="MR")
    ct, ct_data = _data(tmp_path)
    got = []
    for scp, _ in both:
        peer = RawPeer(scp.port, SCP_AET, CONTEXTS)
        _send_fragments(peer, 1, mr, mr_data, 3000, False)  # MR on context 1 (CT)
        first = peer.response()
        _send_fragments(peer, 1, ct, ct_data, 3000, False)
        second = peer.response()
        got.append((first[0x0900], second[0x0900]))
        peer.send(a_release_rq())
        assert peer.next_pdu()[0] == 0x06
        peer.close()
        _closed(scp)
    assert got[0] == got[1]
    (_, fast_archive), (_, old_archive) = both
    assert _files(fast_archive) == _files(old_archive)
