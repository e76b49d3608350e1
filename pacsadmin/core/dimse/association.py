"""Opening associations: one place for AE set-up, timeouts, TLS and TCP_NODELAY.

Every service function (echo now; find, move, get, store later) opens its own
association through :func:`associate` and releases or aborts it itself; an association is
never shared between threads (pynetdicom issues 137, 596).

pynetdicom connects its own socket.  The Connectivity Doctor needs DNS, TCP and TLS as
separate, timed steps on the *same* connection that then carries the association, so
:func:`make_ae` can hand pynetdicom a socket we already connected (and wrapped in TLS).
That, the fast teardown and TCP_NODELAY go through the pynetdicom seam
(:mod:`pacsadmin.core.dimse._pynetdicom`), the one module that uses pynetdicom internals.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pacsadmin.core.dimse import _pynetdicom
from pacsadmin.core.dimse.transcript import Transcript
from pacsadmin.core.nodes import DicomNode
from pacsadmin.core.settings import Settings, Timeouts

VERIFICATION = "1.2.840.10008.1.1"
_init_lock = threading.Lock()
_initialised = False


def quiet_pynetdicom() -> None:
    """Before any AE is made: no identifier pretty-printing (23% of a C-FIND, and patient
    data in the logs), and pynetdicom's logger at WARNING."""
    _pynetdicom.quiet_logging()
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)


def _init_pynetdicom() -> None:
    global _initialised
    with _init_lock:
        if not _initialised:
            quiet_pynetdicom()
            _initialised = True


@dataclass(frozen=True)
class LocalAE:
    """The app's own application entity, from the settings."""

    ae_title: str = "PACSADMIN"
    port: int = 11112
    max_pdu: int = 0
    timeouts: Timeouts = field(default_factory=Timeouts)

    @classmethod
    def from_settings(cls, s: Settings) -> LocalAE:
        return cls(s.local_ae_title, s.scp_port, s.max_pdu, s.timeouts)


def effective_timeouts(local: LocalAE, node: DicomNode, override: float | None = None) -> Timeouts:
    """The node's own timeouts where set, else the settings'; ``override`` caps them all."""
    t = local.timeouts
    nt = node.timeouts
    eff = Timeouts(
        connect=nt.connect or t.connect,
        acse=nt.acse or t.acse,
        dimse=nt.dimse or t.dimse,
        network=nt.network or t.network,
    )
    if override is not None:
        eff = Timeouts(
            *(min(getattr(eff, k), override) for k in ("connect", "acse", "dimse", "network"))
        )
    return eff


def calling_ae(local: LocalAE, node: DicomNode) -> str:
    return node.calling_ae_title or local.ae_title


# ------------------------------------------------------------------ TLS (BCP 195)
class TlsConfigError(Exception):
    pass


def tls_context(node: DicomNode, passphrase: str | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = node.tls.verify_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        if node.tls.ca_bundle:
            ctx.load_verify_locations(cafile=node.tls.ca_bundle)
        else:
            ctx.load_default_certs()
    except FileNotFoundError as exc:
        raise TlsConfigError(f"TLS file not found: {exc.filename}") from exc
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(f"Cannot load the CA bundle {node.tls.ca_bundle}: {exc}") from exc
    if not node.tls.client_cert:
        return ctx
    try:
        # never password=None: OpenSSL would then prompt on the terminal and block
        ctx.load_cert_chain(
            node.tls.client_cert,
            node.tls.client_key or None,
            password=passphrase if passphrase is not None else (lambda: b""),
        )
    except FileNotFoundError as exc:
        raise TlsConfigError(f"TLS file not found: {exc.filename}") from exc
    except (ssl.SSLError, OSError) as exc:
        if node.tls.client_key and not passphrase:
            raise TlsConfigError(
                "Cannot load the client key: it is encrypted and no passphrase is stored for "
                "this node (or the keyring is unavailable); enter it in the node's TLS settings."
            ) from exc
        reason = getattr(exc, "reason", None) or exc
        raise TlsConfigError(
            f"Cannot load the client certificate or key ({reason}); "
            "check the files and the key passphrase."
        ) from exc
    return ctx


def make_ae(
    local: LocalAE,
    node: DicomNode,
    timeouts: Timeouts,
    sock: socket.socket | None,
    on_first_bytes: Callable[[bytes], None] | None = None,
) -> Any:
    """A pynetdicom AE configured for one association to ``node``; with ``sock`` (ours,
    connected), ``on_first_bytes`` gets the first bytes the peer answers with."""
    _init_pynetdicom()
    from pynetdicom import AE

    cls = AE if sock is None else _pynetdicom.preconnected_ae_class(sock, on_first_bytes)
    ae = cls(ae_title=calling_ae(local, node))
    ae.connection_timeout = timeouts.connect
    ae.acse_timeout = timeouts.acse
    ae.dimse_timeout = timeouts.dimse
    ae.network_timeout = timeouts.network
    ae.maximum_pdu_size = node.max_pdu if node.max_pdu is not None else local.max_pdu
    return ae


def associate(
    ae: Any,
    node: DicomNode,
    contexts: list[Any],
    transcript: Transcript | None = None,
    *,
    address: str | None = None,
    low_latency: bool = False,
    extra_handlers: list[tuple[Any, Any]] | None = None,
    ext_neg: list[Any] | None = None,
) -> Any:
    """Request an association; returns pynetdicom's Association (established or not).

    ``address``: the IP address already resolved (the host name is used otherwise).
    ``low_latency``: poll the DUL every 0.2 ms instead of 1 ms and tear down fast (for
    echo; measured 18 -> 6 ms per round trip). Not for long transfers: it costs CPU.
    ``ext_neg``: extended negotiation items (the SCP/SCU role selection a C-GET needs).
    """
    from pynetdicom import evt

    def on_open(event: Any) -> None:
        _pynetdicom.set_nodelay(event)
        _pynetdicom.set_low_latency(event.assoc)

    handlers: list[tuple[Any, Any]] = [
        (evt.EVT_CONN_OPEN, on_open if low_latency else _pynetdicom.set_nodelay)
    ]
    if transcript is not None:
        handlers += transcript.handlers()
    handlers += extra_handlers or []
    assoc = ae.associate(
        address or node.host,
        node.port,
        contexts=contexts,
        ae_title=node.ae_title,
        max_pdu=ae.maximum_pdu_size,
        evt_handlers=handlers,
        ext_neg=ext_neg,
    )
    if low_latency:
        _pynetdicom.use_fast_kill(assoc)
    return assoc
