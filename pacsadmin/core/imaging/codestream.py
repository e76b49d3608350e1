"""A compressed frame checked against the header before any decoder allocates for it.

Native pixel data is checked byte for byte (:func:`geometry.read_geometry`); compressed
frames cannot be, and pydicom's decoders allocate Rows x Columns x Samples x Bits
Allocated/8 for the frame before decoding (up to the 1 GiB cap of ``MAX_FRAME_BYTES``) even
when the frame is a few hundred bytes of a damaged file.  So, before a frame goes to the
decoder: JPEG and JPEG-LS give their size in the SOF marker, JPEG 2000 and HTJ2K in SIZ
(ISO/IEC 10918-1 B.2.2, 14495-1 C.2.2, 15444-1 A.5.1), and they must equal Rows x Columns;
RLE (PS3.5 G) cannot grow a byte pair into more than 128 bytes, so its segments must be
long enough for Rows x Columns.  Anything that is not plainly one of those is left to the
decoder.
"""

from __future__ import annotations

import struct

from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.geometry import Geometry

_RLE = "1.2.840.10008.1.2.5"
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}  # JPEG SOFn, JPEG-LS SOF55


def frame_size(frame: bytes) -> tuple[int, int] | None:
    """(rows, columns) a JPEG, JPEG-LS or JPEG 2000 codestream declares, or None."""
    if frame[:4] == b"\xff\x4f\xff\x51" and len(frame) >= 24:  # SOC, SIZ
        xsiz, ysiz, xo, yo = struct.unpack_from(">IIII", frame, 8)
        return (ysiz - yo, xsiz - xo) if xsiz > xo and ysiz > yo else None
    if frame[:2] != b"\xff\xd8":  # SOI
        return None
    pos = 2
    while pos + 4 <= len(frame):
        if frame[pos] != 0xFF:
            return None
        marker = frame[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _SOF:
            if pos + 9 > len(frame):
                return None
            rows, cols = struct.unpack_from(">HH", frame, pos + 5)
            return (rows, cols) if rows else None  # 0: the height comes later (DNL)
        if marker == 0xDA:  # start of scan before any frame header
            return None
        pos += 2 + int.from_bytes(frame[pos + 2 : pos + 4], "big")
    return None


def check_frame(frame: bytes, geo: Geometry) -> None:
    """ImageError ``kind="geometry"`` when ``frame`` cannot hold the image the header
    describes; nothing when it can or cannot be told."""
    if geo.transfer_syntax == _RLE:
        segments = geo.samples * max(1, geo.bits_allocated // 8)
        least = segments * 2 * -(-geo.rows * geo.columns // 128)  # 2 bytes per 128 at best
        if len(frame) - 64 < least:
            raise ImageError(
                f"inconsistent image geometry: {geo.describe()} cannot be in {len(frame)} bytes "
                f"of RLE data (it needs at least {least + 64})",
                kind="geometry",
            )
        return
    size = frame_size(frame)
    if size is not None and size != (geo.rows, geo.columns):
        raise ImageError(
            f"inconsistent image geometry: the compressed frame is {size[0]} x {size[1]} "
            f"pixels, the header says Rows {geo.rows} x Columns {geo.columns}",
            kind="geometry",
        )
