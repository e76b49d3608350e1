"""The retrieve panel's model: one row per retrieve (queued, running or finished).

A :class:`RetrieveRow` is fed on the GUI thread by the retrieve controller from its job's
callbacks: the expected count learnt by C-FIND, the pending responses' counts
(:class:`~pacsadmin.core.dimse.retrieve_model.RetrieveProgress`, which carries how many
instances the archive actually received) and the final
:class:`~pacsadmin.core.dimse.retrieve_model.RetrieveResult`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QModelIndex, Qt

from pacsadmin.core.dimse.retrieve_model import Item, RetrieveProgress, RetrieveResult
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.format import format_duration
from pacsadmin.core.nodes import DicomNode
from pacsadmin.gui.models.jobs_model import OUTCOME_ROLE, PROGRESS_ROLE
from pacsadmin.gui.models.table import FlatTableModel, Index
from pacsadmin.gui.text import one_line, plain_tooltip
from pacsadmin.gui.widgets.lights import Light, light_icon

ROW_ROLE = Qt.ItemDataRole.UserRole + 20  # the RetrieveRow

HEADERS = ("Node", "What", "Destination", "State", "Progress", "PACS reports", "Received", "Time")
(
    COL_NODE,
    COL_WHAT,
    COL_DEST,
    COL_STATE,
    COL_PROGRESS,
    COL_PACS,
    COL_RECEIVED,
    COL_ELAPSED,
) = range(len(HEADERS))

# states of a row (what a person reads)
QUEUED, RUNNING, DONE, INCOMPLETE, FAILED, CANCELLED = (
    "queued",
    "running",
    "done",
    "incomplete",
    "failed",
    "cancelled",
)


def describe_items(items: tuple[Item, ...]) -> str:
    """What a selection is before the PACS has said more: "study …4711", "3 series"."""
    if not items:
        return "nothing"
    levels = {i.level for i in items}
    if len(items) == 1:
        it = items[0]
        uid = it.uid
        short = uid if len(uid) <= 18 else "…" + uid[-14:]
        return f"{it.level.lower().replace('image', 'instance')} {short}"
    if len(levels) == 1:
        word = {"STUDY": "studies", "SERIES": "series", "IMAGE": "instances"}[levels.pop()]
        return f"{len(items)} {word}"
    return f"{len(items)} items"


@dataclass
class RetrieveRow:
    key: int  # the job id
    node: DicomNode
    items: tuple[Item, ...]
    method: str  # C-MOVE or C-GET
    dest_ae: str  # the move destination ("" for a C-GET)
    dest_label: str  # "this computer" or the destination node
    to_archive: bool  # the instances land in this computer's archive (counted)
    what: str
    note: str = ""  # how it lands ("through the local SCP", "a receiver is started")
    state: str = QUEUED
    message: str = ""  # the job's latest progress line
    progress: RetrieveProgress | None = None
    expected: int | None = None
    expected_how: str = ""
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    elapsed: float | None = None
    result: RetrieveResult | None = None
    retry_of: int | None = None
    job: Any = field(default=None, repr=False)  # core Job (its cancel)

    @property
    def finished(self) -> bool:
        return self.state not in (QUEUED, RUNNING)

    @property
    def received(self) -> int | None:
        """Instances the archive received for this retrieve (new ones, not those it had)."""
        r = self.result
        if r is not None:
            return None if r.received is None else r.received - r.already_had
        return None if self.progress is None else self.progress.received

    def elapsed_now(self, now: float) -> float | None:
        if self.elapsed is not None:
            return self.elapsed
        return None if self.started is None else now - self.started

    def progress_pair(self) -> tuple[int, int | None]:
        """(done, total) for the bar: sub-operations answered of those expected."""
        p = self.progress
        r = self.result
        if r is not None:
            answered = r.completed + r.failed + r.warning
            return answered, (r.expected or answered or 1)
        if p is None:
            return 0, None if self.state == RUNNING else 1
        done = p.completed + p.failed + p.warning
        total: int | None = self.expected
        if total is None and p.remaining is not None:
            total = done + p.remaining
        return done, total

    def pacs_text(self) -> str:
        src = self.result or self.progress
        if src is None:
            return ""
        text = f"{src.completed} completed"
        if src.failed:
            text += f" · {src.failed} failed"
        if src.warning:
            text += f" · {src.warning} warning"
        if src.remaining and not self.finished:
            text += f" · {src.remaining} remaining"
        return text

    def received_text(self) -> str:
        if not self.to_archive:
            return "not counted" if self.finished else ""
        got = self.received
        if got is None:
            return ""
        exp = self.result.expected if self.result is not None else self.expected
        had = self.result.already_had if self.result is not None else 0
        text = f"{got}" + (f" of {exp - had}" if exp is not None and exp - had >= got else "")
        return text


def state_light(row: RetrieveRow) -> Light:
    return {
        QUEUED: Light.UNKNOWN,
        RUNNING: Light.RUNNING,
        DONE: Light.OK,
        INCOMPLETE: Light.WARNING,
        FAILED: Light.FAILED,
        CANCELLED: Light.SKIPPED,
    }[row.state]


def final_state(result: RetrieveResult) -> str:
    if result.cancelled or result.outcome is Outcome.CANCEL:
        return CANCELLED
    if result.ok:
        return DONE
    if result.outcome is Outcome.FAILURE and not (result.received or result.completed):
        return FAILED
    return INCOMPLETE


class RetrieveListModel(FlatTableModel):
    headers = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[RetrieveRow] = []

    # ------------------------------------------------------------------ updates (GUI thread)
    def add(self, row: RetrieveRow) -> None:
        """Newest first."""
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows.insert(0, row)
        self.endInsertRows()

    def row_of(self, key: int) -> int:
        for i, r in enumerate(self._rows):
            if r.key == key:
                return i
        return -1

    def get(self, key: int) -> RetrieveRow | None:
        i = self.row_of(key)
        return None if i < 0 else self._rows[i]

    def changed(self, key: int) -> None:
        i = self.row_of(key)
        if i >= 0:
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(HEADERS) - 1))

    def rows(self) -> list[RetrieveRow]:
        return list(self._rows)

    def row(self, i: int) -> RetrieveRow:
        return self._rows[i]

    def tick(self) -> None:
        """Running retrieves' elapsed time moves on."""
        for i, r in enumerate(self._rows):
            if r.state == RUNNING:
                idx = self.index(i, COL_ELAPSED)
                self.dataChanged.emit(idx, idx)

    def clear_finished(self) -> None:
        self.beginResetModel()
        self._rows = [r for r in self._rows if not r.finished]
        self.endResetModel()

    def running(self) -> int:
        return sum(1 for r in self._rows if not r.finished)

    # ------------------------------------------------------------------ Qt API
    def _row_count(self) -> int:
        return len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == ROW_ROLE:
            return r
        if role == OUTCOME_ROLE:
            if not r.finished:
                return None
            return {CANCELLED: "cancelled", FAILED: "failed"}.get(r.state, "done")
        if role == PROGRESS_ROLE and col == COL_PROGRESS:
            if r.state == QUEUED:
                return (0, 1)
            return r.progress_pair()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NODE:
                return one_line(r.node.name)
            if col == COL_WHAT:
                return one_line(r.what)
            if col == COL_DEST:
                return one_line(r.dest_label)
            if col == COL_STATE:
                return r.state
            if col == COL_PACS:
                return r.pacs_text()
            if col == COL_RECEIVED:
                return r.received_text()
            if col == COL_ELAPSED:
                return format_duration(r.elapsed_now(time.monotonic()))
            return None
        if role == Qt.ItemDataRole.DecorationRole and col == COL_STATE:
            return light_icon(state_light(r))
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_STATE and r.result is not None:
                return plain_tooltip(r.result.sentence)
            if col in (COL_STATE, COL_PROGRESS):
                return plain_tooltip(r.message or r.note)
            if col == COL_WHAT:
                return plain_tooltip("\n".join(i.describe() for i in r.items[:20]))
            if col == COL_DEST:
                return plain_tooltip(r.note or r.dest_label)
            if col == COL_RECEIVED and r.to_archive:
                return plain_tooltip(
                    "Instances of this retrieve the archive's index actually holds now "
                    "(only complete files get a row), not the PACS's claim."
                )
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_ELAPSED, COL_RECEIVED):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
