"""Anonymization (PS3.15 Annex E): no attribute the Basic Profile lists survives with its
value, each option keeps exactly what it says, UIDs and pseudonyms stay consistent across
a batch, Pixel Data is untouched, and files land only inside the new output folder."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from pacsadmin.core.anonymize import Options, anonymize, preview
from pacsadmin.core.anonymize.profile import action_for, rule
from pacsadmin.core.anonymize.table_e1 import TABLE
from pacsadmin.core.errors import ValidationError

CT = "1.2.840.10008.5.1.4.1.1.2"
NAME, PID = "Doe^Johnathan", "PID12345"


def _value(vr: str, tag: int):
    return {
        "DA": "20240315",
        "TM": "101112",
        "DT": "20240315101112",
        "AS": "045Y",
        "IS": "7",
        "DS": "7.5",
        "UI": f"1.2.3.{tag}",
        "US": 7,
        "SS": 7,
        "UL": 7,
        "SL": 7,
        "FL": 7.0,
        "FD": 7.0,
        "OB": b"\x01\x02",
        "OW": b"\x01\x02",
        "UN": b"\x01\x02",
        "AT": 0x00100010,
        "CS": "SECRET",
        "PN": "Secret^Person",
    }.get(vr, f"secret {tag:08X}")


def _listed_elements():
    """(tag, vr) of every exact tag of the table pydicom knows, outside the command and
    file meta groups and the special trailing elements."""
    out = []
    for tag_text, _, _ in TABLE:
        if "X" in tag_text:
            continue
        tag = int(tag_text, 16)
        if tag >> 16 in (0x0000, 0x0002, 0xFFFA, 0xFFFC):
            continue
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue
        out.append((tag, vr.split(" or ")[0]))
    return out


def _full_dataset(study: str, series: str, sop: str, name=NAME, pid=PID) -> Dataset:
    ds = Dataset()
    for tag, vr in _listed_elements():
        if vr == "SQ":
            item = Dataset()
            item.CodeValue = "SECRETCODE"
            item.CodeMeaning = "secret meaning"
            ds.add_new(tag, vr, Sequence([item]))
        else:
            ds.add_new(tag, vr, _value(vr, tag))
    ds.PatientName, ds.PatientID = name, pid
    ds.SOPClassUID, ds.SOPInstanceUID = CT, sop
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.Modality = "CT"
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.SamplesPerPixel = 1
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(range(32))
    ds.add_new(0x00110010, "LO", "ACME_PRIVATE")  # a private creator and its element
    ds.add_new(0x00111001, "LO", "private secret")
    ds.StudyDescription = f"Follow-up for {NAME} {PID}"
    return ds


def _write(ds: Dataset, path: Path) -> Path:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def study(tmp_path):
    st, se = generate_uid(), generate_uid()
    a = _full_dataset(st, se, generate_uid())
    b = _full_dataset(st, se, generate_uid())
    ref = Dataset()
    ref.ReferencedSOPClassUID = CT
    ref.ReferencedSOPInstanceUID = a.SOPInstanceUID
    b.ReferencedImageSequence = Sequence([ref])
    other = _full_dataset(generate_uid(), generate_uid(), generate_uid(), "Roe^Richard", "PID999")
    src = tmp_path / "in"
    files = [
        _write(a, src / "a.dcm"),
        _write(b, src / "b.dcm"),
        _write(other, src / "sub" / "c.dcm"),
    ]
    return src, files


def _outputs(result):
    return {Path(f.source).name: dcmread(f.output) for f in result.files if f.output}


def test_no_listed_attribute_survives_the_basic_profile(study, tmp_path):
    src, files = study
    result = anonymize([str(src)], tmp_path / "out", Options())
    assert result.written == 3 and not result.failed
    originals = {p.name: dcmread(p) for p in files}
    checked = 0
    for name, out in _outputs(result).items():
        orig = originals[name]
        for tag, _vr in _listed_elements():
            if tag not in orig:
                continue
            act = action_for(tag, Options())
            if act == "U*":  # kept: the references inside get new UIDs (checked below)
                continue
            if tag in out and act != "K":
                new = out[tag].value
                assert new != orig[tag].value or new in ("", None, []), (
                    f"{keyword_for_tag(tag)} survived ({act})"
                )
                if act == "X":
                    raise AssertionError(f"{keyword_for_tag(tag)} should be removed")
            checked += 1
        assert 0x00110010 not in out and 0x00111001 not in out  # private removed
        assert out.PatientIdentityRemoved == "YES"
        assert out.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        assert out.PixelData == orig.PixelData  # byte for byte
        assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
        assert NAME.split("^")[0] not in str(out.PatientName)
    assert checked > 300


def test_uids_and_pseudonyms_are_consistent_across_the_batch(study, tmp_path):
    src, _ = study
    out = _outputs(anonymize([str(src)], tmp_path / "out", Options()))
    a, b, c = out["a.dcm"], out["b.dcm"], out["c.dcm"]
    assert a.StudyInstanceUID == b.StudyInstanceUID != c.StudyInstanceUID
    assert a.StudyInstanceUID.startswith("2.25.")
    assert a.PatientID == b.PatientID == a.PatientName == "ANON0001"
    assert c.PatientID == "ANON0002"
    assert b.ReferencedImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert a.SOPInstanceUID != b.SOPInstanceUID


def test_each_option_keeps_what_it_says(study, tmp_path):
    src, files = study
    orig = dcmread(files[0])
    opts = Options(
        retain_device=True,
        retain_patient_characteristics=True,
        retain_institution=True,
        retain_uids=True,
        keep_private=True,
        clean_descriptors=True,
        shift_days=-10,
    )
    out = _outputs(anonymize([str(src)], tmp_path / "out", opts))["a.dcm"]
    assert out.SOPInstanceUID == orig.SOPInstanceUID  # retain UIDs
    assert out.StudyInstanceUID == orig.StudyInstanceUID
    assert out.DeviceSerialNumber == orig.DeviceSerialNumber  # retain device
    assert out.PatientSex == orig.PatientSex and out.PatientAge == orig.PatientAge
    assert out.InstitutionName == orig.InstitutionName  # retain institution
    assert out[0x00111001].value == "private secret"  # keep private
    want = (dt.date(2024, 3, 15) - dt.timedelta(days=10)).strftime("%Y%m%d")
    assert out.StudyDate == want and out.SeriesDate == want  # shifted
    assert out.StudyTime == orig.StudyTime  # times kept with modified dates
    assert out.StudyDescription == "Follow-up for * *"  # cleaned, not removed
    codes = {i.CodeValue for i in out.DeidentificationMethodCodeSequence}
    assert {"113100", "113105", "113107", "113108", "113109", "113110", "113111"} <= codes
    # and what the options do not name is still cleaned
    assert out.PatientID == "ANON0001" and out.get("PatientAddress") in (None, "")
    assert "OperatorsName" not in out or out.OperatorsName != orig.OperatorsName

    full = _outputs(anonymize([str(src)], tmp_path / "out2", Options(retain_full_dates=True)))
    assert full["a.dcm"].StudyDate == orig.StudyDate
    assert full["a.dcm"].SOPInstanceUID != orig.SOPInstanceUID


def test_the_table_reads_as_the_standard_says():
    assert rule(0x00100010)[0] == "Z"  # Patient's Name
    assert rule(0x00080018) == ("U", {"retain_uids": "K"})  # SOP Instance UID
    assert rule(0x60023000)[0] == "X"  # overlay data, a repeating group
    assert rule(0x00280010) is None  # Rows: not listed
    assert action_for(0x00080020, Options(retain_full_dates=True)) == "K"
    assert action_for(0x00080020, Options(shift_days=3)) == "C"
    assert action_for(0x00181000, Options()) == "D"  # X/Z/D -> D


def test_output_folder_rules(study, tmp_path):
    src, _ = study
    with pytest.raises(ValidationError, match="inside or around an input"):
        anonymize([str(src)], src / "out", Options())
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    with pytest.raises(ValidationError, match="not empty"):
        anonymize([str(src)], busy, Options())
    with pytest.raises(ValidationError, match="one"):
        anonymize([str(src)], tmp_path / "o", Options(retain_full_dates=True, shift_days=1))
    assert not (tmp_path / "o").exists()


def test_hostile_uids_cannot_steer_the_output(tmp_path):
    ds = _full_dataset("../../etc", "../..", "../../../evil")
    _write(ds, tmp_path / "in" / "x.dcm")
    out = tmp_path / "out"
    result = anonymize([str(tmp_path / "in")], out, Options(retain_uids=True))
    assert result.written == 1
    written = Path(result.files[0].output).resolve()
    assert out.resolve() in written.parents
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


def test_non_dicom_damaged_and_dicomdir_are_skipped(study, tmp_path):
    src, files = study
    (src / "notes.txt").write_text("not dicom")
    data = files[0].read_bytes()
    (src / "truncated.dcm").write_bytes(data[: len(data) // 3])
    shutil.copy(files[1], src / "copy.dcm")
    result = anonymize([str(src), str(tmp_path / "missing")], tmp_path / "out", Options())
    states = {Path(f.source).name: (f.state, f.reason) for f in result.files}
    assert states["notes.txt"][0] == "skipped"
    assert states["missing"] == ("skipped", "no such file or folder")
    assert states["copy.dcm"][0] == "written"
    assert states["truncated.dcm"][0] in ("skipped", "written", "failed")
    assert states["truncated.dcm"][1] or states["truncated.dcm"][0] == "written"
    assert result.written >= 4


def test_preview_changes_nothing(study):
    _, files = study
    before = files[0].read_bytes()
    changes, _ = preview(files[0], Options())
    assert any(c.keyword == "PatientName" and c.new == "ANON0001" for c in changes)
    assert any(c.action == "removed" for c in changes)
    assert files[0].read_bytes() == before


def _cli(home, *args):
    env = {**os.environ, "PACSADMIN_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "pacsadmin", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_exit_codes_and_audit(study, tmp_path):
    src, _ = study
    home = tmp_path / "home"
    r = _cli(home, "anonymize", str(src), "-o", str(tmp_path / "out"), "--shift-dates", "5")
    assert r.returncode == 0, r.stderr
    assert "3 file(s) of 2 patient(s)" in r.stdout
    assert "Doe" not in r.stdout + r.stderr and PID not in r.stdout + r.stderr
    r = _cli(home, "anonymize", str(src), "-o", str(tmp_path / "out"))
    assert r.returncode == 2 and "not empty" in r.stderr
    r = _cli(home, "anonymize", str(src), "-o", str(tmp_path / "o2"), "--prefix", "bad prefix!")
    assert r.returncode == 2 and "prefix" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _cli(home, "anonymize", str(empty), "-o", str(tmp_path / "o3"))
    assert r.returncode == 1
    r = _cli(home, "anonymize", str(src), "-o", str(tmp_path / "o4"), "--dry-run", "--json")
    assert r.returncode == 0 and not (tmp_path / "o4").exists()
    assert any(c["keyword"] == "PatientName" for c in json.loads(r.stdout))
    r = _cli(home, "audit", "--json")
    entries = json.loads(r.stdout)
    anon = [e for e in entries if e["action"] == "anonymize"]
    assert anon and PID in json.dumps(anon[-1])  # the key back: in the audit log only
