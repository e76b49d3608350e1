"""The typed events of ``pacsadmin serve --events``: one JSON line each on stdout.

The serve command writes them with :func:`to_json_line` and the window's SCP process reader
parses them with :func:`parse_line`: one definition of the record, on both sides of the
pipe.  Every line carries ``"v": SCHEMA_VERSION`` and ``"event"`` (the kind).  Adding a
field with a default keeps the version (a reader ignores fields it does not know and fills
in defaults for missing ones); removing or retyping a field, or adding a kind, bumps it.

Payloads are bounded whoever builds them (``__post_init__``): strings are cut at
:data:`MAX_TEXT` characters (paths at :data:`MAX_PATH`), an association's error list at
:data:`MAX_ERRORS` entries with the number left off in ``errors_more``, and a line longer
than :data:`MAX_LINE` is not parsed.  No event carries patient data: AE titles, addresses,
counts, reasons and a transcript file name (the transcript itself is redacted).

:func:`parse_line` never raises: a line that is not an event of this schema comes back as
:class:`Unreadable` (not JSON, a wrong type, an unknown kind) or :class:`Unsupported` (a
different schema version), each with a sentence saying why.  The codec is
:mod:`pacsadmin.core.event_lines`, shared with the other event streams.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import ClassVar

from pacsadmin.core.event_lines import Codec, cut
from pacsadmin.core.event_lines import Unreadable as Unreadable  # re-exported
from pacsadmin.core.event_lines import Unsupported as Unsupported

SCHEMA_VERSION = 1
MAX_ERRORS = 20  # error strings per association event; the rest are counted
MAX_TEXT = 300  # characters of a reason, an error, an AE title or an address
MAX_PATH = 4096  # characters of a transcript file path (Linux PATH_MAX)
MAX_LINE = 64 * 1024  # characters of one line (bytes, from a pipe); longer: not parsed

# Failed.reason: why serve could not start (a reader shows Failed.message, a sentence)
PORT_IN_USE = "port_in_use"
PERMISSION_DENIED = "permission_denied"  # a port below 1024 without the privilege, say
ADDRESS_UNAVAILABLE = "address_unavailable"  # --bind to an address this host does not have
CANNOT_LISTEN = "cannot_listen"  # any other socket error
BAD_AE_TITLE = "bad_ae_title"
BAD_ARGUMENT = "bad_argument"
BAD_CONFIG = "bad_config"  # a damaged settings or node directory file
ARCHIVE_UNUSABLE = "archive_unusable"  # the archive folder or its index cannot be used
TLS_UNUSABLE = "tls_unusable"  # the TLS certificate, key, passphrase or client CA
INTERNAL = "internal"  # a bug: the message names the exception type

# Stopped.reason: why a running serve stopped
STOP_SIGNAL = "signal"  # Ctrl-C, SIGTERM (the window's Stop)
STOP_PARENT_GONE = "parent_gone"  # --exit-with-parent: the process that started it ended
STOP_WORKER_FAILED = "worker_failed"  # one of several worker processes stopped


def _cut(text: object, limit: int = MAX_TEXT) -> str:
    return cut(text, limit)


@dataclass(frozen=True)
class Listening:
    """The SCP accepts associations (once per listening process)."""

    KIND: ClassVar[str] = "listening"
    pid: int
    ae_title: str
    port: int
    bind: str = ""  # "" = all addresses

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", _cut(self.ae_title))
        object.__setattr__(self, "bind", _cut(self.bind))


@dataclass(frozen=True)
class Failed:
    """serve could not start; it exits with status 1 after this line."""

    KIND: ClassVar[str] = "failed"
    pid: int
    reason: str  # one of the reason codes above (a newer writer may add codes)
    message: str  # a sentence for people

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", _cut(self.reason, 64))
        object.__setattr__(self, "message", _cut(self.message))


@dataclass(frozen=True)
class Stopped:
    """serve stopped listening and closed the archive cleanly."""

    KIND: ClassVar[str] = "stopped"
    pid: int
    reason: str
    message: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", _cut(self.reason, 64))
        object.__setattr__(self, "message", _cut(self.message))


@dataclass(frozen=True)
class Association:
    """One association as it stands: the payload of the open, progress and close events.

    ``(pid, id)`` names it: the id counts per process, several worker processes may share
    a port.  ``failed`` counts failed C-STOREs; ``errors`` says why (the first
    :data:`MAX_ERRORS`), ``errors_more`` how many more there were.
    """

    KIND: ClassVar[str] = ""
    pid: int
    id: int
    calling_ae: str = ""
    called_ae: str = ""
    address: str = ""
    port: int = 0
    started: float = 0.0
    ended: float | None = None
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    bytes: int = 0
    finds: int = 0
    moves: int = 0
    gets: int = 0
    aborted: bool = False
    rejected: str = ""  # why, when it was rejected
    errors: tuple[str, ...] = ()
    errors_more: int = 0
    transcript_file: str = ""  # written when the association closes

    def __post_init__(self) -> None:
        for name in ("calling_ae", "called_ae", "address", "rejected"):
            object.__setattr__(self, name, _cut(getattr(self, name)))
        object.__setattr__(self, "transcript_file", _cut(self.transcript_file, MAX_PATH))
        errors = tuple(_cut(e) for e in self.errors)
        if len(errors) > MAX_ERRORS:
            more = self.errors_more + len(errors) - MAX_ERRORS
            object.__setattr__(self, "errors_more", more)
            errors = errors[:MAX_ERRORS]
        object.__setattr__(self, "errors", errors)

    @property
    def key(self) -> tuple[int, int]:
        return (self.pid, self.id)

    @property
    def images(self) -> int:
        """Instances received whole: stored, or duplicates of ones already stored."""
        return self.stored + self.duplicates

    @property
    def error_count(self) -> int:
        """Error strings, including the ones left off."""
        return len(self.errors) + self.errors_more


@dataclass(frozen=True)
class AssociationOpened(Association):
    KIND: ClassVar[str] = "open"


@dataclass(frozen=True)
class AssociationProgress(Association):
    """Sent at most twice a second per association while it receives."""

    KIND: ClassVar[str] = "progress"


@dataclass(frozen=True)
class AssociationClosed(Association):
    KIND: ClassVar[str] = "close"


Event = Listening | Failed | Stopped | AssociationOpened | AssociationProgress | AssociationClosed
EVENT_TYPES: tuple[type[Event], ...] = (
    Listening,
    Failed,
    Stopped,
    AssociationOpened,
    AssociationProgress,
    AssociationClosed,
)


_CODEC: Codec[Event] = Codec(SCHEMA_VERSION, EVENT_TYPES, MAX_LINE, writer="the SCP process")
Parsed = Event | Unreadable | Unsupported
to_json_line = _CODEC.to_json_line  # one JSON line (no newline): the version and kind first
parse_line = _CODEC.parse_line  # the event on a line (str or bytes), or why not; never raises


# ------------------------------------------------------------------ start-up failures
def listen_failure(exc: OSError, port: int, bind: str = "") -> tuple[str, str]:
    """(reason, sentence) for a listening socket that could not be opened."""
    where = f"port {port}" + (f" on {bind}" if bind else "")
    why = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.EADDRINUSE:
        return PORT_IN_USE, (
            f"{where} is already in use by another program "
            "(stop it, or choose another scp_port in the settings)"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PERMISSION_DENIED, (
            f"permission denied to listen on {where}"
            + (" (ports below 1024 need privileges: choose 1024 or above)" if port < 1024 else "")
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return ADDRESS_UNAVAILABLE, f"cannot listen on {bind or 'that address'}: {why}"
    return CANNOT_LISTEN, f"cannot listen on {where}: {why}"
