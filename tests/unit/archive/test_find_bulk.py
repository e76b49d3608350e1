"""C-FIND responses sent in bulk (core/dimse/find_bulk.py): the bytes equal what pydicom
and pynetdicom would have sent, fragmentation follows the peer's maximum PDU, and over the
wire a small-PDU peer, an Implicit VR peer, a cancel and a peer that stops reading all
behave."""

from __future__ import annotations

import socket
import threading
import time
from io import BytesIO

import pytest
from pydicom.dataset import Dataset
from pynetdicom.dsutils import decode, encode

from pacsadmin.core.dimse import find_bulk, qr_scp

from .test_scp import AET, scu, wait_until

ROWS = [
    (
        "STUDY",
        {
            "PatientName": "DOE^JOHN",
            "PatientID": "PID1",
            "StudyDate": "20240115",
            "StudyInstanceUID": "1.2.3.4.5",  # odd length: NUL padded
            "AccessionNumber": "",
            "NumberOfStudyRelatedInstances": 12,
            "ModalitiesInStudy": "CT\\MR",
        },
        None,
    ),
    ("STUDY", {"PatientName": "MÜLLER^JÖRG", "StudyDescription": "Thorax"}, "ISO_IR 100"),
    ("STUDY", {"PatientName": "Wang^XiaoDong=王^小東", "PatientID": "X"}, "ISO_IR 100"),
    ("PATIENT", {"PatientName": "Ünal", "PatientBirthDate": None}, "ISO_IR 192"),
    ("IMAGE", {"SOPInstanceUID": "1.2", "Rows": 512, "Columns": 512, "InstanceNumber": 7}, None),
    ("SERIES", {"SeriesNumber": None, "Modality": "OT", "SeriesDescription": "x"}, "ISO_IR 6"),
]


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit", "explicit"])
@pytest.mark.parametrize("level,row,requested", ROWS)
def test_identifier_bytes_equal_pydicom(level, row, requested, implicit):
    elements, cs = qr_scp._elements(level, dict(row), requested)
    ours = find_bulk.encode_identifier(elements, cs, implicit)
    theirs = encode(qr_scp._response(level, dict(row), requested), implicit, True)
    assert ours == theirs
    back = decode(BytesIO(ours), implicit, True)
    if "PatientName" in row:
        assert str(back.PatientName) == row["PatientName"]


def test_empty_sequence_requested_is_an_empty_sequence():
    row = {"PatientName": "A", "ReferencedStudySequence": None}
    elements, cs = qr_scp._elements("STUDY", row, None)
    ours = decode(BytesIO(find_bulk.encode_identifier(elements, cs, False)), False, True)
    theirs = qr_scp._response("STUDY", row, None)
    assert ours == theirs
    assert list(ours.ReferencedStudySequence) == []


def test_what_it_cannot_encode_goes_to_pydicom():
    with pytest.raises(find_bulk.Unencodable):  # non-ASCII in a default-repertoire VR
        find_bulk.encode_identifier([(0x00080060, "CS", "É")], None, False)
    with pytest.raises(find_bulk.Unencodable):  # longer than a 2-byte length holds
        find_bulk.encode_identifier([(0x00081030, "LO", "x" * 70000)], None, False)


def _pdus(data: bytes) -> list[tuple[int, int, bytes]]:
    """(context id, control header, fragment) of the PDVs in a run of P-DATA-TF PDUs."""
    from pynetdicom.pdu import P_DATA_TF

    out, pos = [], 0
    while pos < len(data):
        assert data[pos] == 0x04
        length = int.from_bytes(data[pos + 2 : pos + 6], "big")
        pdu = P_DATA_TF()
        pdu.decode(data[pos : pos + 6 + length])
        for item in pdu.presentation_data_value_items:
            v = item.presentation_data_value
            out.append((item.presentation_context_id, v[0], v[1:]))
        pos += 6 + length
    return out


@pytest.mark.parametrize("max_pdu", [0, 16384, 64, 7])
def test_p_data_fragments_to_the_peer_maximum(max_pdu):
    data = bytes(range(256)) * 3
    raw = find_bulk.p_data(3, data, command=False, max_pdu=max_pdu)
    parts = _pdus(raw)
    assert b"".join(p[2] for p in parts) == data
    assert all(cid == 3 for cid, _, _ in parts)
    assert [h for _, h, _ in parts] == [0x00] * (len(parts) - 1) + [0x02]
    if max_pdu:
        assert all(len(p[2]) + 6 <= max_pdu for p in parts)
    cmd = _pdus(find_bulk.p_data(1, b"abcd", command=True, max_pdu=0))
    assert cmd == [(1, 0x03, b"abcd")]


