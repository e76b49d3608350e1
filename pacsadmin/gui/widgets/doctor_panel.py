"""The Connectivity Doctor panel: target, Run, steps, presentation contexts, transcript.

The panel never talks to the network: it asks for a run (``runRequested``) and is fed by
the composition root from the job bridge (``begin``, ``add_step``, ``show_series``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.dimse.echo_result import STEP_TITLES, EchoResult, EchoSeries, Step
from pacsadmin.core.dimse.return_path import ReturnPathResult
from pacsadmin.gui.icons import icon
from pacsadmin.gui.metrics import fit_columns
from pacsadmin.gui.text import escape_controls, one_line, plain_label, plain_tooltip
from pacsadmin.gui.widgets.lights import Light, light_icon, light_pixmap, step_light
from pacsadmin.gui.widgets.return_path_view import ReturnPathView

STEP_HEADERS = ("Step", "Status", "Time", "Detail", "Advice")
STEP_ROWS = len(STEP_TITLES)  # DNS, TCP, TLS, A-ASSOCIATE, C-ECHO, A-RELEASE
CONTEXT_HEADERS = ("ID", "Abstract syntax", "Result", "Transfer syntax")


def _item(text: str, tooltip: str | None = None) -> QTableWidgetItem:
    it = QTableWidgetItem(one_line(text))
    it.setToolTip(plain_tooltip(text if tooltip is None else tooltip))
    it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    return it


def _table(headers: tuple[str, ...], parent: QWidget) -> QTableWidget:
    t = QTableWidget(0, len(headers), parent)
    t.setHorizontalHeaderLabels(list(headers))
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setDefaultSectionSize(t.fontMetrics().height() + 8)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setAlternatingRowColors(True)
    t.setShowGrid(False)
    t.setWordWrap(False)
    t.setTextElideMode(Qt.TextElideMode.ElideRight)
    t.horizontalHeader().setHighlightSections(False)
    t.horizontalHeader().setStretchLastSection(True)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return t


class DoctorPanel(QWidget):
    runRequested = Signal(str, int, bool)  # target text, count, survey
    cancelRequested = Signal()
    transcriptExported = Signal(str)  # path
    exportFailed = Signal(str)  # message

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: EchoResult | None = None
        self.series: EchoSeries | None = None
        self._running = False

        # ---- target row
        self.target_combo = QComboBox(self)
        self.target_combo.setEditable(True)
        self.target_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        line = self.target_combo.lineEdit()
        assert line is not None  # an editable combo box has its line edit
        line.setPlaceholderText("node name, or AET@HOST:PORT")
        self.target_combo.setMinimumWidth(260)
        line.returnPressed.connect(self._on_run_button_clicked)
        self.count_spin = QSpinBox(self)
        self.count_spin.setRange(1, 1000)
        self.count_spin.setPrefix("× ")
        self.count_spin.setToolTip("Repeat N times: min / median / max latency (flaky links)")
        self.survey_check = QCheckBox("Survey services", self)
        self.survey_check.setChecked(True)
        self.survey_check.setToolTip(
            "Also propose query/retrieve and common storage SOP classes, to see what the "
            "peer supports"
        )
        self.return_path_check = QCheckBox("Return path", self)
        self.return_path_check.setToolTip(
            "Test the return path (C-MOVE back to this computer): after the echo, one "
            "object is moved from the node to this computer, to see that the PACS can "
            "connect back (it needs our AE title, address and port)"
        )
        self.run_button = QPushButton(icon("run"), "Run", self)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self._on_run_button_clicked)
        self.cancel_button = QPushButton(icon("stop"), "Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        row = QHBoxLayout()  # no title: the tab above says "Connectivity Doctor"
        row.addWidget(QLabel("Target:"))
        row.addWidget(self.target_combo, 1)
        row.addWidget(self.count_spin)
        row.addWidget(self.survey_check)
        row.addWidget(self.return_path_check)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)

        # ---- verdict banner
        self.banner = QFrame(self)
        self.banner.setObjectName("doctorBanner")
        self.banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.banner_light = QLabel(self.banner)
        self.banner_light.setPixmap(light_pixmap(Light.UNKNOWN, 22))
        self.summary_label = plain_label("No run yet. Pick a node or type AET@HOST:PORT, then Run.")
        self.summary_label.setWordWrap(True)
        bf = self.summary_label.font()
        bf.setBold(True)
        bf.setPointSizeF(bf.pointSizeF() * 1.1)
        self.summary_label.setFont(bf)
        self.advice_label = plain_label("", wrap=True, selectable=True)
        self.stats_label = plain_label("", selectable=True)
        self.stats_label.setStyleSheet("color: palette(mid);")
        bl = QHBoxLayout(self.banner)
        bl.setContentsMargins(10, 8, 10, 8)
        bl.addWidget(self.banner_light, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        texts.addWidget(self.summary_label)
        texts.addWidget(self.advice_label)
        texts.addWidget(self.stats_label)
        bl.addLayout(texts, 1)
        self._set_banner_style(Light.UNKNOWN)

        # ---- the return-path test's verdict (shown when it was asked for)
        self.rp_view = ReturnPathView(self)
        self.rp_view.setVisible(False)
        self.return_path: ReturnPathResult | None = None

        # ---- steps
        self.steps_table = _table(STEP_HEADERS, self)
        fit_columns(  # from the font: the longest title, status, time, a typical detail
            self.steps_table,
            {0: "DNS resolution", 1: "warning", 2: "10000.0 ms", 3: "x" * 48},
            pad=30,
        )

        # ---- contexts + transcript
        self.contexts_table = _table(CONTEXT_HEADERS, self)
        fit_columns(
            self.contexts_table,
            {
                0: "255",
                1: "Patient Root Query/Retrieve Information Model - MOVE",
                2: "rejected: abstract syntax not supported",
            },
            pad=30,
        )
        self.transcript_view = QPlainTextEdit(self)
        self.transcript_view.setReadOnly(True)
        self.transcript_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.transcript_view.setFont(mono)
        self.transcript_view.setPlaceholderText("The association transcript of the last run.")
        self.copy_button = QPushButton(icon("copy"), "Copy", self)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        self.export_button = QPushButton(icon("save"), "Export transcript...", self)
        self.export_button.clicked.connect(self._on_export_button_clicked)
        for b in (self.copy_button, self.export_button):
            b.setEnabled(False)
        tr_page = QWidget(self)
        trl = QVBoxLayout(tr_page)
        trl.setContentsMargins(0, 4, 0, 0)
        trb = QHBoxLayout()
        trb.addWidget(
            plain_label("Patient names and IDs are redacted; safe to attach to a vendor ticket.")
        )
        trb.addStretch(1)
        trb.addWidget(self.copy_button)
        trb.addWidget(self.export_button)
        trl.addLayout(trb)
        trl.addWidget(self.transcript_view, 1)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.contexts_table, "Presentation contexts")
        self.tabs.addTab(tr_page, "Transcript")

        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.steps_table)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 0)  # the steps keep their height; the tabs take the rest
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        t = self.steps_table  # every step of a run readable without scrolling
        steps_h = (
            t.horizontalHeader().sizeHint().height()
            + STEP_ROWS * t.verticalHeader().defaultSectionSize()
            + 2 * t.frameWidth()
            + t.horizontalScrollBar().sizeHint().height()  # the last step stays in view
        )
        t.setMinimumHeight(steps_h)
        split.setSizes([steps_h, 10 * steps_h])

        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(6)
        lay.addLayout(row)
        lay.addWidget(self.banner)
        lay.addWidget(self.rp_view)
        lay.addWidget(split, 1)

    # ------------------------------------------------------------------ feeding
    def set_node_names(self, names: list[str]) -> None:
        text = self.target_combo.currentText()
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        self.target_combo.addItems(names)
        self.target_combo.setEditText(text)
        self.target_combo.blockSignals(False)

    def set_target(self, text: str) -> None:
        self.target_combo.setEditText(text)

    def target_text(self) -> str:
        return self.target_combo.currentText().strip()

    def wants_return_path(self) -> bool:
        return self.return_path_check.isChecked()

    def begin(self, target: str, count: int, *, return_path: bool = False) -> None:
        """A run has started (``return_path``: the return-path test follows the echo)."""
        self.return_path = None
        self.rp_view.setVisible(return_path)
        if return_path:
            self.rp_view.set_state(Light.UNKNOWN, "Waiting for the echo…")
        self._running = True
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.steps_table.setRowCount(0)
        self._clear_contexts()
        self.transcript_view.clear()
        self.copy_button.setEnabled(False)
        self.export_button.setEnabled(False)
        self._set_banner(Light.RUNNING, f"Diagnosing {target}...", "", "")
        self.stats_label.setText(f"run 1 of {count}" if count > 1 else "")

    def add_step(self, step: Step) -> None:
        """A live step of the running diagnosis (arrives through the bridge)."""
        if step.key == "dns":
            self.steps_table.setRowCount(0)
        self._append_step(step)

    def set_progress(self, done: int, total: int | None) -> None:
        if total and total > 1 and done < total:
            self.stats_label.setText(f"run {done + 1} of {total}")

    def show_series(self, series: EchoSeries) -> None:
        self._running = False
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.series = series
        if not series.results:
            self._set_banner(Light.SKIPPED, "Cancelled before the first run.", "", "")
            return
        failed = [r for r in series.results if not r.ok]
        shown = failed[-1] if failed else series.results[-1]
        self.show_result(shown)
        n = len(series.results)
        if n > 1:
            lat = series.latency()
            lat_text = (
                f"min {lat['min']:.1f} / median {lat['median']:.1f} / max {lat['max']:.1f} ms"
                if lat
                else "no successful run"
            )
            which = series.results.index(shown) + 1
            self.stats_label.setText(
                f"{series.succeeded} of {n} runs succeeded · {lat_text} · showing run {which}"
            )
            if failed and series.succeeded:
                self._set_banner(
                    Light.WARNING,
                    f"Flaky: {len(failed)} of {n} runs failed. Last failure: {shown.summary}",
                    shown.advice,
                    self.stats_label.text(),
                )

    def show_failure(self, message: str) -> None:
        """The run could not start or crashed (not a network answer)."""
        self._running = False
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._clear_contexts()  # no previous run's contexts under this failure
        self._set_banner(Light.FAILED, message, "", "")

    def show_result(self, r: EchoResult) -> None:
        self.result = r
        self.steps_table.setRowCount(0)
        for s in r.steps:
            self._append_step(s)
        light = Light.OK if r.ok else Light.FAILED
        if r.ok and any(s.status == "warning" for s in r.steps):
            light = Light.WARNING
        extra = "; ".join(s.advice for s in r.steps if s.status == "warning" and s.advice)
        self._set_banner(light, r.summary, r.advice or extra, "")
        self._clear_contexts()
        for c in r.contexts:
            row = self.contexts_table.rowCount()
            self.contexts_table.insertRow(row)
            accepted = c.get("result") == 0
            res = _item(str(c.get("result_text", "")))
            res.setIcon(light_icon(Light.OK if accepted else Light.FAILED))
            for col, it in enumerate(
                (
                    _item(str(c.get("context_id", ""))),
                    _item(
                        str(c.get("abstract_syntax_name", "")), str(c.get("abstract_syntax", ""))
                    ),
                    res,
                    _item(
                        str(c.get("transfer_syntax_name", "")), str(c.get("transfer_syntax", ""))
                    ),
                )
            ):
                self.contexts_table.setItem(row, col, it)
        self.transcript_view.setPlainText(escape_controls(r.transcript_text(), limit=2_000_000))
        self.copy_button.setEnabled(True)
        self.export_button.setEnabled(True)
        self.tabs.setTabText(0, f"Presentation contexts ({len(r.contexts)})")

    def return_path_running(self, wait: float) -> None:
        self.rp_view.setVisible(True)
        self.rp_view.set_state(
            Light.RUNNING,
            "Testing: a C-MOVE of one object back to this computer…",
            stats=f"waiting up to {wait:.0f} s for the PACS to connect back",
        )

    def return_path_skipped(self, why: str) -> None:
        self.rp_view.setVisible(True)
        self.rp_view.set_state(Light.SKIPPED, why)

    def show_return_path(self, r: ReturnPathResult) -> None:
        """The return-path test's verdict, in plain words."""
        self.return_path = r
        self.rp_view.setVisible(True)
        self.rp_view.show_result(r)

    # ------------------------------------------------------------------ internals
    def _clear_contexts(self) -> None:
        """The table and its tab's count together (a run that fails before the
        association has no contexts: the tab says so, not the previous run's count)."""
        self.contexts_table.setRowCount(0)
        self.tabs.setTabText(0, "Presentation contexts")

    def _append_step(self, s: Step) -> None:
        row = self.steps_table.rowCount()
        self.steps_table.insertRow(row)
        status = _item(s.status)
        status.setIcon(light_icon(step_light(s.status)))
        t = _item("" if s.ms is None else f"{s.ms:.1f} ms")
        t.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for col, it in enumerate(
            (_item(STEP_TITLES.get(s.key, s.key)), status, t, _item(s.detail), _item(s.advice))
        ):
            self.steps_table.setItem(row, col, it)

    def _set_banner(self, light: Light, summary: str, advice: str, stats: str) -> None:
        self.banner_light.setPixmap(light_pixmap(light, 22))
        self.summary_label.setText(escape_controls(summary))
        self.advice_label.setText(escape_controls(advice))
        self.advice_label.setVisible(bool(advice))
        if stats:
            self.stats_label.setText(stats)
        self._set_banner_style(light)

    def _set_banner_style(self, light: Light) -> None:
        bg = {
            Light.OK: "#eaf6ee",
            Light.FAILED: "#fbeaea",
            Light.WARNING: "#fdf5e1",
            Light.RUNNING: "#e9f1fb",
        }.get(light, "#f3f4f6")
        border = {
            Light.OK: "#9fd3b0",
            Light.FAILED: "#e6a3a3",
            Light.WARNING: "#eccd83",
            Light.RUNNING: "#a9c8ec",
        }.get(light, "#d5d9de")
        self.banner.setStyleSheet(
            f"#doctorBanner {{ background: {bg}; border: 1px solid {border}; "
            f"border-radius: 4px; }} #doctorBanner QLabel {{ color: #1d232a; }}"
        )

    # ------------------------------------------------------------------ slots
    @Slot()
    def _on_run_button_clicked(self) -> None:
        if self._running:
            return
        text = self.target_text()
        if text:
            self.runRequested.emit(text, self.count_spin.value(), self.survey_check.isChecked())

    @Slot()
    def _on_cancel_button_clicked(self) -> None:
        self.cancelRequested.emit()

    @Slot()
    def _on_copy_button_clicked(self) -> None:
        if self.result is not None:
            QGuiApplication.clipboard().setText(self.result.transcript_text())

    @Slot()
    def _on_export_button_clicked(self) -> None:
        if self.result is None:
            return
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.result.node_name)
        path, _ = QFileDialog.getSaveFileName(
            self, "Export transcript", f"transcript-{safe}.txt", "Text files (*.txt)"
        )
        if path:
            try:
                self.export_transcript(path)
            except OSError as exc:
                self.exportFailed.emit(f"Cannot export the transcript to {path}: {exc}")

    def export_transcript(self, path: str) -> None:
        """Write the redacted transcript (raises OSError for the caller to present)."""
        from pathlib import Path

        from pacsadmin.core.fileio import atomic_write_text

        assert self.result is not None
        atomic_write_text(Path(path), self.result.transcript_text(), mode=0o644)
        self.transcriptExported.emit(path)
