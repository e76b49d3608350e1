"""A C-FIND response identifier decoded straight from its bytes into plain values, with
the same rules and results as ``find_result.to_match`` over pydicom's parse (explicit or
implicit VR little endian, nested sequences); anything unusual (an unknown VR, an
undefined length outside a sequence, a truncated element) goes through pydicom and
``to_match`` itself.  Tested match for match against pynetdicom's path on real peers."""

from __future__ import annotations

import struct
from typing import Any

from pacsadmin.core.dicombytes import ITEM, ITEM_END, LONG_VRS, SEQ_END, UNDEFINED
from pacsadmin.core.dimse.find_result import (
    _ASCII_VRS,
    _TEXT_VRS,
    FindMatch,
    Unreadable,
    _codecs,
    _name,
    _split,
    _text,
    to_match,
)

_NUMBERS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}


class Fallback(Exception):
    """Something this reader does not handle: let pydicom decode the identifier."""


def _elements(data: bytes, pos: int, end: int, implicit: bool) -> tuple[list[Any], int]:
    """[(tag, vr, value bytes or [items])] from ``pos`` to ``end`` or a delimiter."""
    out: list[Any] = []
    while pos < end:
        if pos + 8 > end:
            raise Fallback("truncated element")
        group, elem = struct.unpack_from("<HH", data, pos)
        tag = group << 16 | elem
        if tag in (ITEM_END, SEQ_END):  # item / sequence delimitation
            return out, pos + 8
        if implicit:
            length = struct.unpack_from("<I", data, pos + 4)[0]
            vr = _name(tag)[1]
            pos += 8
        else:
            vrb = bytes(data[pos + 4 : pos + 6])
            if vrb in LONG_VRS:
                length = struct.unpack_from("<I", data, pos + 8)[0]
                pos += 12
            else:
                length = struct.unpack_from("<H", data, pos + 6)[0]
                pos += 8
            vr = vrb.decode("ascii", "replace")
        if vr == "SQ":
            items, pos = _items(data, pos, length, end, implicit)
            out.append((tag, vr, items))
            continue
        if length == UNDEFINED or pos + length > end:
            raise Fallback("undefined length or overrun")
        out.append((tag, vr, data[pos : pos + length]))
        pos += length
    return out, pos


def _items(data: bytes, pos: int, length: int, end: int, implicit: bool) -> tuple[list[Any], int]:
    stop = end if length == UNDEFINED else pos + length
    items: list[Any] = []
    while pos < stop:
        group, elem, ilen = struct.unpack_from("<HHI", data, pos)
        tag = group << 16 | elem
        pos += 8
        if tag == SEQ_END:  # sequence delimitation
            return items, pos
        if tag != ITEM:
            raise Fallback("not an item")
        item_end = stop if ilen == UNDEFINED else pos + ilen
        elements, pos = _elements(data, pos, item_end, implicit)
        items.append(elements)
    return items, pos


def _values(
    elements: list[Any], terms: list[str], codec: str | None, problems: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tag, vr, value in elements:
        if tag >> 16 in (0x0000, 0x0002):
            continue
        key = _name(tag)[0]
        if vr == "SQ":
            out[key] = [_values(item, terms, codec, problems) for item in value]
        elif not value:
            out[key] = ""
        elif vr in _TEXT_VRS:
            out[key] = _split(_text(value, vr, terms, codec, problems), vr)
        elif vr in _ASCII_VRS:
            try:
                out[key] = _split(value.decode("ascii"), vr)
            except UnicodeDecodeError:
                problems.append(f"{key} has bytes outside ASCII")
                out[key] = _split(value.decode("latin-1"), vr)
        elif vr in ("OB", "OW", "UN", "OD", "OF", "OL", "OV"):
            out[key] = value.hex()
        elif vr in _NUMBERS:
            fmt = _NUMBERS[vr]
            size = struct.calcsize(fmt)
            if len(value) % size:
                raise Fallback("odd number length")
            nums = [str(v) for v in struct.unpack(f"<{len(value) // size}{fmt}", value)]
            out[key] = nums[0] if len(nums) == 1 else nums
        else:
            raise Fallback(f"VR {vr}")
    return out


def decode_identifier(index: int, status: int, data: bytes, implicit: bool) -> FindMatch:
    """The same :class:`FindMatch` as ``to_match`` over pydicom's parse of ``data``."""
    try:
        elements, _ = _elements(data, 0, len(data), implicit)
        cs: Any = None
        for tag, _vr, value in elements:
            if tag == 0x00080005:
                terms = [t.strip() for t in value.decode("ascii", "replace").split("\\")]
                cs = terms if len(terms) > 1 else terms[0]
                break
        problems: list[str] = []
        try:
            terms, codec = _codecs(cs)
        except Unreadable as exc:
            problems.append(str(exc))
            terms, codec = [], "latin-1"
        values = _values(elements, terms, codec, problems)
        return FindMatch(index, status, values, "; ".join(dict.fromkeys(problems)))
    except Exception:  # Fallback, or bytes this reader misjudged: pydicom decides
        from io import BytesIO

        from pynetdicom.dsutils import decode

        try:
            ds = decode(BytesIO(data), implicit, True)
        except Exception:
            ds = None
        return to_match(index, status, ds)
