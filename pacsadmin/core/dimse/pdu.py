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


# Command set elements whose value is a number (PS3.7 E.1-1, E.2-1): US, except the
# group length (UL).  Every other command element is bytes (UI, AE, LO, AT, ...).
_US_TAGS = frozenset(
    {
        0x00000100,  # Command Field
        0x00000110,  # Message ID
        0x00000120,  # Message ID Being Responded To
        0x00000700,  # Priority
        0x00000800,  # Command Data Set Type
        0x00000900,  # Status
        0x00000903,  # Error ID
        0x00001002,  # Event Type ID
        0x00001008,  # Action Type ID
        0x00001020,  # Number of Remaining Sub-operations
        0x00001021,  # Number of Completed Sub-operations
        0x00001022,  # Number of Failed Sub-operations
        0x00001023,  # Number of Warning Sub-operations
        0x00001031,  # Move Originator Message ID
    }
)


def command_values(data: bytes) -> dict[int, int | bytes]:
    """A command set (Implicit VR Little Endian) as ``{tag: value}``: numbers for the US
    and UL elements, the raw bytes (padding included) for the others.  ProtocolError when
    an element runs past the end, a number has the wrong length, or a tag is not in group
    0000 (PS3.7 E: a command set holds group 0000 only)."""
    out: dict[int, int | bytes] = {}
    pos, end = 0, len(data)
    while pos < end:
        if pos + 8 > end:
            raise ProtocolError("a command element's header is cut short")
        group, elem, length = struct.unpack_from("<HHI", data, pos)
        pos += 8
        if group != 0 or pos + length > end:
            raise ProtocolError("a command element runs past the command set")
        tag = elem
        if tag in _US_TAGS:
            if length != 2:
                raise ProtocolError(f"command element (0000,{elem:04X}) is not a US")
            out[tag] = data[pos] | data[pos + 1] << 8
        elif tag == 0:
            if length != 4:
                raise ProtocolError("the command group length is not a UL")
            out[tag] = struct.unpack_from("<I", data, pos)[0]
        else:
            out[tag] = data[pos : pos + length]
        pos += length
    return out


def a_abort(source: int, reason: int) -> bytes:
    """An A-ABORT PDU (PS3.8 9.3.8): source 0 service user, 2 service provider; the
    reason is meaningful for source 2 only (0 otherwise)."""
    return struct.pack(">BxIxxBB", 0x07, 4, source, reason)


def a_release_rp() -> bytes:
    """An A-RELEASE-RP PDU (PS3.8 9.3.7)."""
    return struct.pack(">BxIxxxx", 0x06, 4)


def a_release_rq() -> bytes:
    """An A-RELEASE-RQ PDU (PS3.8 9.3.6)."""
    return struct.pack(">BxIxxxx", 0x05, 4)


def pdv_item(context_id: int, control: int, data: bytes) -> bytes:
    """One presentation data value item (PS3.8 9.3.5.1, Annex E.2): ``control`` is the
    message control header (bit 0: command, bit 1: last fragment)."""
    return struct.pack(">IBB", len(data) + 2, context_id, control) + data


def p_data_tf(items: list[bytes]) -> bytes:
    """One P-DATA-TF PDU carrying ``items`` (:func:`pdv_item`), of any contexts."""
    body = b"".join(items)
    return struct.pack(">BxI", 0x04, len(body)) + body
