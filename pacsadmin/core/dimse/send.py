"""C-STORE as SCU: the send tool (PS3.4 B.2; PS3.7 9.1.1 and 9.3.1).

:func:`send` expands its inputs (files, folders, DICOMDIRs, an archive selection's paths:
``send_files.py``), proposes one presentation context per (SOP class, transfer syntax)
pair of the files, at most 128 an association (``send_plan.py``), and sends each file in
its own transfer syntax straight from the file: pynetdicom's chunked send reads the data
set after the file meta group and writes it into P-DATA fragments, never decoding it
(measured: 80 -> 115-123 images/s).  A file whose compressed syntax the peer refused is
decompressed to Explicit VR Little Endian when ``decompress_if_needed`` is on, and fails
with a sentence saying so when it is off; never silently.

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
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

from pacsadmin.core.dimse import _pynetdicom
from pacsadmin.core.dimse.association import LocalAE, associate, effective_timeouts, make_ae
from pacsadmin.core.dimse.probe import Failed, close_quietly, dns_step, tcp_step, tls_step
from pacsadmin.core.dimse.send_files import EXPLICIT_LE, SendItem, collect
from pacsadmin.core.dimse.send_plan import Batch, plan
from pacsadmin.core.dimse.send_result import (
    FileResult,
    FileState,
    SendProgress,
    SendResult,
)
from pacsadmin.core.dimse.status import Outcome, describe_abort, status_info
from pacsadmin.core.dimse.transcript import Transcript
from pacsadmin.core.jobs import JobContext, null_context
from pacsadmin.core.nodes import DicomNode
from pacsadmin.core.settings import Timeouts

CANCEL_GRACE = 5.0  # seconds a file being sent gets to finish after a cancel
MAX_LOST = 3  # associations lost in a row with nothing stored before the rest is given up
_names: dict[str, str] = {}


def uid_label(uid: str) -> str:
    """A UID's name from pydicom's dictionary (``CT Image Storage``), else the UID."""
    name = _names.get(uid)
    if name is None:
        from pydicom.uid import UID

        name = UID(uid).name or uid
        if len(_names) < 4096:
            _names[uid] = name
    return name


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
    run = _Run(local, node, ctx, decompress_if_needed, passphrase, timeout, cancel_grace)
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


class _Run:
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
        self.t0 = time.perf_counter()
        self.total = self.bytes_total = self.bytes_done = self.failed = 0

    def start(self, items: list[SendItem]) -> None:
        self.total = len(items)
        self.bytes_total = sum(i.size for i in items)
        _pynetdicom.set_chunked_send(True)  # only send_c_store(path) reads this setting

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
            self.add(_row(item, FileState.NOT_SENT, meaning=why))

    def batch(self, batch: Batch) -> None:
        pending = list(batch.items)
        lost_in_a_row = 0
        while pending:
            if self.given_up is None and self.ctx.cancelled:
                self.given_up = "Not sent: cancelled by the user."
            if self.given_up is not None:
                self.not_sent(pending, self.given_up)
                return
            session = _Session(self, batch)
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


class _Session:
    """One association of a send."""

    def __init__(self, run: _Run, batch: Batch) -> None:
        self.run, self.batch = run, batch
        self.t: Timeouts = run.t
        self.tr = Transcript(max_lines=200)
        self.assoc: Any = None
        self.sock: socket.socket | None = None
        self.accepted: set[tuple[str, str]] = set()
        self.refused_all = False
        self._timer: threading.Timer | None = None
        self._unhook: Any = None
        self._msg_id = 0

    def open(self) -> str | None:
        """None when established, else why not (one sentence)."""
        from pynetdicom import build_context, evt

        run, node = self.run, self.run.node
        try:
            _, (family, sockaddr) = dns_step(node.host, node.port, self.t.connect)
            _, sock = tcp_step(family, sockaddr, self.t.connect, run.ctx)
            if node.tls.enabled:
                _, sock, _ = tls_step(sock, node, node.host, self.t.connect, run.passphrase)
        except Failed as failed:
            return f"{failed.step.title} failed: {failed.step.detail}"
        self.sock = sock
        ae = make_ae(run.local, node, self.t, sock)
        contexts = [build_context(sop, [ts]) for sop, ts in self.batch.pairs]
        unhook = run.ctx.token.on_cancel(lambda: close_quietly(sock))
        try:
            self.assoc = associate(
                ae,
                node,
                contexts,
                self.tr,
                address=sockaddr[0],
                extra_handlers=[(evt.EVT_CONN_CLOSE, _pynetdicom.wake_on_close)],
            )
        finally:
            unhook()
        if not self.assoc.is_established:
            if run.ctx.cancelled:
                return "cancelled by the user."
            if self.tr.contexts and not any(c["result"] == 0 for c in self.tr.contexts):
                self.refused_all = True
                return "the peer accepted none of the presentation contexts."
            from pacsadmin.core.dimse.echo import association_failure

            step = association_failure(self.assoc, self.tr, node, run.local, self.t, 0.0)
            return f"the association was not accepted: {step.detail}"
        self.accepted = {
            (str(c.abstract_syntax), str(c.transfer_syntax[0]))
            for c in self.assoc.accepted_contexts
        }
        _quiet_transcript(self.assoc, self.tr)
        _pynetdicom.responses_to_the_caller(self.assoc)
        self._unhook = run.ctx.token.on_cancel(self._arm_grace)
        return None

    def _arm_grace(self) -> None:
        sock, grace = self.sock, self.run.grace
        if sock is None:
            return
        self._timer = threading.Timer(grace, close_quietly, args=(sock,))
        self._timer.daemon = True
        self._timer.start()

    def close(self) -> None:
        if self._unhook is not None:
            self._unhook()
        if self._timer is not None:
            self._timer.cancel()
        assoc = self.assoc
        if assoc is not None:
            if assoc.is_established:
                assoc.release()
            if assoc.is_established:
                assoc.abort()
            from pacsadmin.core.dimse.echo import join_threads

            join_threads(assoc)
        elif self.sock is not None:
            close_quietly(self.sock)

    def refused(self, item: SendItem) -> FileResult:
        ts = uid_label(item.transfer_syntax)
        sop = uid_label(item.sop_class)
        if item.compressed and not self.run.decompress:
            why = (
                f"The peer refused {ts} for {sop} and decompressing was not allowed: "
                'not sent. Send again with --decompress-if-needed ("decompress if '
                'needed") to send it as Explicit VR Little Endian.'
            )
        elif item.compressed:
            why = (
                f"The peer refused {ts} and Explicit VR Little Endian for {sop}: "
                "it does not accept this SOP class."
            )
        else:
            why = (
                f"The peer refused {sop} in {ts} (presentation context rejected): "
                "enable this SOP class at the peer."
            )
        return _row(item, FileState.FAILED, meaning=why)

    @property
    def up(self) -> bool:
        return self.assoc is not None and bool(self.assoc.is_established)

    def send_one(self, item: SendItem) -> tuple[FileResult, bool]:
        """The file's row, and whether the association is still up."""
        pair = (item.sop_class, item.transfer_syntax)
        decompressed = False
        if pair in self.accepted:
            payload: Any = item.path
            accepted = item.transfer_syntax
        elif (
            self.run.decompress
            and item.compressed
            and (item.sop_class, EXPLICIT_LE) in self.accepted
        ):
            try:
                payload = _decompressed(item.path)
            except Exception as exc:  # one file's codec error stays its own
                why = f"Could not decompress it for the peer: {type(exc).__name__}: {exc}"
                return _row(item, FileState.FAILED, meaning=why), True
            accepted, decompressed = EXPLICIT_LE, True
        else:
            return self.refused(item), True
        self._msg_id = self._msg_id % 65535 + 1
        try:
            rsp = self.assoc.send_c_store(payload, msg_id=self._msg_id)
        except (OSError, ValueError, AttributeError, RuntimeError) as exc:
            # the association's state after a failed send is unknown: never reused
            why = f"Could not be sent: {type(exc).__name__}: {exc}"
            return _row(item, FileState.FAILED, accepted, meaning=why), False
        alive = bool(self.assoc.is_established)
        if rsp is not None and "Status" in rsp:
            code = int(rsp.Status)
            info = status_info(code, "C-STORE")
            ok = info.outcome in (Outcome.SUCCESS, Outcome.WARNING)
            meaning = info.name + (f": {info.advice}" if info.advice and not ok else "")
            if info.outcome is Outcome.WARNING and info.advice:
                meaning = f"{info.name}: {info.advice}"
            state = FileState.STORED if ok else FileState.FAILED
            return _row(item, state, accepted, code, meaning, decompressed), alive
        # no response: pynetdicom aborts, but the association may still look established
        # for a moment; it is never reused (the rest go over a new one)
        return _row(item, FileState.FAILED, accepted, None, self._lost(), decompressed), False

    def _lost(self) -> str:
        if self.run.ctx.cancelled:
            return (
                f"Cancelled while it was being sent; after {self.run.grace:g} s the "
                "connection was closed: not stored."
            )
        if self.tr.abort_received:
            return (
                describe_abort(*self.tr.abort_received)
                + " while this file was being sent: not confirmed stored."
            )
        if self.tr.conn_closed_at is not None or not self.assoc.is_established:
            return (
                "The connection was lost while this file was being sent (the peer "
                "stopped or closed it): not confirmed stored."
            )
        return (
            f"No C-STORE response within {self.t.dimse:g} s (DIMSE timeout); the "
            "association was aborted: not confirmed stored."
        )


