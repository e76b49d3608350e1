"""The Jobs panel's model: one row per job, fed by the bridge's signals (GUI thread)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QModelIndex, Qt

from pacsadmin.core.format import format_duration
from pacsadmin.core.jobs import JobFinished, JobProgress, JobStarted, JobState, JobSubmitted
from pacsadmin.gui.models.table import FlatTableModel, Index
from pacsadmin.gui.text import one_line, plain_tooltip
from pacsadmin.gui.widgets.lights import Light, light_icon

PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 10  # (done, total) or None
JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 11
OUTCOME_ROLE = Qt.ItemDataRole.UserRole + 12  # "failed", "cancelled", "done" or None (running)

HEADERS = ("Job", "Node", "State", "Progress", "Elapsed", "Result")
COL_JOB, COL_NODE, COL_STATE, COL_PROGRESS, COL_ELAPSED, COL_RESULT = range(6)

_ROLES = frozenset(
    (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.DecorationRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.TextAlignmentRole,
        PROGRESS_ROLE,
        JOB_ID_ROLE,
        OUTCOME_ROLE,
    )
)


@dataclass
class JobRow:
    job_id: int
    name: str
    node: str
    state: JobState = JobState.QUEUED
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    elapsed: float | None = None  # set when finished
    done: int = 0
    total: int | None = None
    message: str = ""
    result: str = ""
    ok: bool | None = None

    def elapsed_now(self, now: float) -> float | None:
        if self.elapsed is not None:
            return self.elapsed
        if self.started is None:
            return None
        return now - self.started


def state_text(r: JobRow) -> str:
    """What a person reads: an echo job that ran but whose echo failed says "failed"."""
    if r.state is JobState.SUCCEEDED:
        return "failed" if r.ok is False else "done"
    if r.state is JobState.FAILED:
        return "error"
    return str(r.state.value)


def outcome(r: JobRow) -> str | None:
    """How the job ended, for the progress bar: ``failed`` (an error, or an echo that ran
    and failed), ``cancelled``, ``done``; None while it runs."""
    if not r.state.finished:
        return None
    if r.state is JobState.CANCELLED:
        return "cancelled"
    if r.state is JobState.FAILED or r.ok is False:
        return "failed"
    return "done"


class JobsModel(FlatTableModel):
    headers = HEADERS

    def __init__(self, parent: Any = None, *, keep_finished: int = 200) -> None:
        super().__init__(parent)
        self._rows: list[JobRow] = []
        self._by_id: dict[int, int] = {}
        self.keep_finished = keep_finished

    # ------------------------------------------------------------------ updates (GUI thread)
    def add(self, ev: JobSubmitted) -> None:
        """Newest first: a job just started is at the top, where it is seen."""
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows.insert(0, JobRow(ev.job_id, ev.name, ev.node or "", submitted=ev.submitted_at))
        self._reindex()
        self.endInsertRows()
        self._trim()

    def started(self, ev: JobStarted) -> None:
        r = self._row(ev.job_id)
        if r is not None:
            r.state, r.started = JobState.RUNNING, ev.started_at
            self._changed(ev.job_id)

    def progress(self, ev: JobProgress) -> None:
        r = self._row(ev.job_id)
        if r is not None:
            r.done, r.total, r.message = ev.done, ev.total, ev.message
            self._changed(ev.job_id)

    def finished(self, ev: JobFinished) -> None:
        """The job's end; its result text is the summary its submitter gave."""
        r = self._row(ev.job_id)
        if r is None:
            return
        r.state, r.elapsed = ev.state, ev.elapsed
        if ev.state is JobState.SUCCEEDED:
            r.ok = True if ev.ok is None else ev.ok
            if r.total:
                r.done = r.total
            r.result = ev.summary or "Done."
        elif ev.state is JobState.CANCELLED:
            r.ok, r.result = None, ev.summary or ev.error or "Cancelled."
        else:
            r.ok, r.result = False, ev.error or "Failed."
        self._changed(ev.job_id)

    def tick(self) -> None:
        """Running jobs' elapsed time moves on."""
        for i, r in enumerate(self._rows):
            if r.state is JobState.RUNNING:
                idx = self.index(i, COL_ELAPSED)
                self.dataChanged.emit(idx, idx)

    def clear_finished(self) -> None:
        self.beginResetModel()
        self._rows = [r for r in self._rows if not r.state.finished]
        self._reindex()
        self.endResetModel()

    def _trim(self) -> None:
        finished = [i for i, r in enumerate(self._rows) if r.state.finished]
        extra = len(finished) - self.keep_finished
        if extra > max(20, self.keep_finished // 4):  # in chunks: a reset is not free
            drop = set(finished[-extra:])  # the oldest are at the bottom
            self.beginResetModel()
            self._rows = [r for i, r in enumerate(self._rows) if i not in drop]
            self._reindex()
            self.endResetModel()

    def _reindex(self) -> None:
        self._by_id = {r.job_id: i for i, r in enumerate(self._rows)}

    def _row(self, job_id: int) -> JobRow | None:
        i = self._by_id.get(job_id)
        return None if i is None else self._rows[i]

    def _changed(self, job_id: int) -> None:
        i = self._by_id[job_id]
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(HEADERS) - 1))

    def job(self, row: int) -> JobRow:
        return self._rows[row]

    def running_count(self) -> int:
        return sum(1 for r in self._rows if not r.state.finished)

    # ------------------------------------------------------------------ Qt API
    def _row_count(self) -> int:
        return len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():  # views ask for ~10 roles per cell
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == JOB_ID_ROLE:
            return r.job_id
        if role == OUTCOME_ROLE:
            return outcome(r)
        if role == PROGRESS_ROLE and col == COL_PROGRESS:
            if r.state is JobState.QUEUED:
                return (0, 1)
            if r.state.finished:
                return (1, 1) if r.state is JobState.SUCCEEDED else (r.done, r.total or 1)
            return (r.done, r.total)  # total None: busy indicator
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_JOB:
                return one_line(r.name)
            if col == COL_NODE:
                return one_line(r.node)
            if col == COL_STATE:
                return state_text(r)
            if col == COL_PROGRESS:
                return one_line(r.message)
            if col == COL_ELAPSED:
                return format_duration(r.elapsed_now(time.monotonic()))
            if col == COL_RESULT:
                return one_line(r.result)
        if role == Qt.ItemDataRole.DecorationRole and col == COL_STATE:
            if r.state is JobState.RUNNING or r.state is JobState.QUEUED:
                return light_icon(Light.RUNNING if r.state is JobState.RUNNING else Light.UNKNOWN)
            if r.state is JobState.CANCELLED:
                return light_icon(Light.SKIPPED)
            return light_icon(Light.OK if r.ok else Light.FAILED)
        if role == Qt.ItemDataRole.ToolTipRole and col in (COL_RESULT, COL_PROGRESS, COL_JOB):
            return plain_tooltip(r.result if col == COL_RESULT else (r.message or r.name))
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_ELAPSED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
