"""The archive browser: a patient / study / series tree with search, sort, refresh,
delete and open-in-viewer (:class:`ArchiveBrowser`, a view that only emits signals), and
:class:`ArchiveController`, which runs every archive access as a job on the runner's
``io`` lane (the archive's one writer; SQLite is never read on the GUI thread) and takes
the results from the job bridge.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QStyle,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.archive import Archive
from pacsadmin.core.archive.importer import ImportReport, import_paths
from pacsadmin.core.jobs import JobContext, JobFinished, JobRunner, JobState
from pacsadmin.gui.dialogs.confirm import ask
from pacsadmin.gui.errors import ErrorPresenter
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.models.archive_model import (
    COL_NAME,
    NODE_ROLE,
    ArchiveFilterProxy,
    ArchiveTreeModel,
    TreeNode,
    fmt_size,
    load_tree,
)
from pacsadmin.gui.text import plain_label


class ArchiveBrowser(QWidget):
    refreshRequested = Signal()
    deleteRequested = Signal(list)  # [TreeNode]
    openRequested = Signal(object)  # TreeNode (a study or a series)

    def __init__(self, model: ArchiveTreeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = ArchiveFilterProxy(self)
        self.proxy.setSourceModel(model)
        self._expanded: set[tuple[str, str]] = set()
        st = self.style()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, patient ID, accession, description, modality")
        self.search.setClearButtonEnabled(True)
        self.btn_refresh = self._button(st.standardIcon(QStyle.StandardPixmap.SP_BrowserReload),
                                        "Reload the archive index")  # fmt: skip
        self.btn_open = self._button(st.standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
                                     "Open the selected study or series in the viewer")  # fmt: skip
        self.btn_delete = self._button(st.standardIcon(QStyle.StandardPixmap.SP_TrashIcon),
                                       "Delete the selected rows (files and index)")  # fmt: skip
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search, 1)
        for b in (self.btn_open, self.btn_delete, self.btn_refresh):
            top.addWidget(b)
        self.tree = QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setExpandsOnDoubleClick(False)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        hdr = self.tree.header()
        hdr.setStretchLastSection(False)
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, w in enumerate((196, 80, 62, 50, 46, 52, 66, 84, 90)):
            self.tree.setColumnWidth(col, w)
        self.summary = plain_label("Archive: loading…")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.summary)

        self.search.textChanged.connect(self._on_search_text_changed)
        self.btn_refresh.clicked.connect(self.refreshRequested)
        self.btn_open.clicked.connect(self._on_open_clicked)
        self.btn_delete.clicked.connect(self._on_delete_clicked)
        self.tree.doubleClicked.connect(self._on_tree_double_clicked)
        self.tree.expanded.connect(self._on_tree_expanded)
        self.tree.collapsed.connect(self._on_tree_collapsed)
        self.tree.customContextMenuRequested.connect(self._on_tree_context_menu)
        self.tree.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self._on_selection_changed()

    def _button(self, icon: Any, tip: str) -> QToolButton:
        b = QToolButton()
        b.setIcon(icon)
        b.setToolTip(tip)
        b.setAutoRaise(True)
        return b

    # ------------------------------------------------------------------ API
    def set_tree(self, root: TreeNode) -> None:
        """Swap in a freshly loaded tree; expanded rows stay expanded."""
        self.model.set_tree(root)
        if self._expanded:
            for pat in root.children:
                for n in (pat, *pat.children):
                    if (n.level, n.uid) in self._expanded:
                        src = self.model.createIndex(n.parent.children.index(n), 0, n)  # type: ignore[union-attr]
                        self.tree.expand(self.proxy.mapFromSource(src))
        self.summary.setText(
            f"{len(root.children)} patient(s) · {root.studies} studies · {root.series} series"
            f" · {root.images} images · {fmt_size(root.size)}"
        )
        self._on_selection_changed()

    def selected_nodes(self) -> list[TreeNode]:
        rows = self.tree.selectionModel().selectedRows(0)
        return [n for i in rows if isinstance(n := i.data(NODE_ROLE), TreeNode)]

    def visible_rows(self, parent: QModelIndex | None = None) -> list[TreeNode]:
        """Every row the view shows (after the search), depth first (tests, debug)."""
        parent = parent or QModelIndex()
        out: list[TreeNode] = []
        for r in range(self.proxy.rowCount(parent)):
            i = self.proxy.index(r, 0, parent)
            out.append(i.data(NODE_ROLE))
            out += self.visible_rows(i)
        return out

    # ------------------------------------------------------------------ slots
    @Slot(str)
    def _on_search_text_changed(self, text: str) -> None:
        self.proxy.set_search(text)
        if text.strip():
            self.tree.expandToDepth(0)

    @Slot()
    def _on_open_clicked(self) -> None:
        nodes = [n for n in self.selected_nodes() if n.level in ("study", "series")]
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
        if isinstance(n, TreeNode) and n.level in ("study", "series"):
            self.openRequested.emit(n)
        else:
            self.tree.setExpanded(index.siblingAtColumn(0), not self.tree.isExpanded(index))

    @Slot(QModelIndex)
    def _on_tree_expanded(self, index: QModelIndex) -> None:
        n = index.data(NODE_ROLE)
        if isinstance(n, TreeNode):
            self._expanded.add((n.level, n.uid))

    @Slot(QModelIndex)
    def _on_tree_collapsed(self, index: QModelIndex) -> None:
        n = index.data(NODE_ROLE)
        if isinstance(n, TreeNode):
            self._expanded.discard((n.level, n.uid))

    @Slot()
    def _on_selection_changed(self, *args: Any) -> None:
        nodes = self.selected_nodes()
        self.btn_delete.setEnabled(bool(nodes))
        self.btn_open.setEnabled(any(n.level in ("study", "series") for n in nodes))

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
    """Archive jobs for the browser and File > Import into archive (GUI thread)."""

    changed = Signal()  # the archive was modified by this process
    importsDone = Signal()  # no import is running any more

    def __init__(
        self,
        *,
        root: Path,
        archive_kw: dict[str, Any],
        runner: JobRunner,
        bridge: JobBridge,
        browser: ArchiveBrowser,
        errors: ErrorPresenter,
        open_paths: Callable[[list[str]], None],
        parent_widget: QWidget | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.root, self.archive_kw = root, archive_kw
        self.runner, self.browser, self.errors = runner, browser, errors
        self.open_paths, self.parent_widget = open_paths, parent_widget
        self.confirm: Callable[[str, str], bool] = self.ask
        self.handle = ArchiveHandle(root, **archive_kw)
        self._jobs: dict[int, str] = {}  # job id -> "load" | "import" | "delete" | "open"
        # While the SCP process starts it sweeps the archive's temp folder: an import
        # writing temp files then would lose them, so imports wait (see hold_imports).
        self._held = False
        self._waiting: list[list[str]] = []
        self._load_job: int | None = None
        self._load_again = False
        self.loads = 0  # finished loads (tests)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(700)
        self._debounce.timeout.connect(self.refresh)
        bridge.jobFinished.connect(self._on_bridge_job_finished)
        browser.refreshRequested.connect(self.refresh)
        browser.deleteRequested.connect(self._on_browser_delete_requested)
        browser.openRequested.connect(self._on_browser_open_requested)

    def close(self) -> None:
        """After the runner has stopped: close the index writer."""
        self._debounce.stop()
        self.handle.close()

    def _submit(self, kind: str, name: str, fn: Callable[[JobContext], Any]) -> int:
        # loading the tree and looking up paths are housekeeping: not listed as jobs
        job = self.runner.submit(
            fn,
            name=name,
            lane="io",
            quiet=kind in ("load", "open"),
            summarize=describe_archive_result,
        )
        self._jobs[job.id] = kind
        return job.id

    # ------------------------------------------------------------------ actions
    @Slot()
    def refresh(self) -> None:
        if self._load_job is not None:
            self._load_again = True
            return
        h = self.handle
        self._load_job = self._submit(
            "load", "Archive: load index", lambda ctx: load_tree(h.get().reader())
        )

    def refresh_soon(self) -> None:
        """Debounced: many associations closing reload the tree once."""
        self._debounce.start()

    def hold_imports(self) -> None:
        self._held = True

    def release_imports(self) -> None:
        self._held = False
        waiting, self._waiting = self._waiting, []
        for paths in waiting:
            self.import_paths(paths)

    def importing(self) -> bool:
        return "import" in self._jobs.values()

    def import_paths(self, paths: list[str]) -> int:
        """Submit an import; 0 when it waits for the local SCP to finish starting."""
        if self._held:
            self._waiting.append(list(paths))
            self.errors.info("The import starts once the local SCP has started.")
            return 0
        what = paths[0] if len(paths) == 1 else f"{len(paths)} items"
        h, files = self.handle, [Path(p) for p in paths]
        return self._submit(
            "import",
            f"Import into archive: {what}",
            lambda ctx: import_paths(h.get(), files, ctx),
        )

    def ask(self, title: str, text: str) -> bool:
        return ask(self.parent_widget, title, text, warning=True)

    @Slot(list)
    def _on_browser_delete_requested(self, nodes: list[TreeNode]) -> None:
        studies = [s.uid for n in nodes if n.level == "patient" for s in n.children]
        studies += [n.uid for n in nodes if n.level == "study"]
        series = [n.uid for n in nodes if n.level == "series"]
        images = sum(n.images for n in nodes if n.level != "series" or n.parent not in nodes)
        size = sum(n.size for n in nodes if n.level != "series" or n.parent not in nodes)
        names = "\n".join(f"{n.level}: {n.name}" for n in nodes[:10])
        more = f"\n… and {len(nodes) - 10} more" if len(nodes) > 10 else ""
        text = (
            f"Delete {len(nodes)} selected row(s) ({images} images, {fmt_size(size)}) from "
            f"the archive?\n\n{names}{more}\n\nThe files are removed from disk; this cannot "
            "be undone."
        )
        if not self.confirm("Delete from archive", text):
            return

        h = self.handle

        def run(ctx: JobContext) -> _Deleted:
            a = h.get()
            n = a.delete("study", studies) if studies else 0
            return _Deleted(n + (a.delete("series", series) if series else 0))

        self._submit("delete", f"Archive: delete {len(nodes)} row(s)", run)

    @Slot(object)
    def _on_browser_open_requested(self, node: TreeNode) -> None:
        level, uid, h = node.level, node.uid, self.handle

        def run(ctx: JobContext) -> list[str]:
            a = h.get()
            return [str(a.path_of(rel)) for _, rel in a.instance_paths(level, [uid])]

        self._submit("open", f"Archive: open {level} in viewer", run)

    # ------------------------------------------------------------------ results
    @Slot(object)
    def _on_bridge_job_finished(self, ev: JobFinished) -> None:
        kind = self._jobs.pop(ev.job_id, None)
        if kind is None:
            return
        failed = ev.state is JobState.FAILED
        if kind == "load":
            self._load_job = None
            self.loads += 1
            if failed:
                self.errors.present(f"Cannot read the archive index: {ev.error}")
                self.browser.summary.setText("Archive: the index could not be read")
            elif ev.state is JobState.SUCCEEDED:
                self.browser.set_tree(ev.result)
            if self._load_again:
                self._load_again = False
                self.refresh()
        elif kind == "import":
            self._import_done(ev)
            if not self.importing():
                self.importsDone.emit()
        elif kind == "delete":
            if failed:
                self.errors.present(f"Delete from the archive failed: {ev.error}", user_action=True)
            else:
                self.errors.info(f"Deleted {ev.result.instances} image(s) from the archive.")
            self.changed.emit()
            self.refresh()
        elif kind == "open":
            if failed:
                self.errors.present(f"Cannot open from the archive: {ev.error}", user_action=True)
            elif ev.state is JobState.SUCCEEDED and ev.result:
                self.open_paths(ev.result)

    def _import_done(self, ev: JobFinished) -> None:
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
