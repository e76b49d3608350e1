"""The local SCP against a pynetdicom SCU on 127.0.0.1: store, faults, whitelist, Q/R."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from pacsadmin.core.archive import Archive
from pacsadmin.core.dimse.association import quiet_pynetdicom
from pacsadmin.core.dimse.scp import LocalScp, ScpConfig
from pacsadmin.core.nodes import DicomNode, NodeDirectory
from tests.conftest import SCP_AET

from .dsgen import make_ds

AET = SCP_AET


def wait_until(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def scu(calling="SCU", contexts=None):
    quiet_pynetdicom()
    from pynetdicom import AE
    from pynetdicom.sop_class import (
        CTImageStorage,
        MRImageStorage,
        PatientRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelMove,
        Verification,
    )

    ae = AE(calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    for cx in contexts or (
        CTImageStorage,
        MRImageStorage,
        Verification,
        StudyRootQueryRetrieveInformationModelFind,
        PatientRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelMove,
    ):
        ae.add_requested_context(cx)
    return ae


def dataset_bytes(path: Path) -> bytes:
    """The data set after the file meta group (what went over the wire)."""
    from pydicom.filereader import read_preamble

    from pacsadmin.core._pydicom import read_file_meta

    with open(path, "rb") as fh:
        read_preamble(fh, False)
        read_file_meta(fh)
        return fh.read()


# the fast receive (scp_fast.py) and pynetdicom's chunked receive (fast_receive=False),
# whose data set is held in memory up to SPILL bytes, then streamed to the temp file
PATHS = pytest.mark.parametrize(
    "fast,spill",
    [(True, False), (False, False), (False, True)],
    ids=["fast", "pynetdicom-in-memory", "pynetdicom-streamed-to-disk"],
)


@PATHS
def test_echo_store_and_find(archive, start_scp, tmp_path, monkeypatch, fast, spill):
    from pacsadmin.core.dimse import scp_receive

    if spill:  # larger than SPILL: streamed to the temp file fragment by fragment
        monkeypatch.setattr(scp_receive, "SPILL", 100)
    scp = start_scp(fast_receive=fast)
    assoc = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    assert assoc.is_established
    try:
        assert assoc.send_c_echo().Status == 0
        ds = make_ds()
        assert assoc.send_c_store(ds).Status == 0
        assert assoc.send_c_store(ds).Status == 0  # duplicate: kept first, still success
    finally:
        assoc.release()
    assert wait_until(lambda: not scp.active())
    rec = scp.finished[-1]
    assert (rec.stored, rec.duplicates, rec.calling_ae) == (1, 1, "SCU")
    assert archive.counts()["instances"] == 1
    (rel,) = archive.layout.iter_files()
    stored = archive.path_of(rel)
    src = tmp_path / "src.dcm"
    ds.save_as(src, enforce_file_format=True)
    assert dataset_bytes(stored) == dataset_bytes(src)
    assert not list(archive.layout.tmp_dir.iterdir())
    assert "ASSOCIATE" in rec.transcript.text()


@PATHS
def test_sender_abort_mid_file_leaves_nothing(archive, start_scp, monkeypatch, fast, spill):
    from pacsadmin.core.dimse import scp_receive

    if spill:  # a data set larger than SPILL is written as it arrives: a partial file
        monkeypatch.setattr(scp_receive, "SPILL", 1000)
    scp = start_scp(max_pdu=16384, fast_receive=fast)
    from pynetdicom import evt

    sent = {"n": 0}

    def on_pdu(event):
        if type(event.pdu).__name__ == "P_DATA_TF":
            sent["n"] += 1
            if sent["n"] == 4:  # the command and a few fragments of the data set
                event.assoc.dul.socket.socket.shutdown(socket.SHUT_RDWR)

    ae = scu()
    assoc = ae.associate(
        "127.0.0.1", scp.port, ae_title=AET, evt_handlers=[(evt.EVT_PDU_SENT, on_pdu)]
    )
    assert assoc.is_established
    big = make_ds(rows=256, columns=256)
    with pytest.raises(Exception):  # noqa: B017 - the association is gone either way
        st = assoc.send_c_store(big)
        if not st:
            raise RuntimeError("no response")
    assoc.abort()
    ok = wait_until(lambda: not scp.active() and len(scp.finished) == 1)
    assert ok, (scp.active(), list(scp.finished), list(archive.layout.tmp_dir.iterdir()))
    assert wait_until(lambda: not list(archive.layout.tmp_dir.iterdir()))
    assert not list(archive.layout.iter_files())
    assert archive.counts()["instances"] == 0
    assert scp.finished[-1].aborted
    # and the SCP keeps serving
    a2 = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    assert a2.send_c_store(make_ds()).Status == 0
    a2.release()


def test_disk_full_answers_a700_and_keeps_serving(archive, start_scp, monkeypatch):
    import errno
    import os

    scp = start_scp()
    real = os.replace
    calls = {"n": 0}

    def failing_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr("pacsadmin.core.archive.archive.os.replace", failing_replace)
    assoc = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    try:
        assert assoc.send_c_store(make_ds()).Status == 0xA700
        assert not list(archive.layout.iter_files())
        assert archive.counts()["instances"] == 0
        assert assoc.send_c_store(make_ds()).Status == 0
    finally:
        assoc.release()
    assert wait_until(lambda: not scp.active())
    assert archive.counts()["instances"] == 1
    assert not list(archive.layout.tmp_dir.iterdir())
    assert "disk full" in " ".join(scp.finished[-1].errors)


def test_many_failed_stores_keep_a_bounded_error_list(archive, start_scp):
    """Each refused C-STORE counts once in ``failed``; the reasons are capped (the first
    MAX_ERRORS, the rest counted), in memory and in the ``serve --events`` close event."""
    from pacsadmin.core.dimse.scp_events import (
        MAX_ERRORS,
        AssociationClosed,
        parse_line,
        to_json_line,
    )

    scp = start_scp()
    n = MAX_ERRORS + 5
    assoc = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    try:
        for _ in range(n):
            ds = make_ds()
            del ds.StudyInstanceUID  # nothing to file it under: 0xC210
            assert assoc.send_c_store(ds).Status == 0xC210
        assert assoc.send_c_store(make_ds()).Status == 0
    finally:
        assoc.release()
    assert wait_until(lambda: not scp.active())
    rec = scp.finished[-1]
    assert (rec.stored, rec.failed) == (1, n)
    assert rec.errors == ["cannot understand: NotIndexable"] * MAX_ERRORS
    assert rec.errors_more == 5
    ev = rec.event(AssociationClosed, 77)
    assert parse_line(to_json_line(ev)) == ev
    assert (ev.failed, len(ev.errors), ev.errors_more, ev.key) == (n, MAX_ERRORS, 5, (77, rec.id))


def test_whitelist_rejects_unknown_caller(start_scp, nodes, caplog):
    nodes.add(DicomNode("modality", "KNOWN", "127.0.0.1", 104))
    scp = start_scp(whitelist=True)
    caplog.set_level(logging.INFO, logger="pacsadmin.scp")
    a = scu("STRANGER").associate("127.0.0.1", scp.port, ae_title=AET)
    assert a.is_rejected
    assert wait_until(lambda: len(scp.finished) == 1)
    assert "calling AE title not recognized" in scp.finished[-1].summary()
    assert wait_until(lambda: "calling AE title not recognized" in caplog.text)
    b = scu("KNOWN").associate("127.0.0.1", scp.port, ae_title=AET)
    assert b.is_established
    b.release()


def test_whitelist_checks_the_address(start_scp, nodes):
    nodes.add(DicomNode("far", "FAR", "10.255.255.1", 104))
    scp = start_scp(whitelist=True, check_address=True)
    a = scu("FAR").associate("127.0.0.1", scp.port, ae_title=AET)
    assert a.is_rejected


def test_called_ae_title_required(start_scp):
    scp = start_scp()
    a = scu().associate("127.0.0.1", scp.port, ae_title="SOMEONE")
    assert a.is_rejected


def test_association_cap(start_scp):
    scp = start_scp(max_associations=1)
    a = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    assert a.is_established
    try:
        b = scu().associate("127.0.0.1", scp.port, ae_title=AET)
        assert b.is_rejected
    finally:
        a.release()


def test_deflate_accepted_uncompressed_preferred(start_scp):
    """Deflated is accepted (inflated bounded before parsing: core/deflate.py); a
    context that also offers Explicit VR Little Endian gets that."""
    from pynetdicom import build_context
    from pynetdicom.sop_class import CTImageStorage, MRImageStorage

    deflated, explicit = "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.1"
    scp = start_scp()
    contexts = [
        build_context(CTImageStorage, [deflated]),
        build_context(MRImageStorage, [deflated, explicit]),
    ]
    a = scu(contexts=[]).associate("127.0.0.1", scp.port, ae_title=AET, contexts=contexts)
    assert a.is_established
    try:
        got = {str(c.abstract_syntax): str(c.transfer_syntax[0]) for c in a.accepted_contexts}
    finally:
        a.release()
    assert got == {CTImageStorage: deflated, MRImageStorage: explicit}


def test_find_latin1_over_the_wire(start_scp, archive, tmp_path):
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    archive.add_file(_write(make_ds(patient_name="MÜLLER^JÖRG", charset="ISO_IR 100"), tmp_path))
    archive.add_file(
        _write(make_ds(patient_name="Wang^XiaoDong=王^小東", charset="ISO_IR 192"), tmp_path)
    )
    scp = start_scp()
    a = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    try:
        q = Dataset()
        q.SpecificCharacterSet = "ISO_IR 100"
        q.QueryRetrieveLevel = "STUDY"
        q.PatientName = "MÜLLER*"
        q.StudyInstanceUID = ""
        res = [i for s, i in a.send_c_find(q, FIND) if s.Status == 0xFF00]
        assert len(res) == 1 and str(res[0].PatientName) == "MÜLLER^JÖRG"
        assert res[0].SpecificCharacterSet == "ISO_IR 100"
        q.PatientName = "Wang*"
        res = [i for s, i in a.send_c_find(q, FIND) if s.Status == 0xFF00]
        assert res[0].SpecificCharacterSet == "ISO_IR 192"  # Latin-1 cannot hold it
        assert str(res[0].PatientName) == "Wang^XiaoDong=王^小東"
        q.QueryRetrieveLevel = "PATIENT"  # no such level in Study Root
        statuses = [s.Status for s, _ in a.send_c_find(q, FIND)]
        assert statuses[-1] == 0xA900
    finally:
        a.release()


def _write(ds, tmp_path):
    from .dsgen import write

    return write(ds, tmp_path / f"{ds.SOPInstanceUID}.dcm")


def test_find_cancel(start_scp, archive, monkeypatch):
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    from pacsadmin.core.archive import index as idx
    from pacsadmin.core.archive.meta import InstanceMeta

    def fill(con):
        for n in range(600):
            m = InstanceMeta(
                f"9.{n}", "1.2", f"8.{n}", f"7.{n}", "1.2.840.10008.1.2.1", patient_id=f"P{n}"
            )
            idx.insert_instance(con, m, path=f"data/00/x{n}.dcm", size=1, received_at=0, source="")

    archive.writer.call(fill)
    from pacsadmin.core.dimse import qr_scp

    real = qr_scp._elements

    def slow_elements(*a):  # the SCU shares this process's GIL: give the cancel time
        time.sleep(0.004)
        return real(*a)

    monkeypatch.setattr(qr_scp, "_elements", slow_elements)
    scp = start_scp()
    a = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    try:
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.StudyInstanceUID = ""
        q.PatientID = ""
        statuses = []
        for n, (s, _) in enumerate(a.send_c_find(q, FIND, msg_id=7)):
            statuses.append(s.Status)
            if n == 0:
                a.send_c_cancel(7, query_model=FIND)
        assert statuses[-1] == 0xFE00
        assert len(statuses) < 600
    finally:
        a.release()


def test_move_unknown_destination_a801(start_scp, archive, tmp_path):
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

    ds = make_ds()
    archive.add_file(_write(ds, tmp_path))
    scp = start_scp()
    a = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    try:
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.StudyInstanceUID = ds.StudyInstanceUID
        statuses = [s.Status for s, _ in a.send_c_move(q, "NOWHERE", MOVE)]
        assert statuses == [0xA801]
    finally:
        a.release()


def test_move_to_another_scp_with_pending_counts(start_scp, archive, nodes, tmp_path):
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

    study = make_ds().StudyInstanceUID
    for i in range(4):
        archive.add_file(_write(make_ds(study_uid=study, instance_number=i), tmp_path))
    archive.add_file(_write(make_ds(), tmp_path))  # another study: not moved
    dest_archive = Archive(tmp_path / "dest")
    try:
        dest = start_scp(dest_archive, ae_title="DEST")
        nodes.add(DicomNode("dest", "DEST", "127.0.0.1", dest.port))
        scp = start_scp()
        a = scu().associate("127.0.0.1", scp.port, ae_title=AET)
        try:
            q = Dataset()
            q.QueryRetrieveLevel = "STUDY"
            q.StudyInstanceUID = study
            rsps = [s for s, _ in a.send_c_move(q, "DEST", MOVE)]
        finally:
            a.release()
        pending = [r for r in rsps if r.Status == 0xFF00]
        assert [r.NumberOfRemainingSuboperations for r in pending] == [3, 2, 1, 0]
        assert rsps[-1].Status == 0 and rsps[-1].NumberOfCompletedSuboperations == 4
        assert dest_archive.counts()["instances"] == 4
    finally:
        dest_archive.close()


def test_get_series(start_scp, archive, tmp_path):
    from pynetdicom import build_role, evt
    from pynetdicom.sop_class import (
        CTImageStorage,
    )
    from pynetdicom.sop_class import (
        StudyRootQueryRetrieveInformationModelGet as GET,
    )

    series = make_ds().SeriesInstanceUID
    study = make_ds().StudyInstanceUID
    for i in range(3):
        archive.add_file(
            _write(make_ds(study_uid=study, series_uid=series, instance_number=i), tmp_path)
        )
    scp = start_scp()
    got = []

    def on_store(event):
        got.append(event.dataset.SOPInstanceUID)
        return 0

    ae = scu(contexts=[GET, CTImageStorage])
    a = ae.associate(
        "127.0.0.1",
        scp.port,
        ae_title=AET,
        ext_neg=[build_role(CTImageStorage, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    try:
        q = Dataset()
        q.QueryRetrieveLevel = "SERIES"
        q.StudyInstanceUID = study
        q.SeriesInstanceUID = series
        rsps = [s for s, _ in a.send_c_get(q, GET)]
    finally:
        a.release()
    assert rsps[-1].Status == 0 and rsps[-1].NumberOfCompletedSuboperations == 3
    assert len(got) == 3


def test_no_patient_data_in_logs(start_scp, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    scp = start_scp()
    a = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    try:
        a.send_c_store(make_ds(patient_name="CANARY^PHI^7731", patient_id="CANARYID7731"))
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.PatientName = "CANARY*"
        q.PatientID = ""
        list(a.send_c_find(q, FIND))
    finally:
        a.release()
    assert wait_until(lambda: len(scp.finished) == 1)
    text = caplog.text + scp.finished[-1].transcript.text()
    assert "association #1" in caplog.text
    assert "CANARY" not in text


def test_concurrent_senders_one_writer(start_scp, archive):
    scp = start_scp()
    errors = []

    def send(n):
        try:
            a = scu(f"S{n}").associate("127.0.0.1", scp.port, ae_title=AET)
            for _ in range(10):
                assert a.send_c_store(make_ds()).Status == 0
            a.release()
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert archive.counts()["instances"] == 40
    assert archive.verify().ok


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "pynetdicom"])
def test_disk_full_while_receiving_answers_a700(archive, start_scp, monkeypatch, fast):
    """The write of the incoming data set itself fails (ENOSPC): 0xA700, and the SCP goes on."""
    import errno

    from pacsadmin.core.dimse import scp_receive as scp_mod

    real_writev = scp_mod._writev
    calls = {"n": 0}

    def writev(fd, chunks):
        calls["n"] += 1
        if calls["n"] == 1:  # the first data set: the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_writev(fd, chunks)

    monkeypatch.setattr(scp_mod, "_writev", writev)
    scp = start_scp(fast_receive=fast)
    assoc = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    try:
        assert assoc.send_c_store(make_ds(rows=64, columns=64)).Status == 0xA700
        assert assoc.send_c_store(make_ds()).Status == 0  # same association goes on
    finally:
        assoc.release()
    assert wait_until(lambda: not scp.active())
    assert archive.counts()["instances"] == 1
    assert len(list(archive.layout.iter_files())) == 1
    assert not list(archive.layout.tmp_dir.iterdir())


def test_port_in_use_is_an_error_and_leaves_pynetdicom_as_it_was(archive):
    from pacsadmin.core.dimse._pynetdicom import chunked_receive, receive_patches_installed

    before = chunked_receive()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        scp = LocalScp(archive, ScpConfig(ae_title=AET, port=taken, bind="127.0.0.1"))
        with pytest.raises(OSError):
            scp.start()
    assert before == chunked_receive()
    assert not receive_patches_installed()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_hostile_uids_over_the_network_land_inside(archive, start_scp, tmp_path):
    scp = start_scp()
    assoc = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    try:
        for uid in ("../../etc/x", "1.2/../../x", "/etc/passwd", "1.2\x00.3"):
            ds = make_ds(sop_uid=uid, study_uid=uid + ".1", series_uid=uid + ".2")
            assert assoc.send_c_store(ds).Status == 0
    finally:
        assoc.release()
    assert wait_until(lambda: not scp.active())
    files = list(archive.layout.iter_files())
    assert len(files) == 4
    for rel in files:
        assert archive.path_of(rel).is_relative_to(archive.root / "data")
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and "archive" not in p.parts]
    assert not [p for p in outside if p.name in ("x", "passwd")]
    uids = {r[0] for r in archive.reader().execute("SELECT sop_uid FROM instances")}
    assert "../../etc/x" in uids


def test_move_destination_added_while_serving(start_scp, archive, nodes, tmp_path):
    """A node added to the directory by another process is a move destination at once."""
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

    ds = make_ds()
    archive.add_file(_write(ds, tmp_path))
    dest_archive = Archive(tmp_path / "dest2")
    try:
        dest = start_scp(dest_archive, ae_title="LATE")
        scp = start_scp()
        time.sleep(0.05)  # a distinct mtime
        NodeDirectory(nodes.path).add(DicomNode("late", "LATE", "127.0.0.1", dest.port))
        a = scu().associate("127.0.0.1", scp.port, ae_title=AET)
        try:
            q = Dataset()
            q.QueryRetrieveLevel = "STUDY"
            q.StudyInstanceUID = ds.StudyInstanceUID
            rsps = [s for s, _ in a.send_c_move(q, "LATE", MOVE)]
        finally:
            a.release()
        assert rsps[-1].Status == 0
        assert dest_archive.counts()["instances"] == 1
    finally:
        dest_archive.close()


def test_move_cancel_between_sub_operations(start_scp, archive, nodes, tmp_path):
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

    study = make_ds().StudyInstanceUID
    for i in range(15):
        archive.add_file(_write(make_ds(study_uid=study, instance_number=i), tmp_path))
    dest_archive = Archive(tmp_path / "slowdest")
    real_ingest = dest_archive.ingest

    def slow_ingest(*a, **kw):
        time.sleep(0.05)
        return real_ingest(*a, **kw)

    dest_archive.ingest = slow_ingest
    try:
        dest = start_scp(dest_archive, ae_title="SLOW")
        nodes.add(DicomNode("slow", "SLOW", "127.0.0.1", dest.port))
        scp = start_scp()
        a = scu().associate("127.0.0.1", scp.port, ae_title=AET)
        try:
            q = Dataset()
            q.QueryRetrieveLevel = "STUDY"
            q.StudyInstanceUID = study
            rsps = []
            for n, (s, _) in enumerate(a.send_c_move(q, "SLOW", MOVE, msg_id=9)):
                rsps.append(s)
                if n == 0:
                    a.send_c_cancel(9, query_model=MOVE)
        finally:
            a.release()
        final = rsps[-1]
        assert final.Status == 0xFE00
        assert final.NumberOfRemainingSuboperations > 0
        assert 0 < final.NumberOfCompletedSuboperations < 15
    finally:
        dest_archive.close()


@pytest.mark.parametrize(
    "cls,inst,ts",
    [
        ("1.2.840.10008.5.1.4.1.1.2", "1.2.826.0.1.3680043.8.498.1", "1.2.840.10008.1.2.1"),
        ("1.2.840.10008.5.1.4.1.1.4", "1.2.3.44", "1.2.840.10008.1.2"),  # even lengths
        ("1.2.840.10008.5.1.4.1.1.7", "9" * 64, "1.2.840.10008.1.2.4.90"),
    ],
)
def test_received_file_meta_is_what_pydicom_writes(cls, inst, ts):
    """The chunked receive's file meta group is encoded by hand (pydicom took ~0.22 ms an
    image); it must be byte-for-byte what pynetdicom + pydicom write."""
    import io

    from pydicom.filewriter import write_file_meta_info
    from pynetdicom.dsutils import create_file_meta

    from pacsadmin.core.dimse import scp_receive

    theirs = io.BytesIO()
    write_file_meta_info(
        theirs, create_file_meta(sop_class_uid=cls, sop_instance_uid=inst, transfer_syntax=ts)
    )
    ours = io.BytesIO()
    scp_receive._write_file_meta_info(
        ours,
        scp_receive._create_file_meta(sop_class_uid=cls, sop_instance_uid=inst, transfer_syntax=ts),
    )
    assert ours.getvalue() == theirs.getvalue()
