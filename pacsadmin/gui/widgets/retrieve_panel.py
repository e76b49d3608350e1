"""The Retrieve dock: every retrieve (queued, running, finished) and the report of one.

The list shows node, what, destination, state, a progress bar from the pending responses,
what the PACS reports (completed / failed / warning / remaining), how many instances the
archive actually received for the retrieve, and the time.  The report beside it is the
accounting of the selected retrieve: expected vs received, the missing instances, the
decoded outcome with what to do.  The panel only shows and emits intent signals; the
retrieve controller does the work.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, SignalInstance, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.gui.icons import icon
from pacsadmin.gui.metrics import chars, fit_columns
from pacsadmin.gui.models.retrieve_list import (
    COL_DEST,
    COL_ELAPSED,
    COL_NODE,
    COL_PACS,
    COL_PROGRESS,
    COL_RECEIVED,
    COL_STATE,
    COL_WHAT,
    ROW_ROLE,
    RetrieveListModel,
    RetrieveRow,
    state_light,
)
from pacsadmin.gui.text import escape_controls, plain_label, plain_tooltip
from pacsadmin.gui.widgets.jobs_panel import ProgressDelegate
from pacsadmin.gui.widgets.lights import Light, light_pixmap

BANNER = {  # background, border (the Doctor's banner colours)
    Light.OK: ("#eaf6ee", "#9fd3b0"),
    Light.FAILED: ("#fbeaea", "#e6a3a3"),
    Light.WARNING: ("#fdf5e1", "#eccd83"),
    Light.RUNNING: ("#e9f1fb", "#a9c8ec"),
}
MISSING_SHOWN = 500  # missing UIDs listed in the report (the count says how many in all)


class RetrieveReport(QWidget):
    """The accounting of one retrieve."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.banner = QFrame(self)
        self.banner.setObjectName("retrieveBanner")
        self.light = QLabel(self.banner)
        self.sentence = plain_label("", wrap=True, selectable=True)
        f = self.sentence.font()
        f.setBold(True)
        self.sentence.setFont(f)
        self.advice = plain_label("", wrap=True, selectable=True)
        bl = QHBoxLayout(self.banner)
        bl.setContentsMargins(8, 6, 8, 6)
        bl.addWidget(self.light, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        texts.addWidget(self.sentence)
        texts.addWidget(self.advice)
        bl.addLayout(texts, 1)

        # the accounting, two facts a row: the report must fit a bottom dock's height
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(10)
        self.grid.setVerticalSpacing(1)
        self.values: dict[str, QLabel] = {}
        for key, title, r, c in (
            ("expected", "Expected", 0, 0),
            ("pacs", "PACS reports", 0, 2),
            ("received", "Received here", 1, 0),
            ("missing", "Missing", 1, 2),
            ("how", "How", 2, 0),
        ):
            t = plain_label(title)
            t.setStyleSheet("color: #5b6470;")
            v = plain_label("", wrap=True, selectable=True)
            self.values[key] = v
            self.grid.addWidget(t, r, c, Qt.AlignmentFlag.AlignTop)
            self.grid.addWidget(v, r, c + 1, 1, 3 if key == "how" else 1)
        self.grid.setColumnStretch(1, 1)
        self.grid.setColumnStretch(3, 1)
        self.missing_list = QPlainTextEdit(self)
        self.missing_list.setReadOnly(True)
        self.missing_list.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.missing_list.setPlaceholderText("No instance is missing.")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.missing_list.setFont(mono)
        self.missing_list.setToolTip("The SOP Instance UIDs expected and not in the archive")
        self.missing_list.setMinimumHeight(self.fontMetrics().height() * 2 + 10)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self.banner)
        lay.addLayout(self.grid)
        lay.addWidget(self.missing_list, 1)
        self.show_row(None)

    def _banner(self, light: Light, sentence: str, advice: str) -> None:
        self.light.setPixmap(light_pixmap(light, 18))
        self.sentence.setText(escape_controls(sentence))
        self.advice.setText(escape_controls(advice))
        self.advice.setVisible(bool(advice))
        bg, border = BANNER.get(light, ("#f3f4f6", "#d5d9de"))
        self.banner.setStyleSheet(
            f"#retrieveBanner {{ background: {bg}; border: 1px solid {border}; "
            "border-radius: 4px; } #retrieveBanner QLabel { color: #1d232a; }"
        )

    def show_row(self, row: RetrieveRow | None) -> None:
        v = self.values
        for label in v.values():
            label.setText("")
        self.missing_list.clear()
        if row is None:
            self._banner(Light.UNKNOWN, "No retrieve selected.", "")
            return
        r = row.result
        light = state_light(row)
        if r is None:
            text = {
                "queued": f"Queued: waiting for a free slot for {row.node.name}.",
                "running": row.message or "Running…",
            }.get(row.state, row.message)
            self._banner(light, text, row.note)
        else:
            self._banner(light, f"{r.method}: {r.sentence}", r.advice)
        exp = r.expected if r is not None else row.expected
        how = r.expected_how if r is not None else row.expected_how
        v["expected"].setText(
            "not known yet"
            if exp is None and r is None
            else ("unknown" if exp is None else f"{exp}") + (f" ({how})" if how else "")
        )
        v["pacs"].setText(
            row.pacs_text()
            + (f" · final status 0x{r.status:04X}" if r and r.status is not None else "")
        )
        if row.to_archive:
            got = row.received
            had = r.already_had if r is not None else 0
            text = "" if got is None else f"{got} new in the archive"
            if had:
                text += f", {had} already there before"
            v["received"].setText(text)
        else:
            v["received"].setText(f"not counted (sent to {row.dest_label})")
        self.missing_list.setPlaceholderText(
            "The missing instances are listed when the retrieve ends."
            if r is None
            else (
                "No instance is missing."
                if row.to_archive
                else "Nothing to list: this computer does not see what another node receives."
            )
        )
        if r is not None and r.received is not None:
            v["missing"].setText("none" if not r.missing else f"{len(r.missing)}, listed below")
            shown = r.missing[:MISSING_SHOWN]
            more = len(r.missing) - len(shown)
            self.missing_list.setPlainText(
                "\n".join(shown) + (f"\n… and {more} more" if more > 0 else "")
            )
        elif r is not None and r.failed_uids:
            v["missing"].setText(f"{len(r.failed_uids)} failed at the PACS, listed below")
            self.missing_list.setPlainText("\n".join(r.failed_uids[:MISSING_SHOWN]))
        how_text = f"{row.method} from {row.node.name}"
        if row.method == "C-MOVE":
            how_text += f" to {row.dest_ae}"
        detail = row.note
        if r is not None and r.receiver is not None:
            detail = r.receiver.detail
            how_text += (
                f"; a receiver was started on port {r.receiver.port}"
                if r.receiver.started
                else f"; the local SCP (port {r.receiver.port}) received"
            )
        v["how"].setToolTip(plain_tooltip(f"{row.node.address}: {detail}"))
        v["how"].setText(how_text)
        for label in v.values():
            if not label.text():
                label.setText("—")


