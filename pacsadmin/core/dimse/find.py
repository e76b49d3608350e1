"""C-FIND as SCU (PS3.4 C.4.1, K.4.1; PS3.7 9.1.2 and 9.3.2).

:func:`find` opens its own association (DNS, TCP, TLS and the A-ASSOCIATE as the echo
does, see ``core/dimse/echo.py``), sends one C-FIND-RQ, streams every pending response
through ``ctx.report`` as a :class:`~pacsadmin.core.dimse.find_result.FindMatch`, and
returns a :class:`~pacsadmin.core.dimse.find_result.FindResult` with the final status
decoded by ``status.py``.  It never raises for what the network or the peer does.

Cancel (PS3.7 9.3.2.3): the token's callback sends a C-CANCEL-RQ naming the request's
Message ID at once (pynetdicom queues it for its DUL thread), the worker keeps reading to
the final response (0xFE00 from a peer that honours it), and when none arrives within
:data:`CANCEL_GRACE` seconds the connection is closed (an A-ABORT cannot be trusted to
pass a peer that is still writing).  The matches that arrived are kept.  Every other wait
is bounded by the node's timeouts (each response by the DIMSE timeout).
"""

from __future__ import annotations

import itertools
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from pacsadmin.core.dimse.association import (
    LocalAE,
    associate,
    calling_ae,
    effective_timeouts,
    make_ae,
)
from pacsadmin.core.dimse.find_query import FindQuery, build_identifier
from pacsadmin.core.dimse.find_result import FindMatch, FindResult, cap_warning, to_match
from pacsadmin.core.dimse.probe import Failed, close_quietly, dns_step, tcp_step, tls_step
from pacsadmin.core.dimse.status import Outcome, describe_abort, status_info
from pacsadmin.core.dimse.transcript import Transcript
from pacsadmin.core.jobs import JobContext
from pacsadmin.core.nodes import DicomNode

CANCEL_GRACE = 5.0  # seconds a peer gets to answer a C-CANCEL before the connection closes
_TS = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]  # explicit VR LE first, then implicit
_PENDING = (0xFF00, 0xFF01)
_msg_ids = itertools.count(1)
_msg_lock = threading.Lock()


def _next_msg_id() -> int:
    with _msg_lock:
        return (next(_msg_ids) - 1) % 65535 + 1


class _Canceller:
    """Sends the C-CANCEL once, from whichever thread cancels, then arms the grace timer."""

    def __init__(self, assoc: Any, msg_id: int, sop_class: str, sock: socket.socket, grace: float):
        self.assoc, self.msg_id, self.sop_class, self.sock = assoc, msg_id, sop_class, sock
        self.grace = grace
        self.sent = False
        self.aborted = False
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __call__(self) -> None:
        with self._lock:
            if self.sent or self.finished.is_set():
                return
            try:
                self.assoc.send_c_cancel(self.msg_id, query_model=self.sop_class)
                self.sent = True
            except Exception:  # the association is already gone: nothing left to cancel
                return
            self._timer = threading.Timer(self.grace, self._give_up)
            self._timer.daemon = True
            self._timer.start()

    def _give_up(self) -> None:
        if not self.finished.is_set():
            self.aborted = True
            close_quietly(self.sock)

    def done(self) -> None:
        self.finished.set()
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()


