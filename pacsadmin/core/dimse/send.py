"""C-STORE as SCU: the send tool (PS3.4 B.2; PS3.7 9.1.1 and 9.3.1).

:func:`send` expands its inputs (files, folders, DICOMDIRs, an archive selection's paths:
``send_files.py``), proposes one presentation context per (SOP class, transfer syntax)
pair of the files, at most 128 an association (``send_plan.py``), and sends each file in
its own transfer syntax straight from the file: the fast sender (``store_fast.py``) writes
the data set after the file meta group into P-DATA fragments in large blocks on the
association pynetdicom negotiated, never decoding it, and reads each response from its
bytes (``fast=False``: pynetdicom's chunked ``send_c_store`` instead, 115-123 images/s).
A file whose compressed syntax the peer refused is decompressed to Explicit VR Little
Endian (through pynetdicom) when ``decompress_if_needed`` is on, and fails with a
sentence saying so when it is off; never silently.

It never raises for what the files, the network or the peer do: every file gets a
:class:`~pacsadmin.core.dimse.send_result.FileResult` (reported through ``ctx.report`` as
it is known), progress goes through ``ctx.progress`` with counts and bytes.  A lost
association (the peer's A-ABORT, a closed connection, a DIMSE timeout) fails the file
being sent and the rest are sent over a new association; when that cannot be opened they
are reported as not sent, with the reason.  Cancel: between files at once; a file being
sent gets :data:`CANCEL_GRACE` seconds to finish, then the connection is closed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from pacsadmin.core.dimse import _pynetdicom
from pacsadmin.core.dimse.association import LocalAE, effective_timeouts
from pacsadmin.core.dimse.send_files import SendItem, collect
from pacsadmin.core.dimse.send_plan import Batch, plan
from pacsadmin.core.dimse.send_result import (
    FileResult,
    FileState,
    SendProgress,
    SendResult,
)
from pacsadmin.core.dimse.send_session import Session, row, uid_label
from pacsadmin.core.jobs import JobContext, null_context
from pacsadmin.core.nodes import DicomNode

CANCEL_GRACE = 5.0  # seconds a file being sent gets to finish after a cancel
MAX_LOST = 3  # associations lost in a row with nothing stored before the rest is given up


def send(
    local: LocalAE,
    node: DicomNode,
    files: Iterable[str | os.PathLike[str]],
    *,
    ctx: JobContext | None = None,
    decompress_if_needed: bool = False,
    passphrase: str | None = None,
    timeout: float | None = None,
    cancel_grace: float = CANCEL_GRACE,
    fast: bool = True,
) -> SendResult:
    """Send ``files`` (files, folders, DICOMDIRs) to ``node``; see the module's text."""
    ctx = ctx or null_context()
    t_start = time.perf_counter()
    items, skipped = collect(files)
    rows: list[FileResult] = []
    for sk in skipped:
        row = FileResult(sk.path, FileState.SKIPPED, meaning=sk.reason)
        rows.append(row)
        ctx.report(row)
    run = Run(local, node, ctx, decompress_if_needed, passphrase, timeout, cancel_grace)
    run.fast = fast
    run.start(items)
    for batch in plan(items, decompress_if_needed):
        run.batch(batch)
    rows += run.rows
    return SendResult(
        node=node,
        local=local,
        files=tuple(rows),
        associations=run.associations,
        elapsed_s=time.perf_counter() - t_start,
        cancelled=ctx.cancelled,
        decompress_if_needed=decompress_if_needed,
    )


def resend_failed(
    result: SendResult,
    *,
    ctx: JobContext | None = None,
    passphrase: str | None = None,
    decompress_if_needed: bool | None = None,
) -> SendResult:
    """Send again only the files of ``result`` that failed or were not sent (not the
    skipped ones: they are not DICOM, or damaged), to the same node."""
    return send(
        result.local,
        result.node,
        [f.path for f in result.resendable],
        ctx=ctx,
        decompress_if_needed=result.decompress_if_needed
        if decompress_if_needed is None
        else decompress_if_needed,
        passphrase=passphrase,
    )


class Run:
    """One send: the batches in sequence, the rows, the progress."""

    def __init__(
        self,
        local: LocalAE,
        node: DicomNode,
        ctx: JobContext,
        decompress: bool,
        passphrase: str | None,
        timeout: float | None,
        grace: float,
    ) -> None:
        self.local, self.node, self.ctx = local, node, ctx
        self.decompress, self.passphrase, self.grace = decompress, passphrase, grace
        self.t = effective_timeouts(local, node, timeout)
        self.rows: list[FileResult] = []
        self.associations = 0
        self.given_up: str | None = None  # why the rest is not sent
        self.fast = True  # the fast sender for files sent as they are (store_fast.py)
        self.t0 = time.perf_counter()
        self.total = self.bytes_total = self.bytes_done = self.failed = 0

    def start(self, items: list[SendItem]) -> None:
        self.total = len(items)
        self.bytes_total = sum(i.size for i in items)
        # process-wide, and left on: from now on every send_c_store(path) in this process
        # sends the file's bytes as they are (and needs a context with the file's own
        # transfer syntax); code that wants pynetdicom's conversion passes a Dataset
        _pynetdicom.set_chunked_send(True)

    def add(self, row: FileResult) -> None:
        self.rows.append(row)
        self.bytes_done += row.size
        if not row.ok:
            self.failed += 1
        self.ctx.report(row)
        p = SendProgress(
            len(self.rows),
            self.total,
            self.bytes_done,
            self.bytes_total,
            time.perf_counter() - self.t0,
            self.failed,
        )
        self.ctx.progress(p.done, p.total, p.message())

    def not_sent(self, items: Iterable[SendItem], why: str) -> None:
        for item in items:
            self.add(row(item, FileState.NOT_SENT, meaning=why))

    def batch(self, batch: Batch) -> None:
        pending = list(batch.items)
        lost_in_a_row = 0
        while pending:
            if self.given_up is None and self.ctx.cancelled:
                self.given_up = "Not sent: cancelled by the user."
            if self.given_up is not None:
                self.not_sent(pending, self.given_up)
                return
            session = Session(self, batch)
            self.associations += 1
            try:
                why = session.open()
                if why is not None:
                    if session.refused_all:
                        for item in pending:
                            self.add(session.refused(item))
                        return
                    self.given_up = f"Not sent: {why}"
                    continue
                stored_before = len([r for r in self.rows if r.ok])
                while pending and not self.ctx.cancelled:
                    if not session.up:  # lost between files: the next one goes over a new one
                        break
                    row, alive = session.send_one(pending[0])
                    pending.pop(0)
                    self.add(row)
                    if not alive:
                        break
                if pending and not self.ctx.cancelled:  # the association was lost
                    stored = len([r for r in self.rows if r.ok]) - stored_before
                    lost_in_a_row = 0 if stored else lost_in_a_row + 1
                    if lost_in_a_row >= MAX_LOST:
                        self.given_up = (
                            f"Not sent: the association was lost {MAX_LOST} times in a row "
                            "without storing a file; giving up."
                        )
            finally:
                session.close()


__all__ = ["CANCEL_GRACE", "resend_failed", "send", "uid_label"]
