"""Grouping, sorting along the slice normal, and series QC."""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.uid import CTImageStorage, generate_uid

from pacsadmin.core.imaging.series import qc, scan, sort_instances

from .conftest import make_ds, sample, save


def _ct_series(tmp_path, n=10, skip=(), *, orientation=(1, 0, 0, 0, 1, 0), spacing=2.5):
    series_uid, study_uid = generate_uid(), generate_uid()
    normal = np.cross(orientation[:3], orientation[3:])
    paths = []
    for k in range(n):
        if k in skip:
            continue
        arr = np.full((8, 8), k, dtype=np.int16)
        ds = make_ds(
            arr,
            Modality="CT",
            RescaleSlope=1,
            RescaleIntercept=-1024,
            PixelSpacing=[0.7, 0.7],
            ImageOrientationPatient=list(orientation),
        )
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SeriesInstanceUID, ds.StudyInstanceUID = series_uid, study_uid
        ds.SeriesDescription = "AXIAL"
        # instance numbers run opposite to position to prove position wins
        ds.InstanceNumber = n - k
        ds.ImagePositionPatient = [float(v) for v in (-100, -100, 0) + normal * spacing * k]
        # file names in neither order
        paths.append(save(ds, tmp_path / f"f{(k * 7) % n:03d}_{k}.dcm"))
    return paths


def test_sorted_along_the_slice_normal_and_clean_series_has_no_findings(tmp_path):
    _ct_series(tmp_path)
    result = scan([tmp_path])
    assert result.errors == [] and len(result.series) == 1
    s = result.series[0]
    assert s.sorted_by == "position along the slice normal"
    assert [i.position[2] for i in s.instances] == [2.5 * k for k in range(10)]
    assert s.description == "CT AXIAL (10 images)"
    assert qc(s) == []


def test_oblique_sagittal_normal(tmp_path):
    # sagittal: rows along y, columns along -z; the normal (row x column) is -x, and the
    # slices step along it: sorted by distance along the normal, x falls
    _ct_series(tmp_path, n=5, orientation=(0, 1, 0, 0, 0, -1))
    s = scan([tmp_path]).series[0]
    assert [round(i.position[0], 3) for i in s.instances] == [-100 - 2.5 * k for k in range(5)]
    assert qc(s) == []


def test_missing_slices_by_position_and_instance_number(tmp_path):
    _ct_series(tmp_path, skip=(4, 5))
    findings = qc(scan([tmp_path]).series[0])
    codes = [f.code for f in findings]
    assert "missing-slice" in codes and "missing-instance-number" in codes
    gap = next(f for f in findings if f.code == "missing-slice")
    assert "gap of 7.50 mm" in gap.message and "about 2 slice(s) missing" in gap.message
    nums = next(f for f in findings if f.code == "missing-instance-number")
    assert nums.message.endswith("5-6")


def test_duplicates_inconsistencies_burned_in_and_bad_files(tmp_path):
    paths = _ct_series(tmp_path, n=6)
    ds = pydicom.dcmread(paths[0])
    save(ds, tmp_path / "copy_of_first.dcm")  # same SOP instance, same position
    ds = pydicom.dcmread(paths[1])
    ds.PixelSpacing = [0.5, 0.5]
    ds.RescaleIntercept = -1000
    ds.BurnedInAnnotation = "YES"
    save(ds, paths[1])
    ds = pydicom.dcmread(paths[2])
    ds.Rows = 16  # lies: 16 x 8 needs 256 bytes, holds 128
    save(ds, paths[2])
    (tmp_path / "notes.txt").write_text("not dicom")
    result = scan([tmp_path, sample("test-SR.dcm")])
    assert [p.endswith("notes.txt") for p, _ in result.errors] == [True]
    image_series = next(s for s in result.series if s.instances[0].modality == "CT")
    findings = qc(image_series)
    codes = {f.code for f in findings}
    assert {
        "duplicate-sop",
        "duplicate-position",
        "inconsistent-pixel-spacing",
        "inconsistent-rescale",
        "inconsistent-size",
        "burned-in",
        "pixel-length",
    } <= codes
    length = next(f for f in findings if f.code == "pixel-length")
    assert length.severity == "error" and "inconsistent image geometry" in length.message
    assert findings[0].severity == "error"
    sr = [s for s in result.series if s.instances[0].modality == "SR"]
    assert len(sr) == 1 and not sr[0].instances[0].has_pixels


def test_instance_number_order_without_positions(tmp_path):
    infos = []
    for n in (3, 1, 2):
        ds = make_ds(np.zeros((4, 4), np.uint8), InstanceNumber=n)
        infos.append(save(ds, tmp_path / f"{n}.dcm"))
    s = scan([tmp_path]).series
    assert len(s) == 3  # each make_ds has its own series UID
    ordered, how = sort_instances([x.instances[0] for x in s])
    assert how == "instance number" and [i.instance_number for i in ordered] == [1, 2, 3]


def test_dicomdir_is_followed_and_references_outside_are_refused(tmp_path):
    import os
    import shutil

    src = os.path.dirname(sample("dicomdirtests/DICOMDIR"))
    root = tmp_path / "cd"
    shutil.copytree(src, root)
    result = scan([root / "DICOMDIR"])
    assert result.errors == []
    n_files = sum(len(s.instances) for s in result.series)
    assert n_files > 0 and all(
        i.path.startswith(str(root)) for s in result.series for i in s.instances
    )
    # a hostile DICOMDIR: one reference climbs out of the folder
    ds = pydicom.dcmread(root / "DICOMDIR")
    recs = [r for r in ds.DirectoryRecordSequence if "ReferencedFileID" in r]
    recs[0].ReferencedFileID = ["..", "..", "etc", "passwd"]
    recs[1].ReferencedFileID = ["NOPE", "GONE"]
    ds.save_as(root / "DICOMDIR")
    result = scan([root / "DICOMDIR"])
    problems = dict(result.errors)
    assert problems["..\\..\\etc\\passwd"].startswith("the DICOMDIR points outside its folder")
    assert "missing" in problems["NOPE\\GONE"]
    assert sum(len(s.instances) for s in result.series) == n_files - 2


def test_enhanced_multiframe_missing_frame_positions(tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    frames = np.zeros((5, 4, 4), dtype=np.int16)
    ds = make_ds(frames, frames=5)
    ori = Dataset()
    ori.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared = Dataset()
    shared.PlaneOrientationSequence = Sequence([ori])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    for z in (0.0, 1.0, 2.0, 5.0, 6.0):  # frames for z = 3 and 4 are missing
        item, pos = Dataset(), Dataset()
        pos.ImagePositionPatient = [0, 0, z]
        item.PlanePositionSequence = Sequence([pos])
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    save(ds, tmp_path / "enh.dcm")
    s = scan([tmp_path]).series[0]
    assert s.instances[0].frame_positions[3] == (0.0, 0.0, 5.0)
    gap = next(f for f in qc(s) if f.code == "missing-slice")
    assert "gap of 3.00 mm" in gap.message and "about 2 slice(s) missing" in gap.message
    assert gap.paths[0].endswith("enh.dcm frame 3")
