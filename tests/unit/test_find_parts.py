"""The pure parts of C-FIND: building the request identifier, decoding a response
identifier into plain values (strictly, by its own character set), the cap warning."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom.dataset import Dataset

from pacsadmin.core.dimse.find_query import FindQuery, build_identifier, resolve_key
from pacsadmin.core.dimse.find_result import cap_warning, to_match
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.errors import ValidationError


def _wire(ds: Dataset, implicit: bool = False) -> Dataset:
    """Encode and read back as pynetdicom does (raw elements until accessed)."""
    from pynetdicom.dsutils import decode, encode

    return decode(BytesIO(encode(ds, implicit, True)), implicit, True)


def test_keys_by_keyword_and_tag_number():
    assert resolve_key("PatientName")[:2] == (0x00100010, "PatientName")
    assert resolve_key("(0010,0020)")[:2] == (0x00100020, "PatientID")
    assert resolve_key("00080020")[2] == "DA"
    for bad in ("PatientNam", "00091010", "00000900"):
        with pytest.raises(ValidationError):
            resolve_key(bad)


def test_identifier_has_level_defaults_matching_and_return_keys():
    q = FindQuery(
        "study",
        "SERIES",
        keys=(("StudyInstanceUID", "1.2.3"), ("Modality", "C?")),
        return_keys=("BodyPartExamined",),
    )
    ds = build_identifier(q, "")
    assert ds.QueryRetrieveLevel == "SERIES" and "SpecificCharacterSet" not in ds
    assert ds.StudyInstanceUID == "1.2.3" and ds.Modality == "C?"
    assert ds.BodyPartExamined == "" and ds.SeriesInstanceUID == ""


def test_worklist_keys_go_into_the_scheduled_step():
    ds = build_identifier(FindQuery("worklist", None, keys=(("Modality", "MR"),)), "ISO_IR 100")
    assert "QueryRetrieveLevel" not in ds and ds.SpecificCharacterSet == "ISO_IR 100"
    sps = ds.ScheduledProcedureStepSequence[0]
    assert sps.Modality == "MR" and "Modality" not in ds


@pytest.mark.parametrize(
    "query,charset,match",
    [
        (FindQuery("study", "PATIENT"), "", "no level"),
        (FindQuery("worklist", "STUDY"), "", "no level"),
        (FindQuery(keys=(("PatientName", "Müller"),)), "", "cannot carry"),
        (FindQuery(keys=(("PatientName", "Ωmega"),)), "ISO_IR 100", "cannot carry"),
        (FindQuery(keys=(("NumberOfStudyRelatedInstances", "many"),)), "", "not a number"),
        (FindQuery(keys=(("QueryRetrieveLevel", "STUDY"),)), "", "level"),
        (FindQuery(), "ISO_IR 999", "Unknown character set"),
    ],
)
def test_bad_queries_are_refused_with_a_sentence(query, charset, match):
    with pytest.raises(ValidationError, match=match):
        build_identifier(query, charset)


def test_values_are_plain_python_decoded_by_the_identifiers_charset():
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Müller^Jürgen"
    ds.ModalitiesInStudy = ["CT", "MR"]
    ds.NumberOfStudyRelatedInstances = 12
    ds.StudyDate = "20240210"
    sps = Dataset()
    sps.Modality = "CT"
    ds.ScheduledProcedureStepSequence = [sps]
    for implicit in (False, True):
        m = to_match(3, 0xFF00, _wire(ds, implicit))
        assert m.unreadable == "" and m.index == 3 and m.status == 0xFF00
        assert m.values["PatientName"] == "Müller^Jürgen"
        assert m.values["ModalitiesInStudy"] == ["CT", "MR"]
        assert m.values["NumberOfStudyRelatedInstances"] == "12"
        assert m.values["ScheduledProcedureStepSequence"] == [{"Modality": "CT"}]


@pytest.mark.parametrize(
    "charset,raw,reason",
    [
        ("ISO_IR 192", b"M\xfcller", "ISO_IR 192 cannot carry"),  # Latin-1 bytes, declared UTF-8
        (None, b"M\xfcller", "default repertoire"),  # undeclared non-ASCII bytes
        ("ISO_IR 999", b"Muller", "unknown character set 'ISO_IR 999'"),
    ],
)
def test_undecodable_identifiers_are_marked_not_raised(charset, raw, reason):
    from pydicom.dataelem import DataElement

    ds = Dataset()
    if charset:
        ds.add_new(0x00080005, "CS", charset)
    ds.PatientID = "X1"
    ds[0x00100010] = DataElement(0x00100010, "PN", raw)
    m = to_match(0, 0xFF00, _wire(ds))
    assert reason in m.unreadable
    assert m.values["PatientID"] == "X1" and m.values["PatientName"].startswith("M")


def test_an_identifier_that_does_not_parse_is_marked():
    from pynetdicom.dsutils import decode

    # PatientID fine, then PatientName with an unknown VR "XX"
    raw = b"\x10\x00\x10\x00XX\x02\x00Mu\x10\x00\x20\x00LO\x02\x00X1"
    m = to_match(0, 0xFF00, decode(BytesIO(raw), False, True))
    assert m.unreadable == "(0010,0010) does not parse (NotImplementedError)"
    assert m.values == {"PatientID": "X1"}
    assert to_match(1, 0xFF00, None).unreadable == "the identifier could not be parsed"


def test_round_counts_are_flagged_as_a_likely_cap():
    assert "capped" in cap_warning(500, Outcome.SUCCESS)
    assert "capped" in cap_warning(10000, Outcome.SUCCESS)
    assert cap_warning(501, Outcome.SUCCESS) == ""
    assert cap_warning(500, Outcome.FAILURE) == ""


def test_without_defaults_only_the_given_keys_are_sent():
    q = FindQuery("study", "STUDY", keys=(("PatientID", ""),), defaults=False)
    ds = build_identifier(q, "")
    assert [e.keyword for e in ds] == ["QueryRetrieveLevel", "PatientID"]
