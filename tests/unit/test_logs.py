"""Logs carry no patient data (docs/safety.md rule 16): the redactor and its filter."""

from __future__ import annotations

import io
import json
import logging

import pytest

from pacsadmin.core.dimse.transcript import Transcript
from pacsadmin.core.logs import REDACTED, RedactingFilter, redact

CANARY_NAME = "CANARY^PHI^7731"
CANARY_ID = "PID-CANARY-7731"


def _clean(text: str) -> None:
    assert "CANARY" not in text.upper(), text
    assert "7731" not in text, text


@pytest.mark.parametrize(
    "text",
    [
        f"(0010,0010) Patient's Name                      PN: '{CANARY_NAME}'",
        f"(0010,0020) Patient ID                          LO: '{CANARY_ID}'",
        "(0010,0030) Patient's Birth Date                DA: '19777731'",
        "(0008,0050) Accession Number                    SH: 'ACC7731'",
        f"PatientName={CANARY_NAME}",
        f"PatientID={CANARY_ID}",
        f"PatientName = {CANARY_NAME}, PatientID = {CANARY_ID}",
        f"PatientName: {CANARY_NAME}; PatientID: {CANARY_ID}",
        f"query PatientName='{CANARY_NAME}' PatientID=\"{CANARY_ID}\"",
        json.dumps({"PatientName": CANARY_NAME, "PatientID": CANARY_ID}),
        "AccessionNumber=ACC7731 PatientBirthDate=19777731",
    ],
)
def test_redact_blanks_patient_values(text):
    out = redact(text)
    _clean(out)
    assert REDACTED in out


def test_redact_keeps_keywords_and_other_values():
    out = redact(f"StudyDescription=CT HEAD, PatientName={CANARY_NAME}, Modality=CT")
    _clean(out)
    assert "StudyDescription=CT HEAD" in out
    assert "PatientName=" in out
    assert "Modality=CT" in out
    assert redact("C-ECHO to STORESCP@127.0.0.1:104 succeeded") == (
        "C-ECHO to STORESCP@127.0.0.1:104 succeeded"
    )


def test_redact_pydicom_dataset_dump():
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.PatientName = CANARY_NAME
    ds.PatientID = CANARY_ID
    ds.PatientBirthDate = "19770731"
    ds.AccessionNumber = "ACC7731"
    ds.StudyDescription = "CT HEAD"
    ds.Modality = "CT"
    out = redact(str(ds))
    _clean(out)
    assert "19770731" not in out
    assert "CT HEAD" in out
    assert out.count(REDACTED) == 4


def test_redact_json_stays_valid_json():
    text = json.dumps({"PatientName": CANARY_NAME, "PatientID": CANARY_ID, "Modality": "CT"})
    data = json.loads(redact(text))
    assert data == {"PatientName": REDACTED, "PatientID": REDACTED, "Modality": "CT"}


def test_redacting_filter_on_a_logger():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("pacsadmin.test.redaction")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        log.info("identifier: %s", f"PatientName={CANARY_NAME}")
        log.info("PatientID=%s", CANARY_ID)
        log.info("plain message %d", 42)
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    _clean(out)
    assert "plain message 42" in out


def test_transcript_export_is_redacted():
    tr = Transcript()
    tr.add(">>", "C-FIND-RQ", f"PatientName={CANARY_NAME} PatientID={CANARY_ID}")
    text = tr.text("header")
    _clean(text)
    assert "C-FIND-RQ" in text


def test_pynetdicom_does_not_log_identifiers():
    from pacsadmin.core.dimse._pynetdicom import logs_identifiers
    from pacsadmin.core.dimse.association import _init_pynetdicom

    _init_pynetdicom()
    assert not logs_identifiers()
    assert logging.getLogger("pynetdicom").getEffectiveLevel() >= logging.WARNING


def test_transcript_with_a_cap_keeps_head_and_tail():
    """An SCP association that receives 100,000 images must not hold every PDU line."""
    tr = Transcript(max_lines=10)
    tr.add("<<", "A-ASSOCIATE-RQ", "first")
    for n in range(1000):
        tr.add("<<", "P-DATA-TF", f"pdu {n}")
    tr.add("<<", "A-RELEASE-RQ", "last")
    lines = tr.lines
    assert len(lines) == 10
    assert lines[0].text == "first" and lines[-1].text == "last"
    assert tr.omitted == 1002 - 10
    text = tr.text()
    assert "992 line(s) left out" in text
    assert text.index("first") < text.index("left out") < text.index("last")
    uncapped = Transcript()
    for n in range(3000):
        uncapped.add(">>", "X", str(n))
    assert len(uncapped.lines) == 3000 and "left out" not in uncapped.text()
