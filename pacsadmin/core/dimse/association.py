"""Opening associations: one place for AE set-up, timeouts, TLS and TCP_NODELAY.

Every service function (echo now; find, move, get, store later) opens its own
association through :func:`associate` and releases or aborts it itself; an association is
never shared between threads (pynetdicom issues 137, 596).

pynetdicom connects its own socket.  The Connectivity Doctor needs DNS, TCP and TLS as
separate, timed steps on the *same* connection that then carries the association, so
:class:`_PreconnectedAE` hands pynetdicom a socket we already connected (and wrapped in
TLS).  That uses two pynetdicom internals, ``AE._create_socket`` and
``AssociationSocket.connect``: pyproject pins pynetdicom below 3.1 and
tests/unit/test_association_internals.py fails if their shape changes.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pacsadmin.core.dimse.transcript import Transcript, is_pdu_start
from pacsadmin.core.logs import quiet_pynetdicom
from pacsadmin.core.nodes import DicomNode
from pacsadmin.core.settings import Settings, Timeouts

VERIFICATION = "1.2.840.10008.1.1"
_init_lock = threading.Lock()
_initialised = False


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


# ------------------------------------------------------------------ pynetdicom glue
def _nodelay(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def _make_preconnected_socket_class() -> type:
    from pynetdicom import evt
    from pynetdicom.transport import AddressInformation, AssociationSocket

    class PreconnectedSocket(AssociationSocket):
        """An AssociationSocket over a socket we connected ourselves (requestor side)."""

        def __init__(
            self,
            assoc: Any,
            sock: socket.socket,
            on_first_bytes: Callable[[bytes], None] | None = None,
        ) -> None:  # no super(): it would
            self._assoc = assoc  # bind a new socket, or treat ours as an incoming one
            self._ready = threading.Event()
            self.socket = sock
            self._is_connected = False
            self._tls_args = None
            self.select_timeout = 0.5
            self._on_first_bytes = on_first_bytes

        def recv(self, nr_bytes: int) -> bytearray:
            data: bytearray = super().recv(nr_bytes)
            if self._on_first_bytes is not None:
                tap, self._on_first_bytes = self._on_first_bytes, None
                tap(_first_bytes_seen(self.socket, bytes(data)))
            return data

        def connect(self, primitive: Any) -> None:
            try:
                assert self.socket is not None
                self.socket.settimeout(None)
                self.assoc.requestor.address_info = AddressInformation.from_tuple(
                    self.socket.getsockname()
                )
                self._is_connected = True
                evt.trigger(
                    self.assoc, evt.EVT_CONN_OPEN, {"address": primitive.address_info.as_tuple}
                )
                primitive.result = "Evt2"
                self.provider_queue.put(primitive)
            except OSError:
                if self.socket:
                    self._shutdown_socket()
                    self.socket = None
                primitive.result = "Evt17"
                self.provider_queue.put(primitive)
            finally:
                self._ready.set()

    return PreconnectedSocket


# ---- private hook (pynetdicom's AssociationSocket.recv): the first bytes the peer sent.
# pynetdicom reads a PDU's 6-byte header and, for an unknown PDU type (an HTTP server's
# "HTTP/1.0 400 ..."), drops them and aborts: without this the Doctor could only say
# "no answer".  recv is overridden in our own socket class above, the answer's start is
# peeked (never consumed), and nothing changes for pynetdicom.


def _first_bytes_seen(sock: socket.socket | None, data: bytes, limit: int = 256) -> bytes:
    """``data`` and, when it is not the start of a DICOM PDU, what follows it on the
    socket (peeked, waiting at most 0.1 s for it)."""
    if sock is None or not data or is_pdu_start(data) or isinstance(sock, ssl.SSLSocket):
        return data
    try:
        select.select([sock], [], [], 0.1)
        return data + sock.recv(limit, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (OSError, ValueError):
        return data


_PRECONNECTED: type | None = None


def _preconnected_socket_class() -> type:
    global _PRECONNECTED
    if _PRECONNECTED is None:
        _PRECONNECTED = _make_preconnected_socket_class()
    return _PRECONNECTED


def _fast_kill(assoc: Any) -> None:
    """``Association.kill`` polls the DUL every 10 ms; an echo's release then costs 11 ms
    of sleeping.  Same logic, 0.5 ms polls."""
    assoc._reactor_checkpoint.set()
    assoc._kill = True
    assoc.is_established = False
    assoc._is_paused = True
    deadline = time.monotonic() + 5.0
    while assoc.dul.is_alive() and not assoc.dul.stop_dul():
        if time.monotonic() > deadline:
            break
        time.sleep(0.0005)


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

    cls = AE
    if sock is not None:
        sock_cls = _preconnected_socket_class()

        class _PreconnectedAE(AE):
            def _create_socket(self, assoc: Any, address: Any, tls_args: Any) -> Any:
                return sock_cls(assoc, sock, on_first_bytes)

        cls = _PreconnectedAE
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
) -> Any:
    """Request an association; returns pynetdicom's Association (established or not).

    ``address``: the IP address already resolved (the host name is used otherwise).
    ``low_latency``: poll the DUL every 0.2 ms instead of 1 ms and tear down fast (for
    echo; measured 18 -> 6 ms per round trip). Not for long transfers: it costs CPU.
    """
    from pynetdicom import evt

    def on_open(event: Any) -> None:
        s = event.assoc.dul.socket.socket
        if s is not None:
            _nodelay(s)
        if low_latency:
            event.assoc.dul._run_loop_delay = 0.0002

    handlers: list[tuple[Any, Any]] = [(evt.EVT_CONN_OPEN, on_open)]
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
    )
    if low_latency:
        assoc.kill = lambda: _fast_kill(assoc)
    return assoc
