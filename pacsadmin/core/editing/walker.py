"""The walk over a data set's bytes: elements, items, sequences, encapsulated values.

Nothing here believes a length beyond the bytes present, nests deeper than
:data:`~pacsadmin.core.editing.nodes.MAX_DEPTH` or makes more than
:data:`~pacsadmin.core.editing.nodes.MAX_NODES` nodes (docs/safety.md rule 2): it stops,
and says where, instead.
"""

from __future__ import annotations

import struct

from pacsadmin.core._pydicom import dictionary_vr
from pacsadmin.core.dicombytes import ITEM, ITEM_END, LONG_VRS, SEQ_END, SHORT_VRS, UNDEFINED
from pacsadmin.core.editing.nodes import MAX_DEPTH, MAX_NODES, Item, Node


class _Stop(Exception):
    """Reading stops here; the message says where and why."""


def looks_explicit(buf: bytes, pos: int) -> bool:
    if pos + 6 > len(buf):
        return False
    b0, b1 = buf[pos + 4], buf[pos + 5]
    return 0x40 < b0 < 0x5B and 0x40 < b1 < 0x5B


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


class Walker:
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
