"""Who may associate with the local SCP, and the server class for worker processes.

:class:`Allowed` is the optional allow-list (docs/safety.md rule 9): calling AE titles of the
nodes in the directory, and optionally only from those nodes' addresses.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from pacsadmin.core.dimse import _pynetdicom
from pacsadmin.core.nodes import NodeDirectory


class Allowed:
    """Calling AE titles allowed per peer address, from the node directory (re-read when
    the file changes)."""

    def __init__(self, nodes: NodeDirectory | None, check_address: bool) -> None:
        self.nodes = nodes
        self.check_address = check_address
        self._mtime: float | None = None
        self._by_aet: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        if self.nodes is None:
            return
        path = getattr(self.nodes, "path", None)
        try:
            mtime = os.stat(path).st_mtime if path else 0.0
        except OSError:
            mtime = 0.0
        if mtime == self._mtime:
            return
        with contextlib.suppress(Exception):
            self.nodes.load()
        by_aet: dict[str, set[str]] = {}
        for n in self.nodes.list():
            addrs: set[str] = {n.host}
            if self.check_address:  # DNS only when addresses matter (it may be slow)
                with contextlib.suppress(OSError, UnicodeError):
                    addrs |= {cast(str, ai[4][0]) for ai in socket.getaddrinfo(n.host, None)}
            by_aet.setdefault(n.ae_title.strip(), set()).update(addrs)
        self._by_aet, self._mtime = by_aet, mtime

    def for_address(self, address: str | None) -> list[str]:
        with self._lock:
            self._refresh()
            if not self.check_address or address is None:
                titles = list(self._by_aet)
            else:
                titles = [a for a, hosts in self._by_aet.items() if address in hosts]
        return titles or ["\x00no caller is allowed"]  # an empty list would allow everyone


def make_ae_class() -> type:
    from pynetdicom import AE

    class ScpAE(AE):
        """An AE whose calling-AE allow-list depends on the requesting peer's address.

        pynetdicom's ACSE reads ``require_calling_aet`` on the association's own thread
        during negotiation (:func:`_pynetdicom.current_association`), so the property can
        look at that association's address."""

        allowed: Allowed | None = None
        pacs_tmp_dir: Path | None = None

        @property
        def require_calling_aet(self) -> list[str]:
            if self.allowed is None:
                return []
            assoc = _pynetdicom.current_association()
            addr = None
            with contextlib.suppress(AttributeError):
                addr = assoc.requestor.address
            return self.allowed.for_address(addr)

        @require_calling_aet.setter
        def require_calling_aet(self, value: list[str]) -> None:
            pass

    return ScpAE


def server_class(
    reuse_port: bool,
    *,
    tls_handshake_timeout: float | None = None,
    on_tls_refused: Callable[[tuple[str, int], str], None] | None = None,
) -> type | None:
    """The SCP's server class: SO_REUSEPORT (several worker processes on one port) and/or
    TLS with the handshake on each connection's own thread, bounded by
    ``tls_handshake_timeout`` (pynetdicom's own server does it on the accepting thread,
    unbounded: one silent peer would stop every other connection).  A failed handshake is
    told to ``on_tls_refused((address, port), why)`` and the connection closed.  None:
    pynetdicom's own class will do."""
    if not reuse_port and tls_handshake_timeout is None:
        return None
    import ssl

    from pynetdicom.transport import ThreadedAssociationServer

    from pacsadmin.core.dimse import scp_tls

    class ScpServer(ThreadedAssociationServer):
        def server_bind(self) -> None:
            assert self.socket is not None  # socketserver makes it before server_bind
            if reuse_port:
                self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            super().server_bind()

        def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
            assert self.socket is not None
            sock, address = self.socket.accept()
            if self.ssl_context:
                sock = scp_tls.wrap_unshaken(self.ssl_context, sock)
            return sock, address

        def process_request_thread(self, request: Any, client_address: Any) -> None:
            if isinstance(request, ssl.SSLSocket) and tls_handshake_timeout is not None:
                why = scp_tls.handshake(request, tls_handshake_timeout)
                if why is not None:
                    if on_tls_refused is not None:
                        with contextlib.suppress(Exception):
                            on_tls_refused(client_address, why)
                    self.shutdown_request(request)
                    return
            super().process_request_thread(request, client_address)

    return ScpServer
