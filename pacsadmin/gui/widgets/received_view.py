"""The "Received" dock: one row per association of the local SCP process, live.

:class:`ReceivedModel` is a thin table over the associations' latest events (the typed
events of :mod:`pacsadmin.core.dimse.scp_events`, parsed by the SCP process reader on the
GUI thread), one row per (process id, association id).  AE titles and addresses come
from peers: shown as plain, one-line text (docs/safety.md rule 5).  Below the table, the
selected association's transcript, as in the Connectivity Doctor: ``serve`` writes it
(redacted, no data set contents) when the association closes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.dimse.scp_events import Association, AssociationClosed
from pacsadmin.core.format import format_size
from pacsadmin.gui.metrics import fit_columns
from pacsadmin.gui.models.table import TOP, FlatTableModel, Index
from pacsadmin.gui.text import one_line, plain_label, plain_tooltip

HEADERS = ("Caller AE", "Address", "Started", "Images", "Rate", "Size", "Errors", "State")
COL_AE, COL_ADDR, COL_START, COL_IMAGES, COL_RATE, COL_SIZE, COL_ERRORS, COL_STATE = range(8)


AssocRow = Association  # a row is its association's latest open/progress/close event


def finished(r: Association) -> bool:
    return isinstance(r, AssociationClosed) or r.ended is not None


def rate(r: Association, now: float) -> float | None:
    """Images per second, so far or over the whole association."""
    dur = (r.ended or now) - r.started
    return r.images / dur if r.images and dur > 0 else None


def state_text(r: Association) -> str:
    """ "receiving", "done", "aborted" or "rejected: why" (plus duplicates)."""
    if r.rejected:
        return f"rejected: {r.rejected}"
    if not finished(r):
        return "receiving"
    state = "aborted" if r.aborted else "done"
    if r.duplicates:
        state += f" · {r.duplicates} duplicate(s) kept as first received"
    return state


def errors_text(r: Association) -> str:
    """Why C-STOREs failed (and other errors of the association), for a tooltip."""
    lines = list(r.errors)
    if r.errors_more:
        lines.append(f"… and {r.errors_more} more")
    return "\n".join(lines)


class ReceivedModel(FlatTableModel):
    headers = HEADERS

    def __init__(self, parent: Any = None, *, keep: int = 500) -> None:
        super().__init__(parent)
        self.rows: list[Association] = []
        self._by_key: dict[tuple[int, int], int] = {}
        self.keep = keep

    def apply(self, ev: Association) -> Association:
        """Show an open / progress / close event: its association's row becomes ``ev``."""
        i = self._by_key.get(ev.key)
        if i is None:
            self._trim()
            i = len(self.rows)
            self.beginInsertRows(TOP, i, i)
            self.rows.append(ev)
            self._by_key[ev.key] = i
            self.endInsertRows()
            return ev
        self.rows[i] = ev
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(HEADERS) - 1))
        return ev

    def _trim(self) -> None:
        if len(self.rows) < self.keep:
            return
        drop = next((k for k, r in enumerate(self.rows) if finished(r)), None)
        if drop is None:
            return
        self.beginRemoveRows(TOP, drop, drop)
        del self.rows[drop]
        self._by_key = {r.key: k for k, r in enumerate(self.rows)}
        self.endRemoveRows()

    def clear_finished(self) -> None:
        self.beginResetModel()
        self.rows = [r for r in self.rows if not finished(r)]
        self._by_key = {r.key: k for k, r in enumerate(self.rows)}
        self.endResetModel()

    def refresh_times(self) -> None:
        if any(not finished(r) for r in self.rows):
            self.dataChanged.emit(self.index(0, COL_RATE), self.index(len(self.rows) - 1, COL_RATE))

    # ------------------------------------------------------------------ Qt model API
    def _row_count(self) -> int:
        return len(self.rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_AE:
                return one_line(r.calling_ae, 40)
            if col == COL_ADDR:
                return one_line(f"{r.address}:{r.port}" if r.address else "", 60)
            if col == COL_START:
                return time.strftime("%H:%M:%S", time.localtime(r.started)) if r.started else ""
            if col == COL_IMAGES:
                return str(r.images)
            if col == COL_RATE:
                per_s = rate(r, time.time())
                return f"{per_s:.1f} img/s" if per_s is not None else ""
            if col == COL_SIZE:
                return format_size(r.bytes) if r.bytes else ""
            if col == COL_ERRORS:  # failed C-STOREs, each once (the tooltip says why)
                return str(r.failed) if r.failed else ""
            return one_line(state_text(r), 80)
        if role == Qt.ItemDataRole.ToolTipRole and col in (COL_ERRORS, COL_STATE):
            return plain_tooltip(errors_text(r)) or None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_IMAGES, COL_RATE, COL_SIZE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class ReceivedView(QWidget):
    """The SCP's state on top, its associations below, the selected one's transcript last.

    A transcript file is read off the GUI thread: the view asks with ``transcriptWanted``
    (a copy of the row) and the app answers with :meth:`show_transcript`."""

    transcriptWanted = Signal(object)

    def __init__(self, model: ReceivedModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.status = plain_label("SCP not running", wrap=True)
        self.clear_button = QPushButton("Clear finished")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.status, 1)
        top.addWidget(self.clear_button)
        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        hdr = self.table.horizontalHeader()
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hdr.setStretchLastSection(True)
        fit_columns(
            self.table,
            {
                COL_AE: "WWWWWWWWWWWWWWWW",
                COL_ADDR: "127.000.000.1:65535",
                COL_START: "00:00:00",
                COL_IMAGES: "99999",
                COL_RATE: "999.9 img/s",
                COL_SIZE: "999.9 MB",
                COL_ERRORS: "999",
            },
        )
        self.transcript = QPlainTextEdit()
        self.transcript.setReadOnly(True)
        self.transcript.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.transcript.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.transcript.setPlaceholderText(
            "Select an association to see its transcript (written when it closes)."
        )
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.transcript)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        self._shown: tuple[tuple[int, int], str] | None = None
        self.clear_button.clicked.connect(self._on_clear_button_clicked)
        sel = self.table.selectionModel()
        sel.currentRowChanged.connect(self._on_current_row_changed)
        model.dataChanged.connect(self._on_model_data_changed)
        model.modelReset.connect(self._show_current)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    @Slot()
    def _on_clear_button_clicked(self) -> None:
        self.model.clear_finished()

    @Slot(QModelIndex, QModelIndex)
    def _on_current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._show_current()

    @Slot(QModelIndex, QModelIndex)
    def _on_model_data_changed(self, top: QModelIndex, bottom: QModelIndex) -> None:
        row = self.table.currentIndex().row()
        if top.row() <= row <= bottom.row():
            self._show_current()  # the selected association closed: its transcript is there

    @Slot()
    def _show_current(self) -> None:
        row = self.table.currentIndex().row()
        if not 0 <= row < len(self.model.rows):
            self._shown = None
            self.transcript.clear()
            return
        r = self.model.rows[row]
        shown = (r.key, r.transcript_file)
        if shown == self._shown:
            return  # unchanged: keep the reader's scroll position
        self._shown = shown
        if r.transcript_file:
            self.transcript.setPlainText("Reading the transcript...")
            self.transcriptWanted.emit(r)  # immutable: safe on another thread
        else:
            self.transcript.setPlainText(transcript_text(r))

    def show_transcript(self, key: tuple[int, int], transcript_file: str, text: str) -> None:
        """The text read for ``key``'s ``transcript_file``, if that is still the one shown."""
        if self._shown == (key, transcript_file):
            self.transcript.setPlainText(text)


TRANSCRIPT_MAX = 2 * 1024 * 1024  # bytes read of a transcript file (serve caps them anyway)


def transcript_text(r: Association) -> str:
    """What the transcript pane shows for ``r``: the file serve wrote, or why there is none."""
    if not r.transcript_file:
        if not finished(r):
            return "Still open: the transcript is written when the association closes."
        return "No transcript was written for this association (see the log)."
    try:
        with open(Path(r.transcript_file), "rb") as fh:
            data = fh.read(TRANSCRIPT_MAX)
    except OSError as exc:
        return f"The transcript cannot be read: {exc.strerror or exc}\n{r.transcript_file}"
    return f"{r.transcript_file}\n\n" + data.decode("utf-8", "replace")
