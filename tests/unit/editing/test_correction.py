"""The correction workflow: preview, Original Attributes Sequence, UID policy, audit."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pydicom
import pytest

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.editing.batch import BatchStore, undo_batch
from pacsadmin.core.editing.correction import (
    Correction,
    PatientFields,
    StudyFields,
    UidPolicy,
    apply_correction,
    plan_correction,
)
from pacsadmin.core.editing.session import EditRefused
from tests.unit.archive.dsgen import make_ds, write


def _study(folder: Path, n: int = 3) -> list[Path]:
    study, series = "1.2.826.0.1.3680043.8.498.7", "1.2.826.0.1.3680043.8.498.7.1"
    out = []
    for i in range(n):
        ds = make_ds(study_uid=study, series_uid=series, instance_number=i, seed=i)
        if i == 2:  # a reference inside the study, to an instance of it
            ref = pydicom.Dataset()
            ref.ReferencedSOPClassUID = ds.SOPClassUID
            ref.ReferencedSOPInstanceUID = pydicom.dcmread(out[0]).SOPInstanceUID
            ds.ReferencedImageSequence = [ref]
        out.append(write(ds, folder / f"im{i}.dcm"))
    return out


def test_keep_uids_preview_original_attributes_and_audit(tmp_path: Path) -> None:
    files = _study(tmp_path / "s")
    c = Correction(
        patient=PatientFields(name="RIGHT^NAME", id="P-RIGHT", birth_date="19800202"),
        study=StudyFields(accession="ACC-9", description="CT THORAX"),
    )
    cp = plan_correction(c, files=files)
    assert not cp.refused and len(cp.files) == 3
    diff = {ch.path: (ch.old, ch.new) for ch in cp.files[0].changes}
    assert diff["PatientName"] == ("DOE^JOHN", "RIGHT^NAME")
    assert diff["AccessionNumber"] == ("ACC1", "ACC-9")
    assert any("may ignore or reject" in n for n in cp.notes)
    main = [ch.path for ch in cp.files[0].changes if not ch.is_record]
    assert main == [
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "AccessionNumber",
        "StudyDescription",
    ]
    audit = AuditLog(tmp_path / "audit.sqlite3")
    store = BatchStore(tmp_path / "home")
    before = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    res = apply_correction(cp, store, audit=audit)
    assert res.ok and len(res.changed) == 3
    for f in files:
        ds = pydicom.dcmread(f)
        assert (ds.PatientName, ds.PatientID, ds.AccessionNumber) == (
            "RIGHT^NAME",
            "P-RIGHT",
            "ACC-9",
        )
        item = ds.OriginalAttributesSequence[-1]
        assert item.ReasonForTheAttributeModification == "CORRECT"
        assert item.ModifyingSystem == "pacsadmin"
        old = item.ModifiedAttributesSequence[0]
        assert (old.PatientName, old.PatientID, old.AccessionNumber) == ("DOE^JOHN", "PID1", "ACC1")
        assert old.PatientBirthDate == "19700101"
    entry = audit.entries(action="edit")[0]
    assert entry.details["correction"]["fields"]["PatientName"] == "RIGHT^NAME"
    f0 = entry.details["files"][0]
    assert {"path": "PatientID", "tag": "00100020", "old": "PID1", "new": "P-RIGHT"} in f0[
        "changes"
    ]
    undo_batch(store)
    assert [hashlib.sha256(f.read_bytes()).hexdigest() for f in files] == before


def test_new_uids_keep_the_study_consistent(tmp_path: Path) -> None:
    files = _study(tmp_path / "s")
    old = [pydicom.dcmread(f) for f in files]
    cp = plan_correction(
        Correction(patient=PatientFields(id="P7"), uid_policy=UidPolicy.NEW), files=files
    )
    res = apply_correction(cp, BatchStore(tmp_path / "home"))
    assert res.ok
    new = [pydicom.dcmread(f) for f in files]
    assert len({d.StudyInstanceUID for d in new}) == 1
    assert new[0].StudyInstanceUID != old[0].StudyInstanceUID
    assert new[0].SeriesInstanceUID == new[1].SeriesInstanceUID != old[0].SeriesInstanceUID
    for o, n in zip(old, new, strict=True):
        assert n.SOPInstanceUID == cp.uid_map[o.SOPInstanceUID]
        assert n.file_meta.MediaStorageSOPInstanceUID == n.SOPInstanceUID
        kept = n.OriginalAttributesSequence[0].ModifiedAttributesSequence[0]
        assert kept.SOPInstanceUID == o.SOPInstanceUID
        assert n.PixelData == o.PixelData
    ref = new[2].ReferencedImageSequence[0].ReferencedSOPInstanceUID
    assert ref == new[0].SOPInstanceUID  # the reference follows the instance
    assert new[2].ReferencedImageSequence[0].ReferencedSOPClassUID == old[2].SOPClassUID


def test_an_invalid_field_refuses_the_whole_plan(tmp_path: Path) -> None:
    files = _study(tmp_path / "s")
    cp = plan_correction(Correction(study=StudyFields(date="20241345")), files=files)
    assert len(cp.refused) == 3 and "DA" in cp.refused[0][1]
    with pytest.raises(Exception, match="nothing was changed"):
        apply_correction(cp, BatchStore(tmp_path / "home"))


def test_session_undo_redo(tmp_path: Path) -> None:
    from pacsadmin.core.editing import EditSession, load

    f = _study(tmp_path / "s", 1)[0]
    s = EditSession(load(f))
    s.set("PatientID", "A")
    s.set("StudyDescription", "B")
    with pytest.raises(EditRefused) as e:
        s.set("StudyDate", "2024-13-45")
    assert e.value.problems[0].rule == "DA length" or "DA" in e.value.problems[0].rule
    assert len(s.edits) == 2
    assert s.undo() and [c.path for c in s.preview()] == ["PatientID"]
    assert s.redo() and len(s.preview()) == 2
    idx = s.add_item("ProcedureCodeSequence")
    s.set(f"ProcedureCodeSequence[{idx}].CodeValue", "X1")
    s.remove_item("ProcedureCodeSequence", idx)
    ds = pydicom.dcmread(io.BytesIO(s.render()))
    assert ds.PatientID == "A" and len(ds.ProcedureCodeSequence) == 0
