"""``archive list`` and ``audit`` text output: a header row, readable dates and names."""

from __future__ import annotations

import json

from pacsadmin.cli.main import main
from pacsadmin.core import format as fmt

from .dsgen import make_ds, write


def test_archive_list_has_a_header_and_formatted_values(tmp_path, capsys, pacs_home):
    src = tmp_path / "in"
    old = fmt.date_style()
    fmt.configure("iso")
    try:
        for i in range(2):
            ds = make_ds(
                patient_name="Doe^Jane^Q", study_uid="1.2.3", study_date="20240115", sop_uid=None
            )
            ds.InstanceNumber = i + 1
            write(ds, src / f"{i}.dcm")
        evil = make_ds(patient_name="Evil\x1b[2J^X", patient_id="P2", study_date="20241399")
        write(evil, src / "x.dcm")
        assert main(["archive", "list"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert "The archive is empty" in lines[1]
        assert main(["archive", "import", str(src)]) == 0
        capsys.readouterr()
        assert main(["archive", "list"]) == 0
        lines = capsys.readouterr().out.splitlines()
    finally:
        fmt.configure(old)
    assert lines[0].startswith("2 patient(s), 2 study(ies)"), lines
    header = lines[1].split()
    assert header[:2] == ["DATE", "PATIENT"] and header[-2:] == ["STUDY", "UID"]
    jane = next(line for line in lines if "DOE, Jane Q" in line)
    assert jane.startswith("2024-01-15  ") and "  2  " in jane
    evil = next(line for line in lines if "EVIL" in line)
    assert evil.startswith("20241399  ")  # an invalid date is shown raw, never an error
    assert "\x1b" not in evil and "\\x1b" in evil  # no terminal escape reaches the terminal
    # --json stays raw
    assert main(["archive", "list", "--json"]) == 0
    studies = json.loads(capsys.readouterr().out)["studies"]
    assert {s["study_date"] for s in studies} == {"20240115", "20241399"}
    assert "Doe^Jane^Q" in {s["patient_name"] for s in studies}


def test_audit_text_has_a_header(capsys, pacs_home, tmp_path):
    write(make_ds(), tmp_path / "in" / "a.dcm")
    assert main(["archive", "import", str(tmp_path / "in")]) == 0
    capsys.readouterr()
    assert main(["audit"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["WHEN", "USER", "ACTION", "OUTCOME", "NODE", "SUMMARY"]
    assert "archive-import" in lines[1]