def find(
    local: LocalAE,
    node: DicomNode,
    query: FindQuery,
    *,
    ctx: JobContext,
    passphrase: str | None = None,
    timeout: float | None = None,
    cancel_grace: float = CANCEL_GRACE,
    engine: str = "fast",
) -> FindResult:
    """Run one C-FIND against ``node``.  A bad query raises
    :class:`~pacsadmin.core.errors.ValidationError` before any traffic; everything after
    that is in the returned result.

    ``engine``: ``"fast"`` reads the responses straight from the socket
    (``find_fast.py``), ``"pynetdicom"`` through pynetdicom's ``send_c_find``.  When the
    fast path's association is not accepted, the query is asked again through
    pynetdicom, whose answer is diagnosed step by step."""
    charset = node.query_charset if query.charset is None else query.charset
    identifier = build_identifier(query, charset)
    t = effective_timeouts(local, node, timeout)
    tr = Transcript(max_lines=400)
    t_start = time.perf_counter()
    matches: list[FindMatch] = []
    msg_id = _next_msg_id()
    state: dict[str, Any] = {"first": None, "final": None, "no_response": False}
    canceller: Any = None  # _Canceller or find_fast.CancelState: .sent, .aborted, .grace
    assoc: Any = None
    sock: socket.socket | None = None

    def result(outcome: Outcome, sentence: str, advice: str = "", **kw: Any) -> FindResult:
        cancelled = ctx.cancelled
        return FindResult(
            node_name=node.name,
            target=node.address,
            calling_ae=calling_ae(local, node),
            query=query.describe(),
            matches=tuple(matches),
            outcome=outcome,
            status=state["final"],
            sentence=sentence,
            advice=advice,
            cancelled=cancelled,
            msg_id=msg_id,
            cancel_msg_id=msg_id if canceller is not None and canceller.sent else None,
            aborted=canceller is not None and canceller.aborted,
            capped=kw.pop("capped", "")
            or ("" if cancelled else cap_warning(len(matches), outcome)),
            elapsed_ms=(time.perf_counter() - t_start) * 1000,
            first_ms=state["first"],
            transcript=tr.lines,
            **kw,
        )

    try:
        if ctx.cancelled:
            return result(Outcome.CANCEL, "Cancelled before the query was sent.")
        _, (family, sockaddr) = dns_step(node.host, node.port, t.connect)

        def connect() -> socket.socket:
            _, s = tcp_step(family, sockaddr, t.connect, ctx)
            if node.tls.enabled:
                _, s, _ = tls_step(s, node, node.host, t.connect, passphrase)
            return s

        sock = connect()
        if engine == "fast":
            from pacsadmin.core.dimse import find_fast

            max_pdu = node.max_pdu if node.max_pdu is not None else local.max_pdu
            fast = find_fast.FastFind(sock, t)
            conn0 = sock
            unhook = ctx.token.on_cancel(lambda: close_quietly(conn0))
            try:
                accepted = fast.associate(
                    node.ae_title, calling_ae(local, node), query.sop_class, max_pdu
                )
            except (OSError, ConnectionError, TimeoutError, struct.error, IndexError):
                accepted = False
            finally:
                unhook()
            if ctx.cancelled:
                return result(Outcome.CANCEL, "Cancelled before the association was accepted.")
            if accepted:
                from pynetdicom.dsutils import encode

                data = encode(identifier, fast.implicit, True)
                if data is None:
                    fast.send_abort()
                    return result(Outcome.FAILURE, "The query could not be encoded.")
                canceller = find_fast.CancelState(cancel_grace)
                tr.add(">>", "C-FIND-RQ", f"MessageID={msg_id} (read by the fast path)")
                t_req = time.perf_counter()

                def on_match(status: int, data: bytes | None) -> None:
                    if state["first"] is None:
                        state["first"] = (time.perf_counter() - t_req) * 1000
                    m = (
                        find_fast.decode_identifier(len(matches), status, data, fast.implicit)
                        if data is not None
                        else FindMatch(len(matches), status, {}, "the response had no identifier")
                    )
                    matches.append(m)
                    ctx.report(m)

                unhook = ctx.token.on_cancel(canceller)
                try:
                    state["final"] = find_fast.run(
                        fast, data, query.sop_class, msg_id, canceller, on_match
                    )
                finally:
                    unhook()
                if canceller.sent:
                    tr.add(">>", "C-CANCEL-RQ", f"MessageIDBeingRespondedTo={msg_id}")
                tr.add("<<", "C-FIND-RSP", f"Pending x {len(matches)}")
                tr.abort_received = fast.abort
                if state["final"] is not None:
                    fast.release()
                return _final(result, state, canceller, t, tr, ctx)
            close_quietly(sock)
            sock = connect()
        from pynetdicom import build_context

        ae = make_ae(local, node, t, sock)
        conn = sock
        unhook = ctx.token.on_cancel(lambda: close_quietly(conn))
        try:
            assoc = associate(
                ae, node, [build_context(query.sop_class, _TS)], tr, address=sockaddr[0]
            )
        finally:
            unhook()
        if not assoc.is_established and ctx.cancelled:
            return result(Outcome.CANCEL, "Cancelled before the association was accepted.")
        if tr.contexts and not any(c["result"] == 0 for c in tr.contexts):
            return result(
                Outcome.FAILURE,
                f"The peer does not support {query.describe().split(',')[0]} C-FIND "
                "(the presentation context was rejected).",
                "Use another query model, or enable this one at the peer.",
            )
        if not assoc.is_established:
            from pacsadmin.core.dimse.echo import association_failure

            step = association_failure(assoc, tr, node, local, t, 0.0)
            return result(Outcome.FAILURE, step.detail, step.advice)
        _quiet_transcript(assoc, tr)
        t_req = time.perf_counter()
        responses = assoc.send_c_find(identifier, query.sop_class, msg_id=msg_id)
        canceller = _Canceller(assoc, msg_id, query.sop_class, sock, cancel_grace)
        unhook = ctx.token.on_cancel(canceller)
        try:
            _read(responses, matches, state, ctx, t_req)
            tr.add("<<", "C-FIND-RSP", f"Pending x {len(matches)}")
        finally:
            canceller.done()
            unhook()
        return _final(result, state, canceller, t, tr, ctx)
    except Failed as failed:
        s = failed.step
        return result(Outcome.FAILURE, f"{s.title} failed: {s.detail}", s.advice)
    finally:
        if assoc is not None:
            if assoc.is_established and state["final"] is not None:
                assoc.release()
            if assoc.is_established:
                assoc.abort()
            from pacsadmin.core.dimse.echo import join_threads

            join_threads(assoc)
        elif sock is not None:
            close_quietly(sock)


