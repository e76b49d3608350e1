from __future__ import annotations

import json

import pytest

from pacsadmin.cli.main import main

from .dsgen import make_ds, write


def test_import_list_verify_delete(tmp_path, capsys, pacs_home):
    src = tmp_path / "in"
    study = make_ds().StudyInstanceUID
    for i in range(3):
        write(make_ds(study_uid=study, instance_number=i), src / f"{i}.dcm")
    (src / "readme.txt").write_text("hello")
    assert main(["archive", "import", str(src)]) == 1  # one file is not DICOM
    out = capsys.readouterr()
    assert "3 file(s) stored" in out.out and "readme.txt: not a DICOM file" in out.err

    assert main(["archive", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["instances"] == 3
    assert data["studies"][0]["study_uid"] == study

    assert main(["archive", "verify"]) == 0
    assert "agree" in capsys.readouterr().out
    stored = next((pacs_home / "archive" / "data").rglob("*.dcm"))
    stored.unlink()
    assert main(["archive", "verify", "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert len(rep["missing_files"]) == 1
    assert main(["archive", "verify", "--repair"]) == 1
    capsys.readouterr()
    assert main(["archive", "verify"]) == 0
    capsys.readouterr()

    assert main(["archive", "delete", "--study", study, "--yes"]) == 0
    assert "2 instance(s) deleted" in capsys.readouterr().out
    assert main(["archive", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["instances"] == 0


def test_delete_requires_yes_without_tty(capsys, monkeypatch, tmp_path):
    write(make_ds(study_uid="1.2.3"), tmp_path / "a.dcm")
    assert main(["archive", "import", str(tmp_path / "a.dcm")]) == 0
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    assert main(["archive", "delete", "--study", "1.2.3"]) == 2


@pytest.mark.parametrize("cmd", [["serve", "--help"], ["archive", "--help"]])
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main(cmd)
    assert e.value.code == 0
