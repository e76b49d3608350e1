"""A fast reader of what the index needs from a DICOM Part 10 header.

:func:`parse` walks a file's bytes the way pydicom's reader walks them and returns the
:class:`InstanceMeta` that :func:`meta.read_meta_pydicom` returns for the same file, or
``None`` (declined).  The caller then parses the file with pydicom, so for anything odd the
result and the exceptions stay pydicom's.

Handled: the 128-byte preamble and ``DICM``; the file meta group (explicit VR little
endian); a dataset in Implicit VR Little Endian, Explicit VR Little Endian or any other
little endian transfer syntax pydicom reads as explicit VR (the encapsulated ones);
undefined-length sequences, items and encapsulated values walked to their delimiters (as
pydicom parses them while reading); the walk stops at Pixel Data, as
``stop_before_pixels`` does.

Declined: Big Endian, Deflated (inflating belongs to pydicom's path and its guard), private
transfer syntaxes, no ``DICM``, no Transfer Syntax UID, a buffer that ends before the
header does, lengths that run past the end, tags out of ascending order (pydicom keeps the
last of duplicates), a VR pydicom would second-guess (implicit/explicit switches, unknown
VRs), command-set elements, nesting deeper than :data:`MAX_DEPTH`, changed pydicom
reading settings.

Values: plain ASCII text is taken as :func:`meta._ascii_raw` takes it (NULs dropped,
whitespace stripped); anything else (non-ASCII text, ISO 2022 escapes, values longer than
pydicom's deferral size, Rows/Columns that are not one US value, an empty SOP Instance
UID) is converted by pydicom itself from the same raw elements pydicom would hold
(:func:`meta.meta_from_dataset` on a :class:`~pydicom.dataset.Dataset` of just the needed
elements), so every character set decodes exactly as pydicom decodes it.
"""

from __future__ import annotations

import re
from typing import Any

from pacsadmin.core import _pydicom
from pacsadmin.core import dicombytes as db
from pacsadmin.core.archive import meta as _meta
from pacsadmin.core.archive.meta import InstanceMeta

HEAD = 64 * 1024  # bytes of a file that read_meta hands to the fast reader
MAX_DEPTH = 64  # sequence nesting (docs/safety.md rule 2); deeper files go to pydicom

# the element-header primitives (dicombytes), bound here: the walks decode headers inline
_IMPL = db.unpack_implicit  # tag, 4-byte length (also items, delimiters)
_EXPL = db.unpack_explicit  # tag, VR, 2-byte length
_U32 = db.unpack_u32
_VRS = db.VRS  # the 2-letter VRs pydicom knows (a test checks: ENCODED_VR)
_LONG = db.LONG_VRS  # VRs with a 4-byte length in explicit VR (EXPLICIT_VR_LENGTH_32)

