"""The fast path (find_fast.py, responses read straight from the socket) against the
pynetdicom path (send_c_find): the same matches, value for value, from real peers; and the
fast path's C-FIND-RQ and C-CANCEL-RQ command sets are byte for byte what pynetdicom
encodes."""

from __future__ import annotations

import pytest

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.find import find
from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.jobs import CancelToken, JobContext

pytestmark = pytest.mark.integration

QUERIES = [
    FindQuery(
        "study", "STUDY", return_keys=("00081030", "ModalitiesInStudy"), charset="ISO_IR 100"
    ),
    FindQuery("patient", "PATIENT"),
    FindQuery(
        "study", "IMAGE", keys=(("PatientID", "PID2"),), return_keys=("Rows", "PixelSpacing")
    ),
    FindQuery("study", "SERIES", keys=(("StudyDate", "20240101-20240131"),), charset=""),
]


def _both(node, q):
    out = {}
    for engine in ("fast", "pynetdicom"):
        r = find(
            LocalAE(),
            node,
            q,
            ctx=JobContext(1, CancelToken(), lambda e: None),
            timeout=30,
            engine=engine,
        )
        assert r.ok, (engine, r.sentence)
        out[engine] = r
    fast_path = [line for line in out["fast"].transcript if "fast path" in line.text]
    assert fast_path, "the fast path fell back to pynetdicom"
    return out["fast"], out["pynetdicom"]


@pytest.mark.parametrize("q", QUERIES, ids=lambda q: q.describe())
def test_same_matches_value_for_value(pacs, q):
    fast, slow = _both(pacs.node(), q)
    assert fast.matches, "no matches: nothing compared"
    assert fast.matches == slow.matches
    assert fast.status == slow.status == 0


def test_same_unreadable_matches(dcmqrscp_loaded, tmp_path):
    """dcmqrscp holds files whose names their declared character set cannot carry
    (stored by test_find_peers, or here)."""
    import subprocess

    from pydicom.dataelem import DataElement

    from tests.unit.archive.dsgen import make_ds, write

    ds = make_ds(patient_id="ENG1", charset="ISO_IR 192", study_date="20230102")
    ds["PatientName"] = DataElement(0x00100010, "PN", b"M\xfcller^J\xfcrgen")
    f = write(ds, tmp_path / "bad.dcm")
    p = subprocess.run(
        ["storescu", "-aec", dcmqrscp_loaded.aet, "127.0.0.1", str(dcmqrscp_loaded.port), str(f)],
        capture_output=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    fast, slow = _both(dcmqrscp_loaded.node(), FindQuery(keys=(("PatientID", "ENG*"),)))
    assert fast.matches == slow.matches and fast.unreadable == 1


def test_command_sets_are_what_pynetdicom_encodes():
    from io import BytesIO

    from pynetdicom.dimse_messages import C_CANCEL_RQ, C_FIND_RQ
    from pynetdicom.dimse_primitives import C_CANCEL, C_FIND

    from pacsadmin.core.dimse.find_fast import cancel_rq, find_rq

    def encoded(primitive, cls):
        msg = cls()
        msg.primitive_to_message(primitive)
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_dataset

        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, True
        write_dataset(fp, msg.command_set)
        return fp.getvalue()

    req = C_FIND()
    req.MessageID = 7
    req.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.2.2.1"
    req.Priority = 2
    req.Identifier = BytesIO(b"\x00")
    assert find_rq("1.2.840.10008.5.1.4.1.2.2.1", 7) == encoded(req, C_FIND_RQ)
    c = C_CANCEL()
    c.MessageIDBeingRespondedTo = 7
    assert cancel_rq(7) == encoded(c, C_CANCEL_RQ)
