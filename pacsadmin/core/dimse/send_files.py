"""What the send tool sends: the inputs expanded into files, each file's header read cheaply.

Inputs are files, folders (walked recursively, in name order), DICOMDIRs (their Referenced
File IDs followed, never to a path outside the DICOMDIR's folder) or the paths of an
archive selection.  Each file's header is read by the archive's fast reader
(:func:`pacsadmin.core.archive.meta.read_meta`, pydicom for anything odd): SOP class, SOP
instance, transfer syntax.  A file that is not DICOM, or is damaged (a header that does
not parse, an element whose length runs past the end of the file), is returned as a
:class:`Skipped` with the reason; one bad file never stops the others.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pacsadmin.core import dicombytes as db

DICOMDIR_NAME = "DICOMDIR"
MAX_DEPTH = 64  # sequence nesting walked by the truncation check
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
UNCOMPRESSED = frozenset({IMPLICIT_LE, EXPLICIT_LE, "1.2.840.10008.1.2.2"})
_NOT_WALKED = frozenset({"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})  # BE, deflated


@dataclass(frozen=True)
class SendItem:
    """A file to send, with what its header says."""

    path: str
    sop_class: str
    sop_instance: str
    transfer_syntax: str
    size: int

    @property
    def compressed(self) -> bool:
        return self.transfer_syntax not in UNCOMPRESSED


@dataclass(frozen=True)
class Skipped:
    """A file that is not sent: not DICOM, or damaged; ``reason`` says which."""

    path: str
    reason: str


def expand(paths: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[str, str | None]]:
    """``(file path, None)`` for every file the inputs name, or ``(path, reason)`` for an
    input that cannot be read (missing, a DICOMDIR that does not parse, a reference
    outside its folder).  Duplicates are given once."""
    seen: set[str] = set()

    def once(p: str) -> bool:
        key = os.path.realpath(p)
        if key in seen:
            return False
        seen.add(key)
        return True

    for raw in paths:
        p = os.fspath(raw)
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                if DICOMDIR_NAME in files:
                    yield from (
                        x for x in _dicomdir(os.path.join(root, DICOMDIR_NAME)) if once(x[0])
                    )
                    dirs[:] = []  # the DICOMDIR names the files below it
                    continue
                for name in sorted(files):
                    f = os.path.join(root, name)
                    if once(f):
                        yield f, None
        elif os.path.basename(p).upper() == DICOMDIR_NAME and os.path.isfile(p):
            yield from (x for x in _dicomdir(p) if once(x[0]))
        elif os.path.isfile(p):
            if once(p):
                yield p, None
        else:
            yield p, "No such file or folder."


def _dicomdir(path: str) -> Iterator[tuple[str, str | None]]:
    """The files a DICOMDIR references (PS3.10 8.6: Referenced File ID, relative to the
    DICOMDIR's folder).  A reference that leaves that folder is refused."""
    from pydicom import dcmread

    base = os.path.realpath(os.path.dirname(path))
    try:
        ds = dcmread(path, force=False)
        records = list(ds.get("DirectoryRecordSequence", []))
    except Exception as exc:  # a DICOMDIR is a file like any other: it may be damaged
        yield path, f"The DICOMDIR could not be read ({type(exc).__name__}: {exc})."
        return
    for rec in records:
        ref = rec.get("ReferencedFileID")
        if ref is None:
            continue
        parts = [ref] if isinstance(ref, str) else [str(x) for x in ref]
        rel = os.path.join(*parts) if parts else ""
        target = os.path.realpath(os.path.join(base, rel))
        if not rel or os.path.commonpath([base, target]) != base:
            yield os.path.join(base, rel), "Refused: the DICOMDIR points outside its own folder."
            continue
        if not os.path.isfile(target):
            yield target, "The DICOMDIR references a file that is not there."
            continue
        yield target, None


def inspect(path: str) -> SendItem | Skipped:
    """A file's SOP class, instance and transfer syntax, or why it will not be sent.
    Never raises."""
    from pydicom.errors import InvalidDicomError

    from pacsadmin.core.archive.meta import PARSE_ERRORS, NotIndexable, read_meta

    try:
        size = os.path.getsize(path)
        meta = read_meta(path)
    except InvalidDicomError:
        return Skipped(path, "Not a DICOM file (no DICM prefix).")
    except NotIndexable as exc:
        return Skipped(path, f"Damaged DICOM header: {exc}.")
    except PARSE_ERRORS as exc:
        return Skipped(path, f"Damaged DICOM file: {type(exc).__name__}: {exc}")
    except Exception as exc:  # a hostile file must not stop the batch
        return Skipped(path, f"Damaged DICOM file: {type(exc).__name__}: {exc}")
    if not meta.sop_class_uid:
        return Skipped(path, "Damaged DICOM header: no SOP Class UID.")
    problem = truncation(path, size)
    if problem:
        return Skipped(path, problem)
    return SendItem(path, meta.sop_class_uid, meta.sop_instance_uid, meta.transfer_syntax, size)


# ---------------------------------------------------------------------- truncation check
class _Unknown(Exception):
    """The walk met something it does not judge (the file is sent as it is)."""


class _Short(Exception):
    def __init__(self, tag: int) -> None:
        self.tag = tag


def truncation(path: str, size: int) -> str | None:
    """A sentence when an element of the data set runs past the end of the file (a copy
    cut short), else None.  Walks element headers only (a seek per value), in the little
    endian syntaxes; anything it does not understand is left to the peer."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
            if len(head) < 132 or head[128:132] != b"DICM":
                return None
            walker = _Walker(fh, size)
            pos = walker.skip_meta(132)
            if pos is None:
                return None
            walker.elements(pos, size, walker.implicit, 0)
    except _Short as short:
        return (
            f"Damaged DICOM file: truncated (element ({short.tag >> 16:04X},"
            f"{short.tag & 0xFFFF:04X}) runs past the end of the file at {size} bytes)."
        )
    except (_Unknown, OSError, db.HeaderError, ValueError):
        return None
    return None


class _Walker:
    def __init__(self, fh: object, size: int) -> None:
        self.fh = fh
        self.size = size
        self.implicit = False

    def read(self, pos: int, n: int) -> bytes:
        self.fh.seek(pos)  # type: ignore[attr-defined]
        b: bytes = self.fh.read(n)  # type: ignore[attr-defined]
        return b

    def skip_meta(self, pos: int) -> int | None:
        ts = ""
        while True:
            buf = self.read(pos, 12)
            if len(buf) < 8:
                return None
            tag, _vr, length, vpos = db.read_header(buf, 0, False)
            if tag >> 16 != 0x0002:
                break
            if tag == 0x00020010:
                ts = self.read(pos + (vpos), length).rstrip(b"\x00 ").decode("ascii", "replace")
            pos += vpos + length
        if ts in _NOT_WALKED:
            return None  # big endian, deflated: not walked here
        self.implicit = ts == IMPLICIT_LE
        return pos

    def header(self, pos: int, implicit: bool) -> tuple[int, bytes | None, int, int]:
        buf = self.read(pos, 12)
        if len(buf) < 8:
            raise _Short(0)
        tag, vr, length, vpos = db.read_header(buf, 0, implicit)
        return tag, vr, length, pos + vpos

    def elements(self, pos: int, end: int, implicit: bool, depth: int) -> int:
        """Walk to ``end`` (defined length), or to an item delimiter when ``end`` is -1."""
        if depth > MAX_DEPTH:
            raise _Unknown
        while end < 0 or pos < end:
            if pos + 8 > self.size:
                if end == self.size and pos == self.size:
                    return pos
                raise _Short(0 if pos >= self.size else self._tag_at(pos))
            tag, vr, length, vpos = self.header(pos, implicit)
            if tag == db.ITEM_END and end < 0:
                return vpos
            if length == db.UNDEFINED:
                pos = self.undefined(vpos, tag, vr, implicit, depth)
                continue
            pos = vpos + length
            if pos > self.size:
                raise _Short(tag)
        return pos

    def _tag_at(self, pos: int) -> int:
        buf = self.read(pos, 4)
        if len(buf) < 4:
            return 0
        g, e, _ = db.unpack_implicit(buf + b"\0" * 4, 0)
        return int(g << 16 | e)

    def undefined(self, pos: int, tag: int, vr: bytes | None, implicit: bool, depth: int) -> int:
        """Past an undefined-length value: a sequence's items, or encapsulated fragments."""
        while True:
            if pos + 8 > self.size:
                raise _Short(tag)
            buf = self.read(pos, 8)
            g, e, length = db.unpack_implicit(buf, 0)
            item = g << 16 | e
            pos += 8
            if item == db.SEQ_END:
                return pos
            if item != db.ITEM:
                raise _Unknown
            if length == db.UNDEFINED:
                nxt = self.read(pos, 6)
                item_implicit = implicit or len(nxt) < 6 or not db.looks_explicit(nxt, 0)
                pos = self.elements(pos, -1, item_implicit, depth + 1)
            else:
                pos += length
                if pos > self.size:
                    raise _Short(tag)


def collect(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[SendItem], list[Skipped]]:
    """Every input expanded and inspected: the files to send and the files skipped."""
    items: list[SendItem] = []
    skipped: list[Skipped] = []
    for path, reason in expand(paths):
        if reason:
            skipped.append(Skipped(path, reason))
            continue
        got = inspect(path)
        (items if isinstance(got, SendItem) else skipped).append(got)  # type: ignore[arg-type]
    return items, skipped


def display_path(path: str) -> str:
    return str(Path(path))