def test_pending_command_set_is_what_pynetdicom_encodes():
    from pynetdicom.dimse_messages import C_FIND_RSP
    from pynetdicom.dimse_primitives import C_FIND

    p = C_FIND()
    p.MessageIDBeingRespondedTo = 7
    p.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.2.2.1"
    p.Status = 0xFF00
    p.Identifier = BytesIO(b"x")
    msg = C_FIND_RSP()
    msg.primitive_to_message(p)
    theirs = encode(msg.command_set, True, True)
    assert find_bulk._command_pending("1.2.840.10008.5.1.4.1.2.2.1", 7) == theirs


# ---------------------------------------------------------------- over the wire


def _fill(archive, n, description="BULK"):
    from pacsadmin.core.archive import index as idx
    from pacsadmin.core.archive.meta import InstanceMeta

    def fill(con):
        for k in range(n):
            m = InstanceMeta(
                f"9.{k}",
                "1.2",
                f"8.{k}",
                f"7.{k}",
                "1.2.840.10008.1.2.1",
                patient_id=f"P{k}",
                patient_name=f"BULK^{k}",
                study_description=description,
            )
            idx.insert_instance(con, m, path=f"data/00/x{k}.dcm", size=1, received_at=0, source="")

    archive.writer.call(fill, 120)


def _query():
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = ""
    q.PatientName = ""
    q.PatientID = ""
    q.StudyDescription = ""
    return q


@pytest.mark.parametrize(
    "max_pdu,syntax",
    [(1024, "1.2.840.10008.1.2.1"), (0, "1.2.840.10008.1.2")],
    ids=["small-pdu-explicit", "unlimited-implicit"],
)
def test_many_matches_to_a_small_pdu_or_implicit_peer(start_scp, archive, max_pdu, syntax):
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    _fill(archive, 300, description="D" * 64)
    scp = start_scp()
    ae = scu()
    ae.requested_contexts = []
    ae.add_requested_context(FIND, [syntax])
    ae.maximum_pdu_size = max_pdu
    a = ae.associate("127.0.0.1", scp.port, ae_title=AET)
    try:
        res = list(a.send_c_find(_query(), FIND))
    finally:
        a.release()
    assert [s.Status for s, _ in res][-1] == 0x0000
    idents = [i for s, i in res if s.Status == 0xFF00]
    assert len(idents) == 300
    assert {str(i.PatientID) for i in idents} == {f"P{k}" for k in range(300)}
    assert all(i.StudyDescription == "D" * 64 and i.QueryRetrieveLevel == "STUDY" for i in idents)


def test_peer_that_stops_reading_is_aborted_and_the_scp_goes_on(start_scp, archive):
    """A peer that asks for many matches and never reads them must not hold an association
    thread for ever: the send times out (network timeout) and the association is aborted."""
    from pynetdicom import evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    from pacsadmin.core.dimse._pynetdicom import stall_reading
    from pacsadmin.core.settings import Timeouts

    _fill(archive, 20000, description="S" * 64)  # ~4 MB of responses: more than buffers hold
    scp = start_scp(timeouts=Timeouts(network=2.0, acse=5.0, dimse=5.0, connect=5.0))
    stall = threading.Event()

    def small_buffer(event):
        event.assoc.dul.socket.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    ae = scu()
    a = ae.associate(
        "127.0.0.1", scp.port, ae_title=AET, evt_handlers=[(evt.EVT_CONN_OPEN, small_buffer)]
    )
    assert a.is_established
    try:
        responses = a.send_c_find(_query(), FIND)
        next(responses)  # the first match arrives ...
        with stall_reading(a, stall):  # ... then this peer stops reading
            t0 = time.monotonic()
            assert wait_until(lambda: not scp.active(), 30), "the SCP still holds the association"
            assert time.monotonic() - t0 < 25
        # this side reads again, and goes
    finally:
        stall.set()
        a.abort()
    b = scu().associate("127.0.0.1", scp.port, ae_title=AET)
    try:
        assert b.send_c_echo().Status == 0x0000  # still serving
    finally:
        b.release()
