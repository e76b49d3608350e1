"""TLS on the local SCP (DICOM PS3.15 B.1, BCP 195): the server's SSL context and the
handshake of each incoming connection.

- The certificate (chain) and the key come from PEM files; an encrypted key's passphrase
  comes from the OS keyring (:data:`~pacsadmin.core.secrets.SCP_TLS_PASSPHRASE_KEY`), never
  from a file, a command line or a log.  A missing file, an unreadable key or a wrong
  passphrase is a :class:`ScpTlsError` whose sentence says which, before anything listens.
- TLS 1.2 at least; older clients fail the handshake.
- With a client CA file, a caller must present a certificate issued by it (mutual TLS);
  a caller without one, or with another one, fails the handshake.
- The handshake runs on the connection's own thread, bounded by the ACSE timeout:
  pynetdicom's server would otherwise do it on the thread that accepts connections, where a
  peer that connects and says nothing would stop the SCP from accepting anyone else.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
from dataclasses import dataclass

from pacsadmin.core.errors import PacsAdminError


class ScpTlsError(PacsAdminError):
    """The SCP's TLS set-up cannot be used (the sentence says why)."""


@dataclass(frozen=True)
class ScpTls:
    """The TLS settings of the local SCP (the passphrase is not one of them)."""

    cert: str
    key: str = ""  # "": the key is in the certificate file
    client_ca: str = ""  # "": callers are not asked for a certificate

    def describe(self) -> str:
        return "TLS, client certificate required" if self.client_ca else "TLS"


def server_context(tls: ScpTls, passphrase: str | None) -> ssl.SSLContext:
    """The SSL context of the SCP; :class:`ScpTlsError` when it cannot be made."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not tls.cert:
        raise ScpTlsError("TLS is on but no certificate file is set (scp_tls_cert, --tls-cert).")
    for what, path in (
        ("certificate", tls.cert),
        ("private key", tls.key),
        ("client CA", tls.client_ca),
    ):
        if path and not os.path.isfile(path):
            raise ScpTlsError(f"TLS: the {what} file {path} does not exist.")
    try:
        # never password=None: OpenSSL would then prompt on the terminal and block
        ctx.load_cert_chain(
            tls.cert,
            tls.key or None,
            password=passphrase if passphrase is not None else (lambda: b""),
        )
    except FileNotFoundError as exc:
        raise ScpTlsError(f"TLS: the file {exc.filename} does not exist.") from exc
    except PermissionError as exc:
        raise ScpTlsError(f"TLS: the file {exc.filename} cannot be read (permission).") from exc
    except (ssl.SSLError, OSError) as exc:
        reason = str(getattr(exc, "reason", None) or exc)
        if not _encrypted(tls.key or tls.cert):
            raise ScpTlsError(
                "TLS: the certificate and key cannot be used: not PEM files, or the key does "
                f"not match the certificate ({reason})."
            ) from exc
        if not passphrase:
            raise ScpTlsError(
                "TLS: the private key is encrypted and no passphrase is stored in the OS "
                "keyring (store it with: pacsadmin serve --tls-passphrase-stdin)."
            ) from exc
        raise ScpTlsError(
            "TLS: the private key cannot be loaded: the passphrase in the OS keyring is wrong, "
            f"or the key does not match the certificate ({reason})."
        ) from exc
    if tls.client_ca:
        try:
            ctx.load_verify_locations(cafile=tls.client_ca)
        except FileNotFoundError as exc:
            raise ScpTlsError(f"TLS: the client CA file {tls.client_ca} does not exist.") from exc
        except (ssl.SSLError, OSError) as exc:
            raise ScpTlsError(
                f"TLS: the client CA file {tls.client_ca} cannot be used "
                f"({getattr(exc, 'reason', None) or exc})."
            ) from exc
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _encrypted(path: str) -> bool:
    """Whether the PEM file holds an encrypted private key (PKCS#8 or OpenSSL's own)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
    except OSError:
        return False
    return b"ENCRYPTED PRIVATE KEY" in head or b"Proc-Type: 4,ENCRYPTED" in head


def wrap_unshaken(ctx: ssl.SSLContext, sock: socket.socket) -> ssl.SSLSocket:
    """The accepted socket in TLS, the handshake left for :func:`handshake` (on the
    connection's own thread)."""
    return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)


def handshake(sock: ssl.SSLSocket, timeout: float) -> str | None:
    """Do the TLS handshake within ``timeout`` seconds in all; None when done, else why
    not (a sentence without patient data: the peer's address is added by the caller).

    The socket's timeout bounds each read; a timer bounds the whole, so a peer that sends
    its hello a byte at a time is cut off too (the socket is shut down under the read)."""
    late = threading.Event()

    def cut() -> None:
        late.set()
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    timer = threading.Timer(timeout, cut)
    timer.daemon = True
    timer.start()
    try:
        sock.settimeout(timeout)
        sock.do_handshake()
        sock.settimeout(None)  # pynetdicom polls with select() and reads blocking
    except TimeoutError:
        return f"no TLS handshake within {timeout:g} s"
    except ssl.SSLError as exc:
        if late.is_set():
            return f"no TLS handshake within {timeout:g} s"
        return f"TLS handshake failed ({exc.reason or exc.strerror or type(exc).__name__})"
    except OSError as exc:
        if late.is_set():
            return f"no TLS handshake within {timeout:g} s"
        return f"TLS handshake failed ({exc.strerror or type(exc).__name__})"
    finally:
        timer.cancel()
    if late.is_set():  # finished just as the timer cut it: the connection is gone
        return f"no TLS handshake within {timeout:g} s"
    return None
