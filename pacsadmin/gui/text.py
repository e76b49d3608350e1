"""Untrusted text (from files, peers, imports) shown safely: plain, escaped, elided.

Qt treats a string that *looks* like HTML as rich text in labels, tooltips and message
boxes (docs/safety.md rule 5).  Labels get ``Qt.PlainText``; tooltips, which have no such
switch, get the text HTML-escaped inside an explicit rich-text wrapper, so ``<b>`` shows
as the characters ``<b>``.
"""

from __future__ import annotations

import html
import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def escape_controls(text: str, limit: int = 4000) -> str:
    """Control characters (not newline or tab) as visible escapes: ``\\x1b``; text longer
    than ``limit`` is cut with an ellipsis (labels wrap, they do not elide)."""
    t = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return t if len(t) <= limit else t[: limit - 1] + "…"


def one_line(text: str, limit: int = 200) -> str:
    """For a table cell: controls escaped, newlines folded, elided at ``limit``."""
    t = escape_controls(str(text)).replace("\n", " ⏎ ").replace("\t", " ")
    return t if len(t) <= limit else t[: limit - 1] + "…"


def plain_tooltip(text: str, limit: int = 2000) -> str:
    """A tooltip that always shows ``text`` literally."""
    if not text:
        return ""
    t = escape_controls(str(text))
    if len(t) > limit:
        t = t[: limit - 1] + "…"
    return "<qt>" + html.escape(t).replace("\n", "<br>") + "</qt>"


def plain_label(text: str = "", *, wrap: bool = False, selectable: bool = False) -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setText(escape_controls(text))
    return label
