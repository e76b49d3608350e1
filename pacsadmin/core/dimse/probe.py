"""The Doctor's first layers, each timed on its own: DNS, TCP connect and TLS handshake.

Each function returns a :class:`Step` and what the next layer needs, or raises
:class:`Failed` carrying the failed step with a sentence and advice.
"""

from __future__ import annotations

import errno
import socket
import ssl
import time
from typing import Any, cast

from pacsadmin.core.dimse.association import TlsConfigError, tls_context
from pacsadmin.core.dimse.echo_result import FAILED, OK, WARNING, Step
from pacsadmin.core.jobs import JobContext
from pacsadmin.core.netutil import is_ip_address, lookup
from pacsadmin.core.nodes import DicomNode


class Failed(Exception):
    def __init__(self, step: Step) -> None:
        self.step = step


def ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def dns_step(host: str, port: int, timeout: float) -> tuple[Step, tuple[Any, ...]]:
    t0 = time.perf_counter()
    if is_ip_address(host):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        return (
            Step("dns", OK, ms_since(t0), f"{host} is an IP address: no lookup needed."),
            (fam, (host, port)),
        )
    try:
        infos = lookup(host, port, timeout)
    except TimeoutError:
        raise Failed(
            Step(
                "dns",
                FAILED,
                ms_since(t0),
                f"The lookup of {host!r} did not answer within {timeout:g} s.",
                "The DNS server is slow or unreachable: check this computer's network settings, "
                "or use the node's IP address.",
            )
        ) from None
    except socket.gaierror as exc:
        raise Failed(
            Step(
                "dns",
                FAILED,
                ms_since(t0),
                f"The name {host!r} could not be resolved ({exc.strerror or exc}).",
                "Check the spelling of the host name, or use the IP address; ask IT whether the "
                "DNS server knows this name.",
            )
        ) from None
    except (OSError, UnicodeError) as exc:
        raise Failed(
            Step(
                "dns",
                FAILED,
                ms_since(t0),
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
            ms_since(t0),
            f"{host} -> {chosen[4][0]}"
            + (
                f" (also {', '.join(a for a in addrs if a != chosen[4][0])})"
                if len(addrs) > 1
                else ""
            ),
        ),
        (chosen[0], chosen[4]),
    )


def tcp_step(
    family: int, sockaddr: Any, timeout: float, ctx: JobContext
) -> tuple[Step, socket.socket]:
    ip, port = sockaddr[0], sockaddr[1]
    where = f"{ip} port {port}"
    sock = socket.socket(family, socket.SOCK_STREAM)
    unregister = ctx.token.on_cancel(lambda: close_quietly(sock))
    t0 = time.perf_counter()
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except ConnectionRefusedError:
        sock.close()
        raise Failed(
            Step(
                "tcp",
                FAILED,
                ms_since(t0),
                f"Connection refused by {where}: the host answers, but nothing listens on that port.",
                "Check the port number, and that the DICOM service is running on the remote host.",
            )
        ) from None
    except TimeoutError:
        sock.close()
        raise Failed(
            Step(
                "tcp",
                FAILED,
                ms_since(t0),
                f"No answer from {where} within {timeout:g} s (connection timed out).",
                "A firewall may be dropping the connection, or the host is down: check the address, "
                "and ask the network team whether this port is open from this computer.",
            )
        ) from None
    except OSError as exc:
        sock.close()
        if ctx.cancelled:
            raise Failed(Step("tcp", FAILED, ms_since(t0), "Cancelled by the user.")) from None
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
            kind = "host" if exc.errno != errno.ENETUNREACH else "network"
            raise Failed(
                Step(
                    "tcp",
                    FAILED,
                    ms_since(t0),
                    f"The {kind} is unreachable ({exc.strerror}) for {where}.",
                    "There is no route to this address: check the IP address, the VPN, and the "
                    "network between this computer and the node.",
                )
            ) from None
        raise Failed(
            Step(
                "tcp",
                FAILED,
                ms_since(t0),
                f"Cannot connect to {where}: {exc}.",
                "Check the address and the network.",
            )
        ) from None
    finally:
        unregister()
    local = sock.getsockname()
    return Step(
        "tcp", OK, ms_since(t0), f"Connected to {where} from {local[0]} port {local[1]}."
    ), sock


def close_quietly(sock: socket.socket) -> None:
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


def tls_step(
    sock: socket.socket, node: DicomNode, server_name: str, timeout: float, passphrase: str | None
) -> tuple[Step, ssl.SSLSocket, dict[str, Any]]:
    t0 = time.perf_counter()
    try:
        context = tls_context(node, passphrase)
    except TlsConfigError as exc:
        close_quietly(sock)
        raise Failed(
            Step(
                "tls",
                FAILED,
                ms_since(t0),
                str(exc),
                "Fix the node's TLS settings (CA bundle, certificate, key).",
            )
        ) from None
    try:
        sock.settimeout(timeout)
        tls = context.wrap_socket(sock, server_hostname=server_name)
    except ssl.SSLCertVerificationError as exc:
        close_quietly(sock)
        msg = (exc.verify_message or str(exc)).rstrip(".")
        advice = next(
            (v for k, v in _VERIFY_ADVICE.items() if k in msg),
            "The peer's certificate could not be verified; check the CA bundle.",
        )
        raise Failed(
            Step("tls", FAILED, ms_since(t0), f"Certificate verification failed: {msg}.", advice)
        ) from None
    except TimeoutError:
        close_quietly(sock)
        raise Failed(
            Step(
                "tls",
                FAILED,
                ms_since(t0),
                f"No TLS handshake answer within {timeout:g} s.",
                "The port may not speak TLS; check whether the remote expects "
                "plain DICOM on this port.",
            )
        ) from None
    except (ssl.SSLError, OSError) as exc:
        close_quietly(sock)
        reason = getattr(exc, "reason", None) or str(exc)
        raise Failed(
            Step(
                "tls",
                FAILED,
                ms_since(t0),
                f"The TLS handshake failed: {reason}.",
                "The remote may not use TLS on this port, or wants a client "
                "certificate or a newer TLS version (at least 1.2 is required).",
            )
        ) from None
    cert = tls.getpeercert() or {}
    subject = ", ".join("=".join(x) for rdn in cert.get("subject", ()) for x in rdn)
    not_after = cast(str, cert.get("notAfter", ""))  # ssl's format: 'Jun  1 12:00:00 2027 GMT'
    info: dict[str, Any] = {
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
            ms_since(t0),
            f"{info['protocol']}, {info['cipher']}; certificate {subject or '(no subject)'}"
            f", valid until {not_after or '?'}",
            advice,
        ),
        tls,
        info,
    )
