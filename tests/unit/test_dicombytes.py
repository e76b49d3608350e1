"""The byte-level primitives (core/dicombytes.py) against pydicom: its tables, and elements
encoded by pydicom parsed by ours and encoded by ours parsed by pydicom, in Implicit and
Explicit VR Little Endian, every VR of the standard (SV and UV included)."""

from __future__ import annotations

import io
import struct

import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_data_element, write_dataset
from pydicom.sequence import Sequence

from pacsadmin.core import dicombytes as db

# one value per VR, as pydicom takes it (tags: private block 0x0009 of group 0x0011,
# so any VR is allowed; pydicom writes them in tag order)
VALUES = {
    "AE": "SCU",
    "AS": "045Y",
    "AT": 0x00100010,
    "CS": "ORIGINAL",
    "DA": "20240131",
    "DS": "1.5",
    "DT": "20240131120000",
    "FL": 1.5,
    "FD": 2.25,
    "IS": "12",
    "LO": "a long string",
    "LT": "long text",
    "OB": b"\x01\x02\x03\x04",
    "OD": struct.pack("<d", 1.0),
    "OF": struct.pack("<f", 1.0),
    "OL": struct.pack("<L", 7),
    "OV": struct.pack("<Q", 9),
    "OW": b"\x01\x00",
    "PN": "Doe^John",
    "SH": "short",
    "SL": -5,
    "SS": -3,
    "ST": "short text",
    "SV": -(2**40),
    "TM": "120000",
    "UC": "unlimited characters",
    "UI": "1.2.3",
    "UL": 5,
    "UN": b"\x00\x01\x02\x03",  # even: pydicom writes an odd UN value unpadded
    "UR": "http://example.com",
    "US": 3,
    "UT": "unlimited text",
    "UV": 2**40,
}


def test_vr_tables_are_pydicoms():
    from pydicom.filereader import ENCODED_VR
    from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

    assert {v.encode() for v in EXPLICIT_VR_LENGTH_32} == db.LONG_VRS
    assert {v for v in ENCODED_VR if len(v) == 2} == db.VRS
    assert not db.LONG_VRS & db.SHORT_VRS
    assert {b"SV", b"UV"} <= db.LONG_VRS
    assert {v.encode() for v in db.LONG_VR_NAMES} == db.LONG_VRS
    assert set(VALUES) | {"SQ"} == {v.decode() for v in db.VRS}


def _dataset() -> Dataset:
    ds = Dataset()
    for n, (vr, value) in enumerate(sorted(VALUES.items())):
        ds.add(DataElement(0x00111000 + n, vr, value))
    item = Dataset()
    item.PatientID = "X"
    ds.add(DataElement(0x00111100, "SQ", Sequence([item])))
    return ds


def _encode(ds: Dataset, implicit: bool) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)
    return fp.getvalue()


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit", "explicit"])
def test_read_header_walks_what_pydicom_writes(implicit):
    ds = _dataset()
    data = _encode(ds, implicit)
    pos = 0
    seen = []
    while pos < len(data):
        tag, vr, length, vpos = db.read_header(data, pos, implicit)
        elem = ds[tag]
        seen.append(tag)
        if implicit:
            assert vr is None
        else:
            assert vr == elem.VR.encode()
        if elem.VR == "SQ" and length == db.UNDEFINED:  # pydicom's default for sequences
            end = data.index(struct.pack("<HHL", 0xFFFE, 0xE0DD, 0), vpos)
            pos = end + 8
            continue
        value = data[vpos : vpos + length]
        assert length % 2 == 0
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, implicit
        write_data_element(fp, elem)
        ref = fp.getvalue()
        assert data[pos : vpos + length] == ref  # header and value as pydicom wrote them
        assert db.pack_element(tag, vr or elem.VR, value, implicit) == ref  # and as we do
        pos = vpos + length
    assert seen == list(ds.keys())


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit", "explicit"])
def test_pydicom_reads_what_pack_element_writes(implicit):
    ref = _dataset()
    out = []
    raw = {}
    for elem in ref:
        if elem.VR == "SQ":
            continue
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, False
        write_data_element(fp, elem)
        # the value bytes pydicom encodes, re-headed by us
        _, _, _, vpos = db.read_header(fp.getvalue(), 0, False)
        value = fp.getvalue()[vpos:]
        raw[elem.tag] = value
        out.append(db.pack_element(elem.tag, elem.VR, value, implicit))
    # an item of an undefined-length sequence, headers packed by us
    item = db.pack_element(0x00100020, "LO", db.pad(b"X", "LO"), implicit)
    out.append(
        db.pack_header(0x00111100, "SQ", db.UNDEFINED, implicit)
        + db.pack_header(db.ITEM, None, len(item), implicit)
        + item
        + db.pack_header(db.SEQ_END, None, 0, implicit)
    )
    data = b"".join(out)
    got = read_dataset(io.BytesIO(data), implicit, True)
    for elem in ref:
        mine = got[elem.tag]
        if elem.VR == "SQ":
            assert mine.value[0].PatientID == "X"
        elif implicit:  # no VR, no dictionary entry (private): pydicom reads UN, the bytes
            assert (mine.VR, mine.value) == ("UN", raw[elem.tag]), elem.VR
        else:
            assert mine.VR == elem.VR
            assert mine.value == elem.value, elem.VR


def test_pad_is_pydicoms():
    assert db.pad(b"1.2.3", "UI") == b"1.2.3\x00"
    assert db.pad(b"abc", "LO") == b"abc "
    assert db.pad(b"\x01", "OB") == b"\x01\x00"
    assert db.pad(b"\x01", "UN") == b"\x01\x00"
    assert db.pad(b"ab", "UI") == b"ab"
    for vr, value in (("UI", "1.2.3"), ("LO", "abc"), ("OB", b"\x01\x02\x03")):
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, True
        write_data_element(fp, DataElement(0x00111000, vr, value))
        raw = value.encode() if isinstance(value, str) else value
        assert fp.getvalue()[8:] == db.pad(raw, vr)


def test_headers_and_errors():
    assert db.pack_tag(0x7FE00010) == b"\xe0\x7f\x10\x00"
    assert db.pack_header(0x00100010, "PN", 4, False) == b"\x10\x00\x10\x00PN\x04\x00"
    assert (
        db.pack_header(0x7FE00010, b"OB", 4, False) == b"\xe0\x7f\x10\x00OB\x00\x00\x04\x00\x00\x00"
    )
    assert db.pack_header(0x00100010, "PN", 4, True) == b"\x10\x00\x10\x00\x04\x00\x00\x00"
    assert db.pack_header(db.ITEM, "SQ", 0, False) == b"\xfe\xff\x00\xe0\x00\x00\x00\x00"
    with pytest.raises(ValueError):
        db.pack_header(0x00100010, "LO", 0x10000, False)  # a 2-byte length
    with pytest.raises(ValueError):
        db.pack_header(0x00100010, "XX", 2, False)
    data = db.pack_header(0x00100010, "PN", 4, False)
    assert db.read_header(data, 0, False) == (0x00100010, b"PN", 4, 8)
    with pytest.raises(db.HeaderError):
        db.read_header(data[:7], 0, False)
    with pytest.raises(db.HeaderError):
        db.read_header(b"\x10\x00\x10\x00XX\x04\x00", 0, False)
    with pytest.raises(db.HeaderError):  # a long VR's header cut after 8 bytes
        db.read_header(db.pack_header(0x00100010, "UT", 4, False)[:10], 0, False)
    assert db.looks_explicit(data, 0)
    assert not db.looks_explicit(db.pack_header(0x00100010, None, 4, True), 0)
