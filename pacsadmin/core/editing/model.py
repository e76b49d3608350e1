"""A Part 10 file as a tree of elements with their byte offsets (no pydicom in the walk).

The editor needs to know where every element's bytes are, to rewrite only what changed
(``writer.py``), so the file is parsed here, not by pydicom: each :class:`Node` records
its header position, where its length field is, its value range and its end; a sequence
holds :class:`Item`\\ s with the same.  Implicit and explicit VR, little and big endian,
Deflated (inflated, bounded), encapsulated Pixel Data (kept as one opaque value),
explicit UN of undefined length (read as Implicit VR Little Endian, as the standard says).

A damaged or hostile file never raises: what could be read is kept and ``problems`` says
where reading stopped (docs/safety.md rules 2 and 3): no length is believed beyond the
bytes present, nesting is capped, the number of elements is capped, a deflated data set
inflates at most ``deflate.MAX_INFLATED`` bytes.  Only a file read to its end
(``complete``) may be saved.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from pacsadmin.core import deflate
from pacsadmin.core.editing.nodes import (
    DEFLATED,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    MAX_DEPTH,
    MAX_NODES,
    Item,
    Node,
    Stamp,
    Syntax,
    walk,
)
from pacsadmin.core.editing.walker import Walker, implicit_vr, looks_explicit

__all__ = [
    "DEFLATED",
    "EXPLICIT_BE",
    "EXPLICIT_LE",
    "IMPLICIT_LE",
    "MAX_DEPTH",
    "MAX_NODES",
    "DicomFile",
    "Item",
    "Node",
    "Stamp",
    "Syntax",
    "implicit_vr",
    "load",
    "load_header",
    "parse",
    "read_stamped",
    "stamp_of",
    "walk",
]


@dataclass(eq=False)
class DicomFile:
    path: Path | None
    head: bytes  # preamble, "DICM", the file meta group (as in the file)
    body: bytes  # the data set (inflated for Deflated)
    preamble: bool  # the file has the 128-byte preamble and "DICM"
    meta: list[Node]
    elements: list[Node]
    syntax: Syntax
    problems: list[str]
    complete: bool
    stamp: Stamp | None
    preamble_flag: str = ""  # "MZ" or "ELF": an executable header in the preamble
    raw_size: int = 0
    partial: bool = False  # read by load_header: the last value is not in ``body``

    @property
    def charset(self) -> list[str]:
        from pacsadmin.core.editing.values import charset_of

        return charset_of(self)


def stamp_of(path: Path, data: bytes, st: os.stat_result, *, hashed: bool = True) -> Stamp:
    digest = hashlib.sha256(data).hexdigest() if hashed else ""
    return Stamp(st.st_size, st.st_mtime_ns, st.st_ino, digest)


def read_stamped(path: str | os.PathLike[str], *, hashed: bool = True) -> tuple[bytes, Stamp]:
    """The file's bytes and its stamp, taken from the same open file."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        data = fh.read()
    return data, stamp_of(Path(path), data, st, hashed=hashed)


def load(path: str | os.PathLike[str], *, hashed: bool = True) -> DicomFile:
    """Read and parse ``path``.  ``OSError`` when it cannot be read at all; a damaged file
    gives a :class:`DicomFile` with ``problems`` and ``complete`` False.  ``hashed`` False:
    the stamp has no SHA-256 (a plan of many files: the batch hashes what it reads)."""
    p = Path(path)
    data, stamp = read_stamped(p, hashed=hashed)
    return parse(data, p, stamp)


def load_header(path: str | os.PathLike[str], head: int = 1 << 18) -> DicomFile:
    """Like :func:`load` without reading a large last value (Pixel Data): the first
    ``head`` bytes, when they hold every element but the last and the last one's declared
    length ends exactly at the end of the file.  Else the whole file.  For plans and
    previews only: a partial file (``partial``) is never saved; its stamp has no hash."""
    p = Path(path)
    with open(p, "rb") as fh:
        st = os.fstat(fh.fileno())
        data = fh.read(head if st.st_size > head else -1)
    stamp = stamp_of(p, data, st, hashed=False)
    if len(data) < st.st_size:
        df = parse(data, p, stamp, size=st.st_size)
        if df.partial and not df.syntax.deflated:
            return df
        data = p.read_bytes()
    return parse(data, p, stamp)


def parse(
    data: bytes, path: Path | None = None, stamp: Stamp | None = None, *, size: int | None = None
) -> DicomFile:
    """``size``: the whole file's size when ``data`` is only its head (see load_header)."""
    problems: list[str] = []
    flag = ""
    if len(data) >= 132 and data[128:132] == b"DICM":
        preamble, pos = True, 132
        if data[:2] == b"MZ":
            flag = "MZ"
        elif data[:4] == b"\x7fELF":
            flag = "ELF"
        if flag:
            problems.append(
                f"the preamble holds an executable header ({flag}): the file may be a "
                "program disguised as DICOM; it is written with a zero preamble"
            )
    else:
        preamble, pos = False, 0
    walker = Walker(problems)
    partial = False
    meta: list[Node] = []
    ts_uid = ""
    if len(data) >= pos + 6 and struct.unpack_from("<H", data, pos)[0] == 2:
        implicit_meta = not looks_explicit(data, pos)
        meta, pos = walker.walk_meta(data, pos, implicit_meta)
        for n in meta:
            if n.tag == 0x00020010:
                ts_uid = data[n.value_start : n.end].decode("ascii", "replace")
                ts_uid = ts_uid.strip("\x00 ")
    elif not preamble and len(data) < 8:
        problems.append("not a DICOM file: too short")
    head = data[:pos]
    deflated = ts_uid == DEFLATED
    body = data[pos:]
    complete = not walker.stopped
    if deflated and complete:
        try:
            body = _inflate(body)
        except (zlib.error, ValueError) as exc:
            problems.append(f"the deflated data set cannot be inflated: {exc}")
            body, complete = b"", False
    implicit = ts_uid == IMPLICIT_LE
    little = ts_uid != EXPLICIT_BE
    if ts_uid == "" and body[:6]:
        implicit = not looks_explicit(body, 0) if len(body) >= 6 else True
        if not implicit and struct.unpack_from(">H", body)[0] < struct.unpack_from("<H", body)[0]:
            little = False  # no file meta: a big endian data set starts with group 0008
    elif len(body) >= 6 and implicit == looks_explicit(body, 0) and little:
        problems.append(
            f"the transfer syntax says {'implicit' if implicit else 'explicit'} VR but the "
            "data set is not: read as it is written"
        )
        implicit = not implicit
    syntax = Syntax(ts_uid, implicit, little, deflated)
    elements: list[Node] = []
    if complete:
        if size is not None and not deflated:
            walker.virtual_end = size - pos
        elements = walker.walk_dataset(body, implicit, little)
        complete = not walker.stopped
        partial = walker.partial
    df = DicomFile(
        path, head, body, preamble, meta, elements, syntax, problems, complete, stamp, flag
    )
    df.raw_size = len(data)
    df.partial = partial
    return df


def _inflate(data: bytes) -> bytes:
    z = zlib.decompressobj(-zlib.MAX_WBITS)
    out = z.decompress(data, deflate.MAX_INFLATED + 1)
    if len(out) > deflate.MAX_INFLATED or z.unconsumed_tail:
        raise ValueError(f"it inflates past {deflate.MAX_INFLATED} bytes (a deflate bomb?)")
    return out + z.flush()
