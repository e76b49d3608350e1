"""The archive browser: a study / series tree with search, sort, refresh, delete and
open-in-viewer (:class:`ArchiveBrowser`, a view that only emits signals), and
:class:`ArchiveController`, which runs every archive access as a job on the ``io`` lane
(the archive's one writer; SQLite is never read on the GUI thread); each job's result
comes back to the callback that asked for it (``JobBridge.submit(on_done=...)``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer, Signal, Slot
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

from pacsadmin.core.archive import Archive
from pacsadmin.core.archive.browse import StudyRow, Totals, count_studies, list_series, list_studies
from pacsadmin.core.archive.importer import ImportReport, import_paths
from pacsadmin.core.format import format_size
from pacsadmin.core.jobs import Job, JobContext, JobFinished, JobState
from pacsadmin.gui.dialogs.confirm import ask
from pacsadmin.gui.errors import ErrorPresenter
from pacsadmin.gui.icons import icon
from pacsadmin.gui.job_bridge import JobBridge
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
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search, 1)
        for b in (self.btn_open, self.btn_delete, self.btn_refresh):
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

    @Slot(object)
    def _on_tree_context_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        for text, slot, enabled in (
            ("Open in viewer", self._on_open_clicked, self.btn_open.isEnabled()),
            ("Delete…", self._on_delete_clicked, self.btn_delete.isEnabled()),
            ("Refresh", self.refreshRequested.emit, True),
        ):
            a = QAction(text, menu)
            a.setEnabled(enabled)
            a.triggered.connect(slot)
            menu.addAction(a)
        menu.popup(self.tree.viewport().mapToGlobal(pos))


def describe_archive_result(result: Any) -> tuple[str, bool | None]:
    """The Jobs panel's result text for an archive job."""
    if isinstance(result, ImportReport):
        text = f"{result.stored} imported, {result.duplicates} duplicate(s)"
        if result.errors:
            text += f", {len(result.errors)} error(s)"
        return text + (" (cancelled)" if result.cancelled else ""), not result.errors
    if isinstance(result, _Deleted):
        return f"{result.instances} image(s) deleted", True
    return "", None


class _Deleted:
    def __init__(self, instances: int) -> None:
        self.instances = instances


class ArchiveHandle:
    """The archive, opened on first use by a worker (never on the GUI thread); plain
    Python, so worker functions close over this and not over a QObject."""

    def __init__(self, root: Path, **kw: Any) -> None:
        self.root, self.kw = root, kw
        self._archive: Archive | None = None
        self._lock = threading.Lock()

    def get(self) -> Archive:
        with self._lock:
            if self._archive is None:
                self._archive = Archive(self.root, **self.kw)
            return self._archive

    def close(self) -> None:
        with self._lock:
            if self._archive is not None:
                self._archive.close()
                self._archive = None


