"""C-ECHO with a layered diagnosis: the Connectivity Doctor (PS3.4 annex A, PS3.8 9).

:func:`diagnose` runs and times each step on one connection, stops at the first failure
and says in plain words what failed and what to do:

1. DNS resolution   2. TCP connect   3. TLS handshake (when on)
4. A-ASSOCIATE      5. C-ECHO        6. A-RELEASE (or abort, and which)

``echo`` proposes only the Verification SOP class (fast); ``survey`` also proposes the
query/retrieve and common storage SOP classes, so the contexts table shows what the peer
supports.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

from pacsadmin.core.dimse.association import (
    VERIFICATION,
    LocalAE,
    associate,
    calling_ae,
    effective_timeouts,
    make_ae,
)
from pacsadmin.core.dimse.echo_result import (
    FAILED,
    OK,
    SKIPPED,
    STEP_TITLES,
    WARNING,
    EchoResult,
    EchoSeries,
    Step,
)
from pacsadmin.core.dimse.probe import (
    Failed,
    close_quietly,
    dns_step,
    ms_since,
    tcp_step,
    tls_step,
)
from pacsadmin.core.dimse.status import Outcome, describe_abort, describe_rejection, status_info
from pacsadmin.core.dimse.transcript import Transcript, is_pdu_start, printable_start
from pacsadmin.core.jobs import JobContext, null_context
from pacsadmin.core.nodes import DicomNode
from pacsadmin.core.settings import Timeouts

_TS = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]
SURVEY_SOP_CLASSES = (
    VERIFICATION,
    "1.2.840.10008.5.1.4.1.2.2.1",  # Study Root Q/R FIND
    "1.2.840.10008.5.1.4.1.2.2.2",  # Study Root Q/R MOVE
    "1.2.840.10008.5.1.4.1.2.2.3",  # Study Root Q/R GET
    "1.2.840.10008.5.1.4.1.2.1.1",  # Patient Root Q/R FIND
    "1.2.840.10008.5.1.4.1.2.1.2",  # Patient Root Q/R MOVE
    "1.2.840.10008.5.1.4.1.2.1.3",  # Patient Root Q/R GET
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
    "1.2.840.10008.5.1.4.1.1.1",  # CR Image Storage
    "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
    "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray Image Storage - For Pres.
)


def _contexts(mode: str) -> list[Any]:
    from pynetdicom import build_context

    classes = (VERIFICATION,) if mode == "echo" else SURVEY_SOP_CLASSES
    return [build_context(c, _TS) for c in classes]


def _association_failure(
    assoc: Any, tr: Transcript, node: DicomNode, local: LocalAE, t: Timeouts, elapsed_ms: float
) -> Step:
    called, calling = node.ae_title, calling_ae(local, node)
    if tr.rejection:
        sentence, advice = describe_rejection(*tr.rejection, called=called, calling=calling)
        return Step("associate", FAILED, elapsed_ms, sentence, advice)
    if tr.abort_received:
        return Step(
            "associate",
            FAILED,
            elapsed_ms,
            describe_abort(*tr.abort_received) + " while negotiating.",
            "The peer refused the request by aborting; look in its log for the reason "
            "(it may not accept this calling AE title or address).",
        )
    if tr.contexts and not any(c["result"] == 0 for c in tr.contexts):
        return Step(
            "associate",
            FAILED,
            elapsed_ms,
            "The peer accepted the association but none of the proposed presentation "
            "contexts (not even Verification), so the association was aborted.",
            "Enable the Verification SOP class (C-ECHO) at the peer.",
        )
    if tr.first_bytes and not is_pdu_start(tr.first_bytes):
        return _not_dicom(tr.first_bytes, elapsed_ms)
    if tr.conn_closed_at is not None and tr.abort_sent is None and elapsed_ms < t.acse * 1000:
        return Step(
            "associate",
            FAILED,
            elapsed_ms,
            "The peer closed the connection without answering the association request.",
            "It may refuse this computer's address (an allow-list or firewall), or the "
            "port is not a DICOM service.",
        )
    return Step(
        "associate",
        FAILED,
        elapsed_ms,
        f"No answer to the association request within {t.acse:g} s (ACSE timeout); "
        "the association was aborted.",
        "The port accepts connections but nothing answers in DICOM: check that it is "
        "the DICOM port (not HTTP or TLS), and that the service is not stuck.",
    )


def _not_dicom(first: bytes, elapsed_ms: float) -> Step:
    """The peer answered the A-ASSOCIATE-RQ in another protocol: say what came back."""
    shown = printable_start(first)
    if first.startswith(b"HTTP/"):
        advice = (
            "This port is a web (HTTP) server, not DICOM: many PACS have both (Orthanc's "
            "HTTP port is 8042, its DICOM port 4242); use the node's DICOM port."
        )
    elif first[0] in (0x15, 0x16):  # TLS alert or handshake record
        advice = "The port speaks TLS: turn TLS on for this node (or use its plain DICOM port)."
    else:
        advice = "This port runs another protocol: check the node's DICOM port number."
    return Step(
        "associate",
        FAILED,
        elapsed_ms,
        f'The peer answered with something that is not DICOM: "{shown}" '
        f"(after {elapsed_ms:.0f} ms); the association was aborted.",
        advice,
    )


def diagnose(
    local: LocalAE,
    node: DicomNode,
    *,
    mode: str = "echo",
    timeout: float | None = None,
    passphrase: str | None = None,
    ctx: JobContext | None = None,
) -> EchoResult:
    """Run the layered C-ECHO (PS3.7 9.1.5) against ``node``; never raises for the
    network's answers, which are all in the returned :class:`EchoResult`."""
    ctx = ctx or null_context()
    t = effective_timeouts(local, node, timeout)
    _load_pynetdicom()  # its first import (~0.3 s) is not the peer's latency
    tr = Transcript()
    t_start = tr.t0
    started = datetime.now(UTC).isoformat(timespec="seconds")
    steps: list[Step] = []
    contexts: tuple[dict[str, Any], ...] = ()
    echo_status: int | None = None
    tls_info: dict[str, Any] = {}
    assoc = None
    sock: socket.socket | None = None
    done_steps: set[str] = set()

    def step(s: Step) -> None:
        steps.append(s)
        done_steps.add(s.key)
        ctx.report(s)

    def check(key: str) -> None:
        """A cancel between two steps ends the run as the next step's failure, so the
        result (and Echo all's report of this node) says it was cancelled."""
        if ctx.cancelled:
            raise Failed(Step(key, FAILED, None, "Cancelled by the user."))

    try:
        check("dns")
        s, (family, sockaddr) = dns_step(node.host, node.port, t.connect)
        step(s)
        check("tcp")
        s, sock = tcp_step(family, sockaddr, t.connect, ctx)
        tr.add("--", "TCP", s.detail)
        step(s)
        check("tls")
        if node.tls.enabled:
            s, sock, tls_info = tls_step(sock, node, node.host, t.connect, passphrase)
            tr.add("--", "TLS", s.detail)
            step(s)
        else:
            step(Step("tls", SKIPPED, None, "TLS is off for this node: plain DICOM."))
        check("associate")

        ae = make_ae(local, node, t, sock, on_first_bytes=tr.note_first_bytes)
        t0 = time.perf_counter()
        # a cancel while the peer has not answered yet closes the socket: pynetdicom then
        # gives up at once instead of waiting for the ACSE timeout
        conn = sock
        unhook = ctx.token.on_cancel(lambda: close_quietly(conn))
        try:
            assoc = associate(ae, node, _contexts(mode), tr, address=sockaddr[0], low_latency=True)
        finally:
            unhook()
        # cancel callbacks run on the canceller's thread (the GUI's): closing the socket
        # never blocks there and never races pynetdicom's state machine, as a cross-thread
        # assoc.abort() did (InvalidEventError, seconds of waiting); the worker then sees
        # the connection closed and ends the association itself (finally, below)
        abort_on_cancel = ctx.token.on_cancel(lambda: close_quietly(conn))
        contexts = tuple(tr.contexts)
        if not assoc.is_established and ctx.cancelled:
            raise Failed(Step("associate", FAILED, ms_since(t0), "Cancelled by the user."))
        if not assoc.is_established:
            raise Failed(_association_failure(assoc, tr, node, local, t, ms_since(t0)))
        acc = sum(1 for c in contexts if c["result"] == 0)
        step(
            Step(
                "associate",
                OK,
                ms_since(t0),
                f"Accepted by {node.ae_title!r} ({tr.peer_implementation or 'unknown'}); "
                f"{acc} of {len(contexts)} presentation context(s) accepted; peer max PDU "
                f"{tr.peer_max_pdu}.",
            )
        )

        t0 = time.perf_counter()
        rsp = assoc.send_c_echo()
        ms = ms_since(t0)
        if rsp is None or "Status" not in rsp:
            if tr.abort_received:
                raise Failed(
                    Step(
                        "echo",
                        FAILED,
                        ms,
                        describe_abort(*tr.abort_received) + " instead of answering the C-ECHO.",
                        "Look in the peer's log for the reason.",
                    )
                )
            if ctx.cancelled:
                raise Failed(Step("echo", FAILED, ms, "Cancelled by the user."))
            raise Failed(
                Step(
                    "echo",
                    FAILED,
                    ms,
                    f"No C-ECHO response within {t.dimse:g} s (DIMSE timeout); "
                    "the association was aborted.",
                    "The peer accepted the association but does not answer; it may "
                    "be overloaded or stuck.",
                )
            )
        echo_status = int(rsp.Status)
        info = status_info(echo_status, "C-ECHO")
        if info.outcome is Outcome.SUCCESS:
            step(Step("echo", OK, ms, f"{info.label}; round trip {ms:.1f} ms."))
        elif info.outcome is Outcome.WARNING:
            step(Step("echo", WARNING, ms, f"{info.label}; round trip {ms:.1f} ms.", info.advice))
        else:
            raise Failed(Step("echo", FAILED, ms, info.label, info.advice))

        t0 = time.perf_counter()
        assoc.release()
        ms = ms_since(t0)
        abort_on_cancel()
        if assoc.is_released:
            step(Step("release", OK, ms, "Released normally (A-RELEASE-RP received)."))
        elif tr.abort_received:
            step(
                Step(
                    "release",
                    WARNING,
                    ms,
                    describe_abort(*tr.abort_received) + " instead of releasing.",
                    "Harmless for the echo, but the peer does not end associations cleanly.",
                )
            )
        else:
            step(
                Step(
                    "release",
                    WARNING,
                    ms,
                    f"No A-RELEASE-RP within {t.acse:g} s: the association was aborted.",
                    "Harmless for the echo, but the peer does not end associations cleanly.",
                )
            )
    except Failed as failed:
        step(failed.step)
    finally:
        if assoc is not None and assoc.is_established:
            assoc.abort()
        elif assoc is None and sock is not None:
            close_quietly(sock)
        if assoc is not None:
            _join(assoc)
    for key in STEP_TITLES:
        if key not in done_steps:
            steps.append(Step(key, SKIPPED, None, "Not reached."))
    order = list(STEP_TITLES)
    steps.sort(key=lambda s: order.index(s.key))
    return EchoResult(
        node_name=node.name,
        target=node.address,
        calling_ae=calling_ae(local, node),
        started_at=started,
        steps=tuple(steps),
        contexts=contexts,
        transcript=tr.lines,
        echo_status=echo_status,
        total_ms=ms_since(t_start),
        peer_implementation=tr.peer_implementation,
        tls_info=tls_info,
    )


