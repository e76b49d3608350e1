"""DICOM Upper Layer framing (PS3.8 9.3) and command sets (PS3.7 E) as bytes: the
primitives every fast path shares (the C-FIND SCU's ``find_fast.py``, the C-STORE
sender and receiver).  They build and read PDUs, PDV items and command sets straight
from ``bytes``; each is tested against pynetdicom's own encoders and decoders.
"""

from __future__ import annotations

import select
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


def p_data(
    context_id: int,
    data: bytes | memoryview,
    is_command: bool,
    peer_max: int,
    *,
    last: bool = True,
) -> bytes:
    """P-DATA-TF PDUs carrying ``data``, fragmented to the peer's maximum PDU length
    (PS3.8 9.3.5: one PDV a PDU, at most ``peer_max - 6`` bytes of data in it; 0 means no
    limit).  ``last=False``: ``data`` is not the message part's end, so no fragment gets
    the last bit (a block of a longer stream: give it a multiple of ``peer_max - 6``)."""
    return b"".join(p_data_parts(context_id, data, is_command, peer_max, last=last))


def p_data_parts(
    context_id: int,
    data: bytes | memoryview,
    is_command: bool,
    peer_max: int,
    *,
    last: bool = True,
) -> list[bytes | memoryview]:
    """:func:`p_data` as a list of headers and views of ``data``, to join with more."""
    step = (peer_max - 6) if peer_max else max(len(data), 1)
    view = memoryview(data)
    n = len(data)
    out: list[bytes | memoryview] = []
    pack = struct.pack
    for i in range(0, max(n, 1), step):
        chunk = view[i : i + step]
        mch = (1 if is_command else 0) | (2 if last and i + step >= n else 0)
        out.append(pack(">BxIIBB", 0x04, len(chunk) + 6, len(chunk) + 2, context_id, mch))
        out.append(chunk)
    return out


def p_data_header(context_id: int, length: int, mch: int) -> bytes:
    """The 12 bytes before a PDV's data: a P-DATA-TF PDU of one PDV of ``length`` data
    bytes; ``mch`` is the message control header (bit 0 command, bit 1 last fragment)."""
    return struct.pack(">BxIIBB", 0x04, length + 6, length + 2, context_id, mch)


A_RELEASE_RQ = b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00"
A_RELEASE_RP = b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"


def a_abort(source: int = 0, reason: int = 0) -> bytes:
    """An A-ABORT PDU (PS3.8 9.3.8): source 0 service user, 2 service provider."""
    return struct.pack(">BxIxxBB", 0x07, 4, source, reason)


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
    """A command set's elements (Implicit VR Little Endian): 2-byte values as ints (US),
    the group length as an int, the rest as bytes (UIDs, AE titles, text: still padded)."""
    out: dict[int, Any] = {}
    pos = 0
    while pos + 8 <= len(data):
        group, elem, length = struct.unpack_from("<HHI", data, pos)
        if pos + 8 + length > len(data):
            raise ProtocolError("a command element runs past the end of its command set")
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


def a_release_rp() -> bytes:
    """An A-RELEASE-RP PDU (PS3.8 9.3.7)."""
    return A_RELEASE_RP


def a_release_rq() -> bytes:
    """An A-RELEASE-RQ PDU (PS3.8 9.3.6)."""
    return A_RELEASE_RQ


def pdv_item(context_id: int, control: int, data: bytes) -> bytes:
    """One presentation data value item (PS3.8 9.3.5.1, Annex E.2): ``control`` is the
    message control header (bit 0: command, bit 1: last fragment)."""
    return struct.pack(">IBB", len(data) + 2, context_id, control) + data


def p_data_tf(items: list[bytes]) -> bytes:
    """One P-DATA-TF PDU carrying ``items`` (:func:`pdv_item`), of any contexts."""
    body = b"".join(items)
    return struct.pack(">BxI", 0x04, len(body)) + body


def parse_pdvs(body: bytes) -> list[tuple[int, int, bytes]]:
    """``(context id, message control header, fragment)`` of each PDV of a P-DATA-TF
    PDU's body (PS3.8 9.3.5.1); ProtocolError for an item that does not fit."""
    out = []
    pos, n = 0, len(body)
    while pos < n:
        if pos + 6 > n:
            raise ProtocolError("a truncated PDV item")
        length = struct.unpack_from(">I", body, pos)[0]
        if length < 2 or pos + 4 + length > n:
            raise ProtocolError(f"a PDV item of length {length} does not fit its PDU")
        out.append((body[pos + 4], body[pos + 5], body[pos + 6 : pos + 4 + length]))
        pos += 4 + length
    return out


class Messages:
    """DIMSE messages put together from P-DATA-TF PDUs (PS3.7 6.3.1, PS3.8 E.2).

    Feed each P-DATA-TF body; ``feed`` returns the messages it completed, each as
    ``(context id, command elements, data set bytes or None)``.  A message's fragments
    come in order on its presentation context, the command set's first (bit 0 set), the
    data set's next when the command's Command Data Set Type (0000,0800) is not 0101H;
    bit 1 marks each part's last fragment.  A PDU may carry PDVs of several contexts.
    Anything else (a data fragment with no command before it, a command fragment in the
    middle of a data set, a command set that does not parse) is a ProtocolError."""

    def __init__(self) -> None:
        self._cmd: dict[int, bytearray] = {}  # context -> command fragments so far
        self._data: dict[int, tuple[dict[int, Any], bytearray]] = {}  # awaiting a data set

    @property
    def partial(self) -> bool:
        """True while a message is half received."""
        return bool(self._cmd or self._data)

    def feed(self, body: bytes) -> list[tuple[int, dict[int, Any], bytes | None]]:
        done: list[tuple[int, dict[int, Any], bytes | None]] = []
        for ctx, mch, fragment in parse_pdvs(body):
            if mch & 1:
                if ctx in self._data:
                    raise ProtocolError("a command fragment in the middle of a data set")
                buf = self._cmd.setdefault(ctx, bytearray())
                buf += fragment
                if not mch & 2:
                    continue
                del self._cmd[ctx]
                cmd = parse_command(bytes(buf))
                if 0x00000100 not in cmd:
                    raise ProtocolError("a command set without a Command Field")
                if cmd.get(0x00000800, 0x0101) == 0x0101:
                    done.append((ctx, cmd, None))
                else:
                    self._data[ctx] = (cmd, bytearray())
            else:
                pending = self._data.get(ctx)
                if pending is None:
                    raise ProtocolError("a data set fragment without its command set")
                pending[1].extend(fragment)
                if mch & 2:
                    del self._data[ctx]
                    done.append((ctx, pending[0], bytes(pending[1])))
        return done


def send_within(sock: socket.socket, data: bytes | memoryview, timeout: float | None) -> None:
    """Write all of ``data`` without touching the socket's own timeout (another thread
    may be reading it: pynetdicom's DUL): non-blocking sends, waiting for the socket to
    be writable; TimeoutError when nothing could be written for ``timeout`` seconds (a
    peer that stopped reading), OSError when the connection is gone."""
    view = memoryview(data)
    while view:
        try:
            k = sock.send(view, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            k = 0
        if k:
            view = view[k:]
            continue
        _r, writable, _x = select.select([], [sock], [], timeout)
        if not writable:
            raise TimeoutError("the peer stopped reading")
