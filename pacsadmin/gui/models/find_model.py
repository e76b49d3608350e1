"""The Query panel's results: :class:`FindTableModel` over a plain list of
:class:`~pacsadmin.core.dimse.find_table.FindRow` (built on the worker thread that read
the responses), and :class:`FindFilterProxy` for the filter box.

Streaming: :meth:`FindTableModel.append` takes one batch (the bridge's ``on_partials``
list) and emits one ``rowsInserted``; nothing is computed per cell on the GUI thread
beyond returning the row's prepared text.  Sorting is the source's own: a Python sort of
the rows by their prepared keys (10,000 rows in a few ms), with the persistent indexes
(the selection) moved along; the proxy only filters.  A QSortFilterProxyModel sorting by
itself would call ``data`` from C++ twice per comparison, about 140,000 calls into
Python for 10,000 rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
)

from pacsadmin.core.archive.presence import ALL, SOME
from pacsadmin.core.dimse.find_table import Column, FindRow, sort_key
from pacsadmin.gui.icons import icon
from pacsadmin.gui.models.table import TOP, FlatTableModel, Index
from pacsadmin.gui.text import plain_tooltip
from pacsadmin.gui.widgets.lights import Light, light_icon

COL_LOCAL = 0  # the archive mark; the query's columns follow
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
HAY_ROLE = Qt.ItemDataRole.UserRole + 2  # the row's text for the filter (column 0)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
# what a delegate asks when it paints and this model never sets: answered "nothing" here
_PAINT_ROLES = {
    int(Qt.ItemDataRole.FontRole),
    int(Qt.ItemDataRole.ForegroundRole),
    int(Qt.ItemDataRole.BackgroundRole),
    int(Qt.ItemDataRole.CheckStateRole),
}
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_MARK_TEXT = {ALL: "all", SOME: "some"}
_MARK_TIP = {
    ALL: "Every instance the PACS reported is in the local archive.",
    SOME: "Some instances are in the local archive (or the PACS did not say how many).",
    "none": "Not in the local archive.",
}


class FindTableModel(FlatTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.columns: tuple[Column, ...] = ()
        self._numeric: tuple[bool, ...] = ()
        self.headers = ("Local",)
        self._rows: list[FindRow] = []
        self._marks: dict[int, str] = {}  # match index -> all / some / none
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._warn = icon("failed")

    # ------------------------------------------------------------------ content
    def reset(self, columns: Sequence[Column], rows: Sequence[FindRow] = (), marks=None) -> None:
        self.beginResetModel()
        self.columns = tuple(columns)
        self._numeric = tuple(c.numeric for c in self.columns)
        self.headers = ("Local", *(c.title for c in self.columns))
        self._rows = list(rows)
        self._marks = dict(marks or {})
        self._sort = None
        self.endResetModel()

    def append(self, rows: Sequence[FindRow]) -> None:
        """One batch of arrivals: one insert signal (re-sorted when a sort is set)."""
        if not rows:
            return
        n = len(self._rows)
        self.beginInsertRows(TOP, n, n + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()
        if self._sort is not None:
            self._apply_sort(*self._sort)

    def rows(self) -> list[FindRow]:
        return list(self._rows)

    def row_at(self, row: int) -> FindRow:
        return self._rows[row]

    def set_marks(self, marks: dict[int, str]) -> None:
        self._marks = dict(marks)
        if self._rows:
            last = len(self._rows) - 1
            self.dataChanged.emit(self.index(0, COL_LOCAL), self.index(last, COL_LOCAL))

    def marks(self) -> dict[int, str]:
        return dict(self._marks)

    def mark_of(self, row: FindRow) -> str:
        return self._marks.get(row.match.index, "")

    def _row_count(self) -> int:
        return len(self._rows)

    # ------------------------------------------------------------------ sorting
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order) if column >= 0 else None
        if column < 0:
            column, order = -1, Qt.SortOrder.AscendingOrder
        self._apply_sort(column, order)

    def _apply_sort(self, column: int, order: Qt.SortOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        old = self._rows
        if column < 0:
            new = sorted(old, key=lambda r: r.match.index)
        elif column == COL_LOCAL:
            rank = {ALL: 0, SOME: 1}
            new = sorted(old, key=lambda r: rank.get(self._marks.get(r.match.index, ""), 2))
        else:
            k, cols = column - 1, self.columns
            new = sorted(old, key=lambda r: sort_key(r, cols, k))
        if order == Qt.SortOrder.DescendingOrder:
            new.reverse()
        where = {id(r): i for i, r in enumerate(new)}
        self._rows = new
        persistent = self.persistentIndexList()
        if persistent:
            self.changePersistentIndexList(
                persistent,
                [self.index(where[id(old[p.row()])], p.column()) for p in persistent],
            )
        self.layoutChanged.emit()

    # ------------------------------------------------------------------ data
    def multiData(self, index: Index, span: Any) -> None:
        """Every role a view asks of a cell in one call: a repaint then enters Python once
        per visible cell, not once per cell and role (7 times fewer; each entry may wait
        for the GIL while a query's worker runs).  The display text, the icons and the
        alignment here; the rarer roles through :meth:`data`."""
        if not index.isValid():
            return
        r = self._rows[index.row()]
        col = index.column()
        for rd in span:  # a delegate reuses its span: every role is set or cleared
            role = rd.role()
            value: Any = None
            if role == _DISPLAY:
                value = (
                    r.cells[col - 1]
                    if col
                    else _MARK_TEXT.get(self._marks.get(r.match.index, ""), "")
                )
            elif role == _DECORATION:
                value = self._decoration(r, col)
            elif role == _ALIGN:
                value = _RIGHT if col and self._numeric[col - 1] else None
            elif role not in _PAINT_ROLES:
                value = self.data(index, role)
            if value is None:
                rd.clearData()
            else:
                rd.setData(value)

    def _decoration(self, r: FindRow, col: int) -> Any:
        if col == COL_LOCAL:
            mark = self._marks.get(r.match.index, "")
            if mark == ALL:
                return light_icon(Light.OK, 12)
            if mark == SOME:
                return light_icon(Light.WARNING, 12)
            return None
        if col == 1 and r.match.unreadable:
            return self._warn
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_LOCAL:
                return _MARK_TEXT.get(self._marks.get(r.match.index, ""), "")
            return r.cells[col - 1]
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(r, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if r.match.unreadable:
                return plain_tooltip(f"Unreadable: {r.match.unreadable}")
            if col == COL_LOCAL:
                tip = _MARK_TIP.get(self._marks.get(r.match.index, ""))
                return plain_tooltip(tip) if tip else None
            text = r.cells[col - 1]
            return plain_tooltip(text) if len(text) > 24 else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col > 0:
            return _RIGHT if self._numeric[col - 1] else None
        if role == HAY_ROLE:
            return r.hay
        if role == ROW_ROLE:
            return r
        return None


class FindFilterProxy(QSortFilterProxyModel):
    """Filters by words (every word must appear in the row's text), in C++: a regular
    expression over the row's prepared text (``HAY_ROLE``), so an empty filter costs no
    call into Python per arriving row; sorting is passed to the source model (see the
    module docstring)."""

    def __init__(self, source: FindTableModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self.source = source
        self.setDynamicSortFilter(False)  # marks changing must not re-filter 10,000 rows
        self.setFilterRole(HAY_ROLE)
        self.setFilterKeyColumn(0)
        self._words: list[str] = []

    def set_filter_text(self, text: str) -> None:
        words = text.casefold().split()
        if words == self._words:
            return
        self._words = words
        pattern = "".join(f"(?=.*{QRegularExpression.escape(w)})" for w in words)
        rx = QRegularExpression(f"^{pattern}" if words else "")
        rx.setPatternOptions(QRegularExpression.PatternOption.DotMatchesEverythingOption)
        self.setFilterRegularExpression(rx)

    def multiData(self, index: Index, span: Any) -> None:
        """Straight to the source's :meth:`FindTableModel.multiData` (Qt's proxy would ask
        the source role by role)."""
        if not index.isValid():
            return
        if self._words:
            self.source.multiData(self.mapToSource(index), span)
        else:  # nothing filtered, nothing sorted here: the same row (mapToSource would
            # call back into Python, rowCount, for each cell)
            self.source.multiData(self.source.index(index.row(), index.column()), span)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.source.sort(column, order)

    def row_at(self, proxy_row: int) -> FindRow:
        return self.source.row_at(self.mapToSource(self.index(proxy_row, 0)).row())

    def rows_of(self, indexes: Sequence[QModelIndex | QPersistentModelIndex]) -> list[FindRow]:
        """The distinct rows of ``indexes`` (proxy indexes), in table order."""
        seen = sorted({i.row() for i in indexes if i.isValid()})
        return [self.row_at(r) for r in seen]
