"""C-FIND over a socket we read ourselves: the stream of pending responses past
pynetdicom's per-message machinery (PS3.8 9.3 PDUs, PS3.7 E command sets).

pynetdicom spends ~0.27 ms of its own on each C-FIND response (its DUL thread, the
command set read through pydicom, the identifier parsed into a Dataset); DCMTK
``findscu`` spends a few microseconds.  This module speaks the few PDUs one C-FIND needs
(A-ASSOCIATE-RQ/AC/RJ, P-DATA-TF, A-RELEASE, A-ABORT) on the connection ``find`` already
opened (and TLS-wrapped), and decodes each identifier straight from its bytes into plain
values with the same rules as ``find_result.to_match`` (anything unusual goes through
pydicom and ``to_match`` itself).  When the association is not accepted it returns
``None`` before any query was sent, and ``find`` asks again through pynetdicom, whose
answer is diagnosed step by step.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from pacsadmin.core.dimse.find_decode import decode_identifier as decode_identifier
from pacsadmin.core.dimse.pdu import (
    PduReader as PduReader,
)
from pacsadmin.core.dimse.pdu import (
    ProtocolError as ProtocolError,
)
from pacsadmin.core.dimse.pdu import (
    command as command,
)
from pacsadmin.core.dimse.pdu import (
    element,
    item,
)
from pacsadmin.core.dimse.pdu import (
    p_data as p_data,
)
from pacsadmin.core.dimse.pdu import (
    parse_command as parse_command,
)

APP_CONTEXT = b"1.2.840.10008.3.1.1.1"
IMPL_UID = b"1.2.826.0.1.3680043.10.1442.1"
IMPL_VERSION = b"PACSADMIN_FIND"
EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"


# ------------------------------------------------------------------ encoding
def associate_rq(called: str, calling: str, sop_class: str, max_pdu: int) -> bytes:
    pc = b"\x01\x00\x00\x00" + item(0x30, sop_class.encode())
    pc += item(0x40, EXPLICIT.encode()) + item(0x40, IMPLICIT.encode())
    user = item(0x51, struct.pack(">I", max_pdu)) + item(0x52, IMPL_UID)
    user += item(0x55, IMPL_VERSION)
    body = struct.pack(">HH", 1, 0) + called.encode().ljust(16) + calling.encode().ljust(16)
    body += b"\x00" * 32 + item(0x10, APP_CONTEXT) + item(0x20, pc) + item(0x50, user)
    return struct.pack(">BxI", 0x01, len(body)) + body


def find_rq(sop_class: str, msg_id: int, priority: int = 2) -> bytes:
    return command(
        [
            element(0x00000002, None, sop_class.encode()),
            element(0x00000100, "H", 0x0020),
            element(0x00000110, "H", msg_id),
            element(0x00000700, "H", priority),
            element(0x00000800, "H", 0x0001),
        ]
    )


def cancel_rq(msg_id: int) -> bytes:
    return command(
        [
            element(0x00000100, "H", 0x0FFF),
            element(0x00000120, "H", msg_id),
            element(0x00000800, "H", 0x0101),
        ]
    )


# ------------------------------------------------------------------ reading PDUs
def parse_ac(body: bytes) -> tuple[int | None, str, int]:
    """(accepted context id or None, transfer syntax, peer max PDU) of an A-ASSOCIATE-AC."""
    pos, ctx_id, ts, peer_max = 68, None, "", 0
    while pos + 4 <= len(body):
        kind, length = body[pos], struct.unpack_from(">H", body, pos + 2)[0]
        item = body[pos + 4 : pos + 4 + length]
        if kind == 0x21 and item[2] == 0 and len(item) > 8:
            ctx_id = item[0]
            ts = item[8:].rstrip(b"\x00 ").decode("ascii", "replace")
        elif kind == 0x50:
            sub = 0
            while sub + 4 <= len(item):
                sk, sl = item[sub], struct.unpack_from(">H", item, sub + 2)[0]
                if sk == 0x51 and sl == 4:
                    peer_max = struct.unpack_from(">I", item, sub + 4)[0]
                sub += 4 + sl
        pos += 4 + length
    return ctx_id, ts, peer_max


# ------------------------------------------------------------------ the exchange
class FastFind:
    """One association, one C-FIND, on a connected socket."""

    def __init__(self, sock: socket.socket, timeouts: Any) -> None:
        self.sock = sock
        self.t = timeouts
        self.reader = PduReader(sock, timeouts.acse)
        self.context_id = 0
        self.implicit = False
        self.peer_max = 0
        self.abort: tuple[int, int] | None = None
        self.rejected: bytes | None = None

    def associate(self, called: str, calling: str, sop_class: str, max_pdu: int) -> bool:
        self.sock.settimeout(self.t.acse)
        self.sock.sendall(associate_rq(called, calling, sop_class, max_pdu))
        kind, body = self.reader.next()
        if kind != 0x02:
            if kind == 0x07 and len(body) >= 4:
                self.abort = (body[2], body[3])
            self.rejected = body
            return False
        ctx_id, ts, self.peer_max = parse_ac(body)
        if ctx_id is None or ts not in (EXPLICIT, IMPLICIT):
            self.send_abort()
            return False
        self.context_id, self.implicit = ctx_id, ts == IMPLICIT
        return True

    def send(self, data: bytes, is_command: bool) -> None:
        self.sock.settimeout(self.t.dimse)  # a peer that stops reading: bounded too
        self.sock.sendall(p_data(self.context_id, data, is_command, self.peer_max))

    def responses(self) -> Any:
        """Yield (command dict, identifier bytes or None) for each DIMSE message."""
        self.reader.timeout = self.t.dimse
        cmd = bytearray()
        data = bytearray()
        command: dict[int, Any] | None = None
        while True:
            kind, body = self.reader.next()
            if kind == 0x07:
                self.abort = (body[2], body[3]) if len(body) >= 4 else (0, 0)
                raise ProtocolError("aborted")
            if kind != 0x04:
                raise ProtocolError(f"unexpected PDU type {kind}")
            pos = 0
            while pos + 6 <= len(body):
                length = struct.unpack_from(">I", body, pos)[0]
                mch = body[pos + 5]
                fragment = body[pos + 6 : pos + 4 + length]
                pos += 4 + length
                if mch & 1:
                    cmd += fragment
                    if mch & 2:
                        command = parse_command(bytes(cmd))
                        cmd.clear()
                        if command.get(0x00000800, 0x0101) == 0x0101:
                            yield command, None
                            command = None
                else:
                    data += fragment
                    if mch & 2:
                        if command is None:
                            raise ProtocolError("a data set without its command")
                        yield command, bytes(data)
                        data.clear()
                        command = None

    def release(self) -> bool:
        try:
            self.sock.settimeout(self.t.acse)
            self.sock.sendall(struct.pack(">BxI", 0x05, 4) + b"\x00" * 4)
            self.reader.timeout = self.t.acse
            kind, _ = self.reader.next()
            return kind == 0x06
        except (OSError, ConnectionError):
            return False

    def send_abort(self) -> None:
        try:
            self.sock.settimeout(1.0)  # best effort: the connection is closed after it
            self.sock.sendall(struct.pack(">BxI", 0x07, 4) + b"\x00\x00\x00\x00")
        except OSError:
            pass


class CancelState:
    """What ``find`` reports about a cancel (the same fields for both engines)."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.requested = False
        self.sent = False
        self.aborted = False

    def __call__(self) -> None:  # the token's callback: any thread; the worker sends
        self.requested = True


