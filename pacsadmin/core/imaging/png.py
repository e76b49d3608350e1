"""A minimal PNG writer (zlib + struct; no imaging dependency): 8-bit gray or RGB."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from pacsadmin.core.fileio import atomic_write_bytes


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(image: np.ndarray, level: int = 6) -> bytes:
    """PNG bytes for a uint8 array of shape (h, w) (gray) or (h, w, 3) (RGB)."""
    if image.dtype != np.uint8:
        raise ValueError("encode_png needs uint8 values")
    if image.ndim == 2:
        color_type, channels = 0, 1
    elif image.ndim == 3 and image.shape[2] == 3:
        color_type, channels = 2, 3
    else:
        raise ValueError(f"cannot write an image of shape {image.shape} as PNG")
    h, w = image.shape[:2]
    rows = np.ascontiguousarray(image).reshape(h, w * channels)
    raw = np.zeros((h, w * channels + 1), dtype=np.uint8)  # filter byte 0 (None) per row
    raw[:, 1:] = rows
    ihdr = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write atomically: a temp file in the same folder, fsync, then ``os.replace``.  The
    folder must exist (FileNotFoundError): a mistyped path creates nothing."""
    atomic_write_bytes(Path(path), encode_png(image), mode=0o644, make_parents=False)


def read_png(data: bytes) -> tuple[int, int, int, np.ndarray]:
    """Decode a PNG written by :func:`encode_png` (tests): (width, height, color type, pixels)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, b"", b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            ihdr = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, color_type, _, _, _ = struct.unpack(">IIBBBBB", ihdr)
    if depth != 8 or color_type not in (0, 2):
        raise ValueError("only 8-bit gray/RGB PNGs from encode_png are read")
    ch = 1 if color_type == 0 else 3
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, w * ch + 1)
    if raw[:, 0].any():
        raise ValueError("filtered PNG rows are not supported")
    pixels = raw[:, 1:].reshape((h, w) if ch == 1 else (h, w, 3))
    return w, h, color_type, pixels
