"""The archive browser: a study / series tree with search, sort, refresh, delete and
open-in-viewer (:class:`ArchiveBrowser`, a view that only emits signals), and
:class:`ArchiveController`, which runs every archive access as a job on the ``io`` lane
(the archive's one writer; SQLite is never read on the GUI thread); each job's result
comes back to the callback that asked for it (``JobBridge.submit(on_done=...)``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QSizePolicy,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.format import format_size
from pacsadmin.gui.icons import icon
from pacsadmin.gui.metrics import fit_columns
from pacsadmin.gui.models.archive_model import (
    COL_ACC,
    COL_DATE,
    COL_IMAGES,
    COL_MOD,
    COL_NAME,
    COL_PID,
    COL_SERIES,
    COL_SIZE,
    COL_STUDY,
    NODE_ROLE,
    ArchiveTreeModel,
    TreeNode,
)
from pacsadmin.gui.text import escape_controls, plain_label, plain_tooltip


class ArchiveBrowser(QWidget):
    """The view: a search box, the study tree and a summary line; it only emits signals.

    A keystroke restarts a 200 ms timer; when it runs out ``searchChanged`` asks for one
    query of the whole text (typing "smith" is one query, not five)."""

    refreshRequested = Signal()
    searchChanged = Signal(str)  # debounced
    deleteRequested = Signal(list)  # [TreeNode]
    openRequested = Signal(object)  # TreeNode (a study or a series)
    sendRequested = Signal(list)  # [TreeNode]: "Send to…"
    toolRequested = Signal(str, list)  # "tags" | "correct" | "anonymize", [TreeNode]

    SEARCH_DELAY_MS = 200
    EXPAND_AT_MOST = 10  # a search matching this few studies shows their series

    def __init__(self, model: ArchiveTreeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._expanded: set[str] = set()  # study UIDs, kept across reloads
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, patient ID, accession, description, modality")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(self.SEARCH_DELAY_MS)
        self.btn_refresh = self._button(icon("refresh"), "Reload the archive index")
        self.btn_open = self._button(
            icon("open-images"), "Open the selected study or series in the viewer"
        )
        self.btn_delete = self._button(icon("delete"), "Delete the selected rows (files and index)")
        self.btn_send = self._button(
            icon("export"), "Send the selected studies or series to a node"
        )
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search, 1)
        for b in (self.btn_open, self.btn_send, self.btn_delete, self.btn_refresh):
            top.addWidget(b)
        self.tree = QTreeView()
        self.tree.setModel(model)
        self.tree.header().setSortIndicator(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.tree.setSortingEnabled(True)  # a header click calls model.sort: a new query
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setExpandsOnDoubleClick(False)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        hdr = self.tree.header()
        hdr.setStretchLastSection(False)
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        fit_columns(  # from the font: a typical long value of each column
            self.tree,
            {
                COL_NAME: "WWWWWWWW, Wwwwwww",
                COL_STUDY: "CT THORAX ABDOMEN",
                COL_DATE: "2024-03-05",
                COL_MOD: "CT/SR",
                COL_SERIES: "999",
                COL_IMAGES: "99999",
                COL_SIZE: "999.9 MB",
                COL_PID: "PID-0000000",
                COL_ACC: "ACC000000",
            },
        )
        self.summary = plain_label("Archive: loading…")
        # its text grows with the archive and the search: it must never widen the dock
        # (and with it the window); a long text is cut, the whole of it is the tooltip
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.summary)

        self.search.textChanged.connect(self._on_search_text_changed)
        self._search_timer.timeout.connect(self._on_search_timer_timeout)
        self.search.returnPressed.connect(self._on_search_return_pressed)
        self.btn_refresh.clicked.connect(self.refreshRequested)
        self.btn_open.clicked.connect(self._on_open_clicked)
        self.btn_delete.clicked.connect(self._on_delete_clicked)
        self.btn_send.clicked.connect(self._on_send_clicked)
        self.tree.doubleClicked.connect(self._on_tree_double_clicked)
        self.tree.expanded.connect(self._on_tree_expanded)
        self.tree.collapsed.connect(self._on_tree_collapsed)
        self.tree.customContextMenuRequested.connect(self._on_tree_context_menu)
        self.tree.selectionModel().selectionChanged.connect(self._on_selection_changed)
        bar = self.tree.verticalScrollBar()
        bar.valueChanged.connect(self._on_scroll_changed)
        bar.rangeChanged.connect(self._on_scroll_changed)  # rows came or went, a resize
        self._on_selection_changed()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._on_scroll_changed)  # once the view has its geometry

    def _button(self, icon: Any, tip: str) -> QToolButton:
        b = QToolButton()
        b.setIcon(icon)
        b.setToolTip(tip)
        b.setAutoRaise(True)
        return b

    # ------------------------------------------------------------------ API
    def stop(self) -> None:
        """The window is closing: no more searches."""
        self._search_timer.stop()
        self._search_timer.blockSignals(True)

    def search_text(self) -> str:
        return self.search.text().strip()

    def show_reset(self, filter_text: str) -> None:
        """After the model took a new first page: summary, and expand what was expanded
        (the loaded rows only: one page) or, for a narrow search, every study."""
        t = self.model.totals
        text = (
            f"{t.studies} studies · {t.patients} patient(s) · {t.series} series"
            f" · {t.images} images · {format_size(t.size)}"
        )
        if filter_text:
            text = f"Matching '{filter_text}': {text}"
        self.summary.setText(escape_controls(text))
        self.summary.setToolTip(plain_tooltip(text))
        studies = self.model.studies()
        narrow = bool(filter_text) and len(studies) <= self.EXPAND_AT_MOST
        for n in studies if (self._expanded or narrow) else ():
            if narrow or n.uid in self._expanded:
                self.tree.expand(self.model.index_of(n))
        self._on_selection_changed()

    def selected_nodes(self) -> list[TreeNode]:
        rows = self.tree.selectionModel().selectedRows(0)
        return [n for i in rows if isinstance(n := i.data(NODE_ROLE), TreeNode)]

    def visible_rows(self) -> list[TreeNode]:
        """Every loaded row the view shows, depth first (tests, debug)."""
        out: list[TreeNode] = []
        for n in self.model.studies():
            out.append(n)
            if self.tree.isExpanded(self.model.index_of(n)):
                out += n.children
        return out

    # ------------------------------------------------------------------ slots
    @Slot(str)
    def _on_search_text_changed(self, text: str) -> None:
        self._search_timer.start()  # restarts: the query waits for a pause in typing

    @Slot()
    def _on_search_timer_timeout(self) -> None:
        self.searchChanged.emit(self.search_text())

    @Slot()
    def _on_search_return_pressed(self) -> None:
        if self._search_timer.isActive():  # Return: no need to wait for the pause
            self._search_timer.stop()
            self.searchChanged.emit(self.search_text())

    @Slot()
    def _on_scroll_changed(self, *args: Any) -> None:
        """Near the end of the loaded rows (or they do not fill the view): the next page."""
        bar = self.tree.verticalScrollBar()
        if self.isVisible() and bar.value() >= bar.maximum() - bar.pageStep():
            self.model.load_more()

    @Slot()
    def _on_open_clicked(self) -> None:
        nodes = self.selected_nodes()
        if nodes:
            self.openRequested.emit(nodes[0])

    @Slot()
    def _on_send_clicked(self) -> None:
        nodes = self.selected_nodes()
        if nodes:
            self.sendRequested.emit(nodes)

    @Slot()
    def _on_delete_clicked(self) -> None:
        nodes = self.selected_nodes()
        if nodes:
            self.deleteRequested.emit(nodes)

    @Slot(QModelIndex)
    def _on_tree_double_clicked(self, index: QModelIndex) -> None:
        n = index.siblingAtColumn(0).data(NODE_ROLE)
        if isinstance(n, TreeNode):
            self.openRequested.emit(n)

    @Slot(QModelIndex)
    def _on_tree_expanded(self, index: QModelIndex) -> None:
        n = index.data(NODE_ROLE)
        if isinstance(n, TreeNode) and n.level == "study":
            self._expanded.add(n.uid)

    @Slot(QModelIndex)
    def _on_tree_collapsed(self, index: QModelIndex) -> None:
        n = index.data(NODE_ROLE)
        if isinstance(n, TreeNode):
            self._expanded.discard(n.uid)

    @Slot()
    def _on_selection_changed(self, *args: Any) -> None:
        nodes = self.selected_nodes()
        self.btn_delete.setEnabled(bool(nodes))
        self.btn_open.setEnabled(bool(nodes))
        self.btn_send.setEnabled(bool(nodes))

    @Slot(object)
    def _on_tree_context_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        for text, slot, enabled in (
            ("Open in viewer", self._on_open_clicked, self.btn_open.isEnabled()),
            ("Send to…", self._on_send_clicked, self.btn_send.isEnabled()),
            (None, None, False),
            ("Edit tags…", lambda: self._tool("tags"), self.btn_open.isEnabled()),
            ("Correct study…", lambda: self._tool("correct"), self._studies_selected()),
            ("Anonymize…", lambda: self._tool("anonymize"), self.btn_open.isEnabled()),
            (None, None, False),
            ("Delete…", self._on_delete_clicked, self.btn_delete.isEnabled()),
            ("Refresh", self.refreshRequested.emit, True),
        ):
            if text is None:
                menu.addSeparator()
                continue
            a = QAction(text, menu)
            a.setEnabled(enabled)
            a.triggered.connect(slot)
            menu.addAction(a)
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    def _studies_selected(self) -> bool:
        return any(n.level == "study" for n in self.selected_nodes())

    def _tool(self, name: str) -> None:
        nodes = self.selected_nodes()
        if nodes:
            self.toolRequested.emit(name, nodes)
