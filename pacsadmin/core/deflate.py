"""Deflated Explicit VR Little Endian files (PS3.5 A.5) without a deflate bomb.

pydicom reads a deflated Part 10 file by inflating everything after the file meta group in
one ``zlib.decompress`` (``filereader.read_partial``): a few MB that inflate to many GB
exhaust memory, and pynetdicom does the same for a data set on the wire.  Every deflated
file the archive takes (C-STORE, import, verify) therefore goes through :func:`guard`
first, before pydicom ever parses it:

* the whole deflated stream is inflated here, in chunks (``max_length``), holding at most
  about a MiB of it at a time and counting: more than :data:`MAX_INFLATED` bytes, a corrupt
  stream or a truncated one raise a :class:`DeflateError` (a ``ValueError``: the SCP answers
  0xC210 "cannot understand" with the reason, import lists it and goes on);
* on the way, the top-level elements in front of the pixel data are copied (a large one
  left out: nothing the index reads is large), so the header is parsed from that small
  copy and the file is inflated only once.

A file in the archive has passed this check, so reading it whole later (view, C-MOVE /
C-GET) inflates at most :data:`MAX_INFLATED` bytes.
"""

from __future__ import annotations

import io
import os
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from pacsadmin.core import dicombytes as db
from pacsadmin.core._pydicom import read_up_to_dataset
from pacsadmin.core.errors import PacsAdminError

DEFLATED = "1.2.840.10008.1.2.1.99"

# The largest inflated data set accepted: 1 GiB.  The Deflated syntax is used for
# structured reports, RT structure sets, segmentations, presentation states and waveforms,
# which stay far below this; a large image would be sent JPEG/RLE compressed instead.  A
# plain file of this size already costs its size in memory when viewed or sent on, so the
# limit adds no new risk: it only stops a small file from costing far more than it weighs
# (deflate reaches ~1000:1 on zeros: 1 MiB on the wire would be 1 GiB).  No ratio limit:
# a legitimate mostly-empty segmentation deflates at ratios a bomb has.
MAX_INFLATED = 1 << 30
HEADER_CAP = 16 << 20  # the header copy given to pydicom: at most this much
ELEMENT_CAP = 1 << 20  # a top-level element larger than this is left out of the header copy
MAX_DEPTH = 64  # sequence nesting (docs/safety.md rule 2)

_IN_CHUNK = 1 << 16  # compressed bytes read at a time
_OUT_CHUNK = 1 << 20  # at most this many inflated bytes per zlib call
_UID = DEFLATED.encode()
_PIXEL_TAGS = db.PIXEL_TAGS  # where stop_before_pixels stops
_ITEM, _ITEM_END, _SEQ_END = db.ITEM, db.ITEM_END, db.SEQ_END
_UNDEFINED = db.UNDEFINED


class DeflateError(PacsAdminError, ValueError):
    """A deflated data set that is refused; ``str(exc)`` says why (fits an Error Comment)."""


class DeflateBomb(DeflateError):
    """It inflates to more than the limit."""


class DeflateCorrupt(DeflateError):
    """The deflated stream is corrupt or truncated."""


def _size(n: int) -> str:
    return f"{n >> 30} GiB" if n % (1 << 30) == 0 else f"{n / (1 << 20):g} MiB"


@dataclass(frozen=True)
class DeflateInfo:
    offset: int  # where the deflated stream starts in the file (after the file meta)
    compressed: int  # bytes of the file read after ``offset``
    inflated: int  # bytes the stream inflates to
    header: bytes  # the top-level elements in front of the pixel data (large ones left out)


# ------------------------------------------------------------------ is it deflated?
def _surely_not_deflated(head: bytes) -> bool:
    """True when ``head`` (the file's first bytes) holds its whole file meta group, walked
    as pydicom reads it, and no Deflated transfer syntax UID is in it.  False: ask pydicom."""
    if head[128:132] != b"DICM":
        return head[:2] != b"\x02\x00"  # pydicom (force) reads a meta group at offset 0
    pos = 132
    while True:
        if pos + 8 > len(head):
            return False
        group = db.unpack_implicit(head, pos)[0]
        if group != 2:
            break
        try:
            _, _, length, vpos = db.read_header(head, pos, False)
        except db.HeaderError:  # past the end; or pydicom may re-read it as implicit VR
            return False
        pos = vpos + length
    return group != 0 and _UID not in head[:pos]  # group 0: a command set pydicom skips


