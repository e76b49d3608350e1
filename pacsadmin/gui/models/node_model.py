"""The node browser's model: a thin adapter over ``list[DicomNode]`` plus echo status.

Columns come from a tuple of ``(header, getter)``; sorting and filtering live in
:class:`NodeFilterProxy`, which keeps nodes grouped by site (the site is always the first
sort key) and filters on every visible text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QSortFilterProxyModel,
    Qt,
)

from pacsadmin.core.format import format_timestamp
from pacsadmin.core.nodes import DicomNode
from pacsadmin.gui.models.table import FlatTableModel, Index
from pacsadmin.gui.text import one_line, plain_tooltip
from pacsadmin.gui.widgets.lights import Light, light_icon

NODE_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2

_ROLES = frozenset(
    (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.DecorationRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.TextAlignmentRole,
        NODE_ROLE,
        SORT_ROLE,
    )
)


@dataclass(frozen=True)
class NodeStatus:
    """The last echo of a node: the status light."""

    ok: bool | None  # None: never echoed
    latency_ms: float | None = None
    when: float | None = None  # time.time()
    summary: str = ""
    running: bool = False

    @property
    def light(self) -> Light:
        if self.running:
            return Light.RUNNING
        if self.ok is None:
            return Light.UNKNOWN
        return Light.OK if self.ok else Light.FAILED

    def text(self) -> str:
        if self.running:
            return "echoing..."
        if self.ok is None:
            return "never echoed"
        lat = f"{self.latency_ms:.0f} ms" if self.ok and self.latency_ms is not None else "failed"
        return f"{lat}, {ago(self.when)}" if self.when else lat


def ago(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return ""
    s = max(0.0, (now or time.time()) - ts)
    if s < 60:
        return "just now"
    if s < 3600:
        return f"{int(s // 60)} min ago"
    if s < 86400:
        return f"{int(s // 3600)} h ago"
    return format_timestamp(ts, seconds=False)


def _tags(n: DicomNode) -> str:
    return ", ".join(n.tags)


COLUMNS: tuple[tuple[str, Callable[[DicomNode], Any]], ...] = (
    ("Site", lambda n: n.site or "(no site)"),
    ("Name", lambda n: n.name),
    ("Status", lambda n: None),  # filled from NodeStatus
    ("AE title", lambda n: n.ae_title),
    ("Host", lambda n: n.host),
    ("Port", lambda n: n.port),
    ("Tags", _tags),
    ("Description", lambda n: n.description),
)
COL_SITE, COL_NAME, COL_STATUS = 0, 1, 2


class NodeTableModel(FlatTableModel):
    headers = tuple(c[0] for c in COLUMNS)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._nodes: list[DicomNode] = []
        self._status: dict[str, NodeStatus] = {}  # casefolded name -> status

    # ------------------------------------------------------------------ data
    def set_nodes(self, nodes: list[DicomNode]) -> None:
        self.beginResetModel()
        self._nodes = list(nodes)
        self.endResetModel()

    def nodes(self) -> list[DicomNode]:
        return list(self._nodes)

    def node_at(self, row: int) -> DicomNode:
        return self._nodes[row]

    def row_of(self, name: str) -> int:
        key = name.casefold()
        return next((i for i, n in enumerate(self._nodes) if n.name.casefold() == key), -1)

    def status(self, name: str) -> NodeStatus:
        return self._status.get(name.casefold(), NodeStatus(None))

    def set_status(self, name: str, status: NodeStatus) -> None:
        self._status[name.casefold()] = status
        row = self.row_of(name)
        if row >= 0:
            idx = self.index(row, COL_STATUS)
            self.dataChanged.emit(idx, idx)

    def set_statuses(self, updates: dict[str, NodeStatus]) -> None:
        """Many at once (Echo all): one dataChanged, not one per node."""
        rows = []
        for name, status in updates.items():
            self._status[name.casefold()] = status
            row = self.row_of(name)
            if row >= 0:
                rows.append(row)
        if rows:
            self.dataChanged.emit(
                self.index(min(rows), COL_STATUS), self.index(max(rows), COL_STATUS)
            )

    def refresh_times(self) -> None:
        """'3 min ago' moves on: repaint the status column."""
        if self._nodes:
            self.dataChanged.emit(
                self.index(0, COL_STATUS), self.index(len(self._nodes) - 1, COL_STATUS)
            )

    # ------------------------------------------------------------------ Qt API
    def _row_count(self) -> int:
        return len(self._nodes)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():  # views ask for ~10 roles per cell
            return None
        node = self._nodes[index.row()]
        col = index.column()
        if role == NODE_ROLE:
            return node
        if col == COL_STATUS:
            st = self.status(node.name)
            if role == Qt.ItemDataRole.DisplayRole:
                return st.text()
            if role == Qt.ItemDataRole.DecorationRole:
                return light_icon(st.light)
            if role == Qt.ItemDataRole.ToolTipRole:
                return plain_tooltip(st.summary or st.text())
            if role == SORT_ROLE:
                # failures first, then slow to fast, never-echoed last
                rank = {Light.FAILED: 0, Light.RUNNING: 1, Light.OK: 2, Light.UNKNOWN: 3}
                return (rank[st.light], -(st.latency_ms or 0.0))
            return None
        value = COLUMNS[col][1](node)
        if role == Qt.ItemDataRole.DisplayRole:
            return one_line(str(value))
        if role == SORT_ROLE:
            return value if isinstance(value, int) else str(value).casefold()
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_NAME:
                return plain_tooltip(
                    f"{node.name}\n{node.address}"
                    + (f"\n{node.description}" if node.description else "")
                )
            return plain_tooltip(str(value))
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 5:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class NodeFilterProxy(QSortFilterProxyModel):
    """Filter on every column; sort within sites (the site always comes first)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.group_by_site = True
        self._needle = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_group_by_site(self, on: bool) -> None:
        self.group_by_site = on
        self.invalidate()

    def set_filter_text(self, text: str) -> None:
        self._needle = text.strip().casefold()
        self.invalidate()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        needle = self._needle
        if not needle:
            return True
        model = self.sourceModel()
        for col in range(model.columnCount()):
            text = model.data(model.index(source_row, col, source_parent))
            if text and needle in str(text).casefold():
                return True
        return False

    def lessThan(self, left: Index, right: Index) -> bool:
        model = self.sourceModel()
        if self.group_by_site and left.column() != COL_SITE:
            ls = model.data(model.index(left.row(), COL_SITE), SORT_ROLE)
            rs = model.data(model.index(right.row(), COL_SITE), SORT_ROLE)
            if ls != rs:
                # keep sites ascending whatever the order of the sorted column
                asc = self.sortOrder() == Qt.SortOrder.AscendingOrder
                return (ls < rs) if asc else (ls > rs)
        lv = model.data(left, SORT_ROLE)
        rv = model.data(right, SORT_ROLE)
        try:
            return bool(lv < rv)
        except TypeError:
            return str(lv) < str(rv)
