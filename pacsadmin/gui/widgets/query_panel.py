"""The Query panel: the form on the left, the streamed results on the right (a filter,
drill-down with Back, retrieve and move requests, copy and CSV export), a banner when
the answer looks capped, and one status line.

The panel never talks to the network or reads files: it emits intent signals and is fed
by :class:`~pacsadmin.gui.controllers.query.QueryController` (``begin``, ``append``,
``finish``, ``set_marks``, ``show_error``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.dimse.find_result import FindResult
from pacsadmin.core.dimse.find_table import Column, FindRow, retrieve_item, to_tsv
from pacsadmin.core.dimse.retrieve_model import Item
from pacsadmin.core.nodes import DicomNode
from pacsadmin.gui.icons import icon
from pacsadmin.gui.metrics import chars, text_width
from pacsadmin.gui.models.find_model import FindFilterProxy, FindTableModel
from pacsadmin.gui.text import escape_controls, plain_label, plain_tooltip
from pacsadmin.gui.widgets.lights import Light, light_pixmap
from pacsadmin.gui.widgets.query_form import QueryFormWidget
from pacsadmin.gui.widgets.query_parts import (
    CapBanner,
    Page,
    fit_columns,
    results_table,
)

_NEXT_TEXT = {"PATIENT": "Studies", "STUDY": "Series", "SERIES": "Instances"}


class QueryPanel(QWidget):
    searchRequested = Signal(object)  # QueryForm
    cancelRequested = Signal()
    drillRequested = Signal(object)  # FindRow
    splitRequested = Signal()
    exportRequested = Signal(str)  # path
    recentChosen = Signal(object)  # QueryForm
    retrieveRequested = Signal(object, object, object)  # DicomNode, tuple[Item], dest AE|None

    FLUSH_MS = 150

    def __init__(
        self,
        node_model: QAbstractItemModel,
        name_column: int,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.node_model = node_model
        self.page = Page(None, None, (), "")
        self._back: list[Page] = []
        self._running = False
        self._t0 = 0.0
        self.can_split = False
        self._sized = False
        # called before rows are appended (the controller holds the query's worker back)
        self.before_append: Callable[[], None] | None = None
        self.form = QueryFormWidget(node_model, name_column)
        self.model = FindTableModel(self)
        self.proxy = FindFilterProxy(self.model, self)

        # ---- results bar
        self.back_button = QToolButton()
        self.back_button.setIcon(icon("back"))
        self.back_button.setToolTip("Back to the previous level")
        self.back_button.setEnabled(False)
        self.title = plain_label("No query yet")
        tf = self.title.font()
        tf.setBold(True)
        self.title.setFont(tf)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter the results")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMinimumWidth(chars(self, 24))
        self.drill_button = QPushButton(icon("drill"), "Series")
        self.drill_button.setToolTip("Query the next level under the selected row (double-click)")
        self.retrieve_button = QPushButton(icon("retrieve"), "Retrieve here")
        self.retrieve_button.setToolTip("Retrieve the selected rows into the local archive")
        self.move_button = QPushButton(icon("move"), "Move to…")
        self.move_menu = QMenu(self.move_button)
        self.move_button.setMenu(self.move_menu)
        self.move_button.setToolTip("Send the selected rows from this node to another node")
        self.copy_action = QAction(icon("copy"), "Copy", self)
        self.copy_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.export_action = QAction(icon("export"), "Export CSV…", self)
        self.more_button = QPushButton(icon("export"), "Export")
        self.more_button.setToolTip("Copy the selected rows (Ctrl+C), or export every row as CSV")
        more = QMenu(self.more_button)
        more.addAction(self.copy_action)
        more.addAction(self.export_action)
        self.more_button.setMenu(more)
        head = QHBoxLayout()  # where we are: Back, the node, model and level
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.back_button)
        head.addWidget(self.title, 1)
        bar = QHBoxLayout()  # what to do with the rows
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.filter, 1)
        for w in (
            self.drill_button,
            self.retrieve_button,
            self.move_button,
            self.more_button,
        ):
            bar.addWidget(w)

        # ---- the cap banner
        self.banner = CapBanner()
        self.banner_text, self.split_button = self.banner.text, self.banner.split_button

        # ---- the table
        t = self.table = results_table(self.proxy)
        t.addAction(self.copy_action)

        # ---- the status line
        self.status_light = QLabel()
        self.status_text = plain_label("", selectable=True)
        self.status_text.setWordWrap(True)
        self.count_label = plain_label("")
        self.count_label.setStyleSheet("color: palette(mid);")
        # a fixed width: the count changing every 200 ms must not lay out the table again
        self.count_label.setFixedWidth(text_width(self, "10,000,000 matches, 10,000,000 shown"))
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        sl = QHBoxLayout()
        sl.setContentsMargins(2, 0, 2, 0)
        sl.addWidget(self.status_light, 0, Qt.AlignmentFlag.AlignTop)
        sl.addWidget(self.status_text, 1)
        sl.addWidget(self.count_label, 0, Qt.AlignmentFlag.AlignTop)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(6, 0, 0, 0)
        rl.addLayout(head)
        rl.addLayout(bar)
        rl.addWidget(self.banner)
        rl.addWidget(self.table, 1)
        rl.addLayout(sl)
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setMinimumWidth(self.form.minimumWidth() + 12)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        self.splitter = split
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addWidget(split)

        self._clock = QTimer(self)
        self._clock.setInterval(200)
        self._clock.timeout.connect(self._show_count)
        # arrivals are shown at most every FLUSH_MS: each append lays out and repaints the
        # table (hundreds of calls into the model), not each of the bridge's batches
        self._pending: list[FindRow] = []
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(self.FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)
        self.set_status(Light.UNKNOWN, "Pick a node, fill in a few keys, then Search.")
        self._update_buttons()

        # ---- wiring (inside the panel)
        self.form.searchRequested.connect(self.searchRequested)
        self.form.cancelRequested.connect(self.cancelRequested)
        self.form.recentChosen.connect(self.recentChosen)
        self.filter.textChanged.connect(self.proxy.set_filter_text)
        self.filter.textChanged.connect(self._show_count)
        self.back_button.clicked.connect(self.back)
        self.drill_button.clicked.connect(self._on_drill_button_clicked)
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        self.table.customContextMenuRequested.connect(self._on_table_context_menu)
        sel = self.table.selectionModel()
        sel.selectionChanged.connect(self._update_buttons)
        self.retrieve_button.clicked.connect(self._on_retrieve_button_clicked)
        self.move_menu.aboutToShow.connect(self._on_move_menu_about_to_show)
        self.move_menu.triggered.connect(self._on_move_menu_triggered)
        self.copy_action.triggered.connect(self.copy_selection)
        self.export_action.triggered.connect(self._on_export_action_triggered)
        self.split_button.clicked.connect(self.splitRequested)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:  # the form as narrow as it reads well; the table takes the rest
            self._sized = True
            form_w = self.form.minimumWidth() + 24
            self.splitter.setSizes([form_w, max(1, self.width() - form_w)])

    # ------------------------------------------------------------------ fed by the controller
    def begin(self, node: DicomNode, query: FindQuery, columns: tuple[Column, ...],
              title: str, *, drill: bool = False) -> None:  # fmt: skip
        """A query starts: a fresh table (the current one kept for Back when drilling)."""
        self._store_page()
        if drill:
            self._back.append(self.page)
        else:
            self._back.clear()
        self.page = Page(node, query, columns, title)
        self._pending = []
        self._flush_timer.stop()
        self.model.reset(columns)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._fit_columns(columns)
        self.title.setText(escape_controls(title))
        self.banner.hide()
        self._running = True
        self._t0 = time.monotonic()
        self.form.set_running(True)
        self.set_status(Light.RUNNING, f"Querying {node.name or node.address}…")
        self._clock.start()
        self._show_count()
        self._update_buttons()

    def append(self, rows: list[FindRow]) -> None:
        """Rows that arrived; the first ones are shown at once, the rest every FLUSH_MS."""
        self._pending.extend(rows)
        if not self._flush_timer.isActive():
            if self.model.rowCount() == 0:
                self._flush()
            self._flush_timer.start()

    @Slot()
    def _flush(self) -> None:
        if self._pending:
            rows, self._pending = self._pending, []
            if self.before_append is not None and self.isVisible():
                self.before_append()
            self.model.append(rows)
            self._show_count()

    def finish(
        self,
        result: FindResult,
        *,
        count: int | None = None,
        unreadable: int | None = None,
        split_days: int = 0,
        can_split: bool = False,
    ) -> None:
        """The query ended; ``count``/``unreadable`` when ``result`` carries no matches."""
        self._flush_timer.stop()
        self._flush()
        self._running = False
        self._clock.stop()
        self.form.set_running(False)
        n = len(result.matches) if count is None else count
        bad = result.unreadable if unreadable is None else unreadable
        unread = f" · {bad} unreadable" if bad else ""
        secs = f"{result.elapsed_ms / 1000:.2f} s"
        first = f" (first after {result.first_ms:.0f} ms)" if result.first_ms is not None else ""
        if result.cancelled:
            light, text = (
                Light.WARNING,
                f"Cancelled: {n} match(es) kept{unread}. {result.sentence}",
            )
        elif not result.ok:
            light = Light.FAILED
            text = f"Query failed: {result.sentence}"
            if n:
                text += f" ({n} match(es) arrived before that)"
        else:
            light = Light.WARNING if result.capped or bad else Light.OK
            text = f"{n} match(es) in {secs}{first}{unread}. {result.sentence}"
        self.set_status(light, text, result.advice if not result.ok else "")
        self.can_split = can_split
        if result.capped and not result.cancelled:
            offer = (
                " Query it day by day to see everything."
                if can_split
                else " Set a date range to query it day by day."
            )
            self.banner.show_cap(result.capped + ("" if split_days else offer),
                                 offer=not split_days, can_split=can_split)  # fmt: skip
        self._show_count()
        self._update_buttons()

    def set_marks(self, marks: dict[int, str]) -> None:
        self.model.set_marks(marks)

    def show_error(self, message: str) -> None:
        """Bad input, said before any traffic."""
        self.set_status(Light.FAILED, message)

    def set_status(self, light: Light, text: str, advice: str = "") -> None:
        self.page.status = (light, text, advice)
        self.status_light.setPixmap(light_pixmap(light, 14))
        full = text + (f"\nWhat to do: {advice}" if advice else "")
        self.status_text.setText(escape_controls(full))
        self.status_text.setToolTip(plain_tooltip(full))

    def status(self) -> str:
        return self.status_text.text()

    @property
    def running(self) -> bool:
        return self._running

    # ------------------------------------------------------------------ pages
    def _store_page(self) -> None:
        self.page.rows = self.model.rows()
        self.page.marks = self.model.marks()

    @Slot()
    def back(self) -> None:
        if not self._back or self._running:
            return
        self.page = self._back.pop()
        self.model.reset(self.page.columns, self.page.rows, self.page.marks)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._fit_columns(self.page.columns)
        self.title.setText(escape_controls(self.page.title))
        self.set_status(*self.page.status)
        self.banner.hide()
        self._show_count()
        self._update_buttons()

    # ------------------------------------------------------------------ selection
    def selected_rows(self) -> list[FindRow]:
        sel = self.table.selectionModel()
        return self.proxy.rows_of(sel.selectedRows()) if sel is not None else []

    def selected_items(self) -> tuple[Item, ...]:
        level = self.page.query.level if self.page.query else None
        items = (retrieve_item(level, r.match) for r in self.selected_rows())
        return tuple(i for i in items if i is not None)

    def copy_text(self) -> str:
        rows = self.selected_rows()
        titles = list(self.model.headers)
        return to_tsv(titles, [[self.model.mark_of(r), *r.cells] for r in rows])

    @Slot()
    def copy_selection(self) -> None:
        if self.selected_rows():
            QGuiApplication.clipboard().setText(self.copy_text())

    # ------------------------------------------------------------------ slots
    @Slot()
    def _show_count(self) -> None:
        n, shown = self.model.rowCount(), self.proxy.rowCount()
        text = f"{n:,} match{'es' if n != 1 else ''}"
        if shown != n:
            text += f", {shown:,} shown"
        if self._running:
            text += f" · {time.monotonic() - self._t0:.1f} s"
        self.count_label.setText(text)

    @Slot()
    def _update_buttons(self) -> None:
        q = self.page.query
        level = q.level if q is not None and q.model != "worklist" else None
        rows = self.selected_rows()
        nxt = _NEXT_TEXT.get(level or "")
        self.drill_button.setText(nxt or "Series")
        self.drill_button.setEnabled(bool(nxt) and len(rows) == 1 and not self._running)
        items = bool(rows) and level in ("STUDY", "SERIES", "IMAGE") and self.page.node is not None
        self.retrieve_button.setEnabled(items)
        self.move_button.setEnabled(items)
        self.copy_action.setEnabled(bool(rows))
        self.export_action.setEnabled(self.model.rowCount() > 0)
        self.back_button.setEnabled(bool(self._back) and not self._running)

    @Slot()
    def _on_drill_button_clicked(self) -> None:
        rows = self.selected_rows()
        if len(rows) == 1 and not self._running:
            self.drillRequested.emit(rows[0])

    @Slot(QModelIndex)
    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        if index.isValid() and not self._running:
            self.drillRequested.emit(self.proxy.row_at(index.row()))

    @Slot()
    def _on_retrieve_button_clicked(self) -> None:
        items = self.selected_items()
        if items and self.page.node is not None:
            self.retrieveRequested.emit(self.page.node, items, None)

    @Slot()
    def _on_move_menu_about_to_show(self) -> None:
        self.move_menu.clear()
        here = self.page.node.name if self.page.node else ""
        nodes: list[DicomNode] = getattr(self.node_model, "nodes", list)()
        for n in nodes:
            if n.name == here:
                continue
            a = self.move_menu.addAction(f"{n.name}  ({n.ae_title})")
            a.setData(n.ae_title)
        if not self.move_menu.actions():
            self.move_menu.addAction("No other node in the directory").setEnabled(False)

    @Slot(QAction)
    def _on_move_menu_triggered(self, action: QAction) -> None:
        dest = action.data()
        items = self.selected_items()
        if isinstance(dest, str) and items and self.page.node is not None:
            self.retrieveRequested.emit(self.page.node, items, dest)

    @Slot()
    def _on_export_action_triggered(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export results as CSV", "query.csv",
                                              "CSV (*.csv);;All files (*)")  # fmt: skip
        if path:
            self.exportRequested.emit(path)

    @Slot(object)
    def _on_table_context_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        if self.drill_button.isEnabled():
            menu.addAction(icon("drill"), f"Show {self.drill_button.text().lower()}",
                           self._on_drill_button_clicked)  # fmt: skip
        if self.retrieve_button.isEnabled():
            menu.addAction(icon("retrieve"), "Retrieve here", self._on_retrieve_button_clicked)
            self._on_move_menu_about_to_show()
            sub = menu.addMenu(icon("move"), "Move to")
            for a in self.move_menu.actions():
                sub.addAction(a)
        menu.addSeparator()
        menu.addAction(self.copy_action)
        menu.addAction(self.export_action)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _fit_columns(self, columns: tuple[Column, ...]) -> None:
        fit_columns(self.table, columns)