def _quiet_transcript(assoc: Any, tr: Transcript) -> None:
    """Per-response transcript lines cost ~0.1 ms each (10,000 matches: a second) and say
    nothing new: from here on only what we send (the C-FIND-RQ, a C-CANCEL-RQ naming
    the Message ID) and A-ABORTs are recorded; the pending responses as one count."""
    from pynetdicom import evt

    assoc.unbind(evt.EVT_DIMSE_RECV, tr._on_dimse_recv)
    assoc.unbind(evt.EVT_PDU_RECV, tr._on_pdu_recv)
    assoc.unbind(evt.EVT_PDU_SENT, tr._on_pdu_sent)

    def on_abort(event: Any) -> None:
        if type(event.pdu).__name__ == "A_ABORT_RQ":
            tr._on_pdu_recv(event)

    assoc.bind(evt.EVT_PDU_RECV, on_abort)


def _read(
    responses: Any, matches: list[FindMatch], state: dict[str, Any], ctx: JobContext, t0: float
) -> None:
    last = None
    for status, identifier in responses:
        if status is last:  # pynetdicom yields twice when it cannot parse an identifier
            continue
        last = status
        if "Status" not in status:
            state["no_response"] = True
            return
        code = int(status.Status)
        if code in _PENDING:
            if state["first"] is None:
                state["first"] = (time.perf_counter() - t0) * 1000
            m = to_match(len(matches), code, identifier)
            matches.append(m)
            ctx.report(m)
            continue
        state["final"] = code
        return


def _final(
    result: Callable[..., FindResult],
    state: dict[str, Any],
    canceller: Any,
    t: Any,
    tr: Transcript,
    ctx: JobContext,
) -> FindResult:
    code = state["final"]
    if code is not None:
        info = status_info(code, "C-FIND")
        if info.outcome is Outcome.CANCEL and not ctx.cancelled and not canceller.sent:
            # 0xFE00 with no C-CANCEL of ours: the peer stopped at its limit (Orthanc's
            # LimitFindResults answers so), the matches that came are the first ones
            return result(
                Outcome.WARNING,
                f"The peer stopped matching before the end ({info.label}, though no "
                "C-CANCEL was sent): it has a limit on the number of matches.",
                capped="The PACS stopped at its limit on the number of matches (Orthanc: "
                "LimitFindResults). Narrow the query (a shorter date range, a patient ID) "
                "to see the rest.",
            )
        if info.outcome is Outcome.CANCEL:
            return result(Outcome.CANCEL, f"Cancelled: the peer confirmed ({info.label}).")
        if ctx.cancelled and info.outcome is not Outcome.FAILURE:
            return result(
                Outcome.CANCEL, f"Cancelled; the peer had already finished ({info.label})."
            )
        if info.outcome in (Outcome.SUCCESS, Outcome.WARNING):
            return result(info.outcome, f"Completed ({info.label}).", info.advice)
        return result(Outcome.FAILURE, f"The peer refused the query: {info.label}.", info.advice)
    if ctx.cancelled:
        if canceller.aborted:
            return result(
                Outcome.CANCEL,
                f"Cancelled: the peer ignored the C-CANCEL for {canceller.grace:g} s, so "
                "the association was aborted.",
            )
        return result(Outcome.CANCEL, "Cancelled; the association was closed.")
    if tr.abort_received:
        return result(
            Outcome.FAILURE,
            describe_abort(*tr.abort_received) + " before the query finished.",
            "Look in the peer's log for the reason.",
        )
    return result(
        Outcome.FAILURE,
        f"No C-FIND response within {t.dimse:g} s (DIMSE timeout), or the connection was "
        "closed; the association was aborted.",
        "The peer may be overloaded, or it stops answering big queries: narrow the query "
        "or raise the node's DIMSE timeout.",
    )