def _row(
    item: SendItem,
    state: FileState,
    accepted: str = "",
    status: int | None = None,
    meaning: str = "",
    decompressed: bool = False,
) -> FileResult:
    return FileResult(
        path=item.path,
        state=state,
        sop_class=item.sop_class,
        sop_class_name=uid_label(item.sop_class),
        sop_instance=item.sop_instance,
        transfer_syntax=item.transfer_syntax,
        accepted_syntax=accepted,
        status=status,
        meaning=meaning,
        decompressed=decompressed,
        size=item.size,
    )


def _decompressed(path: str) -> Any:
    """The file's data set decoded to Explicit VR Little Endian (the pylibjpeg plugins
    decode JPEG, JPEG-LS, JPEG 2000 and RLE).  The SOP Instance UID is kept: a change of
    transfer syntax on the way is the same instance (pydicom would make a new UID)."""
    from pydicom import dcmread

    ds = dcmread(path)
    ds.decompress(generate_instance_uid=False)
    return ds


def _quiet_transcript(assoc: Any, tr: Transcript) -> None:
    """Per-message transcript lines cost time on every C-STORE and say nothing new: after
    the negotiation only A-ABORTs and the connection's close are recorded."""
    from pynetdicom import evt

    for event, handler in tr.handlers():
        if event is not evt.EVT_CONN_CLOSE:
            assoc.unbind(event, handler)

    def on_abort(event: Any) -> None:
        if type(event.pdu).__name__ == "A_ABORT_RQ":
            tr._on_pdu_recv(event)

    assoc.bind(evt.EVT_PDU_RECV, on_abort)