class ArchiveController(QObject):
    """Archive jobs for the browser and File > Import into archive (GUI thread).

    Every read of the index is a background job on the ``io`` lane (SQLite never runs on
    the GUI thread).  A search, a sort or a reload is a new *generation*: the answer of an
    older one is dropped when it arrives, and one still queued is cancelled.
    """

    changed = Signal()  # the archive was modified by this process

    PAGE = 100  # studies per query (2-3 screens); a reload asks for as many as were loaded
    # (at most 300): QTreeView lays out every loaded row again after each page or reload

    def __init__(
        self,
        *,
        root: Path,
        archive_kw: dict[str, Any],
        bridge: JobBridge,
        browser: ArchiveBrowser,
        errors: ErrorPresenter,
        open_paths: Callable[[list[str]], None],
        parent_widget: QWidget | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.root, self.archive_kw = root, archive_kw
        self.bridge, self.browser, self.errors = bridge, browser, errors
        self.model = browser.model
        self.open_paths, self.parent_widget = open_paths, parent_widget
        self.confirm: Callable[[str, str], bool] = self.ask
        self.handle = ArchiveHandle(root, **archive_kw)
        self._imports = 0  # import jobs running
        self._gen = 0  # the newest query asked for
        self._load: Job[Any] | None = None  # its job, until it answers
        self._shown = ("", "patient", False)  # the query of the rows the model holds
        self.loads = 0  # finished first-page queries (tests)
        self._closed = False
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(700)
        self._debounce.timeout.connect(self.refresh)
        browser.refreshRequested.connect(self.refresh)
        browser.searchChanged.connect(self._on_browser_search_changed)
        browser.deleteRequested.connect(self._on_browser_delete_requested)
        browser.openRequested.connect(self._on_browser_open_requested)
        self.model.moreWanted.connect(self._on_model_more_wanted)
        self.model.seriesWanted.connect(self._on_model_series_wanted)
        self.model.orderChanged.connect(self.refresh)

    def close(self) -> None:
        """After the runner has stopped: close the index writer; ask for nothing more."""
        self._closed = True
        self._debounce.stop()
        self.browser.stop()
        self.handle.close()

    def _submit(
        self,
        name: str,
        fn: Callable[[JobContext], Any],
        on_done: Callable[[JobFinished], None],
        *,
        quiet: bool = True,
    ) -> Job[Any] | None:
        """The job, or None once closed (a view asking for rows as the window goes);
        ``on_done`` runs on the GUI thread when it ends, however it ends."""
        if self._closed:
            return None
        # reads (pages, series, paths) are housekeeping: not listed in the Jobs panel
        return self.bridge.submit(
            fn,
            name=name,
            lane="io",
            quiet=quiet,
            summarize=describe_archive_result,
            on_done=on_done,
        )

    # ------------------------------------------------------------------ queries
    def loading(self) -> bool:
        """A search, sort or reload has not answered yet."""
        return self._load is not None

    @Slot()
    def refresh(self) -> None:
        """Query the first page again: the search text and order the browser shows now."""
        self._gen += 1
        gen, h, m = self._gen, self.handle, self.model
        text, order, desc = self.browser.search_text(), m.order_by, m.descending
        limit = min(max(self.PAGE, len(m.studies())), 300)
        if self._load is not None:
            self._load.cancel()  # dropped if still queued; its answer is stale anyway

        def run(ctx: JobContext) -> tuple[list[StudyRow], Totals]:
            con = h.get().reader()
            totals = count_studies(con, text)
            return list_studies(con, text, order, descending=desc, limit=limit), totals

        def done(ev: JobFinished) -> None:
            if gen != self._gen:
                return  # a newer search, sort or reload was asked for meanwhile
            self._load = None
            self.loads += 1
            if ev.state is JobState.FAILED:
                self.errors.present(f"Cannot read the archive index: {ev.error}")
                self.browser.summary.setText("Archive: the index could not be read")
            elif ev.state is JobState.SUCCEEDED:
                rows, totals = ev.result
                self._shown = (text, order, desc)
                m.reset(gen, rows, totals)
                self.browser.show_reset(text)

        self._load = self._submit("Archive: load index", run, done)

    def refresh_soon(self) -> None:
        """Debounced: many associations closing reload the tree once."""
        self._debounce.start()

    @Slot(str)
    def _on_browser_search_changed(self, text: str) -> None:
        self.refresh()

    @Slot()
    def _on_model_more_wanted(self) -> None:
        m, h = self.model, self.handle
        gen, offset = m.generation, len(m.studies())
        text, order, desc = self._shown
        page = self.PAGE

        def run(ctx: JobContext) -> list[StudyRow]:
            con = h.get().reader()
            return list_studies(con, text, order, descending=desc, offset=offset, limit=page)

        def done(ev: JobFinished) -> None:
            if ev.state is JobState.SUCCEEDED:
                m.append(gen, offset, ev.result)
            else:
                m.fetch_failed(gen)
                if ev.state is JobState.FAILED:
                    self.errors.present(f"Cannot read the archive index: {ev.error}")

        self._submit("Archive: load more studies", run, done)

    @Slot(object)
    def _on_model_series_wanted(self, study: TreeNode) -> None:
        m, h, gen, uid = self.model, self.handle, self.model.generation, study.uid

        def done(ev: JobFinished) -> None:
            if ev.state is JobState.SUCCEEDED:
                m.set_series(gen, study, ev.result)
            else:
                m.fetch_failed(gen, study)
                if ev.state is JobState.FAILED:
                    self.errors.present(f"Cannot read the archive index: {ev.error}")

        self._submit("Archive: load series", lambda ctx: list_series(h.get().reader(), uid), done)

    # ------------------------------------------------------------------ actions
    def importing(self) -> bool:
        return self._imports > 0

    def import_paths(self, paths: list[str]) -> int:
        """Submit an import; its job id."""
        what = paths[0] if len(paths) == 1 else f"{len(paths)} items"
        h, files = self.handle, [Path(p) for p in paths]
        job = self._submit(
            f"Import into archive: {what}",
            lambda ctx: import_paths(h.get(), files, ctx),
            self._import_done,
            quiet=False,
        )
        if job is None:
            return 0
        self._imports += 1
        return job.id

    def ask(self, title: str, text: str) -> bool:
        return ask(self.parent_widget, title, text, warning=True)

    @Slot(list)
    def _on_browser_delete_requested(self, nodes: list[TreeNode]) -> None:
        studies = [n.uid for n in nodes if n.level == "study"]
        # a series of a selected study goes with its study: counted once
        series = [n for n in nodes if n.level == "series" and n.parent not in nodes]
        images = sum(n.images for n in nodes if n.level == "study") + sum(n.images for n in series)
        size = sum(n.size for n in nodes if n.level == "study") + sum(n.size for n in series)
        names = "\n".join(f"{n.level}: {n.name} {n.description}".rstrip() for n in nodes[:10])
        more = f"\n… and {len(nodes) - 10} more" if len(nodes) > 10 else ""
        text = (
            f"Delete {len(nodes)} selected row(s) ({images} images, {format_size(size)}) from "
            f"the archive?\n\n{names}{more}\n\nThe files are removed from disk; this cannot "
            "be undone."
        )
        if not self.confirm("Delete from archive", text):
            return
        h, series_uids = self.handle, [n.uid for n in series]

        def run(ctx: JobContext) -> _Deleted:
            a = h.get()
            n = a.delete("study", studies) if studies else 0
            return _Deleted(n + (a.delete("series", series_uids) if series_uids else 0))

        def done(ev: JobFinished) -> None:
            if ev.state is JobState.FAILED:
                self.errors.present(f"Delete from the archive failed: {ev.error}", user_action=True)
            elif ev.state is JobState.SUCCEEDED:
                self.errors.info(f"Deleted {ev.result.instances} image(s) from the archive.")
            self.changed.emit()
            self.refresh()

        self._submit(f"Archive: delete {len(nodes)} row(s)", run, done, quiet=False)

    @Slot(object)
    def _on_browser_open_requested(self, node: TreeNode) -> None:
        level, uid, h = node.level, node.uid, self.handle

        def run(ctx: JobContext) -> list[str]:
            a = h.get()
            return [str(a.path_of(rel)) for _, rel in a.instance_paths(level, [uid])]

        def done(ev: JobFinished) -> None:
            if ev.state is JobState.FAILED:
                self.errors.present(f"Cannot open from the archive: {ev.error}", user_action=True)
            elif ev.state is JobState.SUCCEEDED and ev.result:
                self.open_paths(ev.result)

        self._submit(f"Archive: open {level} in viewer", run, done)

    # ------------------------------------------------------------------ results
    def _import_done(self, ev: JobFinished) -> None:
        self._imports -= 1
        if ev.state is JobState.FAILED:
            self.errors.present(f"Import into the archive failed: {ev.error}", user_action=True)
        elif isinstance(rep := ev.result, ImportReport):
            for path, reason in rep.errors:
                self.errors.activity.add("import", f"{path or '(import)'}: {reason}")
            text, _ = describe_archive_result(rep)
            tail = " — the errors are listed in the Activity log" if rep.errors else ""
            self.errors.info(f"Import into archive: {text}{tail}.", timeout_ms=15000)
        else:  # cancelled before it started
            self.errors.info("Import into archive cancelled.")
        self.changed.emit()
        self.refresh()
