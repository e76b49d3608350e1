"""Fix a mislabeled study: the patient and study fields, an explicit UID policy, a
before/after preview of every file, a warning when the patient has other studies left
with the old identity, then Apply (one batch: backups, journal, audit, the archive's
index), Undo, and Send the corrected study back to a node (then ask the node what it
now reports).

The controller (``gui/controllers/editing.py``) runs every step as a job; this dialog
only shows and asks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.editing.correction import (
    Correction,
    CorrectionPlan,
    PatientFields,
    StudyFields,
    UidPolicy,
)
from pacsadmin.core.editing.session import keyword
from pacsadmin.gui.icons import icon

PATIENT_FIELDS = [
    ("name", "PatientName", "Patient's name", "FAMILY^Given"),
    ("id", "PatientID", "Patient ID", ""),
    ("birth_date", "PatientBirthDate", "Birth date", "YYYYMMDD"),
    ("sex", "PatientSex", "Sex", "M, F or O"),
    ("other_ids", "OtherPatientIDs", "Other patient IDs", "ID1\\ID2"),
]
STUDY_FIELDS = [
    ("accession", "AccessionNumber", "Accession number", ""),
    ("description", "StudyDescription", "Study description", ""),
    ("date", "StudyDate", "Study date", "YYYYMMDD"),
    ("referring_physician", "ReferringPhysicianName", "Referring physician", "FAMILY^Given"),
]


class CorrectionDialog(QDialog):
    """``current``: the values the files hold now (keyword -> value, from the first file),
    shown as the starting point; a field left as it was is not changed."""

    def __init__(
        self,
        what: str,
        current: dict[str, str],
        *,
        nodes: list[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("correctionDialog")
        self.setWindowTitle(f"Correct {what}")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.current = dict(current)
        self.plan: CorrectionPlan | None = None
        self.batch_id = ""
        # set by the controller
        self.on_preview: Callable[[Correction, bool], None] | None = None
        self.on_apply: Callable[[], None] | None = None
        self.on_undo: Callable[[], None] | None = None
        self.on_send: Callable[[str], None] | None = None

        head = QLabel(what)
        head.setTextFormat(Qt.TextFormat.PlainText)
        f = head.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.2)
        head.setFont(f)

        self.edits: dict[str, QLineEdit] = {}
        forms = QHBoxLayout()
        for title, fields in (("Patient", PATIENT_FIELDS), ("Study", STUDY_FIELDS)):
            box = QGroupBox(title)
            form = QFormLayout(box)
            for _attr, kw, label, hint in fields:
                e = QLineEdit(self.current.get(kw, ""))
                e.setObjectName(f"fix_{kw}")
                e.setPlaceholderText(hint)
                e.setToolTip(f"Now: {self.current.get(kw, '') or '(empty)'}")
                e.textChanged.connect(self._on_field_changed)
                self.edits[kw] = e
                form.addRow(label, e)
            forms.addWidget(box)

        uid_box = QGroupBox("UIDs (choose one)")
        uid_lay = QVBoxLayout(uid_box)
        self.keep_uids = QRadioButton(
            "Keep the UIDs: a PACS that already holds these instances may ignore or reject "
            "the corrected copies (delete them there first)"
        )
        self.new_uids = QRadioButton(
            "New study, series and instance UIDs (references inside the study updated, "
            "file meta kept in sync): the PACS receives a new study"
        )
        self._uid_group = QButtonGroup(self)
        for radio in (self.keep_uids, self.new_uids):
            self._uid_group.addButton(radio)
            uid_lay.addWidget(radio)
            radio.toggled.connect(self._on_field_changed)
        self.all_studies = QCheckBox("Apply to all of this patient's studies in the archive")
        self.all_studies.setObjectName("fixAllStudies")
        self.all_studies.setVisible(False)
        self.all_studies.toggled.connect(self._on_field_changed)
        self.upgrade = QCheckBox(
            "Where a new value does not fit a file's character set, convert that file to "
            "UTF-8 (ISO_IR 192) (otherwise the file is refused, never written with '?')"
        )
        self.upgrade.setObjectName("fixUpgradeCharset")
        self.upgrade.toggled.connect(self._on_field_changed)

        self.diff = QTreeWidget()
        self.diff.setObjectName("correctionDiff")
        self.diff.setHeaderLabels(["File / attribute", "Before", "After"])
        self.diff.setAlternatingRowColors(True)
        self.diff.setUniformRowHeights(True)
        self.diff.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        hh = self.diff.header()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        hh.resizeSection(0, 340)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

        self.warnings = QLabel("")
        self.warnings.setObjectName("correctionWarnings")
        self.warnings.setTextFormat(Qt.TextFormat.PlainText)
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #b9770e;")
        self.status = QLabel("Change the fields, choose the UID policy, then Preview.")
        self.status.setObjectName("correctionStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)

        self.preview_btn = QPushButton(icon("view"), "Preview")
        self.apply_btn = QPushButton(icon("save"), "Apply")
        self.apply_btn.setObjectName("correctionApply")
        self.undo_btn = QPushButton("Undo")
        self.node = QComboBox()
        self.node.setObjectName("correctionNode")
        self.node.addItems(nodes)
        self.node.setMinimumContentsLength(16)
        self.send_btn = QPushButton(icon("export"), "Send to")
        close = QPushButton("Close")
        self.preview_btn.clicked.connect(self._preview)
        self.apply_btn.clicked.connect(lambda: self.on_apply and self.on_apply())
        self.undo_btn.clicked.connect(lambda: self.on_undo and self.on_undo())
        self.send_btn.clicked.connect(
            lambda: self.on_send and self.on_send(self.node.currentText())
        )
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for b in (self.preview_btn, self.apply_btn, self.undo_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.send_btn)
        buttons.addWidget(self.node)
        buttons.addWidget(close)

        lay = QVBoxLayout(self)
        lay.addWidget(head)
        lay.addLayout(forms)
        lay.addWidget(uid_box)
        lay.addWidget(self.all_studies)
        lay.addWidget(self.upgrade)
        lay.addWidget(self.diff, 1)
        lay.addWidget(self.warnings)
        lay.addWidget(self.status)
        lay.addLayout(buttons)
        self.resize(1060, 820)
        self.set_state("editing")

    # ------------------------------------------------------------------ the form
    def correction(self) -> Correction:
        """The fields the user changed (a field left as it was is not touched)."""

        def changed(fields: list[tuple[str, str, str, str]]) -> dict[str, str]:
            out = {}
            for attr, kw, _, _ in fields:
                text = self.edits[kw].text().strip()
                if text != self.current.get(kw, ""):
                    out[attr] = text
            return out

        policy = UidPolicy.NEW if self.new_uids.isChecked() else UidPolicy.KEEP
        return Correction(
            patient=PatientFields(**changed(PATIENT_FIELDS)),
            study=StudyFields(**changed(STUDY_FIELDS)),
            uid_policy=policy,
        )

    def _on_field_changed(self, *_: Any) -> None:
        if self.plan is not None and not self.batch_id:
            self.plan = None
            self.diff.clear()
            self.status.setText("Changed: Preview again before applying.")
        self.set_state("editing" if not self.batch_id else "applied")

    def _preview(self) -> None:
        if not (self.keep_uids.isChecked() or self.new_uids.isChecked()):
            self.status.setText("Choose the UID policy first: keep the UIDs or new ones.")
            return
        if self.on_preview is not None:
            self.status.setText("Reading the files for the preview...")
            self.preview_btn.setEnabled(False)
            self.on_preview(self.correction(), self.all_studies.isChecked())

    # ------------------------------------------------------------------ states
    def set_state(self, state: str) -> None:
        """editing -> previewed -> applied (-> undone = editing)."""
        chosen = self.keep_uids.isChecked() or self.new_uids.isChecked()
        self.preview_btn.setEnabled(state in ("editing", "previewed") and chosen)
        self.apply_btn.setEnabled(state == "previewed")
        self.undo_btn.setEnabled(state == "applied")
        self.send_btn.setEnabled(state == "applied" and self.node.count() > 0)
        self.node.setEnabled(self.send_btn.isEnabled())
        for e in self.edits.values():
            e.setReadOnly(state == "applied")

    def show_plan(self, plan: CorrectionPlan) -> None:
        self.plan = plan
        self.diff.clear()
        bold = QBrush(QColor(192, 57, 43))
        n = 0
        for fp in plan.files:
            if not fp.changes:
                continue
            n += 1
            main = [c for c in fp.changes if not str(c.path).startswith("OriginalAttributes")]
            record = [c for c in fp.changes if str(c.path).startswith("OriginalAttributes")]
            top = QTreeWidgetItem([Path(fp.path).name, "", f"{len(main)} attribute(s) changed"])
            top.setToolTip(0, str(fp.path))
            for c in main:
                kw = keyword(c.tag) if isinstance(c.tag, int) else str(c.tag)
                label = kw if kw == str(c.path) else f"{kw}  ({c.path})"
                child = QTreeWidgetItem([label, c.old or "", c.new or ""])
                child.setForeground(2, bold)
                child.setToolTip(1, c.old or "")
                child.setToolTip(2, c.new or "")
                top.addChild(child)
            if record:
                group = QTreeWidgetItem(
                    ["Original Attributes Sequence", "", "the old values, reason CORRECT"]
                )
                group.setForeground(0, QBrush(QColor(128, 128, 128)))
                for c in record:
                    kw = keyword(c.tag) if isinstance(c.tag, int) else str(c.tag)
                    group.addChild(QTreeWidgetItem([kw, "", c.new or ""]))
                top.addChild(group)
            self.diff.addTopLevelItem(top)
        for i in range(min(self.diff.topLevelItemCount(), 20)):
            if (top_item := self.diff.topLevelItem(i)) is not None:
                top_item.setExpanded(True)  # the files; their Original Attributes folded
        warn = list(plan.warnings) + list(plan.notes)
        for path, why in plan.refused:
            warn.append(f"Refused: {path}: {why}")
        self.warnings.setText("\n".join(warn))
        self.all_studies.setVisible(bool(plan.other_studies) or self.all_studies.isChecked())
        if plan.refused:
            self.status.setText("Nothing can be applied: fix what is refused above.")
            self.set_state("editing")
            return
        self.status.setText(
            f"{n} file(s) will change. Apply writes them as one batch (the originals are "
            "kept as backups; Undo restores them byte for byte)."
        )
        self.set_state("previewed" if n else "editing")

    def show_applied(self, batch_id: str, message: str) -> None:
        self.batch_id = batch_id
        self.status.setText(message)
        self.set_state("applied" if batch_id else "editing")

    def show_undone(self, message: str) -> None:
        self.batch_id = ""
        self.plan = None
        self.diff.clear()
        self.status.setText(message)
        self.set_state("editing")

    def show_message(self, message: str) -> None:
        self.status.setText(message)
        self.set_state("applied" if self.batch_id else ("previewed" if self.plan else "editing"))
