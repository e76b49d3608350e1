"""The listener a C-MOVE to the local node needs (as DCMTK ``movescu --port`` has).

When the local SCP (the window's ``pacsadmin serve``, or a ``pacsadmin serve`` the admin
runs) already listens on the configured port, the move uses it.  Otherwise a receiver
into the archive (the app's own :class:`~pacsadmin.core.dimse.scp.LocalScp`, the same
store path as the SCP: temp file in the archive's ``tmp/``, renamed into place, indexed)
is started for the duration of the move and stopped after it.
"""

from __future__ import annotations

import contextlib
import errno
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.retrieve_model import Receiver
from pacsadmin.core.nodes import DicomNode


class ListenerError(Exception):
    """The port is taken by something that does not answer as our AE title."""


def probe_local(local: LocalAE, timeout: float = 2.0) -> bool:
    """A quick C-ECHO to our own AE title on 127.0.0.1: is the local SCP running?"""
    from pacsadmin.core.dimse.echo import echo

    node = DicomNode(name="local SCP", ae_title=local.ae_title, host="127.0.0.1", port=local.port)
    return bool(echo(local, node, timeout=timeout).ok)


class _Shared:
    """A receiver this process started, used by every move that runs meanwhile."""

    def __init__(self, archive: Any) -> None:
        self.archive = archive
        self.scp: Any = None
        self.users = 0
        self.listeners: list[Callable[[str, Any], None]] = []
        self.lock = threading.Lock()

    def dispatch(self, kind: str, rec: Any) -> None:
        with self.lock:
            listeners = list(self.listeners)
        for cb in listeners:
            cb(kind, rec)


# Receivers started here, by port.  Two moves at once in one process (the window runs a
# few retrieves at a time) share one receiver: the second must not find the port taken
# by the first's receiver, which would stop when the first move ends, in the middle of
# the second's.  The last move using it stops it.
_receivers: dict[int, _Shared] = {}
_receivers_lock = threading.Lock()


@contextlib.contextmanager
def local_receiver(
    local: LocalAE,
    archive: Any,
    *,
    bind: str = "",
    nodes: Any = None,
    on_association: Callable[[str, Any], None] | None = None,
    config: Any = None,
) -> Iterator[tuple[Receiver, Any]]:
    """Yield (:class:`Receiver`, the LocalScp started here or None when one already ran).

    ``on_association(kind, record)``: the started receiver's association events ("open",
    "store", "close"; the record has the peer's address).  Raises :class:`ListenerError`
    when the port is taken by something that is not a DICOM node answering our AE title.
    ``config``: the receiver's :class:`ScpConfig` (the settings' access rules: whitelist,
    address check, association cap), else one built from ``local`` that accepts any
    calling AE title.  A receiver this process already runs for another move on the port
    (into the same archive) is shared, and stopped by the last move using it.
    """
    with _receivers_lock:
        shared = _receivers.get(local.port)
        if shared is not None and shared.archive is archive:
            shared.users += 1
            if on_association is not None:
                with shared.lock:
                    shared.listeners.append(on_association)
        else:
            shared = None
    if shared is not None:
        try:
            yield (
                Receiver(
                    local.ae_title,
                    shared.scp.port,
                    True,
                    f"no local SCP was running: the receiver started on port "
                    f"{shared.scp.port} (AE {local.ae_title}) for another retrieve receives "
                    "this one too, and stops after the last of them",
                ),
                shared.scp,
            )
        finally:
            _release(local.port, shared, on_association)
        return
    with _sole_receiver(local, archive, bind, nodes, on_association, config) as got:
        yield got


def _release(port: int, shared: _Shared, cb: Callable[[str, Any], None] | None) -> None:
    with _receivers_lock:
        if cb is not None:
            with shared.lock:
                if cb in shared.listeners:
                    shared.listeners.remove(cb)
        shared.users -= 1
        if shared.users == 0:
            _receivers.pop(port, None)
            shared.scp.stop()  # under the lock: a new move waits, then starts its own


@contextlib.contextmanager
def _sole_receiver(
    local: LocalAE,
    archive: Any,
    bind: str,
    nodes: Any,
    on_association: Callable[[str, Any], None] | None,
    config: Any,
) -> Iterator[tuple[Receiver, Any]]:
    from pacsadmin.core.dimse.scp import LocalScp, ScpConfig

    cfg = config or ScpConfig(
        ae_title=local.ae_title,
        port=local.port,
        bind=bind,
        max_pdu=local.max_pdu,
        timeouts=local.timeouts,
    )
    shared = _Shared(archive)
    if on_association is not None:
        shared.listeners.append(on_association)
    scp = LocalScp(archive, cfg, nodes=nodes, listener=shared.dispatch)
    with _receivers_lock:
        try:
            scp.start()
        except OSError as err:
            failure: OSError | None = err
        else:
            failure = None
            shared.scp, shared.users = scp, 1
            _receivers[local.port] = shared
    if failure is not None:
        if failure.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise ListenerError(
                f"Cannot listen on port {local.port}: {failure.strerror or failure}."
            ) from None
        if not probe_local(local):
            raise ListenerError(
                f"Port {local.port} is taken, but not by a DICOM node answering the AE "
                f"title {local.ae_title}: stop what uses it, or change the local port."
            ) from None
        yield (
            Receiver(
                local.ae_title,
                local.port,
                False,
                f"the local SCP already running on port {local.port} receives",
            ),
            None,
        )
        return
    try:
        yield (
            Receiver(
                local.ae_title,
                scp.port,
                True,
                f"no local SCP was running: a receiver was started on port {scp.port} "
                "(AE " + local.ae_title + ") for this retrieve and stopped after it",
            ),
            scp,
        )
    finally:
        _release(local.port, shared, on_association)
