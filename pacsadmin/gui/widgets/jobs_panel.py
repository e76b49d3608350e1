"""The Jobs panel: running and finished jobs, progress bars, elapsed time, Cancel."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.gui.icons import icon
from pacsadmin.gui.metrics import fit_columns
from pacsadmin.gui.models.jobs_model import (
    COL_ELAPSED,
    COL_JOB,
    COL_NODE,
    COL_PROGRESS,
    COL_STATE,
    JOB_ID_ROLE,
    OUTCOME_ROLE,
    PROGRESS_ROLE,
    JobsModel,
)

FAILED_COLOR = QColor(198, 40, 40)  # red: the same in light and dark palettes
CANCELLED_COLOR = QColor(128, 128, 128)


class ProgressDelegate(QStyledItemDelegate):
    """A progress bar in the cell; busy (indeterminate) when the total is unknown.  A job
    that failed gets a red hatched bar that says "Failed" (with how far it got), one that
    was cancelled a grey one: never the full bar of a job that succeeded."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        prog = index.data(PROGRESS_ROLE)
        if prog is None:
            super().paint(painter, option, index)
            return
        done, total = prog
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        r: QRect = option.rect.adjusted(3, 4, -3, -4)
        ended = index.data(OUTCOME_ROLE)
        if ended in ("failed", "cancelled"):
            self._paint_ended(painter, option, r, ended, done, total)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = r
        bar.minimum = 0
        bar.maximum = 0 if total is None else max(1, total)
        bar.progress = 0 if total is None else min(done, max(1, total))
        text = f"{done}/{total}" if total is not None and total > 1 else ""
        bar.text = text
        bar.textVisible = bool(text)
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.palette = option.palette
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)

    @staticmethod
    def _paint_ended(
        painter: QPainter,
        option: QStyleOptionViewItem,
        r: QRect,
        ended: str,
        done: int,
        total: int | None,
    ) -> None:
        color = FAILED_COLOR if ended == "failed" else CANCELLED_COLOR
        text = "Failed" if ended == "failed" else "Cancelled"
        if total is not None and total > 1 and done < total:
            text += f" at {done}/{total}"
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        tint = QColor(color)
        tint.setAlpha(40)
        painter.fillRect(r, tint)
        hatch = QColor(color)
        hatch.setAlpha(110)
        painter.fillRect(r, QBrush(hatch, Qt.BrushStyle.BDiagPattern))
        painter.setPen(QPen(color, 1))
        painter.drawRect(r.adjusted(0, 0, -1, -1))
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        painter.drawText(r, int(Qt.AlignmentFlag.AlignCenter), text)
        painter.restore()


class JobsPanel(QWidget):
    cancelRequested = Signal(list)  # [job_id, ...]
    detailsRequested = Signal(int)  # job_id: double click, Enter or Results… (a send's table)

    def __init__(self, model: JobsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.view = QTableView(self)
        self.view.setModel(model)
        self.view.setItemDelegateForColumn(COL_PROGRESS, ProgressDelegate(self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setShowGrid(False)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(24)
        hh = self.view.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setStretchLastSection(True)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        fit_columns(  # typical long values, in this font
            self.view,
            {
                COL_JOB: "Doctor Teleradiology ×10",
                COL_NODE: "Teleradiology",
                COL_STATE: "cancelled+++",  # + the light
                COL_PROGRESS: "Cancelled at 100/100",
                COL_ELAPSED: "59 min 59 s",
            },
            pad=28,
        )

        self.cancel_button = QPushButton(icon("cancel"), "Cancel", self)
        self.cancel_button.setToolTip("Cancel the selected jobs")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.clear_button = QPushButton(icon("clear"), "Clear finished", self)
        self.clear_button.clicked.connect(self._on_clear_button_clicked)
        self.details_button = QPushButton(icon("view"), "Results…", self)
        self.details_button.setToolTip("The per-file results of the selected send")
        self.details_button.setEnabled(False)
        self.details_button.clicked.connect(self._on_details_button_clicked)
        # which jobs have a results window (the app sets it: the sends)
        self.has_details: Callable[[int], bool] = lambda job_id: False

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.details_button)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addLayout(buttons)
        lay.addWidget(self.view, 1)

        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.view.activated.connect(self._on_view_activated)
        model.dataChanged.connect(self._on_selection_changed)
        self._ticker = QTimer(self)
        self._ticker.setInterval(500)
        self._ticker.timeout.connect(self._on_ticker_timeout)
        self._ticker.start()

    def selected_job_ids(self) -> list[int]:
        rows = {i.row() for i in self.view.selectionModel().selectedRows()}
        return [self.model.index(r, 0).data(JOB_ID_ROLE) for r in sorted(rows)]

    def select_job(self, job_id: int) -> None:
        for r in range(self.model.rowCount()):
            if self.model.index(r, 0).data(JOB_ID_ROLE) == job_id:
                self.view.selectRow(r)
                return

    @Slot()
    def _on_selection_changed(self) -> None:
        rows = {i.row() for i in self.view.selectionModel().selectedRows()}
        self.cancel_button.setEnabled(
            any(not self.model.job(r).state.finished for r in rows if r < self.model.rowCount())
        )
        ids = self.selected_job_ids()
        self.details_button.setEnabled(len(ids) == 1 and self.has_details(ids[0]))

    @Slot(QModelIndex)
    def _on_view_activated(self, index: QModelIndex) -> None:
        job_id = self.model.index(index.row(), 0).data(JOB_ID_ROLE)
        if job_id is not None and self.has_details(job_id):
            self.detailsRequested.emit(job_id)

    @Slot()
    def _on_details_button_clicked(self) -> None:
        ids = self.selected_job_ids()
        if len(ids) == 1:
            self.detailsRequested.emit(ids[0])

    @Slot()
    def _on_cancel_button_clicked(self) -> None:
        ids = [
            self.model.job(i.row()).job_id
            for i in self.view.selectionModel().selectedRows()
            if not self.model.job(i.row()).state.finished
        ]
        if ids:
            self.cancelRequested.emit(ids)

    @Slot()
    def _on_clear_button_clicked(self) -> None:
        self.model.clear_finished()

    @Slot()
    def _on_ticker_timeout(self) -> None:
        self.model.tick()
