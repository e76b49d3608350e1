"""An editing session on one file: validated edit commands, undo and redo, the new bytes.

The session keeps the list of edits; the edited data set is the original file with the
active edits replayed (cheap: only what they reach is materialised), so undo and redo are
a move of the list's end.  A value is validated against its VR and encoded in the file's
character set when it is set: a bad one raises :class:`EditRefused` and the session is
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pacsadmin.core.editing import doc as d
from pacsadmin.core.editing.model import DicomFile, implicit_vr
from pacsadmin.core.editing.tagpath import TagPath, element_name, keyword_of
from pacsadmin.core.editing.values import (
    CHARSET_TAG,
    CHARSET_VRS,
    UnencodableText,
    decode_value,
    encode_value,
)
from pacsadmin.core.editing.vr import Problem, validate
from pacsadmin.core.errors import PacsAdminError

UTF8 = "ISO_IR 192"


class EditRefused(PacsAdminError):
    """The value breaks a rule; ``problems`` name the element and the rule each."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Edit:
    kind: str  # "set", "delete", "add_item", "remove_item", "charset"
    path: TagPath
    text: str = ""
    vr: str = ""


@dataclass(frozen=True)
class Change:
    path: str
    tag: int
    old: str | None  # None: absent
    new: str | None

    @property
    def is_record(self) -> bool:
        """A row of the Original Attributes Sequence (the record of the old values), which
        a preview may fold away."""
        return self.path.startswith("OriginalAttributesSequence")

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "tag": f"{self.tag:08X}", "old": self.old, "new": self.new}


@dataclass
class _State:
    doc: d.Doc
    terms: list[str] = field(default_factory=list)


def _to_path(path: str | TagPath) -> TagPath:
    return path if isinstance(path, TagPath) else TagPath.parse(path)


class EditSession:
    def __init__(self, df: DicomFile, *, upgrade_charset: bool = False) -> None:
        self.df = df
        self.upgrade_charset = upgrade_charset
        self._edits: list[Edit] = []
        self._pos = 0
        self._state: _State | None = None  # the data set with the active edits applied

    # ------------------------------------------------------------------ commands
    @property
    def edits(self) -> list[Edit]:
        return self._edits[: self._pos]

    def _current(self) -> _State:
        if self._state is None:
            self._state = _replay(self.df, self.edits)
        return self._state

    def _push(self, edits: list[Edit]) -> None:
        state = self._current()
        try:
            for e in edits:
                _apply(state, e)
        except BaseException:
            self._state = None  # half applied: replayed from the list when next needed
            raise
        self._edits = self.edits + edits
        self._pos = len(self._edits)

    def set(self, path: str | TagPath, text: str, vr: str | None = None) -> None:
        p = _to_path(path)
        state = self._current()
        vr = vr or _current_vr(state, p) or implicit_vr(p.tag)
        if vr == "SQ":
            raise EditRefused(
                [Problem(p.name, "SQ", f"{p.name}: is a sequence; set values inside its items")]
            )
        problems = validate(vr, text, element=p.name, tag=p.tag)
        if problems:
            raise EditRefused(problems)
        edits = [Edit("set", p, text, vr)]
        if vr in CHARSET_VRS and self.upgrade_charset:
            try:
                encode_value(vr, text, state.terms, True, p.name)
            except UnencodableText:
                edits.insert(0, Edit("charset", TagPath(((CHARSET_TAG, None),)), UTF8, "CS"))
        try:
            self._push(edits)
        except UnencodableText as exc:
            raise EditRefused([Problem(p.name, "character set", str(exc))]) from None

    def copy(self, src: str | TagPath, dest: str | TagPath) -> None:
        """Put the current value of ``src`` (its bytes as they are, not validated: an old
        value kept for the record) at ``dest`` (the Original Attributes Sequence)."""
        self._push([Edit("copy", _to_path(dest), str(_to_path(src)))])

    def delete(self, path: str | TagPath) -> None:
        p = _to_path(path)
        kind = "remove_item" if p.steps[-1][1] is not None else "delete"
        self._push([Edit(kind, p)])

    def add_item(self, path: str | TagPath) -> int:
        """Append an empty item to the sequence at ``path`` (made if missing); its index."""
        p = _to_path(path)
        self._push([Edit("add_item", p)])
        lst, _, _ = self._current().doc.container(p, mark=False)
        node = d.find(lst, p.tag)
        return len(node.items) - 1 if node is not None else 0

    def remove_item(self, path: str | TagPath, index: int) -> None:
        self._push([Edit("remove_item", _to_path(path).item(index))])

    def undo(self) -> bool:
        if self._pos == 0:
            return False
        self._state = None
        self._pos -= 1
        if self._pos and self._edits[self._pos - 1].kind == "charset":
            self._pos -= 1  # an upgrade goes with the edit that needed it
        return True

    def redo(self) -> bool:
        if self._pos >= len(self._edits):
            return False
        self._state = None
        self._pos += 1
        if self._edits[self._pos - 1].kind == "charset" and self._pos < len(self._edits):
            self._pos += 1
        return True

    @property
    def can_undo(self) -> bool:
        return self._pos > 0

    @property
    def can_redo(self) -> bool:
        return self._pos < len(self._edits)

    # ------------------------------------------------------------------ results
    def doc(self) -> d.Doc:
        return self._current().doc

    def preview(self) -> list[Change]:
        """Old and new value of every element the active edits touch, in edit order."""
        out: list[Change] = []
        state = _State(d.Doc.of(self.df), list(self.df.charset))
        for e in self.edits:
            before = _read(state, e.path)
            _apply(state, e)
            after = _read(state, e.path)
            if e.kind == "charset":
                out.append(Change(str(e.path), CHARSET_TAG, before, after))
            elif before != after:
                out.append(Change(str(e.path), e.path.tag, before, after))
        return out

    def render(self) -> bytes:
        from pacsadmin.core.editing.writer import render

        return render(self.doc())


