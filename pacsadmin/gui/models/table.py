"""The part every flat table model of the window shares: headers and counts.

A subclass sets ``headers`` and implements :meth:`_row_count` and ``data``."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex
TOP = QModelIndex()


class FlatTableModel(QAbstractTableModel):
    headers: tuple[str, ...] = ()

    def _row_count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent: Index = TOP) -> int:
        return 0 if parent.isValid() else self._row_count()

    def columnCount(self, parent: Index = TOP) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section]
        return None
