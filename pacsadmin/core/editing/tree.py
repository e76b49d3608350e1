"""The dataset tree as rows: what the tag editor's tree and ``pacsadmin tags show`` list.

Values are plain text, control characters escaped, elided past ``values.MAX_SHOWN``
characters (docs/safety.md rule 5); the GUI sets them as plain text too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pacsadmin.core.editing.model import DicomFile, Node
from pacsadmin.core.editing.tagpath import TagPath, keyword_of, tag_text
from pacsadmin.core.editing.values import node_value, shown, value_multiplicity


@dataclass(frozen=True)
class Row:
    depth: int
    path: str  # "ProcedureCodeSequence[0].CodeMeaning"; "" for an item row
    tag: str  # "(0010,0010)", "Item 0"
    keyword: str
    vr: str
    vm: int
    length: int | None  # None: undefined
    value: str
    meta: bool = False
    private_creator: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "depth": self.depth, "path": self.path, "tag": self.tag, "keyword": self.keyword,
            "vr": self.vr, "vm": self.vm, "length": self.length, "value": self.value,
            "meta": self.meta, "private_creator": self.private_creator,
        }  # fmt: skip


def rows(df: DicomFile, *, limit: int = 256) -> list[Row]:
    out: list[Row] = []
    terms = df.charset
    _rows(df, df.meta, df.head, (), 0, out, terms, limit, True)
    _rows(df, df.elements, df.body, (), 0, out, terms, limit, False)
    return out


def _rows(
    df: DicomFile, nodes: list[Node], buf: bytes, prefix: tuple[int, ...], depth: int,
    out: list[Row], terms: list[str], limit: int, meta: bool,
) -> None:  # fmt: skip
    creators: dict[int, str] = {}
    for n in nodes:
        key = (*prefix, n.tag)
        group, elem = n.tag >> 16, n.tag & 0xFFFF
        creator = ""
        if group & 1 and 0x10 <= elem <= 0xFF:
            creators[(group << 8) | elem] = buf[n.value_start : n.end].decode("latin-1").strip()
        elif group & 1 and elem > 0xFF:
            creator = creators.get((group << 8) | (elem >> 8), "")
        text = node_value(df, n, buf, terms)
        vm = len(n.items or []) if n.items is not None else value_multiplicity(text, n.vr)
        out.append(
            Row(depth, str(TagPath.of(key)), tag_text(n.tag), keyword_of(n.tag), n.vr, vm,
                None if n.undefined else n.length, shown(text, limit), meta, creator)
        )  # fmt: skip
        for i, it in enumerate(n.items or []):
            out.append(
                Row(
                    depth + 1,
                    f"{TagPath.of(key)}[{i}]",
                    f"Item {i}",
                    "",
                    "",
                    0,
                    None if it.undefined else it.value_end - it.value_start,
                    "",
                    meta,
                )
            )
            _rows(df, it.elements, buf, (*key, i), depth + 2, out, terms, limit, meta)


def search(df: DicomFile, text: str) -> list[Row]:
    """Rows whose tag, keyword or value contain ``text`` (case-insensitive)."""
    t = text.casefold().strip()
    if not t:
        return rows(df)
    compact = t.replace("(", "").replace(")", "").replace(",", "")
    out = []
    for r in rows(df):
        tag = r.tag.replace("(", "").replace(")", "").replace(",", "").casefold()
        if compact in tag or t in r.keyword.casefold() or t in r.value.casefold():
            out.append(r)
    return out
