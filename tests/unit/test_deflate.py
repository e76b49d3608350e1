"""Deflated files: the bounded inflate check and the header copy pydicom parses instead.

The bombs are built with zlib directly, never holding what they inflate to: one block of
compressed zeros ended with a full flush is repeated (after a full flush the compressor
starts afresh, so every such block is the same bytes).
"""

from __future__ import annotations

import io
import tracemalloc
import zlib
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import DeflatedExplicitVRLittleEndian

from pacsadmin.core import deflate
from pacsadmin.core.archive.meta import read_meta
from tests.unit.archive.dsgen import make_ds

MiB = 1 << 20


def deflated_bytes(ds: Dataset) -> bytes:
    """``ds`` as a Deflated Explicit VR Little Endian Part 10 file, written by pydicom."""
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def bomb(zeros: int, ds: Dataset | None = None) -> bytes:
    """A deflated file whose Pixel Data (OB) holds ``zeros`` zero bytes: a few KB per
    MiB inflated (about 1:1000).  Its header is ``ds`` (a small image's, by default)."""
    ds = ds or make_ds()
    del ds.PixelData
    small = deflated_bytes(ds)
    offset = deflate.deflated_offset(io.BytesIO(small))
    assert offset is not None
    header = zlib.decompress(small[offset:], -zlib.MAX_WBITS)
    pixel = b"\xe0\x7f\x10\x00OB\x00\x00" + zeros.to_bytes(4, "little")
    z = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = [small[:offset], z.compress(header + pixel), z.flush(zlib.Z_FULL_FLUSH)]
    block = z.compress(bytes(MiB)) + z.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(zeros, MiB)
    out.append(block * whole)
    out += [z.compress(bytes(rest)), z.flush()]
    return b"".join(out)


def test_bomb_builder_inflates_to_what_it_says():
    data = bomb(5 * MiB + 7)
    offset = deflate.deflated_offset(io.BytesIO(data))
    inflated = zlib.decompress(data[offset:], -zlib.MAX_WBITS)
    assert inflated.endswith(bytes(5 * MiB + 7)) and len(data) < 20_000
    assert dcmread(io.BytesIO(data)).PixelData == bytes(5 * MiB + 7)


def test_normal_deflated_file(tmp_path):
    ds = make_ds(patient_name="DEFLATE^NORMAL")
    data = deflated_bytes(ds)
    path = tmp_path / "normal.dcm"
    path.write_bytes(data)
    info = deflate.check(path)
    assert info is not None
    assert info.offset + info.compressed == len(data)
    assert info.inflated == len(zlib.decompress(data[info.offset :], -zlib.MAX_WBITS))
    # the header copy stops before the pixels, and parses like the file itself
    header = dcmread(deflate.guard(path), stop_before_pixels=True)
    full = dcmread(path, stop_before_pixels=True)
    assert header == full and "PixelData" not in header
    assert header.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    assert dcmread(deflate.guard(io.BytesIO(data)), stop_before_pixels=True) == full


def test_not_deflated_is_passed_through(tmp_path):
    path = tmp_path / "plain.dcm"
    make_ds().save_as(path, enforce_file_format=True)
    assert deflate.guard(path) is path
    assert deflate.check(path) is None
    fh = io.BytesIO(b"junk" + path.read_bytes())
    fh.seek(4)
    assert deflate.guard(fh) is fh and fh.tell() == 4
    text = io.BytesIO(b"not DICOM at all" * 100)
    assert deflate.guard(text) is text


def test_limit_refuses_a_bomb():
    data = bomb(40 * MiB)
    assert len(data) < 100_000
    with pytest.raises(deflate.DeflateBomb) as e:
        deflate.check(io.BytesIO(data), limit=32 * MiB)
    assert isinstance(e.value, ValueError)
    assert str(e.value) == "deflated data set inflates past 32 MiB: refused (deflate bomb?)"
    assert deflate.check(io.BytesIO(data), limit=41 * MiB).inflated > 40 * MiB