def _replay(df: DicomFile, edits: list[Edit]) -> _State:
    state = _State(d.Doc.of(df), list(df.charset))
    for e in edits:
        _apply(state, e)
    return state


def _current_vr(state: _State, p: TagPath) -> str | None:
    try:
        lst, _, _ = state.doc.container(p, mark=False)
    except d.PathNotFound:
        return None
    node = d.find(lst, p.tag)
    if node is None or node.vr == "UN":
        return None
    return node.vr


def _read(state: _State, p: TagPath) -> str | None:
    if p.steps[-1][1] is not None:  # an item
        p = TagPath((*p.steps[:-1], (p.tag, None)))
    try:
        lst, _, _ = state.doc.container(p, mark=False)
    except d.PathNotFound:
        return None
    node = d.find(lst, p.tag)
    if node is None:
        return None
    if node.value is not None:
        raw: bytes | memoryview = node.value
    elif node.is_sequence:
        return f"<{len(node.items)} items>"
    else:
        assert node.orig is not None
        buf = state.doc.buf_of(p.tag >> 16 == 2 and len(p.steps) == 1)
        raw = buf[node.orig.value_start : node.orig.end]
    return decode_value(bytes(raw), node.vr, state.terms, node.little)


def _apply(state: _State, e: Edit) -> None:
    doc, p = state.doc, e.path
    if e.kind == "charset":
        _upgrade(state)
        return
    if e.kind == "copy":
        _copy(state, TagPath.parse(e.text), p)
        return
    if e.kind == "add_item":
        lst, implicit, little = doc.container(p, create=True)
        node = d.find(lst, p.tag)
        if node is None:
            node = d.ENode(p.tag, "SQ", None, implicit, little, _items=[])
            d.insert(lst, node)
        if not node.is_sequence:
            raise d.PathNotFound(f"{element_name(p.tag)} is not a sequence.")
        node.dirty = True
        node.items.append(d.EItem(None, implicit, little, []))
        return
    lst, implicit, little = doc.container(p, create=e.kind == "set")
    node = d.find(lst, p.tag)
    if e.kind == "remove_item":
        index = p.steps[-1][1]
        if node is None or not node.is_sequence or index is None or index >= len(node.items):
            raise d.PathNotFound(f"{p}: no such item.")
        node.dirty = True
        del node.items[index]
        return
    if e.kind == "delete":
        if node is None:
            raise d.PathNotFound(f"{p.name}: not in the file.")
        lst.remove(node)
        return
    # set
    if node is None and p.tag >> 16 & 1 and p.tag & 0xFFFF > 0xFF:
        creator = (p.tag & 0xFFFF0000) | (p.tag >> 8 & 0xFF)
        if d.find(lst, creator) is None:
            raise d.PathNotFound(
                f"{p.name}: a private element needs its private creator "
                f"({creator >> 16:04X},{creator & 0xFFFF:04X}) first."
            )
    raw = encode_value(e.vr, e.text, state.terms, little, p.name)
    if node is None:
        d.insert(lst, d.ENode(p.tag, e.vr, None, implicit, little, value=raw, dirty=True))
    else:
        node.value, node.dirty = raw, True
        if node.vr == "UN" or implicit:
            node.vr = e.vr


