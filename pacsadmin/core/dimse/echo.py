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

import concurrent.futures
import errno
import ipaddress
import socket
import ssl
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pacsadmin.core.dimse.association import (
    VERIFICATION,
    LocalAE,
    TlsConfigError,
    associate,
    calling_ae,
    effective_timeouts,
    make_ae,
    tls_context,
)
from pacsadmin.core.dimse.status import Outcome, describe_abort, describe_rejection, status_info
from pacsadmin.core.dimse.transcript import Transcript, TranscriptLine
from pacsadmin.core.jobs import JobContext, null_context
from pacsadmin.core.nodes import DicomNode
from pacsadmin.core.settings import Timeouts

STEP_TITLES = {
    "dns": "DNS resolution",
    "tcp": "TCP connect",
    "tls": "TLS handshake",
    "associate": "A-ASSOCIATE",
    "echo": "C-ECHO",
    "release": "A-RELEASE",
}
OK, FAILED, SKIPPED, WARNING = "ok", "failed", "skipped", "warning"

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


@dataclass(frozen=True)
class Step:
    key: str
    status: str  # ok / failed / skipped / warning
    ms: float | None
    detail: str
    advice: str = ""

    @property
    def title(self) -> str:
        return STEP_TITLES[self.key]

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.key,
            "title": self.title,
            "status": self.status,
            "ms": None if self.ms is None else round(self.ms, 2),
            "detail": self.detail,
            "advice": self.advice,
        }


@dataclass(frozen=True)
class EchoResult:
    node_name: str
    target: str  # AET@HOST:PORT
    calling_ae: str
    started_at: str  # ISO time, UTC
    steps: tuple[Step, ...]
    contexts: tuple[dict[str, Any], ...] = ()
    transcript: tuple[TranscriptLine, ...] = ()
    echo_status: int | None = None
    total_ms: float = 0.0
    peer_implementation: str = ""
    tls_info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(s.status in (OK, SKIPPED, WARNING) for s in self.steps) and any(
            s.key == "echo" and s.status in (OK, WARNING) for s in self.steps
        )

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if s.status == FAILED), None)

    @property
    def rtt_ms(self) -> float | None:
        """The C-ECHO request/response round trip alone."""
        return next((s.ms for s in self.steps if s.key == "echo" and s.ms is not None), None)

    @property
    def summary(self) -> str:
        f = self.failed_step
        if f is None:
            status = status_info(self.echo_status or 0, "C-ECHO").label
            return f"Echo to {self.target} succeeded ({status}) in {self.total_ms:.1f} ms."
        return f"{f.title} failed: {f.detail}"

    @property
    def advice(self) -> str:
        f = self.failed_step
        return f.advice if f else ""

    def transcript_text(self) -> str:
        t = Transcript()
        t._lines = list(self.transcript)
        header = (
            f"pacsadmin association transcript\nnode: {self.node_name}\n"
            f"target: {self.target}\ncalling AE: {self.calling_ae}\n"
            f"started: {self.started_at}\nresult: {self.summary}\n"
        )
        steps = "\n".join(
            f"  {s.title:<15} {s.status:<8} {'' if s.ms is None else f'{s.ms:8.1f} ms'}  {s.detail}"
            for s in self.steps
        )
        return t.text(header + "steps:\n" + steps + "\n\nwire log:")

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node_name,
            "target": self.target,
            "calling_ae": self.calling_ae,
            "started_at": self.started_at,
            "ok": self.ok,
            "summary": self.summary,
            "advice": self.advice,
            "total_ms": round(self.total_ms, 2),
            "echo_rtt_ms": None if self.rtt_ms is None else round(self.rtt_ms, 2),
            "echo_status": self.echo_status,
            "echo_status_name": None
            if self.echo_status is None
            else status_info(self.echo_status, "C-ECHO").label,
            "steps": [s.to_json() for s in self.steps],
            "presentation_contexts": list(self.contexts),
            "peer_implementation": self.peer_implementation,
            "tls": self.tls_info,
        }


@dataclass(frozen=True)
class EchoSeries:
    results: tuple[EchoResult, ...]

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def succeeded(self) -> int:
        return sum(r.ok for r in self.results)

    def latency(self) -> dict[str, float] | None:
        ms = [r.total_ms for r in self.results if r.ok]
        if not ms:
            return None
        return {"min": min(ms), "median": statistics.median(ms), "max": max(ms)}

    def to_json(self) -> dict[str, Any]:
        lat = self.latency()
        return {
            "ok": self.ok,
            "count": len(self.results),
            "succeeded": self.succeeded,
            "latency_ms": None if lat is None else {k: round(v, 2) for k, v in lat.items()},
            "results": [r.to_json() for r in self.results],
        }


