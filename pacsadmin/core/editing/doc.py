"""The edited data set: a light mirror of a parsed file that edits change.

An :class:`ENode` or :class:`EItem` that nothing touched points at its original bytes
(``orig``) and is written by copying them; only what an edit reached is materialised and
marked ``dirty``, up to the top.  The writer (``writer.py``) turns a :class:`Doc` into
bytes; :func:`expected` lists what the new file must contain, which the writer compares
with the re-read file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pacsadmin.core.editing.model import DicomFile, Item, Node
from pacsadmin.core.editing.tagpath import TagPath, element_name
from pacsadmin.core.errors import PacsAdminError


class PathNotFound(PacsAdminError):
    pass


@dataclass(eq=False)
class EItem:
    orig: Item | None
    implicit: bool
    little: bool
    _elements: list[ENode] | None = None
    dirty: bool = False

    @property
    def elements(self) -> list[ENode]:
        if self._elements is None:
            self._elements = [ENode.of(n) for n in self.orig.elements] if self.orig else []
        return self._elements


@dataclass(eq=False)
class ENode:
    tag: int
    vr: str
    orig: Node | None
    implicit: bool
    little: bool
    value: bytes | None = None  # a new value
    _items: list[EItem] | None = None
    dirty: bool = False

    @classmethod
    def of(cls, n: Node) -> ENode:
        return cls(n.tag, n.vr, n, n.implicit, n.little)

    @property
    def is_sequence(self) -> bool:
        if self.value is not None:
            return False
        return self._items is not None or (self.orig is not None and self.orig.items is not None)

    @property
    def items(self) -> list[EItem]:
        if self._items is None:
            src = self.orig.items if self.orig is not None and self.orig.items else []
            self._items = [EItem(it, it.implicit, it.little) for it in src]
        return self._items


@dataclass(eq=False)
class Doc:
    df: DicomFile
    meta: list[ENode] = field(default_factory=list)
    elements: list[ENode] = field(default_factory=list)
    meta_dirty: bool = False
    body_dirty: bool = False

    @classmethod
    def of(cls, df: DicomFile) -> Doc:
        return cls(df, [ENode.of(n) for n in df.meta], [ENode.of(n) for n in df.elements])

    def buf_of(self, meta: bool) -> bytes:
        return self.df.head if meta else self.df.body

    # -------------------------------------------------------------- navigation
    def _top(self, tag: int, mark: bool) -> tuple[list[ENode], bool]:
        if tag >> 16 == 2:
            self.meta_dirty = self.meta_dirty or mark
            return self.meta, True
        self.body_dirty = self.body_dirty or mark
        return self.elements, False

    def container(
        self, path: TagPath, *, create: bool = False, mark: bool = True
    ) -> tuple[list[ENode], bool, bool]:
        """The element list the last step of ``path`` lives in, the byte order of that
        list (implicit, little) and (``mark``) marks everything on the way dirty.  ``create``: a
        missing sequence or the item one past the end is made (so ``Seq[0].X`` can be set
        in a new sequence)."""
        lst, _ = self._top(path.steps[0][0], mark)
        implicit, little = self.df.syntax.implicit, self.df.syntax.little
        if path.steps[0][0] >> 16 == 2:
            implicit, little = False, True
        for depth, (tag, index) in enumerate(path.steps[:-1]):
            assert index is not None
            node = find(lst, tag)
            where = TagPath(path.steps[: depth + 1])
            if node is None:
                if not create or index != 0:
                    raise PathNotFound(f"{where}: no such sequence in the file.")
                node = ENode(tag, "SQ", None, implicit, little, _items=[])
                insert(lst, node)
            if not node.is_sequence:
                raise PathNotFound(f"{element_name(tag)} is not a sequence.")
            node.dirty = node.dirty or mark
            items = node.items
            if index == len(items) and create:
                items.append(EItem(None, implicit, little, []))
            if index >= len(items):
                raise PathNotFound(
                    f"{where}: the sequence has {len(items)} item(s); there is no item {index}."
                )
            item = items[index]
            item.dirty = item.dirty or mark
            implicit, little = item.implicit, item.little
            lst = item.elements
        return lst, implicit, little


def find(lst: list[ENode], tag: int) -> ENode | None:
    for n in lst:
        if n.tag == tag:
            return n
    return None


def insert(lst: list[ENode], node: ENode) -> None:
    """In tag order (after the last element with a smaller tag)."""
    at = len(lst)
    for i, n in enumerate(lst):
        if n.tag > node.tag:
            at = i
            break
    lst.insert(at, node)


# ------------------------------------------------------------------ what the file must hold
# key path, and the value as (buffer, start, end) or a sequence's item count
Entry = tuple[tuple[int, ...], object]


def expected(doc: Doc) -> Iterator[Entry]:
    """The leaf values and item counts the new file must hold, in order (the meta group
    under key prefix 0, the data set under 1); group lengths are left out (derived)."""
    yield from _elist(doc.meta, doc.df.head, (0,))
    yield from _elist(doc.elements, doc.df.body, (1,))


def _elist(lst: list[ENode], buf: bytes, prefix: tuple[int, ...]) -> Iterator[Entry]:
    for n in lst:
        key = (*prefix, n.tag)
        if n.tag & 0xFFFF == 0:
            continue
        if n.value is not None:
            yield key, (n.value, 0, len(n.value))
        elif not n.dirty and n.orig is not None:
            yield from _nodes([n.orig], buf, prefix)
        else:
            yield key, len(n.items)
            for i, it in enumerate(n.items):
                if not it.dirty and it.orig is not None:
                    yield from _nodes(it.orig.elements, buf, (*key, i))
                else:
                    yield from _elist(it.elements, buf, (*key, i))


def _nodes(nodes: list[Node], buf: bytes, prefix: tuple[int, ...]) -> Iterator[Entry]:
    for n in nodes:
        key = (*prefix, n.tag)
        if n.tag & 0xFFFF == 0:
            continue
        if n.items is not None:
            yield key, len(n.items)
            for i, it in enumerate(n.items):
                yield from _nodes(it.elements, buf, (*key, i))
        else:
            yield key, (buf, n.value_start, n.end)


def actual(df: DicomFile) -> Iterator[Entry]:
    """The same listing of a parsed file."""
    yield from _nodes(df.meta, df.head, (0,))
    yield from _nodes(df.elements, df.body, (1,))
