"""C-STORE requests streamed from files, past pynetdicom's per-message work (PS3.7 9.3.1,
PS3.8 9.3.5): the one fast sender of the send tool and of the local node's C-MOVE and
C-GET sub-operations.

pynetdicom negotiates the association; then :class:`StoreStream` holds its socket (a
:class:`~pacsadmin.core.dimse._pynetdicom.SocketLease`: pynetdicom's DUL thread keeps
off it) and, for each file whose transfer syntax is the one accepted for its SOP class,
writes the C-STORE-RQ command set built as bytes and the data set after the file meta
group read straight from the file in large blocks, fragmented to the peer's maximum PDU
length (never a pydicom Dataset, never re-encoded); it reads the C-STORE-RSP from the
socket and decodes it from its bytes (status, error comment, the affected SOP instance
checked against the request).  A file this cannot send as it is (not Part 10) makes
:meth:`StoreStream.store` return None before a byte is written: the caller sends it the
slow way, through pynetdicom, after :meth:`StoreStream.pause`.

Every wait is bounded: a write by the network timeout (a peer that stops reading), the
response by the DIMSE timeout.  An A-ABORT, an A-RELEASE-RQ (answered), a closed
connection, a timeout or a protocol error end the association: the outcome says which,
the socket is closed, and the caller lets pynetdicom tear its side down.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pacsadmin.core.dimse.pdu import (
    A_RELEASE_RP,
    Messages,
    PduReader,
    ProtocolError,
    a_abort,
    command,
    element,
    p_data,
    p_data_header,
    p_data_parts,
)

BLOCK = 4 << 20  # bytes read from a file at once (about; a multiple of the fragment size)
C_STORE_RQ, C_STORE_RSP = 0x0001, 0x8001


@dataclass(frozen=True)
class StoreOutcome:
    """What became of one C-STORE: the response's status and error comment, or why the
    association ended (``lost``: "aborted", "released", "closed", "write timeout",
    "response timeout", "protocol"; ``detail`` says more)."""

    status: int | None = None
    comment: str = ""
    lost: str = ""
    detail: str = ""
    abort: tuple[int, int] | None = None  # the peer's A-ABORT (source, reason)


def _uid(value: str) -> bytes:
    data = value.encode("ascii")
    return data + b"\x00" if len(data) % 2 else data


def store_rq(
    sop_class: str,
    sop_instance: str,
    msg_id: int,
    *,
    priority: int = 2,
    originator_aet: str | None = None,
    originator_id: int | None = None,
) -> bytes:
    """The C-STORE-RQ command set (PS3.7 9.3.1.1), Implicit VR Little Endian, as
    pynetdicom encodes it (priority 2 = LOW is its default, as here)."""
    elements = [
        element(0x00000002, None, _uid(sop_class)),
        element(0x00000100, "H", C_STORE_RQ),
        element(0x00000110, "H", msg_id),
        element(0x00000700, "H", priority),
        element(0x00000800, "H", 0x0001),  # a data set follows
        element(0x00001000, None, _uid(sop_instance)),
    ]
    if originator_aet is not None:
        aet = originator_aet.encode("ascii")
        elements.append(element(0x00001030, None, aet + b" " * (len(aet) % 2)))
    if originator_id is not None:
        elements.append(element(0x00001031, "H", originator_id))
    return command(elements)


def dataset_offset(head: bytes) -> int | None:
    """Where the data set starts in a Part 10 file whose first bytes are ``head`` (see
    :func:`file_meta`); None when it is not a Part 10 file."""
    meta = file_meta(head)
    return None if meta is None else meta[0]


def file_meta(head: bytes) -> tuple[int, str] | None:
    """``(offset of the data set, Transfer Syntax UID)`` of a Part 10 file whose first
    bytes are ``head``: after the preamble, "DICM" and the file meta group (group 0002,
    Explicit VR Little Endian, walked element by element).  None when it is not a Part 10
    file, or the meta group does not end within ``head``."""
    if len(head) < 132 or head[128:132] != b"DICM":
        return None
    pos, ts = 132, ""
    while pos + 8 <= len(head):
        group, elem = struct.unpack_from("<HH", head, pos)
        if group != 0x0002:
            return pos, ts
        vr = head[pos + 4 : pos + 6]
        if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV"):
            if pos + 12 > len(head):
                return None
            length = struct.unpack_from("<I", head, pos + 8)[0]
            pos += 12
        else:
            length = struct.unpack_from("<H", head, pos + 6)[0]
            pos += 8
        if length == 0xFFFFFFFF or pos + length > len(head):
            return None
        if elem == 0x0010:
            ts = head[pos : pos + length].rstrip(b"\x00 ").decode("ascii", "replace")
        pos += length
    return (pos, ts) if pos == len(head) else None


class StoreStream:
    """C-STORE requests on one association, from this thread only."""

    def __init__(
        self,
        lease: Any,
        contexts: dict[tuple[str, str], int],
        *,
        network_timeout: float,
        dimse_timeout: float,
        on_message: Callable[[int, dict[int, Any], bytes | None], bool] | None = None,
    ) -> None:
        """``lease``: the association's :class:`SocketLease`; ``contexts``: (SOP class,
        transfer syntax) -> accepted presentation context ID.  ``on_message(ctx, command,
        data)``: a message from the peer that is not our C-STORE-RSP (a C-CANCEL-RQ on a
        C-GET's association); True when it was handled, else it is a protocol error."""
        self.lease = lease
        self.contexts = contexts
        self.peer_max = int(lease.peer_max_pdu)
        self.network_timeout = network_timeout
        self.dimse_timeout = dimse_timeout
        self.on_message = on_message
        self.sock: socket.socket = lease.take()
        self.reader = PduReader(self.sock, dimse_timeout)
        self.messages = Messages()
        self.held = True
        self.outcome: StoreOutcome | None = None  # set when the association was lost
        self.sent_files = 0

    # ------------------------------------------------------------------ holding
    def pause(self) -> bool:
        """Give the socket back to pynetdicom (to send a file the slow way); False when
        that is not safe (bytes of the peer's already read here) or the association is
        lost: the caller must not send through pynetdicom then."""
        if self.outcome is not None:
            return False
        try:
            self._drain()
        except ProtocolError as exc:
            self._end("protocol", str(exc), a_abort(2, 2))
            return False
        if self.reader.buf or self.messages.partial:
            # half a PDU or message of the peer's is read here: pynetdicom cannot go on
            self._end("protocol", "the peer sent data nobody asked for", a_abort(2, 2))
            return False
        if self.held:
            self.lease.give_back()
            self.held = False
        return True

    def _drain(self) -> None:
        """Whole P-DATA PDUs already read (the peer's next messages, a C-CANCEL-RQ) go to
        ``on_message`` before the socket is given back."""
        buf = self.reader.buf
        while len(buf) >= 6 and buf[0] == 0x04:
            length = struct.unpack_from(">I", buf, 2)[0]
            if len(buf) < 6 + length:
                return
            body = bytes(buf[6 : 6 + length])
            del buf[: 6 + length]
            for ctx, cmd, data in self.messages.feed(body):
                if self.on_message is None or not self.on_message(ctx, cmd, data):
                    raise ProtocolError("an unexpected DIMSE message")

    def resume(self) -> None:
        if not self.held and self.outcome is None:
            self.lease.take()
            self.held = True

    def finish(self) -> bool:
        """Done sending: the socket goes back to pynetdicom (which releases the
        association); False when it was lost (pynetdicom only has to tear down)."""
        ok = self.pause()
        if not ok and self.held:
            self.lease.give_back()
            self.held = False
        return ok

    # ------------------------------------------------------------------ one C-STORE
    def store(
        self,
        path: str,
        sop_class: str,
        sop_instance: str,
        transfer_syntax: str,
        msg_id: int,
        *,
        originator_aet: str | None = None,
        originator_id: int | None = None,
    ) -> StoreOutcome | None:
        """Send one file and read its response.  None: not sendable as it is (no
        accepted context for ``transfer_syntax``, not Part 10, or its file meta names
        another transfer syntax): nothing was sent."""
        if self.outcome is not None:
            return self.outcome
        ctx = self.contexts.get((sop_class, transfer_syntax))
        if ctx is None:
            return None
        self.resume()
        try:
            f = open(path, "rb", buffering=0)  # noqa: SIM115 (closed below)
        except OSError:
            return None
        try:
            size = os.fstat(f.fileno()).st_size
            head = f.read(min(size, BLOCK))
            meta = file_meta(head)
            if meta is None or meta[1] != transfer_syntax:
                return None  # not Part 10, or not the transfer syntax we were told
            offset = meta[0]
            cmd = store_rq(
                sop_class,
                sop_instance,
                msg_id,
                originator_aet=originator_aet,
                originator_id=originator_id,
            )
            first = p_data(ctx, cmd, True, self.peer_max)
            lock = getattr(self.lease, "write_lock", None)
            if lock is None:
                lost = self._send_file(f, first, head, offset, size, ctx)
            else:  # pynetdicom writes too: the whole message under its lock
                with lock:
                    lost = self._send_file(f, first, head, offset, size, ctx)
        finally:
            f.close()
        if lost is not None:
            return lost
        self.sent_files += 1
        return self._response(ctx, msg_id, sop_instance)

    def _send_file(
        self, f: Any, first: bytes, head: bytes, offset: int, size: int, ctx: int
    ) -> StoreOutcome | None:
        length = size - offset
        view = memoryview(head)[offset:]
        done = 0  # data set bytes written
        if not self.peer_max:  # no limit: one PDV holds the whole data set (as pynetdicom)
            if self._write(first + p_data_header(ctx, length, 0x02) + view):
                return self.outcome
            done = len(view)
            while done < length:
                block = f.read(min(BLOCK, length - done))
                if not block:
                    return self._truncated()
                if self._write(block):
                    return self.outcome
                done += len(block)
            return None
        step = self.peer_max - 6
        pending: bytes | memoryview = view
        prefix = first
        while True:
            if done + len(pending) >= length:  # the rest of the data set
                pending = pending[: length - done]
                parts = p_data_parts(ctx, pending, False, self.peer_max)
                return self.outcome if self._write(b"".join([prefix, *parts])) else None
            whole = len(pending) - len(pending) % step
            parts = p_data_parts(ctx, pending[:whole], False, self.peer_max, last=False)
            if whole and self._write(b"".join([prefix, *parts])):
                return self.outcome
            done += whole
            rest = pending[whole:]
            more = f.read(max(step, BLOCK - BLOCK % step))
            if not more:
                return self._truncated()
            pending = bytes(rest) + more if rest else more
            prefix = b"" if whole else prefix

    def _truncated(self) -> StoreOutcome:
        # the file shrank while it was sent: the message cannot be finished
        return self._end("protocol", "the file changed while it was being sent", a_abort())

    def _write(self, data: bytes | memoryview) -> bool:
        """True when the association was lost on the way."""
        try:
            self.sock.settimeout(self.network_timeout)
            self.sock.sendall(data)
        except TimeoutError:
            self._end(
                "write timeout",
                f"the peer stopped reading for {self.network_timeout:g} s (network timeout)",
                a_abort(),
            )
            return True
        except OSError as exc:
            self._end("closed", f"{type(exc).__name__}: {exc}", None)
            return True
        return False

    def _response(self, ctx: int, msg_id: int, sop_instance: str) -> StoreOutcome:
        self.reader.timeout = self.dimse_timeout
        try:
            while True:
                kind, body = self.reader.next()
                if kind == 0x04:
                    for rctx, cmd, data in self.messages.feed(body):
                        if cmd.get(0x00000100) == C_STORE_RSP:
                            return self._decode_rsp(ctx, rctx, cmd, msg_id, sop_instance)
                        if self.on_message is None or not self.on_message(rctx, cmd, data):
                            raise ProtocolError(
                                f"an unexpected DIMSE message (command 0x"
                                f"{int(cmd.get(0x00000100, 0)):04X})"
                            )
                elif kind == 0x07:
                    abort = (body[2], body[3]) if len(body) >= 4 else (0, 0)
                    return self._end("aborted", "the peer aborted", None, abort)
                elif kind == 0x05:
                    return self._end(
                        "released",
                        "the peer released the association before answering",
                        A_RELEASE_RP,
                    )
                else:
                    raise ProtocolError(f"an unexpected PDU (type 0x{kind:02X})")
        except ProtocolError as exc:
            return self._end("protocol", str(exc), a_abort(2, 2))
        except TimeoutError:
            if self.reader.deadline is not None:
                return self._end("closed", "the cancel's grace period ran out", a_abort())
            return self._end(
                "response timeout",
                f"no C-STORE response within {self.dimse_timeout:g} s (DIMSE timeout)",
                a_abort(),
            )
        except (ConnectionError, OSError) as exc:
            return self._end("closed", f"{type(exc).__name__}: {exc}", None)

    def _decode_rsp(
        self, ctx: int, rctx: int, cmd: dict[int, Any], msg_id: int, sop_instance: str
    ) -> StoreOutcome:
        if cmd.get(0x00000120) != msg_id or rctx != ctx:
            raise ProtocolError("a C-STORE response to another request")
        status = cmd.get(0x00000900)
        if not isinstance(status, int):
            raise ProtocolError("a C-STORE response without a status")
        affected = cmd.get(0x00001000)
        if isinstance(affected, bytes):
            uid = affected.rstrip(b"\x00 ").decode("ascii", "replace")
            if uid and uid != sop_instance:
                raise ProtocolError(f"a C-STORE response for another instance ({uid})")
        comment = cmd.get(0x00000902, b"")
        text = ""
        if isinstance(comment, bytes):
            text = comment.rstrip(b"\x00 ").decode("ascii", "replace")
        return StoreOutcome(status=status, comment=text)

    def _end(
        self,
        lost: str,
        detail: str,
        last_words: bytes | None,
        abort: tuple[int, int] | None = None,
    ) -> StoreOutcome:
        """The association is lost: say a last PDU (A-ABORT, A-RELEASE-RP) if any, best
        effort, and close the connection (an A-ABORT cannot pass a full send buffer)."""
        if last_words is not None:
            try:
                self.sock.settimeout(1.0)
                self.sock.sendall(last_words)
            except OSError:
                pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.outcome = StoreOutcome(lost=lost, detail=detail, abort=abort)
        return self.outcome