# ------------------------------------------------------------------ steps
class _Failed(Exception):
    def __init__(self, step: Step) -> None:
        self.step = step


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _dns(host: str, port: int, timeout: float) -> tuple[Step, tuple[Any, ...]]:
    t0 = time.perf_counter()
    if _is_ip(host):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        return (
            Step("dns", OK, _ms(t0), f"{host} is an IP address: no lookup needed."),
            (fam, (host, port)),
        )
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pacs-dns")
    fut = pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    pool.shutdown(wait=False)
    try:
        infos = fut.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise _Failed(
            Step(
                "dns",
                FAILED,
                _ms(t0),
                f"The lookup of {host!r} did not answer within {timeout:g} s.",
                "The DNS server is slow or unreachable: check this computer's network settings, "
                "or use the node's IP address.",
            )
        ) from None
    except socket.gaierror as exc:
        raise _Failed(
            Step(
                "dns",
                FAILED,
                _ms(t0),
                f"The name {host!r} could not be resolved ({exc.strerror or exc}).",
                "Check the spelling of the host name, or use the IP address; ask IT whether the "
                "DNS server knows this name.",
            )
        ) from None
    except (OSError, UnicodeError) as exc:
        raise _Failed(
            Step(
                "dns",
                FAILED,
                _ms(t0),
                f"The name {host!r} is not valid ({exc}).",
                "Use a plain host name or an IP address.",
            )
        ) from None
    v4 = [i for i in infos if i[0] == socket.AF_INET]
    chosen = (v4 or infos)[0]
    addrs = sorted({i[4][0] for i in infos})
    return (
        Step(
            "dns",
            OK,
            _ms(t0),
            f"{host} -> {chosen[4][0]}"
            + (
                f" (also {', '.join(a for a in addrs if a != chosen[4][0])})"
                if len(addrs) > 1
                else ""
            ),
        ),
        (chosen[0], chosen[4]),
    )


def _tcp(family: int, sockaddr: Any, timeout: float, ctx: JobContext) -> tuple[Step, socket.socket]:
    ip, port = sockaddr[0], sockaddr[1]
    where = f"{ip} port {port}"
    sock = socket.socket(family, socket.SOCK_STREAM)
    unregister = ctx.token.on_cancel(lambda: _close_quietly(sock))
    t0 = time.perf_counter()
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except ConnectionRefusedError:
        sock.close()
        raise _Failed(
            Step(
                "tcp",
                FAILED,
                _ms(t0),
                f"Connection refused by {where}: the host answers, but nothing listens on that port.",
                "Check the port number, and that the DICOM service is running on the remote host.",
            )
        ) from None
    except TimeoutError:
        sock.close()
        raise _Failed(
            Step(
                "tcp",
                FAILED,
                _ms(t0),
                f"No answer from {where} within {timeout:g} s (connection timed out).",
                "A firewall may be dropping the connection, or the host is down: check the address, "
                "and ask the network team whether this port is open from this computer.",
            )
        ) from None
    except OSError as exc:
        sock.close()
        if ctx.cancelled:
            raise _Failed(Step("tcp", FAILED, _ms(t0), "Cancelled by the user.")) from None
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
            kind = "host" if exc.errno != errno.ENETUNREACH else "network"
            raise _Failed(
                Step(
                    "tcp",
                    FAILED,
                    _ms(t0),
                    f"The {kind} is unreachable ({exc.strerror}) for {where}.",
                    "There is no route to this address: check the IP address, the VPN, and the "
                    "network between this computer and the node.",
                )
            ) from None
        raise _Failed(
            Step(
                "tcp",
                FAILED,
                _ms(t0),
                f"Cannot connect to {where}: {exc}.",
                "Check the address and the network.",
            )
        ) from None
    finally:
        unregister()
    local = sock.getsockname()
    return Step("tcp", OK, _ms(t0), f"Connected to {where} from {local[0]} port {local[1]}."), sock


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


_VERIFY_ADVICE = {
    "mismatch": "The certificate does not name the host you typed; use the name it "
    "was issued for, or turn off hostname checking for this node if you "
    "trust it.",
    "self-signed certificate": "The peer uses a self-signed certificate: add it (or its CA) as "
    "this node's CA bundle.",
    "unable to get local issuer certificate": "The certificate's issuer is not trusted here: "
    "set this node's CA bundle to the CA that signed "
    "it.",
    "certificate has expired": "The peer's certificate has expired: its administrator must "
    "renew it.",
}


