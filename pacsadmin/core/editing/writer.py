"""The byte-preserving writer: only what was edited is re-encoded.

The new file is a splice of the original bytes: an element, item or sequence no edit
reached is copied as it is (transfer syntax, element order, private elements and their
creators, defined or undefined lengths, Pixel Data never decoded); an edited element is
encoded in its list's VR form and byte order; the defined lengths of the items and
sequences around an edit, and group lengths (0002,0000 above all), are fixed up; an
undefined length stays undefined.  The preamble is written as zeros (docs/safety.md
rule 6).  A Deflated data set that changed is deflated again (the original compressed
bytes are kept when only the file meta group changed).

:func:`render` then re-reads the result and compares every value and item count with
what the edits should give (``doc.expected``): any other difference raises
:class:`RewriteMismatch`, and nothing is written.
"""

from __future__ import annotations

import struct
import zlib

from pacsadmin.core.dicombytes import LONG_VRS, UNDEFINED
from pacsadmin.core.editing.doc import Doc, EItem, ENode, actual, expected
from pacsadmin.core.editing.model import DicomFile, parse
from pacsadmin.core.errors import PacsAdminError

_LONG = frozenset(v.decode() for v in LONG_VRS)


class RewriteMismatch(PacsAdminError):
    pass


class NotSaveable(PacsAdminError):
    pass


def header(tag: int, vr: str, length: int, implicit: bool, little: bool) -> bytes:
    e = "<" if little else ">"
    g, el = tag >> 16, tag & 0xFFFF
    if implicit or g == 0xFFFE:
        return struct.pack(e + "HHL", g, el, length)
    if vr in _LONG:
        return struct.pack(e + "HH2s2xL", g, el, vr.encode(), length)
    if length > 0xFFFF:
        raise PacsAdminError(
            f"({g:04X},{el:04X}): a {vr} value of {length} bytes does not fit its 2-byte length"
        )
    return struct.pack(e + "HH2sH", g, el, vr.encode(), length)


def _patched(
    buf: bytes, start: int, hdr_end: int, len_pos: int, size: int, little: bool, length: int
) -> bytes:
    h = bytearray(buf[start:hdr_end])
    fmt = ("<" if little else ">") + ("L" if size == 4 else "H")
    struct.pack_into(fmt, h, len_pos - start, length)
    return bytes(h)


def emit_list(lst: list[ENode], buf: bytes, tail: bytes = b"") -> bytes:
    return b"".join(emit_parts(lst, buf)) + tail


def emit_parts(lst: list[ENode], buf: bytes) -> list[bytes | memoryview]:
    """The bytes of ``lst`` in pieces (joined once by the caller: Pixel Data is copied
    once)."""
    parts: list[bytes | memoryview] = []
    view = memoryview(buf)
    changed_groups: set[int] = set()
    for n in lst:  # the reader leaves no bytes between elements: nothing is lost here
        o = n.orig
        if o is not None and not n.dirty and n.value is None:
            parts.append(view[o.start : o.end])
        else:
            changed_groups.add(n.tag >> 16)
            parts.append(_emit_node(n, buf))
    if len(lst) and changed_groups:
        _fix_group_lengths(lst, parts, changed_groups)
    return parts


def _fix_group_lengths(lst: list[ENode], parts: list[bytes | memoryview], groups: set[int]) -> None:
    for i, n in enumerate(lst):
        if n.tag & 0xFFFF or n.tag >> 16 not in groups or n.value is not None:
            continue
        total = sum(
            len(p)
            for m, p in zip(lst[i + 1 :], parts[i + 1 :], strict=False)
            if m.tag >> 16 == n.tag >> 16
        )
        value = struct.pack("<L" if n.little else ">L", total)
        parts[i] = header(n.tag, n.vr if n.vr != "UN" else "UL", 4, n.implicit, n.little) + value


