"""Retrieve as SCU: C-MOVE (PS3.4 C.4.2) and C-GET (C.4.3), with accounting you can trust.

:func:`move` and :func:`get` each open their own association (``retrieve_run.py``),
report progress from the pending responses through ``ctx.progress`` and ``ctx.report``
(:class:`~pacsadmin.core.dimse.retrieve_model.RetrieveProgress`), and return a
:class:`~pacsadmin.core.dimse.retrieve_model.RetrieveResult`.  They never raise for what
the network or the peer does.

Accounting: before the retrieve the PACS is asked by C-FIND what the selection holds
(``retrieve_account.py``); after it, the archive's index is read for those SOP Instance
UIDs, waiting a grace period for a PACS that sends late (an asynchronous C-MOVE); the
instances not there are listed, and :func:`retry_missing` asks for exactly those, at
instance level.

A C-MOVE to the local node needs a listener: when no local SCP runs on the configured
port, one is started into the archive for the move and stopped after it
(``retrieve_listener.py``); the result says so.
"""

from __future__ import annotations

import time
from typing import Any

from pacsadmin.core.dimse import retrieve_explain
from pacsadmin.core.dimse.association import LocalAE, calling_ae
from pacsadmin.core.dimse.retrieve_account import (
    LATE_GRACE,
    learn_expected,
    present,
    wait_for_late,
)
from pacsadmin.core.dimse.retrieve_model import (
    Expected,
    Item,
    Receiver,
    RetrieveProgress,
    RetrieveResult,
    Selection,
    retry_items,
)
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.jobs import JobContext
from pacsadmin.core.nodes import DicomNode

CANCEL_GRACE = 5.0  # seconds a PACS gets to answer a C-CANCEL before the connection closes


class _Progress:
    """Pending responses -> ctx.progress and ctx.report, with the archive's count
    (read at most every 0.5 s: the index is not asked once per response)."""

    def __init__(self, ctx: JobContext, archive: Any, uids: list[str], since: float, total: Any):
        self.ctx, self.archive, self.uids, self.since = ctx, archive, uids, since
        self.total = total
        self._t = 0.0
        self.received: int | None = None

    def __call__(self, p: RetrieveProgress) -> None:
        if self.archive is not None and self.uids and time.monotonic() - self._t > 0.5:
            self._t = time.monotonic()
            found, old = present(self.archive, self.uids, self.since)
            self.received = len(found) - old
        p = RetrieveProgress(p.remaining, p.completed, p.failed, p.warning, self.received)
        total = self.total
        if total is None and p.remaining is not None:
            total = p.remaining + p.completed + p.failed + p.warning
        done = p.completed + p.failed + p.warning
        msg = f"{p.completed} completed, {p.failed} failed"
        if p.remaining is not None:
            msg += f", {p.remaining} remaining"
        if p.received is not None:
            msg += f"; {p.received} received here"
        self.ctx.progress(done, total, msg)
        self.ctx.report(p)


def move(
    local: LocalAE,
    node: DicomNode,
    selection: Selection,
    *,
    ctx: JobContext,
    dest_ae: str | None = None,
    archive: Any = None,
    passphrase: str | None = None,
    timeout: float | None = None,
    cancel_grace: float = CANCEL_GRACE,
    late_grace: float = LATE_GRACE,
    bind: str = "",
    nodes: Any = None,
    expected: Expected | None = None,
    scp_config: Any = None,
) -> RetrieveResult:
    """C-MOVE ``selection`` from ``node`` to ``dest_ae`` (default: this node's AE title,
    into ``archive``, which is then required).  ``bind``: the address a receiver started
    for the move listens on ("" all); ``scp_config``: that receiver's configuration (the
    settings' access rules; ``nodes`` is the directory its whitelist reads)."""
    opts = _opts(passphrase, timeout, cancel_grace, late_grace)
    dest = (dest_ae or local.ae_title).strip()
    to_local = dest == local.ae_title
    if to_local and archive is None:
        raise ValueError("a C-MOVE to the local node needs the archive")
    t0, since = time.perf_counter(), time.time()
    exp = expected or learn_expected(
        local, node, selection, ctx=ctx, passphrase=passphrase, timeout=timeout
    )
    if not to_local:
        return _go("C-MOVE", local, node, selection, exp, ctx, None, dest, None, opts)
    from pacsadmin.core.dimse.retrieve_listener import ListenerError, local_receiver

    try:
        with local_receiver(local, archive, bind=bind, nodes=nodes, config=scp_config) as (
            receiver,
            _,
        ):
            return _go("C-MOVE", local, node, selection, exp, ctx, archive, dest, receiver, opts)
    except ListenerError as exc:
        return _result(
            "C-MOVE",
            local,
            node,
            selection,
            dest,
            Outcome.FAILURE,
            None,
            "No listener for the move: " + str(exc),
            expected=exp.count,
            expected_how=exp.how,
            elapsed_ms=(time.perf_counter() - t0) * 1000,
            _since=since,
        )