def deflated_offset(fh: BinaryIO) -> int | None:
    """Where the deflated data set starts, counted from ``fh``'s position, when ``fh`` is a
    deflated Part 10 file as pydicom reads it; None otherwise.  Leaves ``fh`` anywhere."""
    start = fh.tell()
    if _surely_not_deflated(fh.read(4096)):
        return None
    fh.seek(start)
    try:  # exactly what dcmread does before it inflates
        meta = read_up_to_dataset(fh)
    except Exception:  # dcmread fails the same way, before it inflates
        return None
    if meta.get("TransferSyntaxUID") != DEFLATED:
        return None
    return fh.tell() - start


# ------------------------------------------------------------------ bounded inflate
class _Inflater:
    """The inflated stream, pulled in pieces: never more than a read's worth held."""

    def __init__(self, fh: BinaryIO, limit: int) -> None:
        self._fh = fh
        self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        self._limit = limit
        self._buf = b""
        self._pos = 0  # what of _buf was read already
        self._input_done = False
        self.total = 0
        self.compressed = 0

    def _more(self) -> bool:
        """Inflate the next piece into the buffer; False at the end of the stream."""
        z = self._z
        if z.eof:
            return False
        data = z.unconsumed_tail
        if not data and not self._input_done:
            data = self._fh.read(_IN_CHUNK)
            self.compressed += len(data)
            self._input_done = not data
        try:
            out = z.decompress(data, _OUT_CHUNK)
        except zlib.error as exc:
            raise DeflateCorrupt(f"deflated data set is corrupt ({exc}): refused") from None
        self.total += len(out)
        if self.total > self._limit:
            raise DeflateBomb(
                f"deflated data set inflates past {_size(self._limit)}: refused (deflate bomb?)"
            )
        if not out and self._input_done and not z.unconsumed_tail and not z.eof:
            raise DeflateCorrupt("deflated data set is truncated: refused")
        if out:
            self._buf = self._buf[self._pos :] + out
            self._pos = 0
        return True

    def read(self, n: int) -> bytes:
        while len(self._buf) - self._pos < n and self._more():
            pass
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    def skip(self, n: int) -> None:
        while n > len(self._buf) - self._pos:
            n -= len(self._buf) - self._pos
            self._buf, self._pos = b"", 0
            if not self._more():
                return
        self._pos += n

    def drain(self) -> None:
        while self._more():
            self._buf, self._pos = b"", 0


class _Unparseable(Exception):
    """The header copy stops here (pydicom will judge the file)."""


class _Copy:
    """One top-level element being copied, dropped once it grows past ``cap``."""

    def __init__(self, r: _Inflater, cap: int) -> None:
        self.r, self.cap = r, cap
        self.buf: bytearray | None = bytearray()

    def add(self, b: bytes) -> None:
        if self.buf is not None:
            self.buf += b
            if len(self.buf) > self.cap:
                self.buf = None

    def value(self, n: int) -> None:
        if self.buf is not None and len(self.buf) + n <= self.cap:
            v = self.r.read(n)
            if len(v) < n:
                raise _Unparseable
            self.buf += v
        else:
            self.buf = None
            self.r.skip(n)


def _element(r: _Inflater, implicit: bool) -> tuple[bytes, int, int, bytes] | None:
    """(header bytes, tag, length, VR) of the next element; None at the end."""
    hdr = r.read(8)
    if len(hdr) < 8:
        return None
    group, elem, length = db.unpack_implicit(hdr)
    tag = group << 16 | elem
    if group == 0xFFFE or implicit:  # items, delimiters: no VR
        return hdr, tag, length, b""
    _, _, vr, length = db.unpack_explicit(hdr)
    if vr in db.LONG_VRS:
        ext = r.read(4)
        if len(ext) < 4:
            return None
        return hdr + ext, tag, db.unpack_u32(ext)[0], vr
    return hdr, tag, length, vr


