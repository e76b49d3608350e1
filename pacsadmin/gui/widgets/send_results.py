"""A send's window: progress (rate, time left), cancel, the per-file result table, and
"Resend failed only".  Opened from the Jobs panel (double click, or Results…); it only
shows and emits signals, :class:`~pacsadmin.gui.controllers.send.SendController` acts."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.dimse.send_result import FileState, SendResult
from pacsadmin.core.jobs import JobProgress
from pacsadmin.gui.icons import icon
from pacsadmin.gui.metrics import fit_columns
from pacsadmin.gui.models.send_results_model import (
    COL_ACCEPTED,
    COL_CODE,
    COL_FILE,
    COL_MEANING,
    COL_SOP,
    COL_STATE,
    COL_TS,
    HEADERS,
    SendResultsModel,
)
from pacsadmin.gui.text import escape_controls, plain_label


class SendResultsDialog(QDialog):
    cancelRequested = Signal()
    resendRequested = Signal()  # the files that failed or were not sent, to the same node

    def __init__(
        self, title: str, target: str, model: SendResultsModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setWindowIcon(icon("export"))
        self.setModal(False)
        self.model = model
        self.heading = plain_label(target)
        f = QFont(self.heading.font())
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.heading.setFont(f)
        self.options = plain_label("")
        self.options.setEnabled(False)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setFormat("%v / %m files")
        self.rate = plain_label("Waiting to start…")
        self.counts = QLabel()
        self.counts.setTextFormat(Qt.TextFormat.PlainText)
        self.failed_only = QCheckBox("Show only files that were not stored")
        self.copy_button = QPushButton(icon("copy"), "Copy table")
        self.copy_button.setToolTip("Copy the rows shown, tab-separated, for a ticket or e-mail")

        self.view = QTableView()
        self.view.setModel(model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(24)
        hh = self.view.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setStretchLastSection(True)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        fit_columns(
            self.view,
            {
                COL_STATE: "Not sent+++",
                COL_FILE: "SERIES02/IM000123.dcm",
                COL_SOP: "Enhanced MR Image Storage",
                COL_TS: "Explicit VR Little Endian",
                COL_ACCEPTED: "Explicit VR Little Endian",
                COL_CODE: "0xA700",
                COL_MEANING: "Success",
            },
        )

        # the selected row in full: its path and why (the table cuts long sentences)
        self.detail = QLabel()
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setFrameShape(QFrame.Shape.StyledPanel)
        self.detail.setMargin(6)
        self.detail.setMinimumHeight(self.fontMetrics().height() * 3 + 12)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.cancel_button = QPushButton(icon("cancel"), "Cancel send")
        self.resend_button = QPushButton(icon("refresh"), "Resend failed only")
        self.resend_button.setToolTip(
            "Send again the files that failed or were not sent (not the skipped ones), "
            "to the same node, with the same choice for compressed files"
        )
        self.resend_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        progress = QHBoxLayout()
        progress.addWidget(self.bar, 2)
        progress.addWidget(self.cancel_button)
        filters = QHBoxLayout()
        filters.addWidget(self.counts, 1)
        filters.addWidget(self.failed_only)
        filters.addWidget(self.copy_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.resend_button)
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.options)
        lay.addLayout(progress)
        lay.addWidget(self.rate)
        lay.addLayout(filters)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.detail)
        lay.addLayout(bottom)
        self.resize(1180, 600)
        self.view.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self._on_current_changed()

        self.cancel_button.clicked.connect(self.cancelRequested)
        self.resend_button.clicked.connect(self.resendRequested)
        self.close_button.clicked.connect(self.close)
        self.failed_only.toggled.connect(model.set_failed_only)
        self.copy_button.clicked.connect(self._on_copy_clicked)
        for sig in (model.rowsInserted, model.modelReset):
            sig.connect(self._update_counts)
        self._update_counts()

    # ------------------------------------------------------------------ API
    def set_options(self, text: str) -> None:
        self.options.setText(escape_controls(text))

    def set_progress(self, ev: JobProgress) -> None:
        if ev.total:
            self.bar.setMaximum(ev.total)
            self.bar.setValue(ev.done)
        if ev.message:
            self.rate.setText(escape_controls(ev.message))

    def set_finished(self, result: SendResult | None, error: str) -> None:
        self.cancel_button.setEnabled(False)
        if result is None:
            self.bar.setMaximum(max(self.bar.maximum(), 1))
            self.rate.setText(escape_controls(error or "The send did not run."))
            return
        self.bar.setMaximum(max(len(result.files), 1))
        self.bar.setValue(len(result.files))
        rate = f", {result.rate:.0f} files/s" if result.stored else ""
        self.rate.setText(escape_controls(result.summary.rstrip(".") + rate + "."))
        self.resend_button.setEnabled(bool(result.resendable))

    # ------------------------------------------------------------------ slots
    @Slot()
    def _update_counts(self, *args: object) -> None:
        c = self.model.counts()
        parts = [f"{c[FileState.STORED]} stored", f"{c[FileState.FAILED]} failed"]
        if c[FileState.NOT_SENT]:
            parts.append(f"{c[FileState.NOT_SENT]} not sent")
        if c[FileState.SKIPPED]:
            parts.append(f"{c[FileState.SKIPPED]} skipped (not DICOM or damaged)")
        self.counts.setText(" · ".join(parts))

    @Slot()
    def _on_current_changed(self, *args: object) -> None:
        index = self.view.currentIndex()
        if not index.isValid() or index.row() >= self.model.rowCount():
            self.detail.setText("Select a file to see its path and its status in full.")
            return
        r = self.model.result(index.row())
        lines = [r.path]
        if r.sop_instance:
            lines.append(f"SOP Instance UID {r.sop_instance}")
        status = f"{r.status_text}: " if r.status_text else ""
        lines.append(f"{status}{r.meaning}" if (status or r.meaning) else "")
        self.detail.setText(escape_controls("\n".join(x for x in lines if x)))

    @Slot()
    def _on_copy_clicked(self) -> None:
        lines = ["\t".join(HEADERS)]
        for row in range(self.model.rowCount()):
            r = self.model.result(row)
            cells = [self.model.index(row, c).data() or "" for c in range(len(HEADERS))]
            cells[COL_FILE] = r.path
            lines.append("\t".join(cells))
        QGuiApplication.clipboard().setText("\n".join(lines) + "\n")
