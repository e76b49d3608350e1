"""The Audit view's model over ``list[AuditEntry]`` (newest first)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from pacsadmin.core.audit import AuditEntry
from pacsadmin.core.format import format_timestamp
from pacsadmin.gui.models.table import FlatTableModel, Index
from pacsadmin.gui.text import one_line, plain_tooltip
from pacsadmin.gui.widgets.lights import Light, light_icon

HEADERS = ("Time", "User", "Action", "Node", "Target", "Outcome", "Summary")


class AuditModel(FlatTableModel):
    headers = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._entries: list[AuditEntry] = []

    def set_entries(self, entries: list[AuditEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self.endResetModel()

    def entries(self) -> list[AuditEntry]:
        return list(self._entries)

    def _row_count(self) -> int:
        return len(self._entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        e = self._entries[index.row()]
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            values: tuple[str, ...] = (
                format_timestamp(e.ts),
                e.user,
                e.action,
                e.node or "",
                e.target or "",
                e.outcome,
                e.summary,
            )
            if role == Qt.ItemDataRole.ToolTipRole:
                return plain_tooltip(values[col])
            return one_line(values[col])
        if role == Qt.ItemDataRole.DecorationRole and col == 5:
            return light_icon(
                Light.OK
                if e.outcome == "success"
                else Light.FAILED
                if e.outcome == "failure"
                else Light.WARNING
            )
        return None