def _undefined_value(c: _Copy, implicit: bool, depth: int) -> None:
    """Items up to the sequence delimiter (a sequence, or UN / OB of undefined length)."""
    if depth > MAX_DEPTH:
        raise _Unparseable
    while True:
        e = _element(c.r, True)
        if e is None:
            raise _Unparseable
        hdr, tag, length, _ = e
        c.add(hdr)
        if tag == _SEQ_END:
            return
        if tag != _ITEM:
            raise _Unparseable
        if length != _UNDEFINED:
            c.value(length)
            continue
        while True:  # an item of undefined length: elements up to the item delimiter
            e = _element(c.r, implicit)
            if e is None:
                raise _Unparseable
            hdr, tag, length, vr = e
            c.add(hdr)
            if tag == _ITEM_END:
                break
            if length == _UNDEFINED:
                _undefined_value(c, implicit or vr == b"UN", depth + 1)
            else:
                c.value(length)


def _header(r: _Inflater) -> bytes:
    """The top-level elements before the pixel data, each at most ELEMENT_CAP bytes."""
    out = bytearray()
    try:
        while len(out) < HEADER_CAP:
            e = _element(r, False)
            if e is None:
                break
            hdr, tag, length, vr = e
            if tag in _PIXEL_TAGS or tag >> 16 == 0xFFFE:
                break
            c = _Copy(r, ELEMENT_CAP)
            c.add(hdr)
            if length == _UNDEFINED:
                _undefined_value(c, vr == b"UN", 1)
            else:
                c.value(length)
            if c.buf is not None:
                out += c.buf
    except _Unparseable:
        pass
    return bytes(out)


def inflate_check(fh: BinaryIO, *, limit: int | None = None) -> tuple[int, int, bytes]:
    """Inflate the raw deflate stream from ``fh``'s position to its end, bounded.

    Returns (compressed bytes read, inflated size, header copy).  Raises
    :class:`DeflateBomb` past ``limit`` inflated bytes (default :data:`MAX_INFLATED`, read
    at call time), :class:`DeflateCorrupt` for a corrupt or truncated stream.  Holds about
    ``_OUT_CHUNK`` + ``HEADER_CAP`` at most.
    """
    r = _Inflater(fh, MAX_INFLATED if limit is None else limit)
    header = _header(r)
    r.drain()
    return r.compressed, r.total, header


def check(
    src: str | os.PathLike[str] | BinaryIO, *, limit: int | None = None
) -> DeflateInfo | None:
    """None when ``src`` (a path, or a binary file positioned at its start, left there)
    is not a deflated Part 10 file; else its :class:`DeflateInfo` once the bounded inflate
    passed.  Raises :class:`DeflateError` as :func:`inflate_check` does."""
    if isinstance(src, (str, os.PathLike)):
        fd = os.open(src, os.O_RDONLY)  # the common case in ~7 us (open(): ~12 us): the
        try:  # viewer asks this of every file of a series before pydicom reads it
            head = os.read(fd, 4096)
        finally:
            os.close(fd)
        if _surely_not_deflated(head):
            return None
        with open(src, "rb") as fh:
            return _check(fh, limit)
    pos = src.tell()
    try:
        return _check(src, limit)
    finally:
        src.seek(pos)


def _check(fh: BinaryIO, limit: int | None) -> DeflateInfo | None:
    start = fh.tell()
    offset = deflated_offset(fh)
    if offset is None:
        return None
    fh.seek(start + offset)
    compressed, inflated, header = inflate_check(fh, limit=limit)
    return DeflateInfo(offset, compressed, inflated, header)


def guard(
    src: str | os.PathLike[str] | BinaryIO, *, limit: int | None = None
) -> str | os.PathLike[str] | BinaryIO:
    """What to give ``pydicom.dcmread(..., stop_before_pixels=True)`` instead of ``src``.

    ``src`` itself unless it is a deflated Part 10 file; for a deflated one, after the
    bounded check, an in-memory file: the same preamble and file meta group (its transfer
    syntax stays Deflated) followed by the header copy, deflated again (a few MiB at most).
    Raises :class:`DeflateError`: the file must not reach pydicom.
    """
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as fh:
            out = _guard(fh, limit)
        return out if out is not None else src
    pos = src.tell()
    try:
        out = _guard(src, limit)
    finally:
        src.seek(pos)
    return out if out is not None else src


def _guard(fh: BinaryIO, limit: int | None) -> io.BytesIO | None:
    start = fh.tell()
    info = _check(fh, limit)
    if info is None:
        return None
    fh.seek(start)
    prefix = fh.read(info.offset)
    z = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    return io.BytesIO(prefix + z.compress(info.header) + z.flush())
