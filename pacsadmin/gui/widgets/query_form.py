"""The Query panel's form: node, model and level, the keys admins use, extra keys, the
character set, Search / Cancel and the recent queries.

It only reads and writes a :class:`~pacsadmin.core.dimse.find_form.QueryForm` (the core
checks it) and emits ``searchRequested``; rows that do not apply to the model and level
are hidden (the worklist's scheduled date and station, no study keys at the PATIENT
level).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, QDate, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.dimse.find_form import PRESET_NAMES, PRESETS, WILDCARD_HINT, QueryForm
from pacsadmin.core.dimse.find_query import LEVELS, MODEL_NAMES
from pacsadmin.core.nodes import QUERY_CHARSETS
from pacsadmin.gui.icons import icon
from pacsadmin.gui.metrics import chars
from pacsadmin.gui.text import plain_label

MODALITIES = ("", "CT", "MR", "US", "CR", "DX", "MG", "NM", "PT", "XA", "RF", "OT", "SR", "SC")
_NODE_CHARSET = "__node__"


def _line(placeholder: str = "", tip: str = "") -> QLineEdit:
    e = QLineEdit()
    e.setPlaceholderText(placeholder)
    e.setClearButtonEnabled(True)
    if tip:
        e.setToolTip(tip)
    return e


class QueryFormWidget(QWidget):
    searchRequested = Signal(object)  # QueryForm
    cancelRequested = Signal()
    recentChosen = Signal(object)  # QueryForm (the form is filled; the run follows)

    def __init__(
        self, node_model: QAbstractItemModel, name_column: int, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self._recent: list[QueryForm] = []
        self.node_combo = QComboBox()
        self.node_combo.setEditable(True)
        self.node_combo.setModel(node_model)
        self.node_combo.setModelColumn(name_column)
        self.node_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.node_combo.setCurrentIndex(-1)
        line = self.node_combo.lineEdit()
        assert line is not None
        line.setPlaceholderText("node name, or AET@HOST:PORT")
        self.model_combo = QComboBox()
        for key, name in MODEL_NAMES.items():
            self.model_combo.addItem(name, key)
        self.level_combo = QComboBox()
        self.patient_name = _line("DOE^JOHN, DOE*, D?E*", WILDCARD_HINT)
        self.hint = plain_label("* any characters, ? exactly one")
        self.hint.setToolTip(WILDCARD_HINT)
        self.hint.setStyleSheet("color: palette(mid);")
        hf = self.hint.font()
        hf.setPointSizeF(hf.pointSizeF() * 0.9)
        self.hint.setFont(hf)
        self.patient_id = _line("PID123, PID*")
        self.birth_date = _line("YYYYMMDD, or 19700101-19801231")
        self.date_preset = QComboBox()
        for p in PRESETS:
            self.date_preset.addItem(PRESET_NAMES[p], p)
        today = QDate.currentDate()
        self.date_from = QDateEdit(today.addDays(-30))
        self.date_to = QDateEdit(today)
        for d in (self.date_from, self.date_to):
            d.setCalendarPopup(True)
            d.setDisplayFormat("yyyy-MM-dd")
        self.modality = QComboBox()
        self.modality.setEditable(True)
        self.modality.addItems(list(MODALITIES))
        self.modality.setToolTip("Modalities in study (a series' Modality at SERIES level)")
        self.accession = _line("ACC123, ACC*")
        self.description = _line("*CHEST*")
        self.referring = _line("SMITH^*")
        self.study_uid = _line("1.2.840...")
        self.station_ae = _line("CT1")
        self.extra_keys = _line(
            "KEY=VALUE; KEY=VALUE",
            "Any other matching key by keyword or tag number: InstitutionName=CITY*; "
            "(0008,1090)=; an empty value asks the PACS to return it",
        )
        self.return_keys = _line(
            "KEY, KEY", "More attributes to return: BodyPartExamined, 00181030"
        )
        self.charset = QComboBox()
        self.charset.addItem("Node's setting", _NODE_CHARSET)
        self.charset.addItem("None (send none)", "")
        for cs in QUERY_CHARSETS[1:]:
            self.charset.addItem(cs, cs)
        self.charset.setToolTip(
            "Specific Character Set (0008,0005) sent with the query; names in Latin-1 "
            "need ISO_IR 100, in UTF-8 ISO_IR 192"
        )

        self.search_button = QPushButton(icon("run"), "Search")
        self.search_button.setDefault(True)
        self.search_button.setAutoDefault(True)
        self.cancel_button = QPushButton(icon("stop"), "Cancel")
        self.cancel_button.setEnabled(False)
        self.clear_button = QPushButton(icon("clear"), "Clear")
        self.clear_button.setToolTip("Empty every key (the node stays)")
        self.recent_button = QToolButton()
        self.recent_button.setText("Recent")
        self.recent_button.setIcon(icon("refresh"))
        self.recent_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.recent_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.recent_menu = QMenu(self.recent_button)
        self.recent_button.setMenu(self.recent_menu)
        self.recent_button.setEnabled(False)

        # ---- layout
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(5)
        self.form = form
        ml = QHBoxLayout()
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(self.model_combo, 3)
        ml.addSpacing(6)
        self.level_label = QLabel("Level")
        ml.addWidget(self.level_label)
        ml.addWidget(self.level_combo, 2)
        dl = QHBoxLayout()  # the custom range under the preset
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.date_from, 1)
        dl.addWidget(QLabel("to"))
        dl.addWidget(self.date_to, 1)
        self.date_label = QLabel("Study date")
        form.addRow("Node", self.node_combo)
        form.addRow("Model", ml)
        form.addRow("Patient name", self.patient_name)
        form.addRow("", self.hint)
        form.addRow("Patient ID", self.patient_id)
        form.addRow("Birth date", self.birth_date)
        self._date_row = form.rowCount()
        form.addRow(self.date_label, self.date_preset)
        form.addRow("", dl)
        form.addRow("Modality", self.modality)
        form.addRow("Accession", self.accession)
        form.addRow("Description", self.description)
        form.addRow("Referring", self.referring)
        form.addRow("Study UID", self.study_uid)
        form.addRow("Station AE", self.station_ae)
        form.addRow("Extra keys", self.extra_keys)
        form.addRow("Return keys", self.return_keys)
        form.addRow("Character set", self.charset)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 6, 0, 0)
        buttons.addWidget(self.search_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.recent_button)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(form)
        outer.addLayout(buttons)
        outer.addStretch(1)
        self.setMinimumWidth(chars(self, 48))
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

        # ---- wiring (inside the widget)
        self.model_combo.currentIndexChanged.connect(self._on_model_combo_changed)
        self.level_combo.currentIndexChanged.connect(self._on_level_combo_changed)
        self.date_preset.currentIndexChanged.connect(self._on_date_preset_changed)
        self.search_button.clicked.connect(self._on_search_button_clicked)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.clear_button.clicked.connect(self.clear)
        self.recent_menu.triggered.connect(self._on_recent_menu_triggered)
        for e in (
            self.patient_name,
            self.patient_id,
            self.birth_date,
            self.accession,
            self.description,
            self.referring,
            self.study_uid,
            self.station_ae,
            self.extra_keys,
            self.return_keys,
        ):
            e.returnPressed.connect(self._on_search_button_clicked)
        line.returnPressed.connect(self._on_search_button_clicked)
        self._on_model_combo_changed()
        self._on_date_preset_changed()

    # ------------------------------------------------------------------ the form
    def form_value(self) -> QueryForm:
        preset = str(self.date_preset.currentData())
        cs = self.charset.currentData()
        return QueryForm(
            node=self.node_combo.currentText().strip(),
            model=str(self.model_combo.currentData()),
            level=str(self.level_combo.currentData() or ""),
            patient_name=self.patient_name.text(),
            patient_id=self.patient_id.text(),
            birth_date=self.birth_date.text(),
            date_preset=preset,
            date_from=self.date_from.date().toString("yyyyMMdd") if preset == "custom" else "",
            date_to=self.date_to.date().toString("yyyyMMdd") if preset == "custom" else "",
            modality=self.modality.currentText(),
            accession=self.accession.text(),
            study_description=self.description.text(),
            referring_physician=self.referring.text(),
            study_uid=self.study_uid.text(),
            station_ae=self.station_ae.text(),
            extra_keys=self.extra_keys.text(),
            return_keys=self.return_keys.text(),
            charset=None if cs == _NODE_CHARSET else str(cs),
        )

    def set_form(self, f: QueryForm) -> None:
        self.node_combo.setCurrentText(f.node)
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(f.model)))
        self._on_model_combo_changed()
        self.level_combo.setCurrentIndex(max(0, self.level_combo.findData(f.level)))
        self.patient_name.setText(f.patient_name)
        self.patient_id.setText(f.patient_id)
        self.birth_date.setText(f.birth_date)
        self.date_preset.setCurrentIndex(max(0, self.date_preset.findData(f.date_preset)))
        for edit, text in ((self.date_from, f.date_from), (self.date_to, f.date_to)):
            d = QDate.fromString(text, "yyyyMMdd")
            if d.isValid():
                edit.setDate(d)
        self.modality.setCurrentText(f.modality)
        self.accession.setText(f.accession)
        self.description.setText(f.study_description)
        self.referring.setText(f.referring_physician)
        self.study_uid.setText(f.study_uid)
        self.station_ae.setText(f.station_ae)
        self.extra_keys.setText(f.extra_keys)
        self.return_keys.setText(f.return_keys)
        cs = _NODE_CHARSET if f.charset is None else f.charset
        self.charset.setCurrentIndex(max(0, self.charset.findData(cs)))

    @Slot()
    def clear(self) -> None:
        node = self.node_combo.currentText()
        self.set_form(QueryForm(node=node, model=str(self.model_combo.currentData())))

    def set_running(self, running: bool) -> None:
        self.search_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def set_recent(self, forms: list[QueryForm]) -> None:
        self._recent = list(forms)
        self.recent_menu.clear()
        for k, f in enumerate(forms):
            a = self.recent_menu.addAction(f.describe())
            a.setData(k)
        self.recent_button.setEnabled(bool(forms))

    def focus_node(self) -> None:
        self.node_combo.setFocus()

    # ------------------------------------------------------------------ slots
    @Slot()
    def _on_search_button_clicked(self) -> None:
        if self.search_button.isEnabled():
            self.searchRequested.emit(self.form_value())

    @Slot(object)
    def _on_recent_menu_triggered(self, action: Any) -> None:
        k = action.data()
        if isinstance(k, int) and 0 <= k < len(self._recent):
            self.set_form(self._recent[k])
            self.recentChosen.emit(self._recent[k])

    @Slot()
    def _on_model_combo_changed(self) -> None:
        model = str(self.model_combo.currentData())
        current = self.level_combo.currentData()
        self.level_combo.blockSignals(True)
        self.level_combo.clear()
        for lv in LEVELS.get(model, ()):
            self.level_combo.addItem(lv.capitalize(), lv)
        i = self.level_combo.findData(current)
        default = "PATIENT" if model == "patient" else "STUDY"
        self.level_combo.setCurrentIndex(i if i >= 0 else self.level_combo.findData(default))
        self.level_combo.blockSignals(False)
        self._update_rows()

    @Slot()
    def _on_level_combo_changed(self) -> None:
        self._update_rows()

    @Slot()
    def _on_date_preset_changed(self) -> None:
        custom = self.date_preset.currentData() == "custom"
        self.date_from.setEnabled(custom)
        self.date_to.setEnabled(custom)

    def _update_rows(self) -> None:
        worklist = self.model_combo.currentData() == "worklist"
        patient_level = self.level_combo.currentData() == "PATIENT"
        self.level_combo.setVisible(not worklist)
        self.level_label.setVisible(not worklist)
        self.date_label.setText("Scheduled date" if worklist else "Study date")
        study_only = (self.description, self.referring, self.study_uid)
        for w in study_only:
            self.form.setRowVisible(w, not worklist and not patient_level)
        self.form.setRowVisible(self.modality, not patient_level)
        self.form.setRowVisible(self.accession, not patient_level)
        self.form.setRowVisible(self._date_row, not patient_level)
        self.form.setRowVisible(self._date_row + 1, not patient_level)
        self.form.setRowVisible(self.station_ae, worklist)
