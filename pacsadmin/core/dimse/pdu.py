"""DICOM Upper Layer framing (PS3.8 9.3) and command sets (PS3.7 E) as bytes: the
primitives every fast path shares (the C-FIND SCU's ``find_fast.py``, the C-STORE
sender and receiver).  They build and read PDUs, PDV items and command sets straight
from ``bytes``; each is tested against pynetdicom's own encoders and decoders.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from typing import Any


class ProtocolError(Exception):
    pass


def pad(b: bytes) -> bytes:
    return b + b"\x00" if len(b) % 2 else b


def item(kind: int, data: bytes) -> bytes:
    return struct.pack(">BxH", kind, len(data)) + data


def element(tag: int, vr_fmt: str | None, value: Any) -> bytes:
    data = struct.pack("<" + vr_fmt, value) if vr_fmt else pad(value)
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(data)) + data


def command(elements: list[bytes]) -> bytes:
    body = b"".join(elements)
    return element(0x00000000, "I", len(body)) + body


def p_data(context_id: int, data: bytes, is_command: bool, peer_max: int) -> bytes:
    """P-DATA-TF PDUs carrying ``data``, fragmented to the peer's maximum PDU length."""
    step = (peer_max - 6) if peer_max else max(len(data), 1)
    out = []
    for i in range(0, max(len(data), 1), step):
        chunk = data[i : i + step]
        mch = (1 if is_command else 0) | (2 if i + step >= len(data) else 0)
        pdv = struct.pack(">IBB", len(chunk) + 2, context_id, mch) + chunk
        out.append(struct.pack(">BxI", 0x04, len(pdv)) + pdv)
    return b"".join(out)


class PduReader:
    """Whole PDUs from a socket, each read bounded by ``timeout`` seconds."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.timeout = timeout
        self.deadline: float | None = None  # a hard end (the cancel's grace period)
        self.on_idle: Callable[[], None] | None = None  # called while waiting (cancel)

    def _fill(self, n: int) -> None:
        if len(self.buf) >= n:
            return
        end = time.monotonic() + self.timeout
        while len(self.buf) < n:
            if self.on_idle is not None:
                self.on_idle()
            limit = end if self.deadline is None else min(end, self.deadline)
            left = limit - time.monotonic()
            if left <= 0:
                raise TimeoutError("no data within the time limit")
            self.sock.settimeout(min(left, 0.1))
            try:
                chunk = self.sock.recv(max(65536, n - len(self.buf)))
            except TimeoutError:
                continue
            if not chunk:
                raise ConnectionError("the peer closed the connection")
            self.buf += chunk

    def next(self) -> tuple[int, bytes]:
        self._fill(6)
        kind, length = self.buf[0], struct.unpack_from(">I", self.buf, 2)[0]
        self._fill(6 + length)
        body = bytes(self.buf[6 : 6 + length])
        del self.buf[: 6 + length]
        return kind, body


def parse_command(data: bytes) -> dict[int, Any]:
    out: dict[int, Any] = {}
    pos = 0
    while pos + 8 <= len(data):
        group, elem, length = struct.unpack_from("<HHI", data, pos)
        value = data[pos + 8 : pos + 8 + length]
        tag = group << 16 | elem
        if length == 2:
            out[tag] = struct.unpack("<H", value)[0]
        elif length == 4 and tag == 0:
            out[tag] = struct.unpack("<I", value)[0]
        else:
            out[tag] = value
        pos += 8 + length
    return out