def _tls(
    sock: socket.socket, node: DicomNode, server_name: str, timeout: float, passphrase: str | None
) -> tuple[Step, ssl.SSLSocket, dict[str, Any]]:
    t0 = time.perf_counter()
    try:
        context = tls_context(node, passphrase)
    except TlsConfigError as exc:
        _close_quietly(sock)
        raise _Failed(
            Step(
                "tls",
                FAILED,
                _ms(t0),
                str(exc),
                "Fix the node's TLS settings (CA bundle, certificate, key).",
            )
        ) from None
    try:
        sock.settimeout(timeout)
        tls = context.wrap_socket(sock, server_hostname=server_name)
    except ssl.SSLCertVerificationError as exc:
        _close_quietly(sock)
        msg = (exc.verify_message or str(exc)).rstrip(".")
        advice = next(
            (v for k, v in _VERIFY_ADVICE.items() if k in msg),
            "The peer's certificate could not be verified; check the CA bundle.",
        )
        raise _Failed(
            Step("tls", FAILED, _ms(t0), f"Certificate verification failed: {msg}.", advice)
        ) from None
    except TimeoutError:
        _close_quietly(sock)
        raise _Failed(
            Step(
                "tls",
                FAILED,
                _ms(t0),
                f"No TLS handshake answer within {timeout:g} s.",
                "The port may not speak TLS; check whether the remote expects "
                "plain DICOM on this port.",
            )
        ) from None
    except (ssl.SSLError, OSError) as exc:
        _close_quietly(sock)
        reason = getattr(exc, "reason", None) or str(exc)
        raise _Failed(
            Step(
                "tls",
                FAILED,
                _ms(t0),
                f"The TLS handshake failed: {reason}.",
                "The remote may not use TLS on this port, or wants a client "
                "certificate or a newer TLS version (at least 1.2 is required).",
            )
        ) from None
    cert = tls.getpeercert() or {}
    subject = ", ".join("=".join(x) for rdn in cert.get("subject", ()) for x in rdn)
    not_after = cert.get("notAfter", "")
    info = {
        "protocol": tls.version(),
        "cipher": (tls.cipher() or ("",))[0],
        "subject": subject,
        "not_after": not_after,
    }
    status, advice = OK, ""
    if not_after:
        days = (ssl.cert_time_to_seconds(not_after) - time.time()) / 86400
        info["days_left"] = round(days, 1)
        if days < 30:
            status, advice = (
                WARNING,
                (f"The peer's certificate expires in {days:.0f} days; tell its administrator."),
            )
    return (
        Step(
            "tls",
            status,
            _ms(t0),
            f"{info['protocol']}, {info['cipher']}; certificate {subject or '(no subject)'}"
            f", valid until {not_after or '?'}",
            advice,
        ),
        tls,
        info,
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

    try:
        ctx.check()
        s, (family, sockaddr) = _dns(node.host, node.port, t.connect)
        step(s)
        ctx.check()
        s, sock = _tcp(family, sockaddr, t.connect, ctx)
        tr.add("--", "TCP", s.detail)
        step(s)
        ctx.check()
        if node.tls.enabled:
            s, sock, tls_info = _tls(sock, node, node.host, t.connect, passphrase)
            tr.add("--", "TLS", s.detail)
            step(s)
        else:
            step(Step("tls", SKIPPED, None, "TLS is off for this node: plain DICOM."))
        ctx.check()

        ae = make_ae(local, node, t, sock)
        t0 = time.perf_counter()
        # a cancel while the peer has not answered yet closes the socket: pynetdicom then
        # gives up at once instead of waiting for the ACSE timeout
        conn = sock
        unhook = ctx.token.on_cancel(lambda: _close_quietly(conn))
        try:
            assoc = associate(ae, node, _contexts(mode), tr, address=sockaddr[0], low_latency=True)
        finally:
            unhook()
        # cancel callbacks run on the canceller's thread (the GUI's): closing the socket
        # never blocks there and never races pynetdicom's state machine, as a cross-thread
        # assoc.abort() did (InvalidEventError, seconds of waiting); the worker then sees
        # the connection closed and ends the association itself (finally, below)
        abort_on_cancel = ctx.token.on_cancel(lambda: _close_quietly(conn))
        contexts = tuple(tr.contexts)
        if not assoc.is_established and ctx.cancelled:
            raise _Failed(Step("associate", FAILED, _ms(t0), "Cancelled by the user."))
        if not assoc.is_established:
            raise _Failed(_association_failure(assoc, tr, node, local, t, _ms(t0)))
        acc = sum(1 for c in contexts if c["result"] == 0)
        step(
            Step(
                "associate",
                OK,
                _ms(t0),
                f"Accepted by {node.ae_title!r} ({tr.peer_implementation or 'unknown'}); "
                f"{acc} of {len(contexts)} presentation context(s) accepted; peer max PDU "
                f"{tr.peer_max_pdu}.",
            )
        )

        t0 = time.perf_counter()
        rsp = assoc.send_c_echo()
        ms = _ms(t0)
        if rsp is None or "Status" not in rsp:
            if tr.abort_received:
                raise _Failed(
                    Step(
                        "echo",
                        FAILED,
                        ms,
                        describe_abort(*tr.abort_received) + " instead of answering the C-ECHO.",
                        "Look in the peer's log for the reason.",
                    )
                )
            if ctx.cancelled:
                raise _Failed(Step("echo", FAILED, ms, "Cancelled by the user."))
            raise _Failed(
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
            raise _Failed(Step("echo", FAILED, ms, info.label, info.advice))

        t0 = time.perf_counter()
        assoc.release()
        ms = _ms(t0)
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
    except _Failed as failed:
        step(failed.step)
    finally:
        if assoc is not None and assoc.is_established:
            assoc.abort()
        elif assoc is None and sock is not None:
            _close_quietly(sock)
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
        total_ms=_ms(t_start),
        peer_implementation=tr.peer_implementation,
        tls_info=tls_info,
    )


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
