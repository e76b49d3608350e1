"""The "Received" dock: one row per association of the local SCP process, live.

:class:`ReceivedModel` is a thin table over plain rows keyed by (process id, association
id), updated from the SCP process's JSON events (GUI thread).  AE titles and addresses come
from peers: shown as plain, one-line text (RELIABILITY rule 5).  Below the table, the
selected association's transcript, as in the Connectivity Doctor: ``serve`` writes it
(redacted, no data set contents) when the association closes.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
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

from pacsadmin.gui.models.archive_model import fmt_size
from pacsadmin.gui.models.table import TOP, FlatTableModel, Index
from pacsadmin.gui.text import one_line, plain_label, plain_tooltip

HEADERS = ("Caller AE", "Address", "Started", "Images", "Rate", "Size", "Errors", "State")
COL_AE, COL_ADDR, COL_START, COL_IMAGES, COL_RATE, COL_SIZE, COL_ERRORS, COL_STATE = range(8)


@dataclass
class AssocRow:
    key: tuple[int, int]
    calling_ae: str = ""
    address: str = ""
    started: float = 0.0
    ended: float | None = None
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    size: int = 0
    errors: list[str] = field(default_factory=list)
    aborted: bool = False
    rejected: str = ""
    transcript_file: str = ""  # written by serve when the association closes

    @property
    def images(self) -> int:
        return self.stored + self.duplicates

    def rate(self, now: float) -> float | None:
        dur = (self.ended or now) - self.started
        return self.images / dur if self.images and dur > 0 else None

    def state(self) -> str:
        """ "receiving", "done", "aborted" or "rejected: why" (plus duplicates)."""
        if self.rejected:
            return f"rejected: {self.rejected}"
        if self.ended is None:
            return "receiving"
        state = "aborted" if self.aborted else "done"
        if self.duplicates:
            state += f" · {self.duplicates} duplicate(s) kept as first received"
        return state


class ReceivedModel(FlatTableModel):
    headers = HEADERS

    def __init__(self, parent: Any = None, *, keep: int = 500) -> None:
        super().__init__(parent)
        self.rows: list[AssocRow] = []
        self._by_key: dict[tuple[int, int], int] = {}
        self.keep = keep

    def apply(self, ev: dict[str, Any]) -> AssocRow | None:
        """Apply one open / progress / close event; returns its row."""
        if ev.get("event") not in ("open", "progress", "close") or "id" not in ev:
            return None
        key = (int(ev.get("pid") or 0), int(ev["id"]))
        i = self._by_key.get(key)
        if i is None:
            self._trim()
            i = len(self.rows)
            self.beginInsertRows(TOP, i, i)
            self.rows.append(AssocRow(key))
            self._by_key[key] = i
            self.endInsertRows()
        r = self.rows[i]
        r.calling_ae = str(ev.get("calling_ae") or "")
        r.address = f"{ev.get('address') or ''}:{ev.get('port') or ''}".strip(":")
        r.started = float(ev.get("started") or r.started or time.time())
        r.ended = float(ev["ended"]) if ev.get("ended") else None
        if ev["event"] == "close" and r.ended is None:
            r.ended = time.time()
        r.stored = int(ev.get("stored") or 0)
        r.duplicates = int(ev.get("duplicates") or 0)
        r.failed = int(ev.get("failed") or 0)
        r.size = int(ev.get("bytes") or 0)
        r.errors = [str(e) for e in ev.get("errors") or []]
        r.aborted, r.rejected = bool(ev.get("aborted")), str(ev.get("rejected") or "")
        r.transcript_file = str(ev.get("transcript_file") or r.transcript_file)
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(HEADERS) - 1))
        return r

    def _trim(self) -> None:
        if len(self.rows) < self.keep:
            return
        drop = next((k for k, r in enumerate(self.rows) if r.ended is not None), None)
        if drop is None:
            return
        self.beginRemoveRows(TOP, drop, drop)
        del self.rows[drop]
        self._by_key = {r.key: k for k, r in enumerate(self.rows)}
        self.endRemoveRows()

    def clear_finished(self) -> None:
        self.beginResetModel()
        self.rows = [r for r in self.rows if r.ended is None]
        self._by_key = {r.key: k for k, r in enumerate(self.rows)}
        self.endResetModel()

    def refresh_times(self) -> None:
        if any(r.ended is None for r in self.rows):
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
                return one_line(r.address, 60)
            if col == COL_START:
                return time.strftime("%H:%M:%S", time.localtime(r.started)) if r.started else ""
            if col == COL_IMAGES:
                return str(r.images)
            if col == COL_RATE:
                rate = r.rate(time.time())
                return f"{rate:.1f} img/s" if rate is not None else ""
            if col == COL_SIZE:
                return fmt_size(r.size) if r.size else ""
            if col == COL_ERRORS:
                n = r.failed + len(r.errors)
                return str(n) if n else ""
            return one_line(r.state(), 80)
        if role == Qt.ItemDataRole.ToolTipRole and col in (COL_ERRORS, COL_STATE) and r.errors:
            return plain_tooltip("\n".join(r.errors[:20]))
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
        self.status = plain_label("SCP not running")
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
        self.table.verticalHeader().setDefaultSectionSize(22)
        hdr = self.table.horizontalHeader()
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hdr.setStretchLastSection(True)
        for col, w in enumerate((110, 130, 70, 60, 80, 70, 50)):
            self.table.setColumnWidth(col, w)
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
            self.transcriptWanted.emit(dataclasses.replace(r, errors=list(r.errors)))
        else:
            self.transcript.setPlainText(transcript_text(r))

    def show_transcript(self, key: tuple[int, int], transcript_file: str, text: str) -> None:
        """The text read for ``key``'s ``transcript_file``, if that is still the one shown."""
        if self._shown == (key, transcript_file):
            self.transcript.setPlainText(text)


TRANSCRIPT_MAX = 2 * 1024 * 1024  # bytes read of a transcript file (serve caps them anyway)


def transcript_text(r: AssocRow) -> str:
    """What the transcript pane shows for ``r``: the file serve wrote, or why there is none."""
    if not r.transcript_file:
        if r.ended is None:
            return "Still open: the transcript is written when the association closes."
        return "No transcript was written for this association (see the log)."
    try:
        with open(Path(r.transcript_file), "rb") as fh:
            data = fh.read(TRANSCRIPT_MAX)
    except OSError as exc:
        return f"The transcript cannot be read: {exc.strerror or exc}\n{r.transcript_file}"
    return f"{r.transcript_file}\n\n" + data.decode("utf-8", "replace")
