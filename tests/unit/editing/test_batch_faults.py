"""Batch safety: byte-exact undo, nothing left beside the user's files, and each fault
(read-only file, full disk mid-batch, file changed since load, invalid values) stops
cleanly and says which files changed."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from pacsadmin.core.editing import batch as batch_mod
from pacsadmin.core.editing.batch import BatchRefused, BatchStore, list_batches, undo_batch
from pacsadmin.core.editing.ops import apply_plan, plan_edits, producer
from tests.peers import app_cli
from tests.unit.archive.dsgen import make_ds, write


def _files(folder: Path, n: int, charset: str | None = None) -> list[Path]:
    return [
        write(make_ds(instance_number=i, seed=i, charset=charset), folder / f"im{i:03d}.dcm")
        for i in range(n)
    ]


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _rename(s) -> None:  # type: ignore[no-untyped-def]
    s.set("PatientName", "NEW^NAME")
    s.set("PatientID", "NEW-ID")


def test_batch_then_undo_restores_byte_exact_and_leaves_nothing_beside(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    files = _files(folder, 5)
    before = _hashes(folder)
    store = BatchStore(tmp_path / "home")
    plan = plan_edits(files, _rename)
    assert not plan.refused and len(plan.changing) == 5
    res = apply_plan(store, plan)
    assert res.ok and len(res.changed) == 5
    after = _hashes(folder)
    assert set(after) == set(before)  # exactly the same names: no temp, backup, journal
    assert all(after[k] != before[k] for k in before)
    undo = undo_batch(store)
    assert len(undo.restored) == 5 and not undo.refused
    assert _hashes(folder) == before
    assert list_batches(store)[-1]["state"] == "undone"
    with pytest.raises(BatchRefused):
        undo_batch(store, res.batch_id)


def test_read_only_file_refuses_the_batch_before_anything(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    files = _files(folder, 4)
    before = _hashes(folder)
    plan = plan_edits(files, _rename)
    os.chmod(files[2], 0o444)  # refused even for root, who could write it
    with pytest.raises(BatchRefused, match="read-only"):
        apply_plan(BatchStore(tmp_path / "home"), plan)
    assert _hashes(folder) == before


def test_full_disk_mid_batch_stops_says_what_changed_and_undo_restores(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "study"
    files = _files(folder, 6)
    before = _hashes(folder)
    store = BatchStore(tmp_path / "home")
    plan = plan_edits(files, _rename)
    real = batch_mod.write_temp
    calls = {"n": 0}

    def failing(tmp: Path, data: bytes, mode: int) -> int:
        calls["n"] += 1
        if calls["n"] == 4:  # the second chunk: the disk fills
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
        return real(tmp, data, mode)

    monkeypatch.setattr(batch_mod, "write_temp", failing)
    edits = [
        batch_mod.FileEdit(fp.path, producer(fp, plan.recipe, False), fp.stamp)
        for fp in plan.changing
    ]
    res = batch_mod.run_batch(store, edits, chunk=3)
    assert "No space left" in res.stopped
    assert res.changed == [str(p) for p in files[:3]]  # it says which files changed
    mid = _hashes(folder)
    assert set(mid) == set(before)  # the failed chunk's temps are gone
    assert [mid[p.name] != before[p.name] for p in files] == [True] * 3 + [False] * 3
    monkeypatch.setattr(batch_mod, "write_temp", real)
    undo = undo_batch(store)
    assert sorted(undo.restored) == sorted(res.changed)
    assert _hashes(folder) == before


def test_file_changed_since_load_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    files = _files(folder, 3)
    plan = plan_edits(files, _rename)
    data = files[1].read_bytes()
    files[1].write_bytes(data[:-2] + b"\x01\x02")  # another program wrote it
    changed = _hashes(folder)
    with pytest.raises(BatchRefused, match="changed on disk since it was loaded"):
        apply_plan(BatchStore(tmp_path / "home"), plan)
    assert _hashes(folder) == changed


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("PatientBirthDate=20241345", ["PatientBirthDate (0010,0030)", "DA"]),
        ("StudyDate=2024-13-45", ["StudyDate (0008,0020)", "DA"]),
        ("PatientID=" + "X" * 70, ["PatientID (0010,0020)", "at most 64"]),
        ("PatientName=Иванов^Иван", ["PatientName (0010,0010)", "ISO_IR 100", "cannot"]),
        ("PatientSex=male", ["PatientSex (0010,0040)", "CS"]),
        ("StudyInstanceUID=1.02.3", ["StudyInstanceUID", "UI"]),
        ("PatientID=A\\B", ["PatientID", "one value"]),
    ],
)
def test_invalid_values_exit_non_zero_name_the_rule_and_touch_nothing(
    tmp_path: Path, spec: str, words: list[str]
) -> None:
    folder = tmp_path / "study"
    _files(folder, 2, charset="ISO_IR 100")
    before = _hashes(folder)
    r = app_cli(tmp_path / "home", "tags", "set", str(folder), "-t", spec)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    for w in words:
        assert w in err
    assert "Traceback" not in err
    assert _hashes(folder) == before
    assert not (tmp_path / "home" / "editing" / "batches").exists()


def test_cli_set_sequence_path_dry_run_and_delete(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    files = _files(folder, 2)
    before = _hashes(folder)
    home = tmp_path / "home"
    r = app_cli(
        home,
        "tags",
        "set",
        str(folder),
        "-t",
        "ProcedureCodeSequence[0].CodeMeaning=CT CHEST",
        "--dry-run",
    )
    assert r.returncode == 0 and b"CT CHEST" in r.stdout
    assert _hashes(folder) == before
    r = app_cli(
        home,
        "tags",
        "set",
        *map(str, files),
        "-t",
        "ProcedureCodeSequence[0].CodeMeaning=CT CHEST",
        "-t",
        "0010,0020=X9",
    )
    assert r.returncode == 0, r.stderr
    r = app_cli(home, "tags", "show", str(files[0]), "--json")
    import json

    rows = {e["path"]: e for e in json.loads(r.stdout)["elements"]}
    assert rows["ProcedureCodeSequence[0].CodeMeaning"]["value"] == "CT CHEST"
    assert rows["PatientID"]["value"] == "X9"
    r = app_cli(home, "tags", "delete", str(files[0]), "-t", "ProcedureCodeSequence")
    assert r.returncode == 0, r.stderr
    assert b"ProcedureCodeSequence" not in app_cli(home, "tags", "show", str(files[0])).stdout
    assert app_cli(home, "undo").returncode == 0
    assert app_cli(home, "undo").returncode == 0
    assert _hashes(folder) == before
    assert app_cli(home, "undo").returncode == 2  # nothing left to undo


def test_damaged_file_shows_what_was_read(tmp_path: Path) -> None:
    f = _files(tmp_path, 1)[0]
    data = f.read_bytes()
    f.write_bytes(data[: len(data) - 100])
    r = app_cli(tmp_path / "home", "tags", "show", str(f))
    assert r.returncode == 1
    assert b"PatientName" in r.stdout and b"reading stopped" in r.stderr
    assert b"Traceback" not in r.stderr
    r = app_cli(tmp_path / "home", "tags", "set", str(f), "-t", "PatientID=X")
    assert r.returncode == 2 and b"cannot be saved" in r.stderr


def test_preamble_with_executable_header_is_flagged_and_zeroed(tmp_path: Path) -> None:
    from pacsadmin.core.editing import EditSession, load

    f = _files(tmp_path, 1)[0]
    data = bytearray(f.read_bytes())
    data[:2] = b"MZ"
    f.write_bytes(bytes(data))
    df = load(f)
    assert df.preamble_flag == "MZ" and "executable" in df.problems[0]
    s = EditSession(df)
    s.set("PatientID", "X")
    assert s.render()[:128] == b"\x00" * 128


def test_recovery_leaves_a_batch_another_process_is_running(tmp_path: Path) -> None:
    from pacsadmin.core.editing.journal import batch_lock
    from pacsadmin.core.editing.undo import recover

    folder = tmp_path / "study"
    files = _files(folder, 3)
    before = _hashes(folder)
    store = BatchStore(tmp_path / "home")
    res = apply_plan(store, plan_edits(files, _rename))
    journal = store.folder(res.batch_id) / "journal.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(x for x in lines if '"type": "end"' not in x) + "\n")
    edited = _hashes(folder)
    with batch_lock(store.folder(res.batch_id)):  # as the process running it would
        assert recover(store) == []
        assert _hashes(folder) == edited
        with pytest.raises(BatchRefused, match="another process"):
            undo_batch(store, res.batch_id)
    (done,) = recover(store)  # that process is gone: the unfinished batch is rolled back
    assert len(done.restored) == 3
    assert _hashes(folder) == before
    assert list_batches(store)[-1]["state"] == "rolled_back"


def test_charset_upgrade_converts_every_text_of_the_file(tmp_path: Path) -> None:
    import io

    import pydicom

    from pacsadmin.core.editing import EditRefused, EditSession, load

    f = write(
        make_ds(patient_name="MÜLLER^JÖRG", study_description="Schädel", charset="ISO_IR 100"),
        tmp_path / "a.dcm",
    )
    s = EditSession(load(f))
    with pytest.raises(EditRefused, match="ISO_IR 100"):
        s.set("ReferringPhysicianName", "Иванов^Иван")
    s = EditSession(load(f), upgrade_charset=True)
    s.set("ReferringPhysicianName", "Иванов^Иван")
    assert [c.path for c in s.preview()][:1] == ["SpecificCharacterSet"]
    ds = pydicom.dcmread(io.BytesIO(s.render()))
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert (str(ds.PatientName), ds.StudyDescription) == ("MÜLLER^JÖRG", "Schädel")
    assert str(ds.ReferringPhysicianName) == "Иванов^Иван"
    assert s.undo() and not s.edits  # the upgrade goes with the edit that needed it


def test_cli_edit_of_archive_files_updates_the_index(tmp_path: Path) -> None:
    import json

    home = tmp_path / "home"
    src = tmp_path / "src"
    _files(src, 2)
    assert app_cli(home, "archive", "import", str(src)).returncode == 0
    data = sorted((home / "archive" / "data").rglob("*.dcm"))
    assert len(data) == 2
    r = app_cli(home, "tags", "set", *map(str, data), "-t", "AccessionNumber=NEWACC")
    assert r.returncode == 0, r.stderr
    listing = json.loads(app_cli(home, "archive", "list", "--json").stdout)["studies"]
    assert [s["accession"] for s in listing] == ["NEWACC"] * len(listing)
    assert app_cli(home, "archive", "verify").returncode == 0
    assert app_cli(home, "undo").returncode == 0
    listing = json.loads(app_cli(home, "archive", "list", "--json").stdout)["studies"]
    assert [s["accession"] for s in listing] == ["ACC1"] * len(listing)
    assert app_cli(home, "archive", "verify").returncode == 0