def get(
    local: LocalAE,
    node: DicomNode,
    selection: Selection,
    *,
    archive: Any,
    ctx: JobContext,
    passphrase: str | None = None,
    timeout: float | None = None,
    cancel_grace: float = CANCEL_GRACE,
    late_grace: float = 0.0,
    expected: Expected | None = None,
) -> RetrieveResult:
    """C-GET ``selection`` from ``node`` into ``archive`` (the instances come over the
    same association: no listener, no firewall opening, no registration at the PACS)."""
    opts = _opts(passphrase, timeout, cancel_grace, late_grace)
    exp = expected or learn_expected(
        local, node, selection, ctx=ctx, passphrase=passphrase, timeout=timeout
    )
    return _go("C-GET", local, node, selection, exp, ctx, archive, "", None, opts)


def retry_missing(
    local: LocalAE,
    node: DicomNode,
    previous: RetrieveResult,
    *,
    ctx: JobContext,
    archive: Any = None,
    **kw: Any,
) -> RetrieveResult:
    """Ask again for only the instances ``previous`` found missing: a whole series (or
    study) when all of it is missing, else instance by instance."""
    items = retry_items(previous.instances, previous.missing_items)
    sel = Selection(items)
    exp = Expected(items, previous.missing_items, len(previous.missing_items), how="missing before")
    if previous.method == "C-GET":
        return get(local, node, sel, archive=archive, ctx=ctx, expected=exp, **kw)
    return move(
        local, node, sel, ctx=ctx, dest_ae=previous.destination, archive=archive, expected=exp, **kw
    )


def _opts(
    passphrase: str | None, timeout: float | None, cancel_grace: float, late_grace: float
) -> dict[str, Any]:
    return {
        "passphrase": passphrase,
        "timeout": timeout,
        "cancel_grace": cancel_grace,
        "late_grace": late_grace,
    }


def _go(
    method: str,
    local: LocalAE,
    node: DicomNode,
    selection: Selection,
    exp: Expected,
    ctx: JobContext,
    archive: Any,
    dest: str,
    receiver: Receiver | None,
    kw: dict[str, Any],
) -> RetrieveResult:
    from pacsadmin.core.dimse import retrieve_run

    t0, since = time.perf_counter(), time.time()
    uids = [i.instance for i in exp.instances]
    already: set[str] = set()
    if archive is not None and uids:
        already, _ = present(archive, uids, since)
    prog = _Progress(ctx, archive, uids, since, exp.count)
    items = exp.items if all(i.complete for i in exp.items) else selection.items
    raw = retrieve_run.run(
        method,
        local,
        node,
        items,
        ctx=ctx,
        dest_ae=dest,
        archive=archive,
        sop_classes=exp.sop_classes,
        passphrase=kw.get("passphrase"),
        timeout=kw.get("timeout"),
        cancel_grace=kw.get("cancel_grace", CANCEL_GRACE),
        on_progress=prog,
    )
    received: int | None = None
    missing: list[Item] = []
    if archive is not None and uids:
        grace = kw.get("late_grace", 0.0) if raw.refused is None and not ctx.cancelled else 0.0
        found, _ = wait_for_late(archive, uids, since, grace, ctx)
        received = len(found)
        missing = [i for i in exp.instances if i.instance not in found]
    outcome, sentence, advice = retrieve_explain.explain(
        method, raw, node, local, dest, receiver, exp, received, len(already), ctx.cancelled
    )
    return _result(
        method,
        local,
        node,
        selection,
        dest,
        outcome,
        raw.final,
        sentence,
        advice=advice,
        completed=raw.completed,
        failed=raw.failed,
        warning=raw.warning,
        remaining=raw.remaining,
        failed_uids=tuple(raw.failed_uids),
        expected=exp.count,
        expected_how=exp.how or exp.problem,
        received=received,
        already_had=len(already),
        missing=tuple(i.instance for i in missing),
        missing_items=tuple(missing),
        instances=exp.instances,
        local_address=raw.local_address,
        receiver=receiver,
        cancelled=ctx.cancelled,
        msg_id=raw.msg_id,
        cancel_msg_id=raw.msg_id if raw.cancel_sent else None,
        aborted=raw.aborted,
        elapsed_ms=(time.perf_counter() - t0) * 1000,
        transcript=raw.transcript,
    )


def _result(
    method: str,
    local: LocalAE,
    node: DicomNode,
    selection: Selection,
    dest: str,
    outcome: Outcome,
    status: int | None,
    sentence: str,
    _since: float = 0.0,
    **kw: Any,
) -> RetrieveResult:
    return RetrieveResult(
        method=method,
        node_name=node.name,
        target=f"{node.ae_title}@{node.host}:{node.port} (calling AE {calling_ae(local, node)})",
        destination=dest,
        selection=selection.describe(),
        outcome=outcome,
        status=status,
        sentence=sentence,
        **kw,
    )