class RetrievePanel(QWidget):
    cancelRequested = Signal(int)  # retrieve key (job id)
    retryRequested = Signal(int)
    openRequested = Signal(int)  # open the received instances in the viewer
    showRequested = Signal(int)  # show the received study in the archive browser
    moveToRequested = Signal(int)  # the same items from the same node to another node

    def __init__(self, model: RetrieveListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.view = QTableView(self)
        self.view.setModel(model)
        self.view.setItemDelegateForColumn(COL_PROGRESS, ProgressDelegate(self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setShowGrid(False)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(24)
        hh = self.view.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setStretchLastSection(False)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setSectionResizeMode(COL_WHAT, QHeaderView.ResizeMode.Stretch)
        fit_columns(
            self.view,
            {
                COL_NODE: "MainPACS",
                COL_DEST: "this computer",
                COL_STATE: "incomplete+++",  # + the light
                COL_PROGRESS: "Failed at 99/120",
                COL_PACS: "25 completed · 2 failed",
                COL_RECEIVED: "99 of 120",
                COL_ELAPSED: "10 min 5 s",
            },
            pad=20,
        )

        def button(name: str, text: str, tip: str) -> QPushButton:
            b = QPushButton(icon(name), text, self)
            b.setToolTip(tip)
            b.setEnabled(False)
            return b

        self.cancel_button = button(
            "cancel", "Cancel", "Cancel the selected retrieve (a C-CANCEL is sent)"
        )
        self.retry_button = button(
            "retry", "Retry missing", "Ask the PACS again for only the instances that are missing"
        )
        self.open_button = button(
            "open-images", "Open in viewer", "Open what this retrieve received in the viewer"
        )
        self.show_button = button(
            "archive-show", "Show in archive", "Show the received study in the Archive panel"
        )
        self.move_button = button(
            "move-to", "Move to…", "Move the same selection from the same node to another node"
        )
        self.clear_button = QPushButton(icon("clear"), "Clear finished", self)
        self.clear_button.clicked.connect(model.clear_finished)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for b in (self.cancel_button, self.retry_button, self.open_button, self.show_button):
            bar.addWidget(b)
        bar.addWidget(self.move_button)
        bar.addStretch(1)
        bar.addWidget(self.clear_button)

        self.report = RetrieveReport(self)
        scroll = QScrollArea(self)  # a low dock: the report scrolls, it is never clipped
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.report)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.view)
        split.addWidget(scroll)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 3)
        split.setChildrenCollapsible(False)
        scroll.setMinimumWidth(chars(self, 44))
        self.view.setMinimumWidth(chars(self, 60))
        self.splitter = split
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addLayout(bar)
        lay.addWidget(split, 1)

        self.cancel_button.clicked.connect(lambda: self._emit(self.cancelRequested))
        self.retry_button.clicked.connect(lambda: self._emit(self.retryRequested))
        self.open_button.clicked.connect(lambda: self._emit(self.openRequested))
        self.show_button.clicked.connect(lambda: self._emit(self.showRequested))
        self.move_button.clicked.connect(lambda: self._emit(self.moveToRequested))
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        model.dataChanged.connect(self._on_model_data_changed)
        model.rowsInserted.connect(self._on_model_rows_inserted)
        model.modelReset.connect(self._on_selection_changed)
        self._ticker = QTimer(self)
        self._ticker.setInterval(500)
        self._ticker.timeout.connect(model.tick)
        self._ticker.start()

    # ------------------------------------------------------------------ API
    def current(self) -> RetrieveRow | None:
        rows = self.view.selectionModel().selectedRows()
        return rows[0].data(ROW_ROLE) if rows else None

    def select(self, key: int) -> None:
        i = self.model.row_of(key)
        if i >= 0:
            self.view.selectRow(i)

    def stop(self) -> None:
        self._ticker.stop()

    # ------------------------------------------------------------------ slots
    def _emit(self, signal: SignalInstance) -> None:
        row = self.current()
        if row is not None:
            signal.emit(row.key)

    @Slot()
    def _on_model_rows_inserted(self) -> None:
        self.view.selectRow(0)  # the newest retrieve is the one to watch

    def _on_model_data_changed(self, first, last, roles=None) -> None:  # type: ignore[no-untyped-def]
        if first.column() == last.column() == COL_ELAPSED:
            return  # the ticker: the report has no clock
        row = self.current()
        if row is not None and first.row() <= self.model.row_of(row.key) <= last.row():
            self._on_selection_changed()

    @Slot()
    def _on_selection_changed(self) -> None:
        row = self.current()
        self.report.show_row(row)
        r = None if row is None else row.result
        running = row is not None and not row.finished
        self.cancel_button.setEnabled(running)
        self.retry_button.setEnabled(bool(r is not None and r.missing_items and not running))
        got = bool(row is not None and row.to_archive and (row.received or 0) > 0)
        had = bool(r is not None and r.received)
        self.open_button.setEnabled(row is not None and row.finished and (got or had))
        self.show_button.setEnabled(row is not None and row.finished and (got or had))
        self.move_button.setEnabled(row is not None)
