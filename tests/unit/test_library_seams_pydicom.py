"""Guards of the pydicom seam (pacsadmin/core/_pydicom.py): see test_library_seams.py.

Each test fails when a pydicom upgrade changes what a function of the seam relies on.
When one fails: review the seam against the new pydicom source, and only then update
the expectation here (and pydicom's bound in pyproject.toml).
"""

from __future__ import annotations

import inspect
import io

import pytest
from pydicom.dataset import Dataset, FileMetaDataset

from pacsadmin.core import _pydicom
from tests.unit.test_library_seams import REVIEW_DCM, _attrs_loaded, _ct, _globals_loaded


def _part10(implicit: bool, charset: str | None) -> bytes:
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    ds = _ct()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.PatientName = "Müller^Jürgen" if charset else "Muller^Jurgen"
    ds.ImageComments = "x" * 5000  # deferred by defer_size
    fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = ds.SOPClassUID
    fm.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    fm.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.file_meta = fm
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_raw_data_element_fields():
    from pydicom.dataelem import RawDataElement

    assert RawDataElement._fields[:7] == (
        "tag",
        "VR",
        "length",
        "value",
        "value_tell",
        "is_implicit_VR",
        "is_little_endian",
    ), REVIEW_DCM


def test_dictionary_vr_is_what_the_reader_uses():
    from pydicom import filereader

    assert _pydicom.dictionary_vr(0x00081115) == "SQ"  # Referenced Series Sequence
    assert _pydicom.dictionary_vr(0x00100010) == "PN"
    with pytest.raises(KeyError):
        _pydicom.dictionary_vr(0x00091010)  # private
    assert "_dictionary_vr_fast" in _globals_loaded(filereader.data_element_generator)


def test_stored_element_is_raw_until_converted():
    from pydicom import dcmread

    ds = dcmread(io.BytesIO(_part10(False, None)), defer_size=4096)
    raw = _pydicom.stored_element(ds, 0x00100010)
    assert raw.is_raw and raw.value == b"Muller^Jurgen " and raw.value_tell > 0, REVIEW_DCM
    assert str(ds.PatientName) == "Muller^Jurgen"
    assert not getattr(_pydicom.stored_element(ds, 0x00100010), "is_raw", False)
    assert _pydicom.stored_element(ds, 0x00100020) is not None
    assert _pydicom.stored_element(ds, 0x00101010) is None  # absent


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit", "explicit"])
@pytest.mark.parametrize("charset", [None, "ISO_IR 100", "ISO_IR 192"])
def test_dataset_as_read_is_the_state_dcmread_leaves(implicit, charset):
    from pydicom import dcmread
    from pydicom.filereader import read_partial

    data = _part10(implicit, charset)
    ref = dcmread(io.BytesIO(data), stop_before_pixels=True, defer_size=4096)

    from pacsadmin.core.dicombytes import read_header

    def raws(pos: int, implicit: bool, group2: bool) -> tuple[dict, int]:
        """Raw elements walked from ``pos`` (the file meta group, or the rest)."""
        out = {}
        while pos < len(data) and (data[pos : pos + 2] == b"\x02\x00") == group2:
            tag, vr, length, vpos = read_header(data, pos, implicit)
            vr = vr.decode() if vr else None
            out[tag] = _pydicom.raw_element(tag, vr, data[vpos : vpos + length], vpos, implicit)
            pos = vpos + length
        return out, pos

    meta_raws, pos = raws(132, False, True)
    ours = _pydicom.dataset_as_read(raws(pos, implicit, False)[0], implicit)
    assert ours.original_encoding == ref.original_encoding
    assert ours.original_character_set == ref.original_character_set
    assert ours._character_set == ref._character_set, REVIEW_DCM
    assert str(ours.PatientName) == str(ref.PatientName)
    assert ours.ImageComments == ref.ImageComments
    fm = _pydicom.file_meta_as_read(meta_raws, 0x00020000)
    assert fm.TransferSyntaxUID == ref.file_meta.TransferSyntaxUID
    assert fm.original_encoding == ref.file_meta.original_encoding
    # what dataset_as_read copies: read_partial sets the encoding from _character_set
    assert {"set_original_encoding", "_character_set"} <= _attrs_loaded(read_partial)
    sig = inspect.signature(Dataset.set_original_encoding)
    assert list(sig.parameters)[1:] == [
        "is_implicit_vr",
        "is_little_endian",
        "character_encoding",
    ], REVIEW_DCM


def test_read_file_meta_and_up_to_dataset_leave_the_file_at_the_data_set():
    from pydicom.filereader import read_partial, read_preamble

    data = _part10(False, None)
    group_length = int.from_bytes(data[140:144], "little")  # (0002,0000) UL value
    start = 132 + 12 + group_length
    fh = io.BytesIO(data)
    read_preamble(fh, False)
    fm = _pydicom.read_file_meta(fh)
    assert isinstance(fm, FileMetaDataset) and fh.tell() == start, REVIEW_DCM
    fh = io.BytesIO(data)
    fm = _pydicom.read_up_to_dataset(fh)
    assert fh.tell() == start and fm.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    # what dcmread reads before the data set (and before it inflates a Deflated one)
    loaded = _globals_loaded(read_partial)
    assert {"_read_file_meta_info", "_read_command_set_elements"} <= loaded, REVIEW_DCM
    # no DICM: read as dcmread(force=True) reads it, no file meta (deflate: not deflated)
    assert "TransferSyntaxUID" not in _pydicom.read_up_to_dataset(io.BytesIO(b"\x00" * 200))
