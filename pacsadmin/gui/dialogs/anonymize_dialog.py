"""Anonymize files into a new folder: the inputs, the PS3.15 options, the output folder,
a preview of the first file's changes, then the run as a job (progress and cancel in the
Jobs panel; the summary in the dialog).  The reads and writes run on the io lane."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.anonymize import AnonymizeResult, Change, Options, anonymize, preview
from pacsadmin.core.anonymize.run import files_of
from pacsadmin.core.errors import ValidationError
from pacsadmin.core.jobs import JobContext, JobFinished, JobState
from pacsadmin.gui.icons import icon


def _first_dicom(inputs: list[str], options: Options) -> tuple[str, list[Change], tuple[str, ...]]:
    for path, why in files_of(inputs):
        if why:
            continue
        try:
            changes, warnings = preview(path, options)
        except ValidationError:
            raise
        except Exception:
            continue
        return path, changes, warnings
    return "", [], ()


class AnonymizeDialog(QDialog):
    """``bridge``: the JobBridge; ``audit``: the audit log (the pseudonym map goes there);
    ``on_written(folder)``: called after a run that wrote files (e.g. offer to import)."""

    def __init__(
        self,
        inputs: list[str],
        *,
        bridge: Any,
        audit: Any,
        parent: QWidget | None = None,
        on_written: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("anonymizeDialog")
        self.setWindowTitle("Anonymize (PS3.15 Basic Profile)")
        self.bridge, self.audit, self.on_written = bridge, audit, on_written
        self.inputs = list(inputs)
        self.job: Any = None
        self.result_: AnonymizeResult | None = None

        self.inputs_label = QLabel()
        self.inputs_label.setTextFormat(Qt.TextFormat.PlainText)
        self.inputs_label.setWordWrap(True)
        add = QPushButton("Add folder...")
        add.clicked.connect(self._add_folder)
        top = QHBoxLayout()
        top.addWidget(self.inputs_label, 1)
        top.addWidget(add)

        opts = QGroupBox("Options (PS3.15 E.3): what is kept")
        form = QFormLayout(opts)
        self.retain_dates = QCheckBox("Keep dates and times (full dates)")
        self.shift = QCheckBox("Shift every date by")
        self.shift_days = QSpinBox()
        self.shift_days.setRange(-36500, 36500)
        self.shift_days.setValue(-365)
        self.shift_days.setSuffix(" days")
        row = QHBoxLayout()
        row.addWidget(self.shift)
        row.addWidget(self.shift_days)
        row.addStretch(1)
        self.retain_device = QCheckBox("Keep device identity (serial numbers, station)")
        self.retain_patient = QCheckBox("Keep patient characteristics (sex, age, size, weight)")
        self.retain_institution = QCheckBox("Keep institution identity")
        self.clean_desc = QCheckBox("Keep descriptions, with identifiers blanked out")
        self.retain_uids = QCheckBox("Keep UIDs (default: new ones, consistent in the batch)")
        self.keep_private = QCheckBox("Keep private attributes (only if they are known safe)")
        self.prefix = QLineEdit("ANON")
        self.prefix.setMaxLength(8)
        self.prefix.setMaximumWidth(120)
        form.addRow(self.retain_dates)
        form.addRow(row)
        for box in (
            self.retain_device,
            self.retain_patient,
            self.retain_institution,
            self.clean_desc,
            self.retain_uids,
            self.keep_private,
        ):
            form.addRow(box)
        form.addRow("Pseudonym prefix", self.prefix)
        self.retain_dates.toggled.connect(self._on_retain_dates_toggled)
        self.shift.toggled.connect(self._on_shift_toggled)

        self.out = QLineEdit()
        self.out.setPlaceholderText("a new or empty folder")
        browse = QPushButton("Choose...")
        browse.clicked.connect(self._choose_out)
        out_row = QHBoxLayout()
        out_row.addWidget(QLabel("Output folder"))
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)

        self.table = QTableWidget(0, 4)
        self.table.setObjectName("anonymizePreview")
        self.table.setHorizontalHeaderLabels(["Attribute", "Action", "Before", "After"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(0, 300)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.status = QLabel(
            "Pixel data is copied as it is: text burned into the pixels is not removed."
        )
        self.status.setObjectName("anonymizeStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.preview_btn = self.buttons.addButton("Preview", QDialogButtonBox.ButtonRole.ActionRole)
        self.preview_btn.setIcon(icon("view"))
        self.run_btn = self.buttons.addButton("Anonymize", QDialogButtonBox.ButtonRole.ApplyRole)
        self.run_btn.setIcon(icon("run"))
        self.preview_btn.clicked.connect(self.run_preview)
        self.run_btn.clicked.connect(self.run)
        self.buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(opts)
        lay.addLayout(out_row)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)
        self.resize(820, 720)
        self._show_inputs()

    # ------------------------------------------------------------------ values
    def options(self) -> Options:
        return Options(
            retain_full_dates=self.retain_dates.isChecked(),
            shift_days=self.shift_days.value() if self.shift.isChecked() else None,
            retain_device=self.retain_device.isChecked(),
            retain_patient_characteristics=self.retain_patient.isChecked(),
            retain_institution=self.retain_institution.isChecked(),
            clean_descriptors=self.clean_desc.isChecked(),
            retain_uids=self.retain_uids.isChecked(),
            keep_private=self.keep_private.isChecked(),
            pseudonym_prefix=self.prefix.text().strip(),
        ).validate()

    def _on_retain_dates_toggled(self, on: bool) -> None:
        if on:
            self.shift.setChecked(False)  # one or the other (PS3.15 E.3.6)

    def _on_shift_toggled(self, on: bool) -> None:
        if on:
            self.retain_dates.setChecked(False)

    def _show_inputs(self) -> None:
        n = len(self.inputs)
        shown = "; ".join(self.inputs[:3]) + (f" and {n - 3} more" if n > 3 else "")
        self.inputs_label.setText(f"Inputs: {shown}" if n else "Inputs: none yet")

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to anonymize")
        if folder:
            self.inputs.append(folder)
            self._show_inputs()

    def _choose_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder (new or empty)")
        if folder:
            self.out.setText(folder)

    def _say(self, text: str) -> None:
        self.status.setText(text)

    # ------------------------------------------------------------------ preview
    def run_preview(self) -> None:
        try:
            options = self.options()
        except ValidationError as exc:
            self._say(exc.message)
            return
        inputs = list(self.inputs)
        self._say("Reading the first file...")
        self.preview_btn.setEnabled(False)
        self.bridge.submit(
            lambda ctx: _first_dicom(inputs, options),
            name="Anonymize: preview",
            lane="io",
            quiet=True,
            on_done=self._on_preview_done,
        )

    def _on_preview_done(self, ev: JobFinished) -> None:
        self.preview_btn.setEnabled(True)
        if ev.state is not JobState.SUCCEEDED:
            self._say(f"No preview: {ev.error}")
            return
        path, changes, warnings = ev.result
        if not path:
            self._say("No DICOM file among the inputs.")
            return
        self.table.setRowCount(len(changes))
        for r, c in enumerate(changes):
            for col, text in enumerate(
                (f"{c.keyword or 'private'} {c.path}", c.action, c.old, c.new)
            ):
                item = QTableWidgetItem(text)  # plain text: values from files are not markup
                item.setToolTip(text)
                self.table.setItem(r, col, item)
        lines = [f"{len(changes)} change(s) in {Path(path).name} (nothing written yet)."]
        lines += list(warnings)
        self._say(" ".join(lines))

    # ------------------------------------------------------------------ the run
    def run(self) -> None:
        try:
            options = self.options()
        except ValidationError as exc:
            self._say(exc.message)
            return
        out = self.out.text().strip()
        if not out:
            self._say("Choose an output folder (new or empty).")
            return
        if not self.inputs:
            self._say("Add the files or folders to anonymize.")
            return
        inputs, audit = list(self.inputs), self.audit

        def work(ctx: JobContext) -> AnonymizeResult:
            return anonymize(inputs, out, options, ctx=ctx, audit=audit)

        self.run_btn.setEnabled(False)
        self._say("Anonymizing... (progress in the Jobs panel)")
        self.job = self.bridge.submit(
            work,
            name=f"Anonymize into {Path(out).name}",
            lane="io",
            summarize=lambda r: (r.summary(), not r.failed),
            on_done=self._on_run_done,
        )

    def _on_run_done(self, ev: JobFinished) -> None:
        self.run_btn.setEnabled(True)
        self.job = None
        if ev.state is not JobState.SUCCEEDED:
            self._say(ev.error or "Cancelled.")
            return
        r: AnonymizeResult = ev.result
        self.result_ = r
        text = r.summary() + ". The pseudonym list is in the audit log only."
        flagged = sum(1 for f in r.files if f.warnings)
        if flagged:
            text += f" {flagged} file(s) may show patient text in their pixels: check them."
        for f in r.files:
            if f.state == "failed":
                text += f" Failed: {Path(f.source).name}: {f.reason}."
                break
        self._say(text)
        if r.written and self.on_written:
            self.on_written(r.out_dir)
