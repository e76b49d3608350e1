"""The send tool's pure parts: inputs expanded (folders, DICOMDIRs and their escapes),
headers inspected (not DICOM, truncated), contexts planned (128 an association)."""

from __future__ import annotations

import pytest
from pydicom import dcmread
from pydicom.fileset import FileSet
from pydicom.uid import JPEG2000Lossless, generate_uid

from pacsadmin.core.dimse.send_files import SendItem, Skipped, collect, inspect, truncation
from pacsadmin.core.dimse.send_plan import MAX_CONTEXTS, plan
from tests.unit.archive.dsgen import make_ds, write

EXPLICIT = "1.2.840.10008.1.2.1"


def _item(sop: str, ts: str = EXPLICIT, n: int = 0) -> SendItem:
    return SendItem(f"/f{sop}-{ts}-{n}", sop, generate_uid(), ts, 100)


def test_plan_one_context_per_pair_and_128_an_association():
    items = [_item(f"1.2.3.{i}") for i in range(300)] + [_item("1.2.3.0", n=1)]
    batches = plan(items, decompress=False)
    assert [len(b.pairs) for b in batches] == [128, 128, 44]
    assert sum(len(b.items) for b in batches) == 301
    assert items[-1] in batches[0].items  # with the first file of its pair
    for b in batches:
        assert all((i.sop_class, i.transfer_syntax) in b.pairs for i in b.items)


def test_plan_adds_the_explicit_fallback_beside_a_compressed_pair():
    items = [_item(f"1.2.3.{i}") for i in range(127)] + [_item("1.2.9", JPEG2000Lossless)]
    batches = plan(items, decompress=True)
    j2k = batches[-1]
    assert ("1.2.9", JPEG2000Lossless) in j2k.pairs and ("1.2.9", EXPLICIT) in j2k.pairs
    assert all(len(b.pairs) <= MAX_CONTEXTS for b in batches)
    assert plan(items, decompress=False)[0].pairs[-1] == ("1.2.9", JPEG2000Lossless)


def test_inspect_reads_the_header_and_names_what_is_wrong(tmp_path):
    good = write(make_ds(), tmp_path / "good.dcm")
    got = inspect(str(good))
    assert isinstance(got, SendItem) and got.transfer_syntax == EXPLICIT
    assert got.sop_instance == dcmread(good).SOPInstanceUID
    (tmp_path / "text.dcm").write_text("hello")
    assert "Not a DICOM file" in inspect(str(tmp_path / "text.dcm")).reason
    data = good.read_bytes()
    for cut in (len(data) - 1, len(data) - 300, 400):
        (tmp_path / "cut.dcm").write_bytes(data[:cut])
        got = inspect(str(tmp_path / "cut.dcm"))
        assert isinstance(got, Skipped), cut
    assert truncation(str(good), good.stat().st_size) is None


def test_truncated_encapsulated_pixel_data_is_found(tmp_path):
    from pydicom.uid import RLELossless

    f = write(make_ds(transfer_syntax=RLELossless), tmp_path / "rle.dcm")
    assert isinstance(inspect(str(f)), SendItem)
    data = f.read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[:-20])
    assert "truncated" in inspect(str(tmp_path / "cut.dcm")).reason


def _fileset(tmp_path, n=2):
    fs = FileSet()
    for i in range(n):
        fs.add(make_ds(seed=i, instance_number=i + 1))
    fs.write(tmp_path / "cd")
    return tmp_path / "cd" / "DICOMDIR"


def test_dicomdir_is_followed_and_a_folder_with_one_is_too(tmp_path):
    dicomdir = _fileset(tmp_path)
    (tmp_path / "cd" / "stray.txt").write_text("not referenced")
    for source in (dicomdir, tmp_path / "cd"):
        items, skipped = collect([source])
        assert len(items) == 2 and skipped == [], (source, skipped)


@pytest.mark.filterwarnings("ignore:Invalid value for VR CS")  # the hostile ".." itself
def test_dicomdir_reference_outside_its_folder_is_refused(tmp_path):
    dicomdir = _fileset(tmp_path, 1)
    outside = write(make_ds(), tmp_path / "secret.dcm")
    ds = dcmread(dicomdir)
    for rec in ds.DirectoryRecordSequence:
        if "ReferencedFileID" in rec:
            rec.ReferencedFileID = ["..", outside.name]
    ds.save_as(dicomdir)
    items, skipped = collect([dicomdir])
    assert items == []
    assert [s.reason for s in skipped] == ["Refused: the DICOMDIR points outside its own folder."]


@pytest.mark.parametrize("name", ["missing.dcm"])
def test_missing_input_is_reported(tmp_path, name):
    items, skipped = collect([tmp_path / name])
    assert items == [] and skipped[0].reason == "No such file or folder."