def _emit_node(n: ENode, buf: bytes) -> bytes:
    o = n.orig
    if n.value is not None:
        vr = n.vr
        if o is not None and not n.implicit and o.vr != vr:
            vr = o.vr if o.vr != "UN" else vr
        return header(n.tag, vr, len(n.value), n.implicit, n.little) + n.value
    body = b"".join(_emit_item(it, buf) for it in n.items)
    if o is None:
        return header(n.tag, "SQ", len(body), n.implicit, n.little) + body
    if o.undefined:
        return buf[o.start : o.value_start] + body + buf[o.end - 8 : o.end]
    return _patched(buf, o.start, o.value_start, o.len_pos, o.len_size, o.little, len(body)) + body


def _emit_item(it: EItem, buf: bytes) -> bytes:
    o = it.orig
    if o is not None and not it.dirty:
        return buf[o.start : o.end]
    tail = b""
    if o is not None and o.elements:
        tail = buf[o.elements[-1].end : o.value_end]
    elif o is not None:
        tail = buf[o.value_start : o.value_end]
    body = emit_list(it.elements, buf, tail)
    if o is None:
        return header(0xFFFEE000, "", len(body), True, it.little) + body
    if o.undefined:
        return buf[o.start : o.value_start] + body + buf[o.value_end : o.end]
    return _patched(buf, o.start, o.value_start, o.start + 4, 4, o.little, len(body)) + body


def to_bytes(doc: Doc) -> bytes:
    df = doc.df
    if not df.complete or df.partial:
        raise NotSaveable(
            "The file was not read to its end (it is damaged or was read without its pixel "
            "data): it is never saved, so nothing of it can be lost."
        )
    meta_start = 132 if df.preamble else 0
    prefix = (b"\x00" * 128 + b"DICM") if df.preamble else b""
    meta_tail = b""
    if df.meta:
        meta_tail = df.head[df.meta[-1].end :]
    meta = emit_list(doc.meta, df.head, meta_tail) if doc.meta_dirty else df.head[meta_start:]
    tail = df.body[df.elements[-1].end :] if df.elements else df.body
    if df.syntax.deflated:
        if not doc.body_dirty:
            return prefix + meta + _original_compressed(df)
        body = emit_list(doc.elements, df.body, tail)
        z = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        return prefix + meta + z.compress(body) + z.flush()
    if not doc.body_dirty:
        return b"".join((prefix, meta, df.body))
    return b"".join((prefix, meta, *emit_parts(doc.elements, df.body), tail))


def _original_compressed(df: DicomFile) -> bytes:
    if df.path is None:
        raise NotSaveable("a Deflated data set read from memory cannot be kept as it was")
    data = df.path.read_bytes()
    return data[len(df.head) :]


def render(doc: Doc) -> bytes:
    """The new file's bytes, re-read and compared with what the edits should give."""
    out = to_bytes(doc)
    verify(doc, out)
    return out


def verify(doc: Doc, out: bytes) -> None:
    new = parse(out)
    if not new.complete:
        raise RewriteMismatch(
            "The rewritten file does not read back completely ("
            + "; ".join(new.problems[-1:])
            + "): nothing was written."
        )
    if new.syntax != doc.df.syntax:
        raise RewriteMismatch(
            "The rewritten file changed its transfer syntax: nothing was written."
        )
    want = list(expected(doc))
    got = list(actual(new))
    if len(want) != len(got):
        raise RewriteMismatch(
            f"The rewritten file holds {len(got)} values where {len(want)} were expected: "
            "nothing was written."
        )
    for (k1, v1), (k2, v2) in zip(want, got, strict=True):
        if k1 != k2 or not _same(v1, v2):
            from pacsadmin.core.editing.tagpath import TagPath

            where = TagPath.of(k1[1:]) if len(k1) > 1 else "?"
            raise RewriteMismatch(
                f"The rewritten file differs from the intended edit at {where}: nothing "
                "was written."
            )
    if doc.df.preamble and out[:128] != b"\x00" * 128:
        raise RewriteMismatch("The preamble is not zeros.")


def _same(a: object, b: object) -> bool:
    """Equal entries; values compared in place (no copy: a memcmp of Pixel Data)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        ba, sa, ea = a
        bb, sb, eb = b
        return bool(ea - sa == eb - sb and bb.startswith(memoryview(ba)[sa:ea], sb))
    return a == b


def undefined(n: int) -> bool:
    return n == UNDEFINED