def _copy(state: _State, src: TagPath, dest: TagPath) -> None:
    doc = state.doc
    try:
        lst, _, _ = doc.container(src, mark=False)
        node = d.find(lst, src.tag)
    except d.PathNotFound:
        node = None
    if node is not None and node.is_sequence:
        raise d.PathNotFound(f"{src}: a sequence cannot be copied")
    if node is None:
        vr, raw = implicit_vr(src.tag), b""
    elif node.value is not None:
        vr, raw = node.vr, node.value
    else:
        assert node.orig is not None
        buf = doc.buf_of(src.tag >> 16 == 2 and len(src.steps) == 1)
        vr, raw = node.vr, buf[node.orig.value_start : node.orig.end]
    lst, implicit, little = doc.container(dest, create=True)
    old = d.find(lst, dest.tag)
    if old is not None:
        lst.remove(old)
    d.insert(lst, d.ENode(dest.tag, vr, None, implicit, little, value=bytes(raw), dirty=True))


def _upgrade(state: _State) -> None:
    """Re-encode every text of the file's character set in UTF-8 and say ISO_IR 192."""
    old = list(state.terms)
    state.terms = [UTF8]
    doc = state.doc
    doc.body_dirty = True

    def walk(lst: list[d.ENode], buf: bytes) -> bool:
        touched = False
        for n in lst:
            o = n.orig
            if n.value is None and o is not None and o.items is not None:
                if not _has_non_ascii(buf, o.value_start, o.end):
                    continue
                for it in n.items:
                    if walk(it.elements, buf):
                        it.dirty = n.dirty = touched = True
            elif n.value is None and o is not None and n.vr in CHARSET_VRS:
                raw = buf[o.value_start : o.end]
                if raw.isascii() and b"\x1b" not in raw:
                    continue
                text = decode_value(raw, n.vr, old, n.little)
                n.value, n.dirty, touched = encode_value(n.vr, text, [UTF8], n.little), True, True
        return touched

    walk(doc.elements, doc.df.body)
    node = d.find(doc.elements, CHARSET_TAG)
    value = encode_value("CS", UTF8, [], True)
    if node is None:
        s = doc.df.syntax
        d.insert(
            doc.elements, d.ENode(CHARSET_TAG, "CS", None, s.implicit, s.little, value, dirty=True)
        )
    else:
        node.value, node.dirty = value, True


def _has_non_ascii(buf: bytes, start: int, end: int) -> bool:
    return not buf[start:end].isascii()


def keyword(tag: int) -> str:
    return keyword_of(tag)
