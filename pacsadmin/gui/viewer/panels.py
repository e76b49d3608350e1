"""The pipeline inspector and the series QC panel: plain-text tables (docs/safety.md rule 5).

QTableWidgetItem text is never interpreted as markup; long values wrap, tooltips are
escaped (pacsadmin.gui.text).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from pacsadmin.core.imaging.pipeline import PipelineDescription
from pacsadmin.core.imaging.series import Finding
from pacsadmin.gui.text import one_line, plain_tooltip


class _PlainTable(QTableWidget):
    def __init__(self, headers: list[str], parent=None) -> None:
        super().__init__(0, len(headers), parent)
        self.setHorizontalHeaderLabels(headers)
        self.verticalHeader().setVisible(False)
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        for i in range(len(headers) - 1):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
        if len(headers) == 3:
            header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
            header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)

    def _add_row(self, values: list[str], tooltips: list[str | None] | None = None) -> None:
        row = self.rowCount()
        self.insertRow(row)
        for col, text in enumerate(values):
            item = QTableWidgetItem(one_line(text, 600))
            tip = tooltips[col] if tooltips else None
            if tip:
                item.setToolTip(plain_tooltip(tip))
            self.setItem(row, col, item)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self.resizeRowsToContents()

    def texts(self) -> list[tuple[str, ...]]:
        return [
            tuple(_text(self.item(r, c)) for c in range(self.columnCount()))
            for r in range(self.rowCount())
        ]


def _text(item: QTableWidgetItem | None) -> str:
    """A cell's text (every cell of these tables is set by _add_row)."""
    return item.text() if item is not None else ""


class PipelineInspector(_PlainTable):
    """Stage / what is applied, one row per stage of the display pipeline."""

    def __init__(self, parent=None) -> None:
        super().__init__(["Stage", "Applied to this frame"], parent)

    def show_description(self, desc: PipelineDescription | None, message: str = "") -> None:
        self.setRowCount(0)
        if desc is None:
            if message:
                self._add_row(["Error", message], [None, message])
        else:
            for stage, text in desc.rows():
                self._add_row([stage, text], [None, text])
        self.resizeRowsToContents()

    def rows(self) -> list[tuple[str, str]]:
        return [(a, b) for a, b in self.texts()]


class SeriesQcPanel(_PlainTable):
    """The series QC findings: severity, finding, files."""

    def __init__(self, parent=None) -> None:
        super().__init__(["Severity", "Finding", "Files"], parent)

    def show_findings(
        self, findings: list[Finding], errors: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.setRowCount(0)
        for f in findings:
            files = ", ".join(os.path.basename(p) for p in f.paths[:3])
            if len(f.paths) > 3:
                files += f" (+{len(f.paths) - 3})"
            self._add_row([f.severity, f.message, files], [None, f.message, "\n".join(f.paths)])
        for path, message in errors:
            self._add_row(
                ["error", f"unreadable: {message}", os.path.basename(path)], [None, message, path]
            )
        if not self.rowCount():
            self._add_row(["ok", "no findings", ""])
        self.resizeRowsToContents()

    def findings_text(self) -> list[tuple[str, str]]:
        return [(t[0], t[1]) for t in self.texts()]
