"""A Part 10 file as a tree of elements with their byte offsets (no pydicom in the walk).

The editor needs to know where every element's bytes are, to rewrite only what changed
(``writer.py``), so the file is parsed here, not by pydicom: each :class:`Node` records
its header position, where its length field is, its value range and its end; a sequence
holds :class:`Item`\\ s with the same.  Implicit and explicit VR, little and big endian,
Deflated (inflated, bounded), encapsulated Pixel Data (kept as one opaque value),
explicit UN of undefined length (read as Implicit VR Little Endian, as the standard says).

A damaged or hostile file never raises: what could be read is kept and ``problems`` says
where reading stopped (docs/safety.md rules 2 and 3): no length is believed beyond the
bytes present, nesting is capped, the number of elements is capped, a deflated data set
inflates at most ``deflate.MAX_INFLATED`` bytes.  Only a file read to its end
(``complete``) may be saved.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from pacsadmin.core import deflate
from pacsadmin.core._pydicom import dictionary_vr
from pacsadmin.core.dicombytes import ITEM, ITEM_END, LONG_VRS, SEQ_END, SHORT_VRS, UNDEFINED

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = deflate.DEFLATED
MAX_DEPTH = 32  # sequence nesting read at most (docs/safety.md rule 2)
MAX_NODES = 500_000  # elements and items read at most


@dataclass(frozen=True)
class Syntax:
    uid: str
    implicit: bool
    little: bool
    deflated: bool

    @property
    def encapsulated(self) -> bool:
        return self.uid not in (IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED, "")


@dataclass(frozen=True)
class Stamp:
    """What the file was when it was loaded: a change since shows in one of these."""

    size: int
    mtime_ns: int
    inode: int
    sha256: str


@dataclass(eq=False)
class Item:
    start: int  # the item header
    value_start: int
    value_end: int  # where its elements end (before an Item Delimitation Item)
    end: int  # after the item (and its delimiter)
    undefined: bool
    implicit: bool
    little: bool
    elements: list[Node] = field(default_factory=list)


@dataclass(eq=False)
class Node:
    tag: int
    vr: str
    length: int  # as declared (UNDEFINED for an undefined length)
    start: int  # the header, in the buffer the node belongs to (head or body)
    len_pos: int  # the length field
    len_size: int  # 2 or 4
    value_start: int
    end: int  # after the value (and a sequence's delimiter)
    implicit: bool
    little: bool
    items: list[Item] | None = None  # a sequence's items
    fragments: bool = False  # encapsulated Pixel Data: the value is kept as it is

    @property
    def undefined(self) -> bool:
        return self.length == UNDEFINED

    @property
    def is_sequence(self) -> bool:
        return self.items is not None


@dataclass(eq=False)
class DicomFile:
    path: Path | None
    head: bytes  # preamble, "DICM", the file meta group (as in the file)
    body: bytes  # the data set (inflated for Deflated)
    preamble: bool  # the file has the 128-byte preamble and "DICM"
    meta: list[Node]
    elements: list[Node]
    syntax: Syntax
    problems: list[str]
    complete: bool
    stamp: Stamp | None
    preamble_flag: str = ""  # "MZ" or "ELF": an executable header in the preamble
    raw_size: int = 0
    partial: bool = False  # read by load_header: the last value is not in ``body``

    @property
    def charset(self) -> list[str]:
        from pacsadmin.core.editing.values import charset_of

        return charset_of(self)


class _Stop(Exception):
    """Reading stops here; the message says where and why."""


def stamp_of(path: Path, data: bytes, st: os.stat_result, *, hashed: bool = True) -> Stamp:
    digest = hashlib.sha256(data).hexdigest() if hashed else ""
    return Stamp(st.st_size, st.st_mtime_ns, st.st_ino, digest)


def read_stamped(path: str | os.PathLike[str], *, hashed: bool = True) -> tuple[bytes, Stamp]:
    """The file's bytes and its stamp, taken from the same open file."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        data = fh.read()
    return data, stamp_of(Path(path), data, st, hashed=hashed)


def load(path: str | os.PathLike[str], *, hashed: bool = True) -> DicomFile:
    """Read and parse ``path``.  ``OSError`` when it cannot be read at all; a damaged file
    gives a :class:`DicomFile` with ``problems`` and ``complete`` False.  ``hashed`` False:
    the stamp has no SHA-256 (a plan of many files: the batch hashes what it reads)."""
    p = Path(path)
    data, stamp = read_stamped(p, hashed=hashed)
    return parse(data, p, stamp)