def run(
    fast: FastFind,
    identifier: bytes,
    sop_class: str,
    msg_id: int,
    cancel: CancelState,
    on_match: Callable[[int, bytes | None], None],
) -> int | None:
    """Send the C-FIND-RQ, read every response; returns the final status (None: none
    arrived).  Pending identifiers go to ``on_match(status, bytes)``; a cancel sends the
    C-CANCEL-RQ from this thread (one writer on the socket, TLS included) and reads on
    for ``cancel.grace`` seconds."""
    fast.send(find_rq(sop_class, msg_id), True)
    fast.send(identifier, False)

    def idle() -> None:
        if cancel.requested and not cancel.sent:
            fast.send(cancel_rq(msg_id), True)
            cancel.sent = True
            fast.reader.deadline = time.monotonic() + cancel.grace

    fast.reader.on_idle = idle
    try:
        for cmd, data in fast.responses():
            if cmd.get(0x00000100) != 0x8020 or cmd.get(0x00000120) != msg_id:
                raise ProtocolError("not a C-FIND-RSP to our request")
            status = int(cmd.get(0x00000900, 0xC000))
            if status in (0xFF00, 0xFF01):
                on_match(status, data)
                idle()
                continue
            return status
    except TimeoutError:
        if cancel.sent:
            cancel.aborted = True
        fast.send_abort()
        return None
    except (OSError, ConnectionError, ProtocolError):
        fast.send_abort()
        return None
    finally:
        fast.reader.on_idle = None
    return None
