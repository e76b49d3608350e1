"""Corner annotations over the canvas: plain-text labels, one switch hides patient data.

Values come from the file (untrusted): labels use Qt.PlainText and control characters are
shown escaped.  Names, dates and times are formatted by :mod:`pacsadmin.core.format`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel, QWidget

from pacsadmin.core.format import format_value
from pacsadmin.gui.text import one_line

_STYLE = "color: #e8e8e8; background: transparent; font-size: 11px;"


def _value(ds: Any, keyword: str, vr: str = "") -> str:
    """The element for a person (names as ``FAMILY, Given``, dates in the user's style,
    see :mod:`pacsadmin.core.format`); empty when missing or unreadable."""
    try:
        v = ds.get(keyword)
    except Exception:  # a damaged value never breaks the overlay
        return ""
    if v is None:
        return ""
    try:
        text = format_value(v, vr) if vr else str(v)
    except Exception:  # format_value does not raise; str() of a damaged value may
        return ""
    return one_line(text, 60)


def _labelled(label: str, value: str) -> str:
    return f"{label} {value.strip()}" if value.strip() else ""


class CornerAnnotations(QObject):
    """Four labels pinned to the corners of ``host`` (the canvas's viewport)."""

    def __init__(self, host: QWidget) -> None:
        super().__init__(host)
        self.host = host
        self.hide_patient = False
        self.visible = True
        self.labels: dict[str, QLabel] = {}
        for corner in ("tl", "tr", "bl", "br"):
            label = QLabel(host)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setStyleSheet(_STYLE)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            align = Qt.AlignmentFlag.AlignRight if corner[1] == "r" else Qt.AlignmentFlag.AlignLeft
            label.setAlignment(align | Qt.AlignmentFlag.AlignTop)
            self.labels[corner] = label
        host.installEventFilter(self)

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.host and ev.type() == ev.Type.Resize:
            self._place()
        return False

    def update_for(self, ds: Any, lines_bl: list[str], lines_br: list[str]) -> None:
        if self.hide_patient:
            tl = ["(patient data hidden)"]
            tr = [_value(ds, "Modality"), _value(ds, "SeriesDescription")]
        else:
            tl = [
                _value(ds, "PatientName", "PN"),
                _labelled("ID", _value(ds, "PatientID")),
                "  ".join(
                    x
                    for x in (
                        _labelled("Born", _value(ds, "PatientBirthDate", "DA")),
                        _labelled("Sex", _value(ds, "PatientSex")),
                    )
                    if x
                ),
            ]
            tr = [
                _value(ds, "InstitutionName"),
                "  ".join(
                    x
                    for x in (
                        _value(ds, "StudyDate", "DA"),
                        _value(ds, "StudyTime", "TM"),
                        _value(ds, "StudyDescription"),
                    )
                    if x
                ),
                _labelled("Acc", _value(ds, "AccessionNumber")),
                f"{_value(ds, 'Modality')}  {_value(ds, 'SeriesDescription')}".strip(),
            ]
        texts = {"tl": tl, "tr": tr, "bl": lines_bl, "br": lines_br}
        for corner, lines in texts.items():
            self.labels[corner].setText("\n".join(x for x in lines if x.strip()))
            self.labels[corner].adjustSize()
            self.labels[corner].setVisible(self.visible)
        self._place()

    def set_visible(self, flag: bool) -> None:
        self.visible = flag
        for label in self.labels.values():
            label.setVisible(flag)

    def text(self) -> str:
        return "\n".join(label.text() for label in self.labels.values())

    def _place(self) -> None:
        w, h, m = self.host.width(), self.host.height(), 6
        for corner, label in self.labels.items():
            label.adjustSize()
            x = m if corner[1] == "l" else w - label.width() - m
            y = m if corner[0] == "t" else h - label.height() - m
            label.move(max(0, x), max(0, y))