def load_header(path: str | os.PathLike[str], head: int = 1 << 18) -> DicomFile:
    """Like :func:`load` without reading a large last value (Pixel Data): the first
    ``head`` bytes, when they hold every element but the last and the last one's declared
    length ends exactly at the end of the file.  Else the whole file.  For plans and
    previews only: a partial file (``partial``) is never saved; its stamp has no hash."""
    p = Path(path)
    with open(p, "rb") as fh:
        st = os.fstat(fh.fileno())
        data = fh.read(head if st.st_size > head else -1)
    stamp = stamp_of(p, data, st, hashed=False)
    if len(data) < st.st_size:
        df = parse(data, p, stamp, size=st.st_size)
        if df.partial and not df.syntax.deflated:
            return df
        data = p.read_bytes()
    return parse(data, p, stamp)


def parse(
    data: bytes, path: Path | None = None, stamp: Stamp | None = None, *, size: int | None = None
) -> DicomFile:
    """``size``: the whole file's size when ``data`` is only its head (see load_header)."""
    problems: list[str] = []
    flag = ""
    if len(data) >= 132 and data[128:132] == b"DICM":
        preamble, pos = True, 132
        if data[:2] == b"MZ":
            flag = "MZ"
        elif data[:4] == b"\x7fELF":
            flag = "ELF"
        if flag:
            problems.append(
                f"the preamble holds an executable header ({flag}): the file may be a "
                "program disguised as DICOM; it is written with a zero preamble"
            )
    else:
        preamble, pos = False, 0
    walker = _Walker(problems)
    partial = False
    meta: list[Node] = []
    ts_uid = ""
    if len(data) >= pos + 6 and struct.unpack_from("<H", data, pos)[0] == 2:
        implicit_meta = not _looks_explicit(data, pos)
        meta, pos = walker.walk_meta(data, pos, implicit_meta)
        for n in meta:
            if n.tag == 0x00020010:
                ts_uid = data[n.value_start : n.end].decode("ascii", "replace")
                ts_uid = ts_uid.strip("\x00 ")
    elif not preamble and len(data) < 8:
        problems.append("not a DICOM file: too short")
    head = data[:pos]
    deflated = ts_uid == DEFLATED
    body = data[pos:]
    complete = not walker.stopped
    if deflated and complete:
        try:
            body = _inflate(body)
        except (zlib.error, ValueError) as exc:
            problems.append(f"the deflated data set cannot be inflated: {exc}")
            body, complete = b"", False
    implicit = ts_uid == IMPLICIT_LE
    little = ts_uid != EXPLICIT_BE
    if ts_uid == "" and body[:6]:
        implicit = not _looks_explicit(body, 0) if len(body) >= 6 else True
        if not implicit and struct.unpack_from(">H", body)[0] < struct.unpack_from("<H", body)[0]:
            little = False  # no file meta: a big endian data set starts with group 0008
    elif len(body) >= 6 and implicit == _looks_explicit(body, 0) and little:
        problems.append(
            f"the transfer syntax says {'implicit' if implicit else 'explicit'} VR but the "
            "data set is not: read as it is written"
        )
        implicit = not implicit
    syntax = Syntax(ts_uid, implicit, little, deflated)
    elements: list[Node] = []
    if complete:
        if size is not None and not deflated:
            walker.virtual_end = size - pos
        elements = walker.walk_dataset(body, implicit, little)
        complete = not walker.stopped
        partial = walker.partial
    df = DicomFile(
        path, head, body, preamble, meta, elements, syntax, problems, complete, stamp, flag
    )
    df.raw_size = len(data)
    df.partial = partial
    return df


def _looks_explicit(buf: bytes, pos: int) -> bool:
    if pos + 6 > len(buf):
        return False
    b0, b1 = buf[pos + 4], buf[pos + 5]
    return 0x40 < b0 < 0x5B and 0x40 < b1 < 0x5B


def _inflate(data: bytes) -> bytes:
    z = zlib.decompressobj(-zlib.MAX_WBITS)
    out = z.decompress(data, deflate.MAX_INFLATED + 1)
    if len(out) > deflate.MAX_INFLATED or z.unconsumed_tail:
        raise ValueError(f"it inflates past {deflate.MAX_INFLATED} bytes (a deflate bomb?)")
    return out + z.flush()


