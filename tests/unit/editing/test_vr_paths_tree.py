"""VR rules, tag paths and the tree's search."""

from __future__ import annotations

from pathlib import Path

import pytest

from pacsadmin.core.editing import TagPath, load, validate
from pacsadmin.core.editing.tree import search
from pacsadmin.core.errors import ValidationError
from tests.unit.archive.dsgen import make_ds, write


@pytest.mark.parametrize(
    ("vr", "text", "rule"),
    [
        ("DA", "20241345", "DA format"),
        ("DA", "2024-01-01", "DA length"),
        ("DA", "20240230", "DA format"),
        ("TM", "256000", "TM format"),
        ("TM", "1230.1234567", "TM format"),
        ("TM", "123000.12345678", "TM length"),
        ("DT", "20241301", "DT format"),
        ("PN", "A^B^C^D^E^F", "PN components"),
        ("PN", "A=B=C=D", "PN groups"),
        ("PN", "X" * 65, "PN length"),
        ("UI", "1.2.03", "UI syntax"),
        ("UI", "1." + "2" * 64, "UI length"),
        ("AS", "45Y", "AS format"),
        ("IS", "3000000000", "IS range"),
        ("IS", "1.5", "IS range"),
        ("DS", "abc", "DS format"),
        ("DS", "1.00000000000000001", "DS length"),
        ("CS", "lower", "CS repertoire"),
        ("CS", "X" * 17, "CS length"),
        ("LO", "X" * 65, "LO length"),
        ("SH", "X" * 17, "SH length"),
        ("LT", "X" * 10241, "LT length"),
        ("LO", "bad\x07bell", "LO characters"),
    ],
)
def test_each_rule_is_named(vr: str, text: str, rule: str) -> None:
    problems = validate(vr, text, element="X (0000,0000)")
    assert rule in [p.rule for p in problems], problems
    assert all(p.message.startswith("X (0000,0000): ") for p in problems)


@pytest.mark.parametrize(
    ("vr", "text"),
    [("DA", "20240229"), ("DA", ""), ("TM", "235960.123456"), ("TM", "07"),
     ("DT", "20240101120000.5+0100"), ("PN", "Doe^John^^Dr^=Yamada^Taro"), ("UI", "1.2.840.10008.1.2"),
     ("AS", "045Y"), ("IS", "-12"), ("DS", "-1.5e3"), ("CS", "ORIGINAL"), ("LT", "a\\b\r\nc")],
)  # fmt: skip
def test_good_values_pass(vr: str, text: str) -> None:
    assert validate(vr, text, element="X") == []


def test_backslash_makes_values_only_where_meant() -> None:
    assert validate("CS", "ORIGINAL\\PRIMARY", element="ImageType", tag=0x00080008) == []
    (p,) = validate("LO", "A\\B", element="PatientID", tag=0x00100020)
    assert p.rule == "VM" and "one value" in p.message


def test_paths() -> None:
    p = TagPath.parse("ProcedureCodeSequence[0].CodeMeaning")
    assert p.steps == ((0x00081032, 0), (0x00080104, None))
    assert str(p) == "ProcedureCodeSequence[0].CodeMeaning"
    assert (
        TagPath.parse("0010,0010") == TagPath.parse("(0010,0010)") == TagPath.parse("PatientName")
    )
    assert str(TagPath.parse("(0009,1001)")) == "0009,1001"
    for bad in ("NoSuchKeyword", "ProcedureCodeSequence.CodeMeaning", "12345", ""):
        with pytest.raises(ValidationError):
            TagPath.parse(bad)


def test_search_by_tag_keyword_and_value(tmp_path: Path) -> None:
    f = write(make_ds(patient_name="FINDME^PLEASE"), tmp_path / "a.dcm")
    df = load(f)
    assert [r.keyword for r in search(df, "findme")] == ["PatientName"]
    assert "PatientID" in [r.keyword for r in search(df, "0010,0020")]
    assert "PatientID" in [r.keyword for r in search(df, "patientid")]
