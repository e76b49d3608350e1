"""The node browser: filter box, node table grouped by site, status lights."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QStackedWidget,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.nodes import DicomNode
from pacsadmin.gui.metrics import text_width
from pacsadmin.gui.models.node_model import (
    COL_NAME,
    COL_SITE,
    COL_STATUS,
    NODE_ROLE,
    NodeFilterProxy,
    NodeTableModel,
)
from pacsadmin.gui.widgets.empty_state import EmptyAction, EmptyState


class NodeBrowser(QWidget):
    nodeActivated = Signal(object)  # DicomNode (double click / Enter)
    selectionChanged = Signal()
    filesDropped = Signal(object, list)  # DicomNode, [path]: files/folders dropped onto it

    def __init__(
        self,
        model: NodeTableModel,
        actions: Iterable[QAction] = (),
        parent: QWidget | None = None,
        *,
        empty_actions: Iterable[EmptyAction] = (),
        needs_nodes: Iterable[QAction] = (),
    ) -> None:
        """``empty_actions``: offered when there is no node yet (add one, import a list);
        ``needs_nodes``: disabled while there is none (export, echo all)."""
        super().__init__(parent)
        self.model = model
        self.proxy = NodeFilterProxy(self)
        self.proxy.setSourceModel(model)

        self.toolbar = QToolBar("Nodes", self)
        self.toolbar.setIconSize(self.toolbar.iconSize() * 0.75)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self._actions = list(actions)
        for a in self._actions:
            if a is None or a.isSeparator():
                self.toolbar.addSeparator()
            else:
                self.toolbar.addAction(a)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter nodes (name, AE title, host, site, tag...)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_edit_text_changed)
        self.group_check = QCheckBox("Group by site", self)
        self.group_check.setChecked(True)
        self.group_check.toggled.connect(self._on_group_check_toggled)

        self.view = QTableView(self)
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(24)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        hh = self.view.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setStretchLastSection(True)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in ((COL_SITE, 90), (COL_NAME, 120), (COL_STATUS, 130)):
            self.view.setColumnWidth(col, width)
        for col, width in ((3, 95), (4, 90), (5, 50), (6, 80)):
            self.view.setColumnWidth(col, width)
        model.modelReset.connect(self._on_model_reset)
        self.view.activated.connect(self._on_view_activated)  # double click or Enter
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_view_context_menu)

        self._empty_actions = list(empty_actions)
        self._needs_nodes = list(needs_nodes)
        self.empty = EmptyState("add", "", parent=self)
        self.clear_filter_action = QAction("Clear the filter", self)
        self.clear_filter_action.triggered.connect(self.filter_edit.clear)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.view)
        self.pages.addWidget(self.empty)
        for sig in (model.modelReset, model.rowsInserted, model.rowsRemoved):
            sig.connect(self._update_empty)
        self.proxy.modelReset.connect(self._update_empty)
        self.proxy.layoutChanged.connect(self._update_empty)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.group_check)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 4)
        lay.setSpacing(4)
        lay.addWidget(self.toolbar)
        lay.addLayout(top)
        lay.addWidget(self.pages, 1)
        self._update_empty()
        from pacsadmin.gui.widgets.node_drop import NodeDropFilter

        self.drop_filter = NodeDropFilter(self)

    # ------------------------------------------------------------------ API
    def selected_nodes(self) -> list[DicomNode]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [self.proxy.index(r, 0).data(NODE_ROLE) for r in rows]

    def current_node(self) -> DicomNode | None:
        nodes = self.selected_nodes()
        return nodes[0] if nodes else None

    def select_node(self, name: str) -> None:
        row = self.model.row_of(name)
        if row < 0:
            return
        idx = self.proxy.mapFromSource(self.model.index(row, COL_NAME))
        if idx.isValid():
            self.view.selectRow(idx.row())
            self.view.scrollTo(idx)

    # ------------------------------------------------------------------ slots
    @Slot()
    def _on_model_reset(self) -> None:
        """Fit the short columns to what they hold (within limits)."""
        for col in (COL_SITE, COL_NAME, COL_STATUS, 3, 4, 5):
            self.view.resizeColumnToContents(col)
            self.view.setColumnWidth(col, min(220, self.view.columnWidth(col) + 8))
        # "1234 ms, 59 min ago" must fit even when the list was loaded before any echo
        need = text_width(self.view, "1234 ms, 59 min ago", pad=32)  # + the light
        self.view.setColumnWidth(COL_STATUS, max(need, self.view.columnWidth(COL_STATUS)))

    @Slot()
    def _update_empty(self) -> None:
        """No node yet: say how to add one.  None matches the filter: say so."""
        if self.model.rowCount() == 0:
            self.empty.set_content(
                "No nodes yet",
                "Add a node, or import a list (JSON or CSV).",
                self._empty_actions,
            )
            self.pages.setCurrentWidget(self.empty)
        elif self.proxy.rowCount() == 0:
            self.empty.set_content(
                "No node matches the filter",
                f"Nothing matches “{self.filter_edit.text()}”.",
                [self.clear_filter_action],
            )
            self.pages.setCurrentWidget(self.empty)
        else:
            self.pages.setCurrentWidget(self.view)
        any_node = self.model.rowCount() > 0
        self.filter_edit.setEnabled(any_node or bool(self.filter_edit.text()))
        for a in self._needs_nodes:
            a.setEnabled(any_node)

    def is_empty_shown(self) -> bool:
        return self.pages.currentWidget() is self.empty

    @Slot(str)
    def _on_filter_edit_text_changed(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        self._update_empty()

    @Slot(bool)
    def _on_group_check_toggled(self, on: bool) -> None:
        self.proxy.set_group_by_site(on)
        self.view.setColumnHidden(COL_SITE, False)

    @Slot(QModelIndex)
    def _on_view_activated(self, index: QModelIndex) -> None:
        node = index.data(NODE_ROLE)
        if node is not None:
            self.nodeActivated.emit(node)

    @Slot()
    def _on_selection_changed(self) -> None:
        self.selectionChanged.emit()

    @Slot()
    def _on_view_context_menu(self, pos) -> None:  # type: ignore[no-untyped-def]
        menu = QMenu(self)
        for a in self._actions:
            if a is None or a.isSeparator():
                menu.addSeparator()
            else:
                menu.addAction(a)
        menu.popup(self.view.viewport().mapToGlobal(pos))
