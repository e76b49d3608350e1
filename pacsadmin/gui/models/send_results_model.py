"""The send tool's per-file result table: one row per file, as the send reports it.

Columns: the file, its SOP class, the file's transfer syntax, the one it went over the wire
in, the C-STORE status and its meaning (or why a file was skipped or not sent).  Rows come
in batches from the job's partial results (``JobBridge``'s ``on_partials``); a filter
shows only the files that were not stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt

from pacsadmin.core.dimse.send_result import FileResult, FileState
from pacsadmin.core.dimse.send_session import uid_label
from pacsadmin.gui.models.table import FlatTableModel, Index
from pacsadmin.gui.text import one_line, plain_tooltip
from pacsadmin.gui.widgets.lights import Light, light_icon

HEADERS = ("Status", "File", "SOP class", "File's transfer syntax", "Sent as", "Code", "Meaning")
COL_STATE, COL_FILE, COL_SOP, COL_TS, COL_ACCEPTED, COL_CODE, COL_MEANING = range(7)
RESULT_ROLE = Qt.ItemDataRole.UserRole + 20  # the row's FileResult

_LIGHTS = {
    FileState.STORED: Light.OK,
    FileState.FAILED: Light.FAILED,
    FileState.NOT_SENT: Light.WARNING,
    FileState.SKIPPED: Light.SKIPPED,
}
_STATE_TEXT = {
    FileState.STORED: "Stored",
    FileState.FAILED: "Failed",
    FileState.NOT_SENT: "Not sent",
    FileState.SKIPPED: "Skipped",
}


def _ts_text(uid: str) -> str:
    if not uid:
        return ""
    name = uid_label(uid)
    return name if name != uid else uid


class SendResultsModel(FlatTableModel):
    headers = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._all: list[FileResult] = []
        self._rows: list[FileResult] = []  # the shown ones (all, or the failed only)
        self.failed_only = False

    # ------------------------------------------------------------------ API
    def _row_count(self) -> int:
        return len(self._rows)

    def results(self) -> list[FileResult]:
        return list(self._all)

    def result(self, row: int) -> FileResult:
        return self._rows[row]

    def counts(self) -> dict[FileState, int]:
        out = dict.fromkeys(FileState, 0)
        for r in self._all:
            out[r.state] += 1
        return out

    def add(self, rows: list[FileResult]) -> None:
        rows = [r for r in rows if isinstance(r, FileResult)]
        self._all += rows
        shown = [r for r in rows if self._shows(r)]
        if shown:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(shown) - 1)
            self._rows += shown
            self.endInsertRows()

    def set_results(self, rows: list[FileResult]) -> None:
        self.beginResetModel()
        self._all = list(rows)
        self._rows = [r for r in self._all if self._shows(r)]
        self.endResetModel()

    def set_failed_only(self, on: bool) -> None:
        self.failed_only = on
        self.set_results(self._all)

    def _shows(self, r: FileResult) -> bool:
        return not self.failed_only or not r.ok

    # ------------------------------------------------------------------ Qt
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == RESULT_ROLE:
            return r
        if role == Qt.ItemDataRole.DisplayRole:
            return one_line(self._text(r, col))
        if role == Qt.ItemDataRole.DecorationRole and col == COL_STATE:
            return light_icon(_LIGHTS[r.state])
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_FILE:
                return plain_tooltip(r.path)
            if col in (COL_TS, COL_ACCEPTED):
                uid = r.transfer_syntax if col == COL_TS else r.accepted_syntax
                return plain_tooltip(uid) if uid else None
            if col == COL_SOP and r.sop_class:
                return plain_tooltip(f"{r.sop_class_name or r.sop_class}\n{r.sop_class}")
            if col == COL_MEANING and r.meaning:
                return plain_tooltip(r.meaning)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_CODE:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def _text(self, r: FileResult, col: int) -> str:
        if col == COL_STATE:
            return _STATE_TEXT[r.state]
        if col == COL_FILE:  # the folder too: IM000001.dcm is in every series of a CD
            p = Path(r.path)
            return f"{p.parent.name}/{p.name}" if p.parent.name else (p.name or r.path)
        if col == COL_SOP:
            return r.sop_class_name or r.sop_class
        if col == COL_TS:
            return _ts_text(r.transfer_syntax)
        if col == COL_ACCEPTED:
            text = _ts_text(r.accepted_syntax)
            return f"{text} (decompressed)" if r.decompressed and text else text
        if col == COL_CODE:
            return r.status_text
        return r.meaning
