"""A retrieve job of the window: the worker's function and what it needs (Qt-free).

:func:`run_retrieve` asks the PACS what the selection holds (its ``Expected`` is reported
as a partial, so the panel shows the count before the first instance), runs the core's
``move`` or ``get`` (or ``retry_missing``) and audits the result.  Its progress comes
from the core (``RetrieveProgress`` partials with the archive's count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.retrieve_account import audit_retrieve
from pacsadmin.core.dimse.retrieve_model import Expected, Item, RetrieveResult, Selection
from pacsadmin.core.jobs import JobContext
from pacsadmin.core.node_service import passphrase_for
from pacsadmin.core.nodes import DicomNode, NodeDirectory
from pacsadmin.core.secrets import SecretStore


@dataclass(frozen=True)
class RetrieveSpec:
    """Everything a retrieve job needs: plain values, never a QObject."""

    local: LocalAE
    node: DicomNode
    items: tuple[Item, ...]
    method: str
    dest_ae: str | None  # None: this computer
    to_archive: bool
    archive: Any  # ArchiveHandle (opens the archive on the worker)
    nodes: NodeDirectory
    secrets: SecretStore
    audit: AuditLog
    scp_config: Any
    previous: RetrieveResult | None = None  # retry the missing instances of this


def describe_retrieve(result: Any) -> tuple[str, bool | None]:
    """The Jobs panel's one line for a retrieve."""
    if not isinstance(result, RetrieveResult):
        return "", None
    text = result.sentence
    if result.expected is not None and result.received is not None:
        text = f"{result.received}/{result.expected} in the archive · {text}"
    return text, result.ok


def run_retrieve(spec: RetrieveSpec, ctx: JobContext) -> RetrieveResult:
    """The worker's function (core calls only)."""
    from pacsadmin.core.dimse.retrieve import get, move, retry_missing
    from pacsadmin.core.dimse.retrieve_account import learn_expected

    ctx.progress(0, None, "Asking the PACS what the selection holds…")
    pw = passphrase_for(spec.secrets, spec.node)
    archive = spec.archive.get() if spec.to_archive else None
    move_kw: dict[str, Any] = {"nodes": spec.nodes, "scp_config": spec.scp_config}
    if spec.previous is not None:
        prev = spec.previous
        ctx.report(Expected((), prev.missing_items, len(prev.missing_items), how="missing before"))
        ctx.progress(0, len(prev.missing_items), "Retrieving the missing instances…")
        r = retry_missing(
            spec.local,
            spec.node,
            prev,
            ctx=ctx,
            archive=archive,
            passphrase=pw,
            **(move_kw if prev.method == "C-MOVE" else {}),
        )
    else:
        sel = Selection(spec.items)
        exp = learn_expected(spec.local, spec.node, sel, ctx=ctx, passphrase=pw)
        ctx.report(exp)
        ctx.progress(0, exp.count, "Retrieving…")
        if spec.method == "C-GET":
            r = get(
                spec.local, spec.node, sel, archive=archive, ctx=ctx, passphrase=pw, expected=exp
            )
        else:
            r = move(
                spec.local,
                spec.node,
                sel,
                ctx=ctx,
                dest_ae=spec.dest_ae,
                archive=archive,
                passphrase=pw,
                expected=exp,
                **move_kw,
            )
    audit_retrieve(spec.audit, r, **{"from": "window"})
    return r
