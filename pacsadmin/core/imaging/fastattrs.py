"""Reading the few header values the viewer needs, without pydicom's per-element overhead.

``ds.get("Rows")`` converts a raw element through pydicom's hooks, value converters and
validators, then builds and caches a DataElement: about 20 us per element, which was most of
the time of loading an uncompressed series (25-50 lookups per file).  :func:`fast_get` reads
the raw bytes of a known set of numeric and code-string attributes directly (US, IS, DS, CS,
UI, and LO when it is plain printable ASCII, which every character set decodes alike; either
byte order, explicit or implicit VR) and hands everything else, and every value
that is not plainly well formed (empty, deferred, unexpected VR or length, non-ASCII, a
number that does not parse), to ``ds.get`` so pydicom's rules still apply there.  The
dataset is not modified.
"""

from __future__ import annotations

from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement

_FAST_VRS = ("US", "IS", "DS", "CS", "UI", "LO")

#: keyword -> (tag, VR) of the attributes read directly (the viewer's load path).
FAST_KEYWORDS = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PlanarConfiguration",
    "NumberOfFrames",
    "InstanceNumber",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SliceThickness",
    "RescaleSlope",
    "RescaleIntercept",
    "WindowCenter",
    "WindowWidth",
    "PhotometricInterpretation",
    "Modality",
    "BurnedInAnnotation",
    "VOILUTFunction",
    "PresentationLUTShape",
    "RescaleType",
    "WindowCenterWidthExplanation",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
)


def _table() -> dict[str, tuple[int, str]]:
    out: dict[str, tuple[int, str]] = {}
    for keyword in FAST_KEYWORDS:
        tag = tag_for_keyword(keyword)
        assert tag is not None, keyword
        vr = dictionary_VR(tag)
        assert vr in _FAST_VRS, (keyword, vr)
        out[keyword] = (tag, vr)
    return out


_TABLE = _table()
_MISSING = object()
_PRINTABLE = bytes(range(0x20, 0x7F))
_NUMBER = {"DS": frozenset("0123456789+-.eE \\"), "IS": frozenset("0123456789+- ")}


def _convert(vr: str, raw: bytes, little: bool) -> Any:
    """The value of a well-formed raw element, or _MISSING to let pydicom decide."""
    if vr == "US":
        if len(raw) != 2:
            return _MISSING
        return int.from_bytes(raw, "little" if little else "big")
    if vr == "LO":  # printable ASCII only: no ESC (ISO 2022), no multi-byte charset
        if raw.translate(None, _PRINTABLE):
            return _MISSING
        if b"\\" in raw:
            return _MISSING
        return raw.decode("ascii").rstrip(" ") or _MISSING
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return _MISSING
    allowed = _NUMBER.get(vr)
    if allowed is not None and not allowed.issuperset(text):
        return _MISSING  # "nan", "1_000", a NUL pad...: pydicom's rules
    if vr == "DS":
        parts = text.split("\\")
        try:
            values = [float(p) for p in parts]  # float() ignores surrounding spaces
        except ValueError:
            return _MISSING
        return values[0] if len(values) == 1 else values
    if "\\" in text:
        return _MISSING  # multi-valued IS/CS/UI: pydicom's MultiValue
    if vr == "IS":
        try:
            return int(text)
        except ValueError:
            return _MISSING
    value = text.strip(" \x00") if vr == "CS" else text.rstrip(" \x00")
    return value or _MISSING


def fast_get(ds: Any, keyword: str, default: Any = None) -> Any:
    """``ds.get(keyword, default)``, quicker for the attributes in :data:`FAST_KEYWORDS`.

    Values: US and IS as int, DS as float (a list of floats when multi-valued), CS, UI and
    LO as str.  Anything else (and every value this reader does not vouch for) comes from
    ``ds.get`` itself.
    """
    entry = _TABLE.get(keyword)
    if entry is None:
        return ds.get(keyword, default)
    tag, vr = entry
    get_item = getattr(ds, "get_item", None)
    if get_item is None:
        return ds.get(keyword, default)
    elem = get_item(tag, keep_deferred=True)
    if elem is None:
        return default
    if not isinstance(elem, RawDataElement):
        return elem.value
    raw = elem.value
    if raw and (elem.VR is None or vr == elem.VR):
        value = _convert(vr, raw, elem.is_little_endian)
        if value is not _MISSING:
            return value
    return ds.get(keyword, default)
