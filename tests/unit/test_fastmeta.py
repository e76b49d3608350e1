"""The fast header reader equals pydicom's read_meta, or declines; never crashes.

Property: for every file, ``fastmeta.parse(bytes)`` is None (declined: the caller asks
pydicom) or equals ``meta.read_meta_pydicom(file)``; when pydicom raises, it declines.
Also the import pipeline that uses it: disk full, cancel, no partial files.
"""

from __future__ import annotations

import errno
import io
import random
import struct
import threading
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    generate_uid,
)

from pacsadmin.core.archive import fastmeta, importer, meta
from pacsadmin.core.archive.archive import Archive

PYDICOM_DATA = Path(__import__("pydicom.data", fromlist=["x"]).__file__).parent


def reference(src) -> dict | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return asdict(meta.read_meta_pydicom(src))
        except Exception:
            return None


def check(data: bytes, ref: dict | None, *, complete: bool = True) -> bool:
    """The property; True when the fast path answered."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = fastmeta.parse(data, complete=complete)
    if got is None:
        return False
    assert ref is not None, "fast path accepted a file pydicom refuses"
    assert asdict(got) == ref
    return True


# ------------------------------------------------------------------ tables
def test_tags_are_pydicoms():
    from pydicom.datadict import keyword_for_tag

    tables = fastmeta._UIDS + fastmeta._TEXT + fastmeta._IS + fastmeta._US
    fields = {f.name for f in meta.InstanceMeta.__dataclass_fields__.values()}
    assert {name for name, _ in tables} | {"transfer_syntax", "charset"} == fields
    kws = {keyword_for_tag(t) for _, t in tables} | {"SpecificCharacterSet"}
    assert kws | {"TransferSyntaxUID", "MediaStorageSOPInstanceUID", "MediaStorageSOPClassUID"} == (
        set(meta._tags())
    )
    # the VR tables are core/dicombytes.py's: tests/unit/test_dicombytes.py checks them


# ------------------------------------------------------------------ pydicom's own files
def test_pydicom_test_files():
    files = sorted(
        p for d in ("test_files", "charset_files") for p in (PYDICOM_DATA / d).rglob("*")
    )
    fast = 0
    for p in files:
        if not p.is_file():
            continue
        data = p.read_bytes()
        ref = reference(p)
        try:
            fast += check(data, ref)
            check(data[: fastmeta.HEAD], ref, complete=len(data) < fastmeta.HEAD)
        except AssertionError as exc:
            raise AssertionError(f"{p.name}: {exc}") from None
    assert fast >= 100  # most of them take the fast path (150 when written)


# ------------------------------------------------------------------ generated files
def dataset(**kw) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "DOE^JOHN"
    ds.PatientID = "PID1"
    ds.StudyDate = "20240115"
    ds.Modality = "CT"
    ds.SeriesNumber = 3
    ds.InstanceNumber = 7
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.zeros((4, 4), np.uint16).tobytes()
    from pydicom.config import disable_value_validation

    with disable_value_validation():
        for k, v in kw.items():
            setattr(ds, k, v)
    return ds


def save(ds: Dataset, path: Path, ts: str = ExplicitVRLittleEndian) -> bytes:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ts
    from pydicom.config import disable_value_validation

    with warnings.catch_warnings(), disable_value_validation():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=True)
    return path.read_bytes()


def nested(depth: int, undefined: bool = True) -> Sequence:
    item = Dataset()
    item.ReferencedSOPInstanceUID = generate_uid()
    if depth > 1:
        item.ReferencedSeriesSequence = nested(depth - 1, undefined)
    item.is_undefined_length_sequence_item = undefined
    seq = Sequence([item, Dataset()])
    seq.is_undefined_length = undefined
    return seq


CASES = {
    "plain": {},
    "latin1": {"SpecificCharacterSet": "ISO_IR 100", "PatientName": "Müller^Jürgen"},
    "latin1_description": {"SpecificCharacterSet": "ISO_IR 100", "StudyDescription": "Thorax à"},
    "utf8": {"SpecificCharacterSet": "ISO_IR 192", "PatientName": "Ñoño^Zoë=山田^太郎"},
    "iso2022_japanese": {
        "SpecificCharacterSet": ["", "ISO 2022 IR 87"],
        "PatientName": "Yamada^Tarou=山田^太郎=やまだ^たろう",
    },
    "iso2022_korean": {
        "SpecificCharacterSet": ["", "ISO 2022 IR 149"],
        "PatientName": "Hong^Gildong=洪^吉洞=홍^길동",
    },
    "charset_multi_spaces": {"SpecificCharacterSet": ["ISO 2022 IR 6", "ISO 2022 IR 100"]},
    "empty_values": {
        "PatientName": "",
        "PatientID": "",
        "StudyDate": "",
        "Modality": "",
        "AccessionNumber": "",
        "StudyDescription": "",
        "SeriesNumber": None,
        "InstanceNumber": None,
        "SpecificCharacterSet": "",
    },
    "multi_frame": {"NumberOfFrames": 12},
    "multi_valued": {"Modality": "CT\\PT", "PatientID": "A\\B"},
    "is_with_spaces": {"SeriesNumber": " 12 ", "InstanceNumber": "+5"},
    "nul_padding": {"PatientID": "P\x00", "AccessionNumber": " A1 "},
    "long_value": {"StudyDescription": "D" * 5000},
    "nested_sequences": {"ReferencedStudySequence": nested(5)},
    "nested_defined_length": {"ReferencedStudySequence": nested(3, undefined=False)},
}


@pytest.mark.parametrize("ts", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize("case", sorted(CASES))
def test_generated(tmp_path, case, ts):
    ds = dataset(**CASES[case])
    data = save(ds, tmp_path / "f.dcm", ts)
    assert check(data, reference(tmp_path / "f.dcm")), "declined a common file"


def test_encapsulated_with_an_undefined_length_private_sequence(tmp_path):
    from pydicom.encaps import encapsulate

    ds = dataset(SpecificCharacterSet="ISO_IR 100", PatientName="Ärzte^Bob")
    ds.PixelData = encapsulate([b"\xff\xd8frame1\xff\xd9", b"\xff\xd8frame2\xff\xd9"])
    ds.NumberOfFrames = 2
    ds["PixelData"].VR = "OB"
    priv = Dataset()
    priv.add_new(0x00091001, "LO", "inner")
    seq = Sequence([priv])
    seq.is_undefined_length = True
    ds.add_new(0x00090010, "LO", "ACME")
    ds.add_new(0x00091010, "SQ", seq)
    ds["PixelData"].is_undefined_length = True
    data = save(ds, tmp_path / "f.dcm", JPEGBaseline8Bit)
    assert check(data, reference(tmp_path / "f.dcm"))


def test_rows_that_are_not_one_us_value(tmp_path):
    for vr, value in (("US", [4, 5]), ("SS", -4)):
        ds = dataset()
        del ds.Rows
        ds.add_new(0x00280010, vr, value)
        data = save(ds, tmp_path / "f.dcm")
        check(data, reference(tmp_path / "f.dcm"))  # pydicom's conversion decides
    data = save(dataset(), tmp_path / "f.dcm")
    us = b"\x28\x00\x10\x00US\x02\x00\x04\x00"
    un = b"\x28\x00\x10\x00UN\x00\x00\x02\x00\x00\x00\x04\x00"
    assert us in data
    data = data.replace(us, un)
    check(data, reference(io.BytesIO(data)))


def test_undefined_length_un_is_walked_as_a_sequence(tmp_path):
    ds = dataset()
    item = Dataset()
    item.add_new(0x00091001, "LO", "inner")
    seq = Sequence([item])
    seq.is_undefined_length = True
    ds.add_new(0x00090010, "LO", "ACME")
    ds.add_new(0x00091010, "SQ", seq)
    data = save(ds, tmp_path / "f.dcm")
    i = data.index(b"\x09\x00\x10\x10SQ")
    data = data[: i + 4] + b"UN" + data[i + 6 :]  # as a peer that did not know it sends it
    (tmp_path / "f.dcm").write_bytes(data)
    assert check(data, reference(tmp_path / "f.dcm"))


def test_big_header_read_meta_falls_back(tmp_path):
    """A header longer than the 64 KiB read_meta hands the fast path: pydicom reads it."""
    ds = dataset()
    ds.add_new(0x00091010, "OB", b"\x00" * (fastmeta.HEAD + 10))
    ds.add_new(0x00090010, "LO", "ACME")
    data = save(ds, tmp_path / "f.dcm")
    assert fastmeta.parse(data[: fastmeta.HEAD], complete=False) is None
    assert check(data, reference(tmp_path / "f.dcm"))
    assert asdict(meta.read_meta(tmp_path / "f.dcm")) == reference(tmp_path / "f.dcm")


def test_declines_what_pydicom_reads_differently(tmp_path):
    from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian

    for ts in (ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian):
        data = save(dataset(), tmp_path / "f.dcm", ts)
        assert fastmeta.parse(data) is None, ts
    data = save(dataset(), tmp_path / "f.dcm")
    assert fastmeta.parse(data) is not None
    assert fastmeta.parse(b"\x00" * 128 + b"DICX" + data[132:]) is None  # no DICM
    # two top-level elements swapped: pydicom keeps both; the order check declines
    j = data.index(b"\x10\x00\x10\x00PN")  # PatientName
    i = data.index(b"\x10\x00\x20\x00LO")  # PatientID, right after it
    k = i + 8 + struct.unpack_from("<H", data, i + 6)[0]
    swapped = data[:j] + data[i:k] + data[j:i] + data[k:]
    assert reference(io.BytesIO(swapped)) is not None  # pydicom reads it
    assert fastmeta.parse(swapped) is None


@pytest.mark.parametrize("value", [b"x1", b"1\\2", b"  ", b"1.5 "])
def test_odd_integer_strings(tmp_path, value):
    data = save(dataset(InstanceNumber="77"), tmp_path / "f.dcm")
    i = data.index(b"\x20\x00\x13\x00IS")
    n = struct.unpack_from("<H", data, i + 6)[0]
    value = value + b" " * (len(value) % 2)
    patched = data[: i + 6] + struct.pack("<H", len(value)) + value + data[i + 8 + n :]
    assert check(patched, reference(io.BytesIO(patched)))


# ------------------------------------------------------------------ hostile buffers
def test_truncated_at_every_length(tmp_path):
    data = save(dataset(ReferencedStudySequence=nested(3)), tmp_path / "f.dcm")
    answered = 0
    for n in range(len(data)):
        cut = data[:n]
        (tmp_path / "t.dcm").write_bytes(cut)
        answered += check(cut, reference(tmp_path / "t.dcm"))
        assert fastmeta.parse(cut, complete=False) is None or n > data.index(b"\xe0\x7f\x10\x00")
    assert answered  # past Pixel Data's header the file reads fine


def test_huge_lengths_and_deep_nesting(tmp_path):
    base = bytearray(save(dataset(), tmp_path / "f.dcm"))
    i = base.index(b"\x10\x00\x20\x00LO")
    huge = bytes(base[: i + 6]) + b"\xff\xff" + bytes(base[i + 8 :])  # 65535 bytes claimed
    assert fastmeta.parse(huge) is None
    # 10,000 nested undefined-length sequences before the needed tags: declined, no crash
    deep = b"".join(
        struct.pack("<HH2sHL", 0x0008, 0x1110, b"SQ", 0, 0xFFFFFFFF)
        + struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)
        for _ in range(10_000)
    )
    start = base.index(b"\x08\x00\x16\x00UI")
    assert fastmeta.parse(bytes(base[:start]) + deep + bytes(base[start:])) is None
    assert fastmeta.MAX_DEPTH == 64


def test_random_corruption_never_disagrees(tmp_path):
    rng = random.Random(7)
    data = save(
        dataset(SpecificCharacterSet="ISO_IR 100", ReferencedStudySequence=nested(2)),
        tmp_path / "f.dcm",
    )
    for _ in range(400):
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        (tmp_path / "c.dcm").write_bytes(b)
        check(bytes(b), reference(tmp_path / "c.dcm"))


# ------------------------------------------------------------------ the import pipeline
@pytest.fixture(params=["in_turn", "thread"])
def write_mode(request, monkeypatch):
    # the writer thread is used when writing is slow: force either way
    monkeypatch.setattr(importer, "SLOW_WRITE", 1.0 if request.param == "in_turn" else 0.0)
    monkeypatch.setattr(importer, "PROBE", 1)
    return request.param


def make_files(folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    return [folder / f"{i:03d}.dcm" for i in range(n) if save(dataset(), folder / f"{i:03d}.dcm")]


def test_import_stops_when_the_disk_is_full(tmp_path, monkeypatch, write_mode):
    files = make_files(tmp_path / "in", 80)
    real = importer._write_temp
    parsed = []
    later_written = threading.Event()

    def write(tmp, data, src):
        if src == files[70]:
            if write_mode == "thread":  # fail once the next files are queued behind it
                later_written.wait(5)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tmp, data, src)

    real_parse = importer.read_meta_bytes

    def slow_parse(data):
        parsed.append(1)
        if len(parsed) == 74:  # 71-73 queued: let 70 fail and them be written
            later_written.set()
            time.sleep(0.05)
        return real_parse(data)

    monkeypatch.setattr(importer, "_write_temp", write)
    monkeypatch.setattr(importer, "read_meta_bytes", slow_parse)
    a = Archive(tmp_path / "arch")
    try:
        rep = importer.import_paths(a, [tmp_path / "in"])
        assert rep.stored == 70 and rep.seen == 71
        assert rep.errors == [
            (str(files[70]), "the disk is full"),
            ("", "import stopped: the disk is full"),
        ]
        assert list((tmp_path / "arch" / "tmp").iterdir()) == []  # no temp file left
        assert a.counts()["instances"] == 70 and a.verify().ok
    finally:
        a.close()


def test_import_keeps_order_reports_bad_files_and_cancels(tmp_path, write_mode):
    from pacsadmin.core.jobs import CancelToken, JobContext

    files = make_files(tmp_path / "in", 100)
    files[5].write_bytes(files[5].read_bytes()[:300])  # truncated
    events = []
    token = CancelToken()

    def on_event(e):
        events.append(e)
        if len(events) == 4:  # progress at 0, 20, 40, 60: cancel there
            token.cancel()

    a = Archive(tmp_path / "arch")
    try:
        rep = importer.import_paths(a, [tmp_path / "in"], JobContext(1, token, on_event))
        # cancelled when the progress of file 60 was reported: 0..60 seen, as before
        assert rep.cancelled and rep.seen == 61
        assert [p for p, _ in rep.errors] == [str(files[5])]
        assert rep.stored == 60
        assert list((tmp_path / "arch" / "tmp").iterdir()) == []
        assert a.verify().ok
        sops = [meta.read_meta(f).sop_instance_uid for f in files[:61] if f != files[5]]
        rows = a.reader().execute("SELECT sop_uid FROM instances ORDER BY pk").fetchall()
        assert [r[0] for r in rows] == sops  # indexed in the order of the files
    finally:
        a.close()
