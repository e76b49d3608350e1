"""A damaged file: whatever reading it raises becomes one readable line, never a traceback.

Every entry point that reads files wraps its per-file work in one boundary that catches
``Exception`` and calls :func:`reason`: the archive import (``importer._read_one``), the
storage SCP (``LocalScp._on_store``), render and the viewer's loader (the
``imaging.errors.per_file`` decorator on ``load_image``, ``open_frame``, ``read_info``,
``read_geometry`` and ``decode_frame``).  The batch, the association or the series goes
on with the next file.

What a damaged or hostile file makes pydicom, numpy and our own parsers raise is wider than
it looks: ``InvalidDicomError``, ``BytesLengthException`` (a value whose length does not fit
its VR, raised while pydicom converts the file meta group), ``EOFError`` and
``struct.error`` (cut short), ``ValueError``, ``KeyError``, ``TypeError``, ``IndexError``,
``AttributeError``, ``NotImplementedError``, ``UnicodeDecodeError``, ``OverflowError``,
``MemoryError`` (a length of 4 GB believed), ``RecursionError`` (deep nesting) and
``zlib.error``: listing them at each call site was how one of them got through and stopped
a whole import.  So the boundaries catch ``Exception`` (not ``BaseException``: Ctrl-C, exit
and a test's time-out guard still stop the work) and this module says what it means.

The reason names the exception type and keeps at most one short line of its message, with
raw bytes and control characters escaped: pydicom's messages can quote whole element
values.  Logs should carry only :func:`kind` (the type name), never the message.
"""

from __future__ import annotations

import re
import struct
import sys
import zlib

#: What a damaged file can raise that is not pydicom's own (those are checked by name in
#: :func:`reason`: pydicom is not imported here).  For the narrow ``except`` clauses inside
#: parsers; the boundaries catch ``Exception``.
DAMAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    struct.error,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    NotImplementedError,
    MemoryError,
    RecursionError,
    OverflowError,
    UnicodeError,
    zlib.error,
)

MAX_DETAIL = 160  # characters of an exception's message kept in a reason

_BYTES_LENGTH = re.compile(
    r"bytes per value of (\d+).*?parse (\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)) according to VR "
    r"'(\w\w)'",
    re.S,
)
_LENGTH_ONLY = re.compile(r"with length (\d+)")


def kind(exc: BaseException) -> str:
    """The exception's type name: what a log may say about a damaged file."""
    return type(exc).__name__


def one_line(text: str, limit: int = MAX_DETAIL) -> str:
    """``text`` on one line (its lines joined with "; "), printable, at most ``limit``
    characters: pydicom's decoders say which plugin failed how on the lines after the
    first."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    line = "; ".join(x.rstrip(":") if i < len(lines) - 1 else x for i, x in enumerate(lines) if x)
    line = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in line)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def detail(exc: BaseException, limit: int = MAX_DETAIL) -> str:
    """``str(exc)`` by :func:`one_line`."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = repr(exc.args[0])  # KeyError's str() is the key's repr already
    return one_line(text, limit)


def _pydicom_error(exc: BaseException, name: str) -> bool:
    errors = sys.modules.get("pydicom.errors")
    cls = getattr(errors, name, None) if errors is not None else None
    return isinstance(cls, type) and isinstance(exc, cls)


def _typed(exc: BaseException, what: str) -> str:
    text = detail(exc)
    return f"{what} ({kind(exc)}: {text})" if text else f"{what} ({kind(exc)})"


def reason(exc: BaseException) -> str:
    """One line saying why a file could not be read, for the person who gave it.

    >>> reason(EOFError())
    'the file is cut short (EOFError)'
    """
    from pacsadmin.core.errors import PacsAdminError

    if isinstance(exc, PacsAdminError):  # ours: already a sentence
        return detail(exc, 400) or kind(exc)
    if _pydicom_error(exc, "InvalidDicomError"):
        return "not a DICOM file (no DICM prefix)"
    if _pydicom_error(exc, "BytesLengthException"):
        m = _BYTES_LENGTH.search(str(exc))
        if m:
            size, tag, vr = m.groups()
            n = _LENGTH_ONLY.search(str(exc))
            got = f" (it is {n.group(1)} bytes long)" if n else ""
            return (
                f"the file is damaged: the value of {tag} (VR {vr}) is not a whole number of "
                f"{size}-byte values{got}"
            )
        return "the file is damaged: a value's length does not fit its VR (BytesLengthException)"
    if isinstance(exc, (EOFError, struct.error)):
        return _typed(exc, "the file is cut short")
    if isinstance(exc, MemoryError):
        return "the file declares more data than fits in memory (a damaged length?) (MemoryError)"
    if isinstance(exc, RecursionError):
        return "the file nests sequences too deeply to read (RecursionError)"
    if isinstance(exc, zlib.error):
        return _typed(exc, "the deflated data is corrupt")
    if isinstance(exc, UnicodeError):
        return _typed(exc, "the file holds text that cannot be decoded")
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "this is a folder, not a file"
    if isinstance(exc, PermissionError):
        return "no permission to read the file"
    if isinstance(exc, OSError) and exc.errno is not None:  # the system's, not a parser's
        return f"cannot read the file: {exc.strerror or detail(exc) or kind(exc)}"
    return _typed(exc, "the file is damaged")