_LONG = frozenset(v.decode() for v in LONG_VRS)
_SHORT = frozenset(v.decode() for v in SHORT_VRS)


def implicit_vr(tag: int) -> str:
    """The VR an Implicit VR element of ``tag`` has: the dictionary's, LO for a private
    creator, UN for any other private or unknown tag (the first of a multi-VR entry)."""
    group, elem = tag >> 16, tag & 0xFFFF
    if group & 1:
        return "LO" if 0x10 <= elem <= 0xFF else "UN"
    if elem == 0:
        return "UL"
    try:
        vr = dictionary_vr(tag)
    except KeyError:
        return "UN"
    return vr.split(" or ")[0] if vr else "UN"


class _Walker:
    def __init__(self, problems: list[str], virtual_end: int | None = None) -> None:
        self.problems = problems
        self.stopped = False
        self.count = 0
        self.virtual_end = virtual_end  # the data set's real end when only its head is read
        self.partial = False

    def stop(self, why: str) -> None:
        if not self.stopped:
            self.stopped = True
            self.problems.append(why)

    def walk_meta(self, buf: bytes, pos: int, implicit: bool) -> tuple[list[Node], int]:
        out: list[Node] = []
        try:
            while pos + 8 <= len(buf):
                if struct.unpack_from("<H", buf, pos)[0] != 2:
                    break
                node = self._element(buf, pos, len(buf), implicit, True, 0)
                out.append(node)
                pos = node.end
        except _Stop as exc:
            self.stop(f"reading stopped in the file meta group: {exc}")
        return out, pos

    def walk_dataset(self, buf: bytes, implicit: bool, little: bool) -> list[Node]:
        out: list[Node] = []
        try:
            self._elements(buf, 0, len(buf), implicit, little, 0, out, False)
        except _Stop as exc:
            self.stop(f"reading stopped: {exc}")
        except RecursionError:
            self.stop("reading stopped: sequences nest too deeply")
        return out

    def _elements(
        self,
        buf: bytes,
        pos: int,
        end: int,
        implicit: bool,
        little: bool,
        depth: int,
        out: list[Node],
        in_item: bool,
    ) -> int:
        """Elements from ``pos`` to ``end``; in an undefined-length item, up to its
        delimiter (returned: the delimiter's position)."""
        while pos < end:
            if end - pos < 8:
                if all(b == 0 for b in buf[pos:end]):  # trailing padding some writers add
                    return end
                raise _Stop(f"{end - pos} stray bytes at byte {pos}")
            tag = _tag(buf, pos, little)
            if tag == ITEM_END and in_item:
                return pos
            if tag in (ITEM, ITEM_END, SEQ_END):
                raise _Stop(f"an unexpected item or delimiter at byte {pos}")
            node = self._element(buf, pos, end, implicit, little, depth)
            out.append(node)
            pos = node.end
        return pos

    def _element(
        self, buf: bytes, pos: int, end: int, implicit: bool, little: bool, depth: int
    ) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Stop(f"more than {MAX_NODES} elements")
        if pos + 8 > end:
            raise _Stop(f"the element header at byte {pos} runs past the end")
        tag = _tag(buf, pos, little)
        e = "<" if little else ">"
        where = f"({tag >> 16:04X},{tag & 0xFFFF:04X}) at byte {pos}"
        if implicit:
            vr = implicit_vr(tag)
            (length,) = struct.unpack_from(e + "L", buf, pos + 4)
            len_pos, len_size, value = pos + 4, 4, pos + 8
        else:
            vr = buf[pos + 4 : pos + 6].decode("latin-1")
            if vr in _LONG:
                if pos + 12 > end:
                    raise _Stop(f"the element header of {where} runs past the end")
                (length,) = struct.unpack_from(e + "L", buf, pos + 8)
                len_pos, len_size, value = pos + 8, 4, pos + 12
            elif vr in _SHORT:
                (length,) = struct.unpack_from(e + "H", buf, pos + 6)
                len_pos, len_size, value = pos + 6, 2, pos + 8
            else:
                raise _Stop(f"{where} has an unknown VR {vr!r}")
        node = Node(tag, vr, length, pos, len_pos, len_size, value, 0, implicit, little)
        if length == UNDEFINED:
            if tag == 0x7FE00010 or (vr in ("OB", "OW") and not implicit):
                node.fragments = True
                node.end = self._fragments(buf, value, end, little, where)
                return node
            if depth >= MAX_DEPTH:
                raise _Stop(f"sequences nest deeper than {MAX_DEPTH} levels at {where}")
            # an undefined-length UN holds an Implicit VR Little Endian sequence
            inner_implicit, inner_little = (True, True) if vr == "UN" else (implicit, little)
            node.items = []
            node.end = self._items(
                buf, value, end, inner_implicit, inner_little, depth + 1, node.items, True
            )
            return node
        if length > end - value:
            if depth == 0 and self.virtual_end == value + length and vr != "SQ":
                node.end = value + length  # the last value, beyond a header-only read
                self.partial = True
                return node
            raise _Stop(f"{where} declares {length} bytes but only {end - value} remain")
        node.end = value + length
        if vr == "SQ":
            if depth >= MAX_DEPTH:
                raise _Stop(f"sequences nest deeper than {MAX_DEPTH} levels at {where}")
            node.items = []
            self._items(buf, value, node.end, implicit, little, depth + 1, node.items, False)
        return node

    def _items(
        self,
        buf: bytes,
        pos: int,
        end: int,
        implicit: bool,
        little: bool,
        depth: int,
        out: list[Item],
        undefined: bool,
    ) -> int:
        """Items from ``pos``; for an undefined-length sequence up to and past its
        delimiter (returned), else up to ``end``."""
        e = "<" if little else ">"
        while pos + 8 <= end:
            tag = _tag(buf, pos, little)
            (length,) = struct.unpack_from(e + "L", buf, pos + 4)
            if tag == SEQ_END:
                if not undefined:
                    raise _Stop(f"a sequence delimiter in a defined-length sequence at byte {pos}")
                return pos + 8
            if tag != ITEM:
                raise _Stop(f"an item was expected at byte {pos}")
            self.count += 1
            if self.count > MAX_NODES:
                raise _Stop(f"more than {MAX_NODES} elements")
            start, value = pos, pos + 8
            item_implicit = implicit
            if length == UNDEFINED:
                elements: list[Node] = []
                stop = self._elements(buf, value, end, item_implicit, little, depth, elements, True)
                if stop + 8 > end or _tag(buf, stop, little) != ITEM_END:
                    raise _Stop(f"the item at byte {start} has no end")
                out.append(
                    Item(start, value, stop, stop + 8, True, item_implicit, little, elements)
                )
                pos = stop + 8
            else:
                if length > end - value:
                    raise _Stop(
                        f"the item at byte {start} declares {length} bytes but only "
                        f"{end - value} remain"
                    )
                elements = []
                self._elements(
                    buf, value, value + length, item_implicit, little, depth, elements, False
                )
                out.append(
                    Item(
                        start,
                        value,
                        value + length,
                        value + length,
                        False,
                        item_implicit,
                        little,
                        elements,
                    )
                )
                pos = value + length
        if undefined:
            raise _Stop("a sequence of undefined length has no end")
        if pos != end:
            raise _Stop(f"{end - pos} stray bytes in a sequence at byte {pos}")
        return pos

    def _fragments(self, buf: bytes, pos: int, end: int, little: bool, where: str) -> int:
        e = "<" if little else ">"
        while pos + 8 <= end:
            tag = _tag(buf, pos, little)
            (length,) = struct.unpack_from(e + "L", buf, pos + 4)
            if tag == SEQ_END:
                return pos + 8
            if tag != ITEM or length == UNDEFINED or length > end - pos - 8:
                raise _Stop(f"the encapsulated value of {where} is damaged at byte {pos}")
            pos += 8 + length
        raise _Stop(f"the encapsulated value of {where} has no end")


def _tag(buf: bytes, pos: int, little: bool) -> int:
    g, el = struct.unpack_from("<HH" if little else ">HH", buf, pos)
    return int(g) << 16 | int(el)


def walk(nodes: list[Node], prefix: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], Node]]:
    """Every node with its key path (tag, item index, tag, ...), depth first, in order."""
    out: list[tuple[tuple[int, ...], Node]] = []
    for n in nodes:
        key = (*prefix, n.tag)
        out.append((key, n))
        if n.items is not None:
            for i, it in enumerate(n.items):
                out += walk(it.elements, (*key, i))
    return out