association_failure = _association_failure  # the same diagnosis for every service


def _load_pynetdicom() -> None:
    from pacsadmin.core.dimse.association import _init_pynetdicom

    _init_pynetdicom()
    import pynetdicom  # noqa: F401


def _join(assoc: Any) -> None:
    """Wait for pynetdicom's threads so no association outlives its job."""
    for th in (assoc, getattr(assoc, "dul", None)):
        if (
            isinstance(th, threading.Thread)
            and th.is_alive()
            and th is not threading.current_thread()
        ):
            th.join(2.0)


join_threads = _join


def echo(
    local: LocalAE,
    node: DicomNode,
    *,
    count: int = 1,
    interval: float = 0.0,
    timeout: float | None = None,
    mode: str = "echo",
    passphrase: str | None = None,
    ctx: JobContext | None = None,
) -> EchoSeries:
    """Echo ``count`` times (for flaky links): min / median / max latency."""
    ctx = ctx or null_context()
    results: list[EchoResult] = []
    for i in range(count):
        if ctx.cancelled:
            break
        r = diagnose(local, node, mode=mode, timeout=timeout, passphrase=passphrase, ctx=ctx)
        results.append(r)
        ctx.progress(i + 1, count, r.summary)
        if interval and i + 1 < count and ctx.token.wait(interval):
            break
    return EchoSeries(tuple(results))


def audit_echo(audit: Any, series: EchoSeries, action: str = "echo") -> None:
    """Record one audit entry for an echo run."""
    if not series.results:
        return
    last = series.results[-1]
    lat = series.latency()
    audit.record(
        action,
        "success" if series.ok else "failure",
        node=last.node_name,
        target=last.target,
        summary=last.summary
        if len(series.results) == 1
        else f"{series.succeeded}/{len(series.results)} echoes succeeded",
        details={
            "count": len(series.results),
            "succeeded": series.succeeded,
            "latency_ms": lat,
            "failed_step": last.failed_step.key if last.failed_step else None,
            "total_ms": round(last.total_ms, 2),
        },
    )
