"""The Query panel's controller: every C-FIND, archive mark, CSV export and recent-query
save as a background job; the panel only shows what it is given.

A query runs on the ``dimse`` lane.  Its worker turns each match into a finished table
row (``core/dimse/find_table.py``) before reporting it, so the GUI thread only appends
the bridge's batches.  When it ends, the rows' archive marks (all / some / none) are
read from the index on the ``io`` lane.  Every query has a generation: the batches and
the end of a query the user has replaced are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.find_form import QueryForm, save_recent
from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.dimse.find_result import FindMatch, FindResult
from pacsadmin.core.dimse.find_split import day_queries
from pacsadmin.core.dimse.find_table import (
    FindRow,
    columns_for,
    drill_down,
    make_row,
    remote_count,
    to_csv,
)
from pacsadmin.core.errors import ValidationError
from pacsadmin.core.jobs import Job, JobContext, JobEvent, JobFinished, JobPartial, JobProgress
from pacsadmin.core.nodes import DicomNode, parse_target
from pacsadmin.core.secrets import SecretStore
from pacsadmin.gui.errors import ErrorPresenter
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.text import one_line
from pacsadmin.gui.widgets.query_panel import QueryPanel


@dataclass(frozen=True)
class QueryDone:
    """What a query job returns to the GUI: the result without its matches (they were
    streamed as rows; the runner keeps finished jobs' results for a while, and 10,000
    matches each would stay in the collector's sight), their counts, the days split."""

    result: FindResult
    count: int
    unreadable: int
    days: int = 0


def describe_find(done: Any) -> tuple[str, bool | None]:
    """The Jobs panel's one line for a query."""
    if isinstance(done, QueryDone):
        r = done.result
        text = f"{done.count} match{'es' if done.count != 1 else ''}; {r.sentence}"
        return text, r.ok
    return "", None


class Throttle:
    """Lets the GUI thread hold a query's worker back for a moment: the panel calls
    :meth:`hold` before it appends rows, and the worker sleeps until then at its next
    match.  While two threads want the GIL, every entry of the GUI thread into Python
    (a table repaint makes hundreds, one per visible cell) waits for the worker's switch
    interval: about 100 ms per repaint, measured.  With the worker asleep the append and
    the repaint that follows run at full speed.  ``until`` is one float: its reads and
    writes are atomic."""

    HOLD_S = 0.06

    def __init__(self) -> None:
        self.until = 0.0

    def hold(self) -> None:
        self.until = time.perf_counter() + self.HOLD_S

    def wait(self) -> None:
        pause = self.until - time.perf_counter()
        if pause > 0:
            time.sleep(min(pause, self.HOLD_S))


class _RowStream:
    """On the worker: each match becomes a table row; rows are reported in lists (one
    per CHUNK rows or per CHUNK_S) so the bridge carries a few hundred events, not
    10,000.  After each list the worker pauses PAUSE_S when it has worked WORK_S without
    one: a worker that decodes without pause takes the GIL back from the GUI thread
    every switch interval, and a repaint of the table calls into the model hundreds of
    times, each a wait for the GIL."""

    CHUNK, CHUNK_S, WORK_S, PAUSE_S = 250, 0.03, 0.004, 0.002

    def __init__(
        self, ctx: JobContext, columns: Any, level: str | None, throttle: Throttle
    ) -> None:
        self.ctx, self.columns, self.level, self.throttle = ctx, columns, level, throttle
        self.rows: list[FindRow] = []
        self.t_flush = self.t_pause = time.perf_counter()

    def __call__(self, ev: JobEvent) -> None:
        if isinstance(ev, JobPartial) and isinstance(ev.item, FindMatch):
            self.throttle.wait()
            self.rows.append(make_row(ev.item, self.columns, self.level, one_line))
            now = time.perf_counter()
            if len(self.rows) >= self.CHUNK or now - self.t_flush > self.CHUNK_S:
                self.flush()
                if now - self.t_pause > self.WORK_S:
                    time.sleep(self.PAUSE_S)
                    self.t_pause = time.perf_counter()
        elif isinstance(ev, JobProgress):
            self.ctx.progress(ev.done, ev.total, ev.message)

    def flush(self) -> None:
        if self.rows:
            rows, self.rows = self.rows, []
            self.ctx.report(rows)
        self.t_flush = time.perf_counter()


def find_job(
    local: LocalAE,
    secrets: SecretStore,
    audit: AuditLog,
    node: DicomNode,
    query: FindQuery,
    columns: Any,
    *,
    split: bool,
    throttle: Throttle | None = None,
) -> Callable[[JobContext], Any]:
    """The worker's function (plain values only, never a QObject): the query, each match
    reported as a :class:`FindRow`, the end audited."""

    def run(ctx: JobContext) -> Any:
        from pacsadmin.core.dimse.find import find
        from pacsadmin.core.dimse.find_split import find_by_day
        from pacsadmin.core.node_service import passphrase_for

        stream = _RowStream(ctx, columns, query.level, throttle or Throttle())
        inner = JobContext(ctx.job_id, ctx.token, stream)
        passphrase = passphrase_for(secrets, node)
        days = 0
        try:
            if split:
                out = find_by_day(local, node, query, ctx=inner, passphrase=passphrase)
                result, days = out.result, len(out.days)
            else:
                result = find(local, node, query, ctx=inner, passphrase=passphrase)
        finally:
            stream.flush()
        audit.record(
            "find",
            "success" if result.ok else "failure",
            node=node.name,
            target=node.address,
            summary=f"{len(result.matches)} matches; {result.sentence}",
            details={"query": result.query, "count": len(result.matches), "status": result.status},
        )
        return QueryDone(replace(result, matches=()), len(result.matches), result.unreadable, days)

    return run


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
                "node", f"{text!r} is neither a node in the directory nor AET@HOST:PORT."
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
                self.panel.finish(_no_result(ev, node, query))

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


def _no_result(ev: JobFinished, node: DicomNode, query: FindQuery) -> FindResult:
    """A FindResult for a job that ended without one (cancelled before it started, an
    internal error), so the panel says it the same way."""
    from pacsadmin.core.dimse.status import Outcome

    cancelled = ev.state.value == "cancelled"
    return FindResult(
        node_name=node.name,
        target=node.address,
        calling_ae="",
        query=query.describe(),
        matches=(),
        outcome=Outcome.CANCEL if cancelled else Outcome.FAILURE,
        status=None,
        sentence="Cancelled before the query was sent." if cancelled else (ev.error or "?"),
        cancelled=cancelled,
    )
