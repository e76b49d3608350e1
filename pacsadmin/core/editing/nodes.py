"""What the reader makes of a file: its elements and items with their byte offsets."""

from __future__ import annotations

from dataclasses import dataclass, field

from pacsadmin.core import deflate
from pacsadmin.core.dicombytes import UNDEFINED

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
