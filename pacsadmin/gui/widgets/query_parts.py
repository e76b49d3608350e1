"""Pieces of the Query panel: the cap banner, the results table's set-up and column
widths, and a drill-down page kept for Back."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QWidget,
)

from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.dimse.find_table import Column, FindRow
from pacsadmin.core.nodes import DicomNode
from pacsadmin.gui.icons import icon
from pacsadmin.gui.metrics import chars, text_width
from pacsadmin.gui.text import escape_controls, plain_label
from pacsadmin.gui.widgets.lights import Light, light_pixmap

_SAMPLES = {"DA": "2024-12-31", "TM": "23:59:59.999", "DT": "2024-12-31 23:59:59"}
# typical widths (in characters) of the other columns by VR; others get 14
_WIDTHS = {"PN": 24, "UI": 34, "IS": 8, "CS": 9, "LO": 22, "SH": 14}


@dataclass
class Page:
    """One level of a drill-down, kept for Back."""

    node: DicomNode | None
    query: FindQuery | None
    columns: tuple[Column, ...]
    title: str
    rows: list[FindRow] = field(default_factory=list)
    marks: dict[int, str] = field(default_factory=dict)
    status: tuple[Light, str, str] = (Light.UNKNOWN, "", "")


class CapBanner(QFrame):
    """A yellow band above the table: the answer looks capped; *Query day by day*."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("capBanner")
        self.setStyleSheet(
            "#capBanner { background: #fff4d6; border: 1px solid #e0a100; border-radius: 4px; }"
            " #capBanner QLabel { color: #3d3000; }"
        )
        self.text = plain_label("", wrap=True)
        self.split_button = QPushButton(icon("split"), "Query day by day")
        self.split_button.setToolTip(
            "Ask again once per day of the date range and merge the answers"
        )
        bl = QHBoxLayout(self)
        bl.setContentsMargins(8, 6, 8, 6)
        light = QLabel()
        light.setPixmap(light_pixmap(Light.WARNING, 16))
        bl.addWidget(light, 0, Qt.AlignmentFlag.AlignTop)
        bl.addWidget(self.text, 1)
        bl.addWidget(self.split_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.hide()

    def show_cap(self, text: str, *, offer: bool, can_split: bool) -> None:
        self.text.setText(escape_controls(text))
        self.split_button.setVisible(offer)
        self.split_button.setEnabled(can_split)
        self.show()


def results_table(model: QSortFilterProxyModel) -> QTableView:
    """The table: rows selected whole, sortable by a header click, no grid, fixed row
    heights (10,000 rows are never measured)."""
    t = QTableView()
    t.setModel(model)
    t.setSortingEnabled(True)
    t.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setAlternatingRowColors(True)
    t.setShowGrid(False)
    t.setWordWrap(False)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    t.verticalHeader().setDefaultSectionSize(t.fontMetrics().height() + 8)
    t.horizontalHeader().setHighlightSections(False)
    t.horizontalHeader().setStretchLastSection(True)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    t.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    return t


def fit_columns(t: QTableView, columns: tuple[Column, ...]) -> None:
    """Widths from the font: dates and times from a sample, the rest from a typical
    length for the VR, never narrower than the header."""
    t.setColumnWidth(0, text_width(t, "some", 40))
    for k, c in enumerate(columns, start=1):
        n = 8 if c.keyword.startswith("NumberOf") else _WIDTHS.get(c.vr, 14)
        sample = _SAMPLES.get(c.vr)
        w = text_width(t, sample, 24) if sample else chars(t, n)
        t.setColumnWidth(k, max(w, text_width(t.horizontalHeader(), c.title, 28)))
