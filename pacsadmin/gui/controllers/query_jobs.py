"""The Query panel's worker side: the job function a query runs as, and what it returns.

Plain Python, never a QObject (it runs on the ``dimse`` lane).  Each match becomes a
finished table row on the worker (``core/dimse/find_table.py``) and rows go to the GUI
in lists; :class:`Throttle` lets the GUI thread hold the worker back while it appends
rows and repaints (see :class:`Throttle`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.dimse.find_result import FindMatch, FindResult
from pacsadmin.core.dimse.find_table import FindRow, make_row
from pacsadmin.core.jobs import (
    JobContext,
    JobEvent,
    JobFinished,
    JobPartial,
    JobProgress,
)
from pacsadmin.core.nodes import DicomNode
from pacsadmin.core.secrets import SecretStore
from pacsadmin.gui.text import one_line


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
        self.ctx, self.columns, self.level, self.throttle = (
            ctx,
            columns,
            level,
            throttle,
        )
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
            details={
                "query": result.query,
                "count": len(result.matches),
                "status": result.status,
            },
        )
        return QueryDone(replace(result, matches=()), len(result.matches), result.unreadable, days)

    return run


def no_result(ev: JobFinished, node: DicomNode, query: FindQuery) -> FindResult:
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
