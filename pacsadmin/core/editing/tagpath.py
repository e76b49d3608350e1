"""Paths to elements: ``PatientName``, ``0010,0010``, ``(0010,0010)``, and into sequences
``ProcedureCodeSequence[0].CodeMeaning`` or ``(0008,1032)[1].(0008,0100)``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pacsadmin.core.errors import ValidationError

_STEP = re.compile(
    r"\s*(?:\(?\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)?|([A-Za-z][A-Za-z0-9]*))"
    r"\s*(?:\[\s*(\d+)\s*\])?\s*$"
)


@lru_cache(maxsize=4096)
def keyword_of(tag: int) -> str:
    from pydicom.datadict import keyword_for_tag

    if tag >> 16 & 1:
        return ""
    try:
        return str(keyword_for_tag(tag) or "")
    except Exception:
        return ""


def tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def element_name(tag: int) -> str:
    """``PatientID (0010,0020)``: how messages name an element."""
    kw = keyword_of(tag)
    return f"{kw} {tag_text(tag)}" if kw else tag_text(tag)


@dataclass(frozen=True)
class TagPath:
    """(tag, item index) steps; the index is None on the last step (an element) and on a
    last step naming a whole sequence."""

    steps: tuple[tuple[int, int | None], ...]

    @classmethod
    def parse(cls, text: str) -> TagPath:
        return _parse(text)

    @classmethod
    def _parse(cls, text: str) -> TagPath:
        from pydicom.datadict import tag_for_keyword

        if not text or not text.strip():
            raise ValidationError("tag", "An empty tag path.")
        steps: list[tuple[int, int | None]] = []
        parts = _split(text)
        for i, part in enumerate(parts):
            m = _STEP.match(part)
            if not m:
                raise ValidationError("tag", f"{text!r}: {part!r} is not a keyword or gggg,eeee.")
            if m.group(3):
                tag = tag_for_keyword(m.group(3))
                if tag is None:
                    raise ValidationError(
                        "tag", f"{text!r}: {m.group(3)!r} is not a DICOM keyword."
                    )
            else:
                tag = int(m.group(1), 16) << 16 | int(m.group(2), 16)
            index = int(m.group(4)) if m.group(4) is not None else None
            if index is None and i < len(parts) - 1:
                raise ValidationError(
                    "tag", f"{text!r}: say which item of {part.strip()} (as in {part.strip()}[0])."
                )
            steps.append((int(tag), index))
        return cls(tuple(steps))

    @classmethod
    def of(cls, key: tuple[int, ...]) -> TagPath:
        """From a key path (tag, index, tag, ...) as ``model.walk`` gives."""
        steps: list[tuple[int, int | None]] = []
        for i in range(0, len(key), 2):
            steps.append((key[i], key[i + 1] if i + 1 < len(key) else None))
        return cls(tuple(steps))

    @property
    def key(self) -> tuple[int, ...]:
        out: list[int] = []
        for tag, index in self.steps:
            out.append(tag)
            if index is not None:
                out.append(index)
        return tuple(out)

    @property
    def tag(self) -> int:
        return self.steps[-1][0]

    @property
    def parent(self) -> TagPath:
        return TagPath(self.steps[:-1])

    def child(self, tag: int) -> TagPath:
        return TagPath((*self.steps, (tag, None)))

    def item(self, index: int) -> TagPath:
        """This sequence's item ``index`` (a path ending in an index)."""
        return TagPath((*self.steps[:-1], (self.steps[-1][0], index)))

    def __str__(self) -> str:
        out = []
        for tag, index in self.steps:
            s = keyword_of(tag) or f"{tag >> 16:04X},{tag & 0xFFFF:04X}"
            if not keyword_of(tag) and len(self.steps) > 1:
                s = tag_text(tag)
            out.append(s if index is None else f"{s}[{index}]")
        return ".".join(out)

    @property
    def name(self) -> str:
        """How messages name it: ``ProcedureCodeSequence[0].CodeMeaning (0008,0104)``."""
        return f"{self} {tag_text(self.tag)}" if keyword_of(self.tag) else str(self)


@lru_cache(maxsize=4096)
def _parse(text: str) -> TagPath:
    return TagPath._parse(text)


def _split(text: str) -> list[str]:
    """Split on dots outside parentheses (a tag number has a comma, no dot)."""
    return [p for p in text.strip().split(".")]
