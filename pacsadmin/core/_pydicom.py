"""Every use of a pydicom internal, in one place (the pydicom seam).

The fast header reader (``archive/fastmeta.py``) hands pydicom the raw elements it found
and must leave them in the state ``dcmread`` leaves a data set in, so that pydicom's
conversion decides every odd value; the deflate guard (``archive/deflate.py``) reads what
``dcmread`` reads before it inflates; the index reads an element as pydicom holds it
(raw or converted) without converting it.  pydicom has no public API for these.  The rest
of pacsadmin calls the functions below and never a private name of pydicom;
tests/unit/test_library_seams.py greps the code for such names, and fails on an upgrade
of pydicom that changes what a function here relies on.  pyproject.toml bounds pydicom
below the next minor release; before moving that bound, run that test against the new
version and review this module against its source.

Importing this module imports nothing of pydicom (~0.1 s at start-up): each function
imports what it needs.
"""

from __future__ import annotations

from typing import Any, BinaryIO

CHARSET_TAG = 0x00080005  # Specific Character Set


def dictionary_vr(tag: int) -> str:
    """The VR pydicom's dictionary gives ``tag`` (as its reader looks it up for an
    implicit VR element); ``KeyError`` for a private or unknown tag."""
    from pydicom.datadict import _dictionary_vr_fast

    return _dictionary_vr_fast(tag)


def stored_element(ds: Any, tag: int) -> Any:
    """The element of ``tag`` as ``ds`` holds it, not converted: a ``RawDataElement``
    as read (``is_raw``), a ``DataElement`` once converted, or None."""
    return ds._dict.get(tag)


def raw_element(tag: int, vr: str | None, value: bytes, value_tell: int, implicit: bool) -> Any:
    """The ``RawDataElement`` pydicom's reader makes of a little endian element."""
    from pydicom.dataelem import RawDataElement, empty_value_for_VR
    from pydicom.tag import BaseTag

    length = len(value)
    raw = value if length else empty_value_for_VR(vr, raw=True)
    # empty_value_for_VR(raw=True) is b"" but typed as any VR's empty value
    return RawDataElement(BaseTag(tag), vr, length, raw, value_tell, implicit, True)  # type: ignore[arg-type]


def dataset_as_read(elements: dict[int, Any], implicit: bool) -> Any:
    """A ``Dataset`` of raw elements (tag -> :func:`raw_element`) in the state
    ``dcmread`` leaves a little endian data set in: its original encoding set as
    ``read_dataset`` sets it, from (0008,0005) converted, then as ``read_partial`` sets it
    from the data set's own character set."""
    from pydicom.charset import convert_encodings, default_encoding
    from pydicom.dataelem import convert_raw_data_element
    from pydicom.dataset import Dataset
    from pydicom.tag import BaseTag

    elems = {BaseTag(t): e for t, e in sorted(elements.items())}
    ds = Dataset(elems)
    charset = elems.get(BaseTag(CHARSET_TAG))
    encoding: Any = default_encoding
    if charset is not None:
        encoding = convert_encodings(convert_raw_data_element(charset).value)
    ds.set_original_encoding(implicit, True, encoding)
    ds.set_original_encoding(implicit, True, ds._character_set)
    return ds


def file_meta_as_read(elements: dict[int, Any], first: int) -> Any:
    """A ``FileMetaDataset`` of raw elements in the state ``dcmread`` leaves it in: explicit
    VR little endian, ``first`` (the group's first tag) converted as
    ``_read_file_meta_info`` converts it to test the encoding, and the Transfer Syntax UID
    as ``read_partial`` converts it."""
    from pydicom.charset import default_encoding
    from pydicom.dataset import FileMetaDataset
    from pydicom.tag import BaseTag

    fm = FileMetaDataset({BaseTag(t): e for t, e in sorted(elements.items())})
    fm.set_original_encoding(False, True, default_encoding)
    fm[BaseTag(first)]
    fm.get("TransferSyntaxUID")
    return fm


def read_file_meta(fh: BinaryIO) -> Any:
    """The file meta group at ``fh``'s position, as ``dcmread`` reads it (a
    ``FileMetaDataset``); ``fh`` is left just after it."""
    from pydicom.filereader import _read_file_meta_info

    return _read_file_meta_info(fh)


def read_up_to_dataset(fh: BinaryIO) -> Any:
    """What ``dcmread`` reads of a Part 10 file before the data set (the preamble, the
    file meta group, a command set, all read as it reads them, raising as it raises);
    returns the file meta and leaves ``fh`` where the data set starts (where ``dcmread``
    starts inflating a Deflated one)."""
    from pydicom.filereader import _read_command_set_elements, read_preamble

    read_preamble(fh, True)
    meta = read_file_meta(fh)
    _read_command_set_elements(fh)
    return meta