def test_default_limit_refuses_a_real_bomb_in_bounded_memory():
    """3 MB that inflate to 3 GiB: refused at 1 GiB, holding a few MiB at a time."""
    data = bomb(3 << 30)
    assert len(data) < 4 * MiB
    tracemalloc.start()
    try:
        with pytest.raises(deflate.DeflateBomb, match="past 1 GiB"):
            deflate.guard(io.BytesIO(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * MiB, peak


def test_corrupt_stream():
    data = bytearray(deflated_bytes(make_ds()))
    offset = deflate.deflated_offset(io.BytesIO(bytes(data)))
    data[offset:] = b"\xff" * (len(data) - offset)  # block type 3: invalid
    with pytest.raises(deflate.DeflateCorrupt, match="corrupt"):
        deflate.check(io.BytesIO(bytes(data)))


def test_truncated_stream(tmp_path):
    data = bomb(3 * MiB)
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(deflate.DeflateCorrupt, match="truncated"):
        deflate.guard(path)


def test_large_sequence_before_the_uids_is_left_out_of_the_header():
    """A 30 MB sequence sorted before PatientName/StudyInstanceUID: the header copy drops
    it (too large) and keeps the elements after it."""
    ds = make_ds(patient_name="AFTER^SEQUENCE")
    items = []
    for _ in range(3000):
        item = Dataset()
        item.add_new(0x00091010, "OB", bytes(range(256)) * 40)
        items.append(item)
    ds.ReferencedImageSequence = Sequence(items)
    data = deflated_bytes(ds)
    info = deflate.check(io.BytesIO(data))
    assert info is not None and info.inflated > 29 * MiB
    assert len(info.header) < deflate.ELEMENT_CAP
    header = dcmread(deflate.guard(io.BytesIO(data)), stop_before_pixels=True)
    assert str(header.PatientName) == "AFTER^SEQUENCE"
    assert header.StudyInstanceUID == ds.StudyInstanceUID
    assert "ReferencedImageSequence" not in header
    # a small sequence (of undefined length, as pydicom writes it) is kept
    ds.ReferencedImageSequence = Sequence(items[:3])
    header = dcmread(deflate.guard(io.BytesIO(deflated_bytes(ds))), stop_before_pixels=True)
    assert len(header.ReferencedImageSequence) == 3


def test_deep_nesting_does_not_recurse_without_bound():
    ds = make_ds()
    inner = Dataset()
    inner.PatientID = "DEEP"
    for _ in range(200):
        outer = Dataset()
        outer.ReferencedImageSequence = Sequence([inner])
        inner = outer
    ds.ReferencedStudySequence = Sequence([inner])
    data = deflated_bytes(ds)
    info = deflate.check(io.BytesIO(data))
    assert info is not None  # the copy stops at the nesting cap; the check goes on


def test_meta_group_longer_than_the_fast_look(tmp_path: Path):
    """A file meta group past the first 4 KiB: pydicom decides, and the file is found
    deflated (the fast look never answers "not deflated" when unsure)."""
    ds = make_ds()
    ds.file_meta.FileMetaInformationVersion = b"\x00\x01" * 3000
    data = deflated_bytes(ds)
    assert data.index(DeflatedExplicitVRLittleEndian.encode()) > 4096
    info = deflate.check(io.BytesIO(data))
    assert info is not None and info.offset > 6000
    with pytest.raises(deflate.DeflateBomb):
        deflate.check(io.BytesIO(data), limit=100)


# ------------------------------------------------------------------ wired into read_meta
def test_read_meta_goes_through_the_check(monkeypatch, tmp_path):
    """What the SCP (Archive.ingest), import and verify parse with: a bomb and a broken
    stream are refused before pydicom sees them; a deflated header is read in full."""
    monkeypatch.setattr(deflate, "MAX_INFLATED", 32 * MiB)  # read at call time
    data = bomb(40 * MiB)
    with pytest.raises(deflate.DeflateBomb, match="past 32 MiB"):
        read_meta(io.BytesIO(data))
    path = tmp_path / "bomb.dcm"
    path.write_bytes(data)
    with pytest.raises(deflate.DeflateBomb):
        read_meta(path)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(deflate.DeflateCorrupt, match="truncated"):
        read_meta(path)
    ds = make_ds(patient_name="DEFLATE^META")
    item = Dataset()
    item.add_new(0x00091010, "OB", bytes(2 * MiB))  # left out of the header copy
    ds.ReferencedImageSequence = Sequence([item])
    path.write_bytes(deflated_bytes(ds))
    m = read_meta(path)
    assert (m.sop_instance_uid, m.study_uid, m.series_uid) == (
        ds.SOPInstanceUID,
        ds.StudyInstanceUID,
        ds.SeriesInstanceUID,
    )
    assert m.transfer_syntax == DeflatedExplicitVRLittleEndian
    assert m.patient_name == "DEFLATE^META" and (m.rows, m.columns) == (16, 16)
    assert read_meta(io.BytesIO(path.read_bytes())) == m
