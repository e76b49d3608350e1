"""Byte-level DICOM primitives for the fast paths that skip pydicom (little endian only).

One set of tables and helpers for every module that reads or writes DICOM elements as
bytes: the fast header reader (``archive/fastmeta.py``), the bounded inflater
(``archive/deflate.py``), the bulk C-FIND encoder (``dimse/find_bulk.py``) and the chunked
receive's file meta group (``dimse/scp_receive.py``).  Plain Python and ``struct``, no
pydicom import (it costs ~0.1 s at start-up); tests/unit/test_dicombytes.py checks every
table and helper against pydicom (encode with one, parse with the other, both ways).

An element header (PS3.5 7.1) in little endian is, with the tag as (group, element):

* Implicit VR: group, element (2 bytes each), a 4-byte length: 8 bytes.
* Explicit VR, a VR of :data:`LONG_VRS`: group, element, the VR, 2 reserved bytes and a
  4-byte length: 12 bytes.
* Explicit VR, any other VR: group, element, the VR, a 2-byte length: 8 bytes.
* Items and delimiters (group 0xFFFE) have no VR, as in Implicit VR, whatever the syntax.

Hot loops (fastmeta walks ~60 elements a file in ~25 us) bind :data:`unpack_implicit`,
:data:`unpack_explicit` and :data:`unpack_u32` and the VR sets to locals and decode inline:
a function call per element there costs as much as the rest of the loop.  Code that is not
hot uses :func:`read_header`.
"""

from __future__ import annotations

import struct

# VRs with a 2-byte reserved field and a 4-byte length in Explicit VR (PS3.5 Table 7.1-1)
LONG_VRS: frozenset[bytes] = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
# VRs with a 2-byte length in Explicit VR (PS3.5 Table 7.1-2)
SHORT_VRS: frozenset[bytes] = frozenset(
    {
        b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO",
        b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
    }
)  # fmt: skip
VRS: frozenset[bytes] = LONG_VRS | SHORT_VRS  # every VR of the standard (pydicom's set too)
LONG_VR_NAMES: frozenset[str] = frozenset(v.decode("ascii") for v in LONG_VRS)
# VRs padded to an even length with NUL; every other odd-length value is padded with a space
NUL_PADDED: frozenset[str] = frozenset({"UI", "OB", "UN"})

ITEM = 0xFFFEE000
ITEM_END = 0xFFFEE00D  # Item Delimitation Item
SEQ_END = 0xFFFEE0DD  # Sequence Delimitation Item
UNDEFINED = 0xFFFFFFFF  # an undefined length
PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})  # where stop_before_pixels stops

# (group, element, length) of an Implicit VR header, an item or a delimiter
unpack_implicit = struct.Struct("<HHL").unpack_from
# (group, element, VR, 2-byte length) of an Explicit VR header; for a VR of LONG_VRS the
# 2-byte field is the reserved one and the length is unpack_u32(buf, pos + 8)
unpack_explicit = struct.Struct("<HH2sH").unpack_from
unpack_u32 = struct.Struct("<L").unpack_from
_pack_implicit = struct.Struct("<HHL").pack
_pack_long = struct.Struct("<HH2s2xL").pack
_pack_short = struct.Struct("<HH2sH").pack
_pack_tag = struct.Struct("<HH").pack


class HeaderError(ValueError):
    """Not an element header this module reads: past the buffer's end, or an unknown VR."""


def looks_explicit(buf: bytes, pos: int) -> bool:
    """True when the two bytes after the tag at ``pos`` are two capital letters (a VR):
    pydicom's test of whether a data set (or an item) is in Explicit VR."""
    b0, b1 = buf[pos + 4], buf[pos + 5]
    return 0x40 < b0 < 0x5B and 0x40 < b1 < 0x5B


def read_header(buf: bytes, pos: int, implicit: bool) -> tuple[int, bytes | None, int, int]:
    """``(tag, VR, length, value position)`` of the element header at ``pos``.

    VR is None in Implicit VR and for items and delimiters (group 0xFFFE), where the
    header has none.  Raises :class:`HeaderError` when the header runs past the end of
    ``buf`` or its VR is not one of :data:`VRS`."""
    if pos + 8 > len(buf):
        raise HeaderError("the element header runs past the end")
    group, elem, length = unpack_implicit(buf, pos)
    if implicit or group == 0xFFFE:
        return group << 16 | elem, None, length, pos + 8
    _, _, vr, length = unpack_explicit(buf, pos)
    if vr in LONG_VRS:
        if pos + 12 > len(buf):
            raise HeaderError("the element header runs past the end")
        return group << 16 | elem, vr, unpack_u32(buf, pos + 8)[0], pos + 12
    if vr not in SHORT_VRS:
        raise HeaderError(f"unknown VR {vr!r}")
    return group << 16 | elem, vr, length, pos + 8


def pack_tag(tag: int) -> bytes:
    """The 4 bytes of a tag (group, then element)."""
    return _pack_tag(tag >> 16, tag & 0xFFFF)


# VR (str or bytes) -> (its 2 bytes, has a 4-byte length): one lookup per element packed
_VR_KIND: dict[bytes | str, tuple[bytes, bool]] = {}
for _v in VRS:
    _VR_KIND[_v] = _VR_KIND[_v.decode("ascii")] = (_v, _v in LONG_VRS)
del _v


def pack_header(tag: int, vr: bytes | str | None, length: int, implicit: bool) -> bytes:
    """An element header.  ``vr`` is ignored in Implicit VR (and may be None there).

    Raises ``ValueError`` for an unknown VR or a length a short VR cannot hold (over
    0xFFFF), ``struct.error`` for a length over 32 bits."""
    group = tag >> 16
    if implicit or group == 0xFFFE:
        return _pack_implicit(group, tag & 0xFFFF, length)
    kind = _VR_KIND.get(vr)  # type: ignore[arg-type]  # None: not found, as intended
    if kind is None:
        raise ValueError(f"unknown VR {vr!r}")
    if kind[1]:
        return _pack_long(group, tag & 0xFFFF, kind[0], length)
    if length > 0xFFFF:
        raise ValueError(f"a {vr!r} value of {length} bytes does not fit a 2-byte length")
    return _pack_short(group, tag & 0xFFFF, kind[0], length)


def pack_element(tag: int, vr: bytes | str | None, value: bytes, implicit: bool) -> bytes:
    """Header and value (``value`` already padded: see :func:`pad`)."""
    return pack_header(tag, vr, len(value), implicit) + value


def pad(value: bytes, vr: str) -> bytes:
    """``value`` padded to an even length: NUL for UI, OB and UN, a space otherwise
    (PS3.5 6.2; pydicom pads the same way)."""
    if len(value) % 2:
        return value + (b"\x00" if vr in NUL_PADDED else b" ")
    return value
