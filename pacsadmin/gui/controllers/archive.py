"""The archive's controller: every archive access of the window as a job on the ``io`` lane
(the archive's one writer; SQLite is never read on the GUI thread); each job's result
comes back to the callback that asked for it (``JobBridge.submit(on_done=...)``).  The
view is :class:`~pacsadmin.gui.widgets.archive_browser.ArchiveBrowser`, which only emits
signals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

from pacsadmin.core.archive import Archive
from pacsadmin.core.archive.browse import StudyRow, Totals, count_studies, list_series, list_studies
from pacsadmin.core.archive.importer import ImportReport, import_paths
from pacsadmin.core.format import format_size
from pacsadmin.core.jobs import Job, JobContext, JobFinished, JobState
from pacsadmin.gui.dialogs.confirm import ask
from pacsadmin.gui.errors import ErrorPresenter
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.models.archive_model import TreeNode
from pacsadmin.gui.widgets.archive_browser import ArchiveBrowser


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
