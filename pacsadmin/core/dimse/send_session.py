"""One association of a send (``send.py``): open it with the batch's contexts, send each
file from its bytes (or decompressed), read its response, say what happened to it.

pynetdicom negotiates and ends the association; in between, a file whose transfer syntax
was accepted goes through the fast sender (``store_fast.py``, on the association's socket
lent by the pynetdicom seam), a file to decompress (or one the fast sender cannot take)
through pynetdicom's ``send_c_store`` with the socket given back for it."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING, Any

from pacsadmin.core.dimse import _pynetdicom
from pacsadmin.core.dimse.association import associate, make_ae
from pacsadmin.core.dimse.probe import Failed, close_quietly, dns_step, tcp_step, tls_step
from pacsadmin.core.dimse.send_files import EXPLICIT_LE, SendItem
from pacsadmin.core.dimse.send_plan import Batch
from pacsadmin.core.dimse.send_result import FileResult, FileState
from pacsadmin.core.dimse.status import Outcome, describe_abort, status_info
from pacsadmin.core.dimse.store_fast import StoreOutcome, StoreStream
from pacsadmin.core.dimse.transcript import Transcript
from pacsadmin.core.settings import Timeouts

if TYPE_CHECKING:
    from pacsadmin.core.dimse.send import Run

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


class Session:
    """One association of a send."""

    def __init__(self, run: Run, batch: Batch) -> None:
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
        self.stream: StoreStream | None = None

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
        if run.fast:
            accepted = {
                (str(c.abstract_syntax), str(c.transfer_syntax[0])): int(c.context_id)
                for c in self.assoc.accepted_contexts
            }
            self.stream = StoreStream(
                _pynetdicom.SocketLease(self.assoc),
                accepted,
                network_timeout=self.t.network,
                dimse_timeout=self.t.dimse,
            )
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
        if self.stream is not None and not self.stream.finish():
            # the fast sender lost the association and closed the connection: pynetdicom
            # only has to stop (a release would wait for an answer that cannot come)
            _pynetdicom.kill_association(assoc)
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
        return row(item, FileState.FAILED, meaning=why)

    @property
    def up(self) -> bool:
        if self.stream is not None and self.stream.outcome is not None:
            return False
        return self.assoc is not None and bool(self.assoc.is_established)

    def send_one(self, item: SendItem) -> tuple[FileResult, bool]:
        """The file's row, and whether the association is still up."""
        pair = (item.sop_class, item.transfer_syntax)
        decompressed = False
        if pair in self.accepted and self.stream is not None:
            self._msg_id = self._msg_id % 65535 + 1
            out = self.stream.store(
                item.path, item.sop_class, item.sop_instance, item.transfer_syntax, self._msg_id
            )
            if out is not None:
                return self._fast_row(item, out)
        if self.stream is not None and not self.stream.pause():  # pynetdicom's turn
            out = self.stream.outcome or StoreOutcome(lost="closed")
            return self._fast_row(item, out, sent=False)
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
                return row(item, FileState.FAILED, meaning=why), True
            accepted, decompressed = EXPLICIT_LE, True
        else:
            return self.refused(item), True
        self._msg_id = self._msg_id % 65535 + 1
        try:
            rsp = self.assoc.send_c_store(payload, msg_id=self._msg_id)
        except (OSError, ValueError, AttributeError, RuntimeError) as exc:
            # the association's state after a failed send is unknown: never reused
            why = f"Could not be sent: {type(exc).__name__}: {exc}"
            return row(item, FileState.FAILED, accepted, meaning=why), False
        alive = bool(self.assoc.is_established)
        if rsp is not None and "Status" in rsp:
            comment = str(rsp.get("ErrorComment", "") or "")
            status_row = _status_row(item, int(rsp.Status), accepted, comment, decompressed)
            return status_row, alive
        # no response: pynetdicom aborts, but the association may still look established
        # for a moment; it is never reused (the rest go over a new one)
        return row(item, FileState.FAILED, accepted, None, self._lost(), decompressed), False

    def _fast_row(
        self, item: SendItem, out: StoreOutcome, sent: bool = True
    ) -> tuple[FileResult, bool]:
        """The row of a file the fast sender sent (or could not send: ``sent`` False)."""
        if out.status is not None:
            return _status_row(item, out.status, item.transfer_syntax, out.comment), True
        accepted = item.transfer_syntax if sent else ""
        state = FileState.FAILED if sent else FileState.NOT_SENT
        return row(item, state, accepted, None, self._lost(out)), False

    def _lost(self, out: StoreOutcome | None = None) -> str:
        if out is not None and not self.run.ctx.cancelled:
            sent = " while this file was being sent"
            if out.abort is not None:
                return describe_abort(*out.abort) + f"{sent}: not confirmed stored."
            if out.lost == "closed":
                return (
                    f"The connection was lost{sent} (the peer stopped or closed it): "
                    "not confirmed stored."
                )
            if out.lost == "released":
                return f"The peer released the association{sent}: not confirmed stored."
            if out.lost in ("write timeout", "response timeout", "protocol"):
                return (
                    f"{out.detail[:1].upper()}{out.detail[1:]}{sent}; the association was "
                    "aborted: not confirmed stored."
                )
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


def _status_row(
    item: SendItem, code: int, accepted: str, comment: str = "", decompressed: bool = False
) -> FileResult:
    """A file's row from its C-STORE-RSP status (and the peer's error comment)."""
    info = status_info(code, "C-STORE")
    ok = info.outcome in (Outcome.SUCCESS, Outcome.WARNING)
    meaning = info.name + (f": {info.advice}" if info.advice and not ok else "")
    if info.outcome is Outcome.WARNING and info.advice:
        meaning = f"{info.name}: {info.advice}"
    if comment and not ok:
        meaning += f" (the peer says: {comment[:200]})"
    state = FileState.STORED if ok else FileState.FAILED
    return row(item, state, accepted, code, meaning, decompressed)


def row(
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