_ITEM = db.ITEM
_ITEM_END = db.ITEM_END
_SEQ_END = db.SEQ_END
_UNDEFINED = db.UNDEFINED
_PIXEL = db.PIXEL_TAGS  # pydicom's _at_pixel_data
_CHARSET = _pydicom.CHARSET_TAG
_TS = 0x00020010
_TS_TEXT = re.compile(rb"([0-9.]+)[\x00 ]*")
_IMPLICIT_LE = "1.2.840.10008.1.2"
_DECLINED_TS = frozenset({"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})  # BE, deflated

# InstanceMeta field <- dataset tag, in read_meta's order.  A test checks them against
# pydicom's dictionary and meta._tags().
_TEXT = (
    ("patient_id", 0x00100020),
    ("patient_name", 0x00100010),
    ("birth_date", 0x00100030),
    ("sex", 0x00100040),
    ("study_date", 0x00080020),
    ("study_time", 0x00080030),
    ("accession", 0x00080050),
    ("study_id", 0x00200010),
    ("study_description", 0x00081030),
    ("referring_physician", 0x00080090),
    ("modality", 0x00080060),
    ("series_description", 0x0008103E),
    ("body_part", 0x00180015),
    ("series_date", 0x00080021),
    ("series_time", 0x00080031),
)
_UIDS = (
    ("sop_instance_uid", 0x00080018),
    ("sop_class_uid", 0x00080016),
    ("study_uid", 0x0020000D),
    ("series_uid", 0x0020000E),
)
_IS = (("series_number", 0x00200011), ("instance_number", 0x00200013), ("frames", 0x00280008))
_US = (("rows", 0x00280010), ("columns", 0x00280011))
NEEDED = frozenset(
    [t for _, t in _TEXT + _UIDS + _IS + _US] + [_CHARSET]
)  # dataset tags the index needs
_META_NEEDED = frozenset({0x00020002, 0x00020003, _TS})

# Filled from pydicom on first use (importing pydicom at app start costs ~0.1 s).
_charsets: dict[tuple[bytes | None, bool, bytes], str] = {}
_settings: Any = None  # pydicom.config
_uid: Any = None  # pydicom.uid


class _Decline(Exception):
    """Not a file this reader reads exactly like pydicom."""


def _init() -> None:
    global _settings, _uid
    import pydicom.config
    import pydicom.uid

    _settings, _uid = pydicom.config, pydicom.uid


def _default_settings() -> bool:
    """pydicom reads as the walk assumes (its settings can be changed process-wide)."""
    config = _settings
    return bool(
        config.settings.infer_sq_for_un_vr
        and config.replace_un_with_known_vr
        and config.assume_implicit_vr_switch
        and config.data_element_callback is None
    )


def parse(buf: bytes, *, complete: bool = True) -> InstanceMeta | None:
    """The index's view of the Part 10 file in ``buf``, or None: ask pydicom.

    ``complete``: ``buf`` is the whole file (else only its start: a header that does not
    end inside it is declined)."""
    try:
        return _parse(buf, complete)
    except Exception:  # _Decline, or a buffer this walk misjudged: pydicom decides
        return None


def _parse(buf: bytes, complete: bool) -> InstanceMeta | None:
    if _uid is None:
        _init()
    if not _default_settings():
        return None
    n = len(buf)
    if n < 144 or buf[128:132] != b"DICM":
        return None
    vrs, long_vrs = _VRS, _LONG

    # File meta group: explicit VR little endian, read until the group changes.
    pos = 132
    fmeta: dict[int, tuple[bytes | None, int, int]] = {}
    first = -1
    last = -1
    while True:
        if pos + 8 > n:
            return None
        group, elem, vrb, length = _EXPL(buf, pos)
        if group != 2:
            break
        tag = 0x00020000 | elem
        if tag <= last:
            return None
        if vrb in long_vrs:
            if pos + 12 > n:
                return None
            length = _U32(buf, pos + 8)[0]
            vpos = pos + 12
        elif vrb in vrs:
            vpos = pos + 8
        else:
            return None
        if first < 0:  # pydicom converts the first one to test the encoding
            first = tag
            if not ((tag == 0x00020000 and vrb == b"UL" and length == 4) or vrb in (b"OB", b"UI")):
                return None
        if length == _UNDEFINED or vpos + length > n:
            return None
        if tag in _META_NEEDED and vrb != b"UI":  # pydicom converts by the VR found
            return None
        if tag in _META_NEEDED or tag == first:
            fmeta[tag] = (vrb, vpos, length)
        pos = vpos + length
        last = tag
    ts_ent = fmeta.get(_TS)
    if ts_ent is None:
        return None
    m = _TS_TEXT.fullmatch(buf, ts_ent[1], ts_ent[1] + ts_ent[2])
    if m is None:
        return None
    ts = m.group(1).decode("ascii")
    if ts in _DECLINED_TS:
        return None
    if ts in _uid.PrivateTransferSyntaxes:
        return None
    implicit = ts == _IMPLICIT_LE

    # The dataset.  pydicom checks the first element's VR against the transfer syntax.
    group, elem, vrb, length = _EXPL(buf, pos)
    if group == 0:  # a command set before the dataset
        return None
    if db.looks_explicit(buf, pos) == implicit:
        return None
    found = _walk_top(buf, pos, n, implicit, complete)
    return _build(buf, fmeta, first, found, implicit, ts)


def _walk_top(
    buf: bytes, pos: int, n: int, implicit: bool, complete: bool
) -> dict[int, tuple[bytes | None, int, int]]:
    """Top-level elements up to Pixel Data: {needed tag: (VR or None, value pos, length)}."""
    found: dict[int, tuple[bytes | None, int, int]] = {}
    vrs, long_vrs, needed = _VRS, _LONG, NEEDED
    last = -1
    vrb: bytes | None = None
    while True:
        if pos + 8 > n:
            if complete and pos == n:
                return found  # end of file, no Pixel Data
            raise _Decline  # the header goes on past the buffer, or trailing bytes
        if implicit:
            group, elem, length = _IMPL(buf, pos)
            vpos = pos + 8
        else:
            group, elem, vrb, length = _EXPL(buf, pos)
            if vrb in long_vrs:
                if pos + 12 > n:
                    raise _Decline
                length = _U32(buf, pos + 8)[0]
                vpos = pos + 12
            elif vrb in vrs:
                vpos = pos + 8
            else:
                raise _Decline  # pydicom would guess (implicit switch or 2-byte length)
        tag = group << 16 | elem
        if tag <= last or group == 0xFFFE:
            raise _Decline
        last = tag
        if tag in _PIXEL:
            return found
        if length == _UNDEFINED:
            if tag in needed:
                raise _Decline
            pos = _skip_undefined(buf, vpos, tag, vrb, implicit, 1)
            continue
        pos = vpos + length
        if pos > n:
            raise _Decline
        if tag in needed:
            found[tag] = (vrb, vpos, length)


def _skip_undefined(
    buf: bytes, pos: int, tag: int, vrb: bytes | None, implicit: bool, depth: int
) -> int:
    """The end of an undefined-length value starting at ``pos``, as pydicom finds it."""
    if implicit:
        try:
            is_sq = _pydicom.dictionary_vr(tag) == "SQ"
        except KeyError:  # private or unknown: a sequence when an item follows
            if pos + 4 > len(buf):
                raise _Decline from None
            is_sq = _IMPL(buf, pos)[0:2] == (0xFFFE, 0xE000)
    else:
        is_sq = vrb in (b"SQ", b"UN")  # pydicom infers SQ for an undefined-length UN
    if is_sq:
        return _skip_sequence(buf, pos, implicit, depth)
    return _skip_fragments(buf, pos)


def _skip_sequence(buf: bytes, pos: int, implicit: bool, depth: int) -> int:
    if depth > MAX_DEPTH:
        raise _Decline
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise _Decline
        group, elem, length = _IMPL(buf, pos)
        tag = group << 16 | elem
        pos += 8
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            raise _Decline
        item_implicit = implicit
        if not implicit and pos + 6 <= n:  # an item may switch to implicit VR
            b0, b1 = buf[pos + 4], buf[pos + 5]  # db.looks_explicit, inline: once an item
            item_implicit = not (0x40 < b0 < 0x5B and 0x40 < b1 < 0x5B)
        if length == _UNDEFINED:
            pos = _skip_elements(buf, pos, -1, item_implicit, depth)
        else:
            end = pos + length
            if end > n or _skip_elements(buf, pos, end, item_implicit, depth) != end:
                raise _Decline
            pos = end


def _skip_elements(buf: bytes, pos: int, end: int, implicit: bool, depth: int) -> int:
    """Walk an item's elements to ``end``, or to its delimiter when ``end`` is -1."""
    n = len(buf)
    vrs, long_vrs = _VRS, _LONG
    vrb: bytes | None = None
    while True:
        if end >= 0 and pos >= end:
            return pos
        if pos + 8 > n:
            raise _Decline
        group, elem, length = _IMPL(buf, pos)
        if group == 0xFFFE:
            if elem == 0xE00D and end < 0 and length == 0:
                return pos + 8
            raise _Decline
        if implicit:
            vpos = pos + 8
        else:
            group, elem, vrb, length = _EXPL(buf, pos)
            if vrb in long_vrs:
                if pos + 12 > n:
                    raise _Decline
                length = _U32(buf, pos + 8)[0]
                vpos = pos + 12
            elif vrb in vrs:
                vpos = pos + 8
            else:
                raise _Decline
        if length == _UNDEFINED:
            pos = _skip_undefined(buf, vpos, group << 16 | elem, vrb, implicit, depth + 1)
            continue
        pos = vpos + length
        if pos > n or (end >= 0 and pos > end):
            raise _Decline


def _skip_fragments(buf: bytes, pos: int) -> int:
    """An undefined-length non-sequence value: items of defined length, then the sequence
    delimiter (pydicom's encapsulated reading; anything else it scans for, so decline)."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise _Decline
        group, elem, length = _IMPL(buf, pos)
        tag = group << 16 | elem
        if tag == _SEQ_END:
            return pos + 8
        if tag != _ITEM or length == _UNDEFINED:
            raise _Decline
        pos += 8 + length


# ---------------------------------------------------------------------------- values
def _build(
    buf: bytes,
    fmeta: dict[int, tuple[bytes | None, int, int]],
    first_meta: int,
    found: dict[int, tuple[bytes | None, int, int]],
    implicit: bool,
    ts: str,
) -> InstanceMeta | None:
    out: dict[str, Any] = {}
    for name, tag in _UIDS + _TEXT:
        ent = found.get(tag)
        if ent is None:
            out[name] = ""
            continue
        vpos, length = ent[1], ent[2]
        if length > _meta.DEFER_SIZE:
            return _via_pydicom(buf, fmeta, first_meta, found, implicit)
        v = buf[vpos : vpos + length]
        if not v.isascii() or b"\x1b" in v:
            return _via_pydicom(buf, fmeta, first_meta, found, implicit)
        out[name] = v.decode("ascii").replace("\x00", "").strip()
    if not (out["sop_instance_uid"] and out["sop_class_uid"]):
        # the file meta's UIDs stand in: pydicom's conversion of them decides
        return _via_pydicom(buf, fmeta, first_meta, found, implicit)
    if not (out["study_uid"] and out["series_uid"]):
        return None  # NotIndexable: pydicom's path says so
    for name, tag in _IS:
        ent = found.get(tag)
        if ent is None or ent[2] == 0:
            out[name] = None
            continue
        vpos, length = ent[1], ent[2]
        v = buf[vpos : vpos + length]
        if length > _meta.DEFER_SIZE or not v.isascii() or b"\x1b" in v:
            return _via_pydicom(buf, fmeta, first_meta, found, implicit)
        text = v.decode("ascii").replace("\x00", "").strip()
        try:
            out[name] = int(text.split("\\")[0]) if text else None
        except ValueError:
            out[name] = None
    for name, tag in _US:
        ent = found.get(tag)
        if ent is None or ent[2] == 0:
            out[name] = None
        elif ent[2] == 2 and ent[0] in (None, b"US"):
            out[name] = buf[ent[1]] | buf[ent[1] + 1] << 8
        else:
            return _via_pydicom(buf, fmeta, first_meta, found, implicit)
    ent = found.get(_CHARSET)
    if ent is None:
        out["charset"] = ""
    else:
        out["charset"] = _charset_text(ent[0], implicit, buf[ent[1] : ent[1] + ent[2]])
    return InstanceMeta(transfer_syntax=ts, **out)


def _raw(buf: bytes, tag: int, ent: tuple[bytes | None, int, int], implicit: bool) -> Any:
    """The RawDataElement pydicom's reader makes of this element."""
    vrb, vpos, length = ent
    vr = None if vrb is None else vrb.decode("ascii")
    return _pydicom.raw_element(tag, vr, buf[vpos : vpos + length], vpos, implicit)


def _dataset(buf: bytes, found: dict[int, Any], implicit: bool) -> Any:
    """A Dataset of the given raw elements in the state ``dcmread`` leaves a dataset in."""
    elems = {t: _raw(buf, t, e, implicit) for t, e in found.items()}
    return _pydicom.dataset_as_read(elems, implicit)


def _via_pydicom(
    buf: bytes,
    fmeta: dict[int, tuple[bytes | None, int, int]],
    first_meta: int,
    found: dict[int, tuple[bytes | None, int, int]],
    implicit: bool,
) -> InstanceMeta:
    """pydicom's conversion of the same raw elements, extracted by read_meta's own code."""
    fm = _pydicom.file_meta_as_read(
        {t: _raw(buf, t, e, False) for t, e in fmeta.items()}, first_meta
    )
    return _meta.meta_from_dataset(_dataset(buf, found, implicit), fm)


def _charset_text(vrb: bytes | None, implicit: bool, value: bytes) -> str:
    """read_meta's ``charset`` for a (0008,0005) value: pydicom converts that element."""
    key = (vrb, implicit, value)
    text = _charsets.get(key)
    if text is None:
        ent = (vrb, 0, len(value))
        text = _meta._s(_dataset(value, {_CHARSET: ent}, implicit), "SpecificCharacterSet")
        if len(_charsets) < 256:
            _charsets[key] = text
    return text
