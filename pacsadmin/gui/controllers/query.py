"""The Query panel's controller: every C-FIND, archive mark, CSV export and recent-query
save as a background job; the panel only shows what it is given.

A query runs on the ``dimse`` lane (its worker side: ``query_jobs.py``).  When it ends,
the rows' archive marks (all / some / none) are read from the index on the ``io`` lane.
Every query has a generation: the batches and the end of a query the user has replaced
are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.find_form import QueryForm, save_recent
from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.dimse.find_split import day_queries
from pacsadmin.core.dimse.find_table import (
    FindRow,
    columns_for,
    drill_down,
    remote_count,
    to_csv,
)
from pacsadmin.core.errors import ValidationError
from pacsadmin.core.jobs import Job, JobContext, JobFinished
from pacsadmin.core.nodes import DicomNode, parse_target
from pacsadmin.core.secrets import SecretStore
from pacsadmin.gui.controllers.query_jobs import (
    QueryDone,
    Throttle,
    describe_find,
    find_job,
    no_result,
)
from pacsadmin.gui.errors import ErrorPresenter
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.widgets.query_panel import QueryPanel


class QueryController(QObject):
    def __init__(
        self,
        *,
        local: LocalAE,
        secrets: SecretStore,
        audit: AuditLog,
        settings_file: Path,
        recent: tuple[dict[str, Any], ...],
        bridge: JobBridge,
        panel: QueryPanel,
        archive: Any,  # controllers.archive.ArchiveHandle: .get() -> Archive (workers only)
        nodes: Callable[[], list[DicomNode]],
        errors: ErrorPresenter,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.local, self.secrets, self.audit = local, secrets, audit
        self.settings_file, self.bridge, self.panel = settings_file, bridge, panel
        self.archive, self.nodes, self.errors = archive, nodes, errors
        self.job: Job[Any] | None = None
        self._gen = 0
        self._closed = False
        self.finished = 0  # queries ended (tests)
        self.marked = 0  # archive marks applied (tests)
        self._show_recent(recent)
        panel.searchRequested.connect(self.search)
        panel.recentChosen.connect(self.search)
        panel.cancelRequested.connect(self.cancel)
        panel.drillRequested.connect(self.drill)
        panel.splitRequested.connect(self.split)
        panel.exportRequested.connect(self.export_csv)

    def close(self) -> None:
        self._closed = True
        self.cancel()

    # ------------------------------------------------------------------ asking
    def resolve(self, text: str) -> DicomNode:
        """A directory node by name, or an ad-hoc AET@HOST:PORT (ValidationError)."""
        text = text.strip()
        if not text:
            raise ValidationError("node", "Pick a node from the directory, or type AET@HOST:PORT.")
        for n in self.nodes():
            if n.name.casefold() == text.casefold():
                return n
        node = parse_target(text)
        if node is None:
            raise ValidationError(
                "node",
                f"{text!r} is neither a node in the directory nor AET@HOST:PORT.",
            )
        return node

    def search(self, form: QueryForm) -> Job[Any] | None:
        """The form's query (a readable message for bad input, before any traffic)."""
        try:
            node = self.resolve(form.node)
            query = form.to_query()
            columns = columns_for(query)
        except ValidationError as exc:
            self.panel.show_error(str(exc))
            return None
        self._save_recent(form)
        return self.run(node, query, columns, self._title(node, query))

    def drill(self, row: FindRow) -> Job[Any] | None:
        page = self.panel.page
        if page.query is None or page.node is None or self.panel.running:
            return None
        q = drill_down(page.query, row.match)
        if q is None:
            self.panel.show_error("This row cannot be opened: it is the lowest level, or it "
                                  "lacks its unique key (the PACS did not return it).")  # fmt: skip
            return None
        uid = row.uid or "?"
        title = f"{self._title(page.node, q)} under {uid}"
        return self.run(page.node, q, columns_for(q), title, drill=True)

    def split(self) -> Job[Any] | None:
        page = self.panel.page
        if page.query is None or page.node is None or self.panel.running:
            return None
        try:
            day_queries(page.query)
        except ValidationError as exc:
            self.panel.show_error(str(exc))
            return None
        title = f"{self._title(page.node, page.query)}, day by day"
        return self.run(page.node, page.query, page.columns, title, split=True)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    @staticmethod
    def _title(node: DicomNode, q: FindQuery) -> str:
        return f"{node.name or node.address} · {q.describe()}"

    # ------------------------------------------------------------------ running
    def run(self, node: DicomNode, query: FindQuery, columns: Any, title: str, *,
            drill: bool = False, split: bool = False) -> Job[Any] | None:  # fmt: skip
        if self._closed:
            return None
        self.cancel()
        self._gen += 1
        gen = self._gen
        self.panel.begin(node, query, tuple(columns), title, drill=drill)
        throttle = Throttle()
        self.panel.before_append = throttle.hold
        try:
            day_queries(query)
            can_split = not split
        except ValidationError:
            can_split = False

        def partials(chunks: list[Any]) -> None:
            if gen == self._gen:
                self.panel.append([row for chunk in chunks for row in chunk])

        def done(ev: JobFinished) -> None:
            if gen != self._gen:
                return
            self.job = None
            self.finished += 1
            out = ev.result
            if isinstance(out, QueryDone):
                self.panel.finish(out.result, count=out.count, unreadable=out.unreadable,
                                  split_days=out.days, can_split=can_split)  # fmt: skip
                self._mark(query)
            else:
                self.panel.finish(no_result(ev, node, query))

        self.job = self.bridge.submit(
            find_job(
                self.local,
                self.secrets,
                self.audit,
                node,
                query,
                columns,
                split=split,
                throttle=throttle,
            ),
            name=f"Find {node.name or node.address}" + (" day by day" if split else ""),
            node=node.name or node.address,
            lane="dimse",
            summarize=describe_find,
            on_partials=partials,
            on_done=done,
        )
        return self.job

    def _mark(self, query: FindQuery) -> None:
        """The rows' archive marks, read from the index on the io lane."""
        level = query.level
        page = self.panel.page
        rows = tuple(self.panel.model.rows())
        if self._closed or query.model == "worklist" or not level or not rows:
            return
        handle = self.archive

        def work(ctx: JobContext) -> dict[int, str]:
            from pacsadmin.core.archive.presence import marks

            con = handle.get().reader()
            got = marks(con, level, [(r.uid, remote_count(level, r.match)) for r in rows])
            return {r.match.index: m for r, m in zip(rows, got, strict=True)}

        def done(ev: JobFinished) -> None:
            if not isinstance(ev.result, dict):
                if ev.error:
                    self.errors.present(f"Cannot read the archive index: {ev.error}")
                return
            if self.panel.page is page:
                self.panel.set_marks(ev.result)
            else:
                page.marks = ev.result  # shown when Back returns to it
            self.marked += 1

        self.bridge.submit(work, name="Query: archive marks", lane="io", quiet=True,
                           on_done=done)  # fmt: skip

    # ------------------------------------------------------------------ files
    def export_csv(self, path: str) -> Job[Any] | None:
        if self._closed:
            return None
        model = self.panel.model
        columns, rows, marks = model.columns, tuple(model.rows()), model.marks()

        def work(ctx: JobContext) -> int:
            from pacsadmin.core.fileio import atomic_write_text

            local = [marks.get(r.match.index, "") for r in rows] if marks else []
            atomic_write_text(Path(path), to_csv(columns, rows, local), mode=0o644)
            return len(rows)

        def done(ev: JobFinished) -> None:
            if isinstance(ev.result, int):
                self.errors.info(f"{ev.result} row(s) exported to {path}.")
            else:
                self.errors.present(f"Cannot export to {path}: {ev.error}", user_action=True)

        return self.bridge.submit(work, name="Query: export CSV", lane="io", quiet=True,
                                  on_done=done)  # fmt: skip

    def _save_recent(self, form: QueryForm) -> None:
        settings_file = self.settings_file

        def done(ev: JobFinished) -> None:
            if isinstance(ev.result, tuple):
                self._show_recent(ev.result)
            elif ev.error:
                self.errors.present(f"Cannot save the recent queries: {ev.error}")

        self.bridge.submit(lambda ctx: save_recent(settings_file, form),
                           name="Query: recent queries", lane="io", quiet=True,
                           on_done=done)  # fmt: skip

    def _show_recent(self, recent: tuple[dict[str, Any], ...]) -> None:
        forms = [f for f in (QueryForm.from_json(r) for r in recent) if f is not None]
        self.panel.form.set_recent(forms)
