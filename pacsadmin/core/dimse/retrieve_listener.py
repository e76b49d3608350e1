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
    calling AE title.
    """
    from pacsadmin.core.dimse.scp import LocalScp, ScpConfig

    cfg = config or ScpConfig(
        ae_title=local.ae_title,
        port=local.port,
        bind=bind,
        max_pdu=local.max_pdu,
        timeouts=local.timeouts,
    )
    scp = LocalScp(archive, cfg, nodes=nodes, listener=on_association)
    try:
        scp.start()
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise ListenerError(
                f"Cannot listen on port {local.port}: {exc.strerror or exc}."
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
        scp.stop()
