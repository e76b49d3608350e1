"""A study of the local archive corrected through the archive: the index and a C-FIND to
the app's own Q/R SCP show the new values at once, `archive verify` stays clean, undo
brings the old ones back."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread

from pacsadmin.core.editing.archive_link import reindex
from pacsadmin.core.editing.batch import BatchStore, undo_batch
from pacsadmin.core.editing.correction import (
    Correction,
    PatientFields,
    StudyFields,
    UidPolicy,
    apply_correction,
    patient_studies,
    plan_correction,
)
from tests.conftest import SCP_AET
from tests.unit.archive.dsgen import make_ds, write


def _findscu(port: int, cwd: Path, keys: list[str]) -> list:
    for old in cwd.glob("rsp*.dcm"):
        old.unlink()
    argv = ["findscu", "-S", "-aet", "FINDSCU", "-aec", SCP_AET, "-X"]
    for k in keys:
        argv += ["-k", k]
    argv += ["127.0.0.1", str(port)]
    try:
        p = subprocess.run(
            argv, cwd=cwd, capture_output=True, timeout=60, env={**os.environ, "TCP_NODELAY": "1"}
        )
    except FileNotFoundError:
        pytest.skip("findscu (dcmtk) is not installed")
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return [dcmread(f) for f in sorted(cwd.glob("rsp*.dcm"))]


@pytest.mark.parametrize("policy", [UidPolicy.KEEP, UidPolicy.NEW])
def test_correct_an_archive_study(archive, start_scp, tmp_path: Path, policy: UidPolicy) -> None:
    src = tmp_path / "src"
    studies = {}
    for tag, pid in (("A", "WRONG"), ("B", "WRONG"), ("C", "OTHER")):
        study = make_ds().StudyInstanceUID
        studies[tag] = study
        for i in range(3):
            ds = make_ds(
                patient_name="WRONG^PATIENT" if pid == "WRONG" else "OTHER^ONE",
                patient_id=pid,
                study_uid=study,
                accession=f"ACC-{tag}",
                instance_number=i,
                seed=i,
            )
            archive.add_file(write(ds, src / f"{tag}{i}.dcm"))
    paths = [archive.path_of(r) for _, r in archive.instance_paths("study", [studies["A"]])]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    c = Correction(
        patient=PatientFields(name="RIGHT^PATIENT", id="RIGHT"),
        study=StudyFields(accession="ACC-FIXED"),
        uid_policy=policy,
    )
    cp = plan_correction(c, archive=archive, study_uids=[studies["A"]])
    assert not cp.refused and len(cp.files) == 3
    assert [s["study_uid"] for s in cp.other_studies] == [studies["B"]]
    assert cp.warnings and "other study" in cp.warnings[0]
    assert sorted(patient_studies(archive, "WRONG")) == sorted([studies["A"], studies["B"]])
    store = BatchStore(tmp_path / "home")
    res = apply_correction(cp, store, archive=archive)
    assert res.ok and len(res.changed) == 3
    rows = {s["accession"]: s for s in archive.studies()}
    assert rows["ACC-FIXED"]["patient_id"] == "RIGHT"
    assert rows["ACC-FIXED"]["patient_name"] == "RIGHT^PATIENT"
    assert rows["ACC-FIXED"]["instances"] == 3
    assert rows["ACC-B"]["patient_id"] == "WRONG"
    new_study = cp.uid_map.get(studies["A"], studies["A"])
    assert rows["ACC-FIXED"]["study_uid"] == new_study
    assert archive.verify().ok
    scp = start_scp()
    cwd = tmp_path / "find"
    cwd.mkdir()
    r = _findscu(
        scp.port,
        cwd,
        [
            "QueryRetrieveLevel=STUDY",
            "PatientID=RIGHT",
            "PatientName",
            "AccessionNumber",
            "StudyInstanceUID",
        ],
    )
    assert [(x.PatientName, x.AccessionNumber, x.StudyInstanceUID) for x in r] == [
        ("RIGHT^PATIENT", "ACC-FIXED", new_study)
    ]
    r = _findscu(scp.port, cwd, ["QueryRetrieveLevel=STUDY", "PatientID=WRONG", "AccessionNumber"])
    assert sorted(x.AccessionNumber for x in r) == ["ACC-B"]
    # undo: the files byte-exact, the index and Q/R back to the old values
    undo = undo_batch(store, on_restored=lambda rels: reindex(archive, rels))
    assert len(undo.restored) == 3
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths} == before
    r = _findscu(scp.port, cwd, ["QueryRetrieveLevel=STUDY", "PatientID=WRONG", "AccessionNumber"])
    assert sorted(x.AccessionNumber for x in r) == ["ACC-A", "ACC-B"]
    assert archive.verify().ok
