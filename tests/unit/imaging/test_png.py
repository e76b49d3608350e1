"""The PNG writer's container, checked independently of ``read_png`` (which shares the
writer's assumptions): the signature, every chunk's length and CRC (``zlib.crc32`` over the
chunk type and data, PNG spec 5.3), IHDR first and IEND last, and the rows inflated by zlib.
The pixels are also decoded by Qt's PNG reader (libpng) in tests/gui/test_png_qimage.py.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from pacsadmin.core.imaging.png import encode_png

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk; fails on a wrong CRC, a bad length or trailing bytes."""
    assert data[:8] == SIGNATURE
    out, pos = [], 8
    while pos < len(data):
        assert pos + 12 <= len(data), "truncated chunk header"
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        assert len(body) == length, f"{kind!r}: {len(body)} bytes, length says {length}"
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"{kind!r}: CRC {crc:08x}"
        out.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    return out


IMAGES = {
    "gray 1x1": np.array([[7]], dtype=np.uint8),
    "gray odd width": np.arange(3 * 5, dtype=np.uint8).reshape(3, 5),
    "gray random": np.random.default_rng(1).integers(0, 256, (97, 131), dtype=np.uint8),
    "rgb odd width": np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3),
    "rgb random": np.random.default_rng(2).integers(0, 256, (64, 33, 3), dtype=np.uint8),
    "rgb non-contiguous": np.random.default_rng(3)
    .integers(0, 256, (20, 30, 3), dtype=np.uint8)
    .transpose(1, 0, 2),
}


@pytest.mark.parametrize("name", IMAGES)
def test_chunks_crcs_and_rows(name):
    image = IMAGES[name]
    data = encode_png(image)
    found = chunks(data)
    kinds = [k for k, _ in found]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    assert found[-1][1] == b""
    h, w = image.shape[:2]
    color = 0 if image.ndim == 2 else 2
    # width, height, bit depth 8, colour type, compression 0, filter 0, interlace 0
    assert found[0][1] == struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for k, body in found if k == b"IDAT"))
    stride = w * (1 if color == 0 else 3)
    assert len(raw) == h * (stride + 1)
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(h, stride + 1)
    assert (rows[:, 0] == 0).all()  # filter type None on every row
    assert np.array_equal(rows[:, 1:].reshape(image.shape), image)


def test_a_damaged_crc_is_caught():
    """The checker above can fail: one flipped byte in IDAT breaks that chunk's CRC."""
    data = bytearray(encode_png(IMAGES["gray random"]))
    data[8 + 25 + 8 + 3] ^= 0x01  # signature, IHDR chunk (25 bytes), IDAT header, into IDAT
    with pytest.raises(AssertionError, match="IDAT"):
        chunks(bytes(data))
