"""The storage SCP's fast receive: C-STORE data sets read from the socket into the
archive's temp file, past pynetdicom's per-PDU and per-message work (docs/architecture.md,
"The fast C-STORE receive", has the whole design).

Once pynetdicom has accepted the association (negotiation, the allow-list and the cap stay
its job), its DUL thread runs :meth:`Receiver.run` instead of reading the next PDU
(``_pynetdicom.take_over_reading``): large socket reads into one buffer, PDUs and PDV
items walked in place (PS3.8 9.3.5, Annex E), each command set decoded from its bytes,
every data set fragment written to the temp file with one ``writev`` per read, the file
archived (``LocalScp._store_received``, as on pynetdicom's path) and the C-STORE-RSP sent
as bytes, all on that one thread.

It handles C-STORE-RQ on a storage context whose abstract syntax is the request's SOP
class, and C-ECHO-RQ.  Anything else (A-RELEASE-RQ, A-ABORT, another PDU or message, UIDs
pydicom would decode its own way) ends the fast path at that message boundary: the bytes
read and not used go back to pynetdicom, before its socket, and it serves the rest of the
association.  A peer that breaks the protocol is aborted (source: service provider, with
a reason) and its incomplete file removed when the connection closes.  Every wait is
bounded: reads wait :data:`SLICE` seconds at a time, and the reader stops at once when
pynetdicom wants the socket back (an abort from another thread) or after the network
timeout without data.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pacsadmin.core.dimse import _pynetdicom, scp_receive
from pacsadmin.core.dimse.pdu import ProtocolError, a_abort, command_values, p_data
from pacsadmin.core.dimse.scp_commands import (
    C_ECHO_RQ,
    C_STORE_RQ,
    NO_DATA_SET,
    VERIFICATION,
    echo_rsp,
    store_rsp,
    uid_value,
)
from pacsadmin.core.dimse.status import describe_abort
from pacsadmin.core.dimse.transcript import command_text

log = logging.getLogger("pacsadmin.scp")

BUFFER = 1 << 20  # bytes: socket reads land here (one per association)
MIN_READ = 256 * 1024  # a read gets at least this much room (the rest is moved down first)
MAX_COMMAND = 64 * 1024  # a command set is a few hundred bytes; more is refused
SLICE = 0.2  # s: the longest one read waits before looking whether pynetdicom needs the socket
PREAMBLE = b"\x00" * 128 + b"DICM"

_PDU = struct.Struct(">BxI")
_PDV = struct.Struct(">IBB")

# A-ABORT reasons (source 2, service provider: PS3.8 table 9-26)
REASON_UNSPECIFIED, UNEXPECTED_PARAMETER, INVALID_PARAMETER = 0, 5, 6

# (record, temp file, transfer syntax, the file's first HEAD bytes) -> (status, error
# comment): archives a received file
ArchiveFile = Callable[[Any, Path, str, bytes], tuple[int, str]]
HEAD = 64 * 1024  # the first bytes of each file are kept: its header is parsed from them


class _Abort(Exception):
    """The peer broke the protocol: the association is aborted with ``reason``."""

    def __init__(self, reason: int, text: str) -> None:
        super().__init__(text)
        self.reason = reason


class _Stop(Exception):
    """The reader stops and pynetdicom goes on (closed connection, watchdog, timeout)."""


class _HandBack(Exception):
    """What is left goes to pynetdicom (a PDU or a message this path does not handle)."""


class _Store:
    """One C-STORE-RQ whose data set is arriving."""

    __slots__ = ("context_id", "file", "head", "message_id", "sop_class", "sop_instance", "ts")

    def __init__(
        self, context_id: int, file: Any, message_id: int, sop_class: str, inst: str, ts: str
    ) -> None:
        self.head = bytearray()
        self.context_id = context_id
        self.file = file
        self.message_id = message_id
        self.sop_class = sop_class
        self.sop_instance = inst
        self.ts = ts


def install(
    assoc: Any,
    *,
    record: Callable[[], Any],
    archive_file: ArchiveFile,
    tmp_dir: Path,
    storage: frozenset[str],
    timeout: float | None,
) -> None:
    """Let the fast receive read ``assoc`` once it is established (from EVT_CONN_OPEN)."""

    def reader() -> bytes:
        contexts = {
            int(cx.context_id): (str(cx.abstract_syntax), str(cx.transfer_syntax[0]))
            for cx in assoc.accepted_contexts
        }
        if not any(a in storage for a, _ in contexts.values()):
            return b""  # nothing to store: pynetdicom serves it all (Q/R, echo)
        sock = _pynetdicom.dul_socket(assoc)
        if sock is None:
            return b""
        peer_max = int(getattr(assoc.requestor, "maximum_length", 0) or 0)
        rx = Receiver(sock, contexts, storage, tmp_dir, timeout, peer_max)
        rx.assoc = assoc
        rx.rec = record()
        rx.archive_file = archive_file
        return rx.run()

    _pynetdicom.take_over_reading(assoc, reader)


class Receiver:
    """Reads one association's P-DATA on pynetdicom's DUL thread (see the module)."""

    def __init__(
        self,
        sock: socket.socket,
        contexts: dict[int, tuple[str, str]],
        storage: frozenset[str],
        tmp_dir: Path,
        timeout: float | None,
        peer_max: int,
    ) -> None:
        self.sock = sock
        self.contexts = contexts
        self.storage = storage
        self.tmp_dir = tmp_dir
        self.timeout = timeout
        self.peer_max = peer_max
        self.assoc: Any = None
        self.rec: Any = None
        self.archive_file: ArchiveFile = _no_archive
        self.buf = bytearray(BUFFER)
        self.view = memoryview(self.buf)
        self.start = 0  # the first byte not parsed yet
        self.end = 0  # the end of what was read
        self.pdu_left = 0  # bytes of the current P-DATA-TF PDU not parsed yet
        self.frag_left = 0  # bytes of the current data set fragment not written yet
        self.frag_last = False
        self.cmd = bytearray()  # the command set being received
        self.cmd_items: list[bytes] = []  # its PDV items as received (handed back whole)
        self.cmd_context = 0
        self.store: _Store | None = None
        self.spare: Any = None  # a temp file created ahead for the next data set
        self.lines: dict[tuple[str, str, int | None], str] = {}  # see _line()
        self.pending: list[memoryview] = []  # data set slices of ``buf`` to write
        self.last_data = time.monotonic()

    # ------------------------------------------------------------------ the loop
    def run(self) -> bytes:
        """Receive until something is left to pynetdicom; the bytes read and not used."""
        assoc = self.assoc
        if assoc is not None:
            _pynetdicom.pause_reactor(assoc, True)
        old_timeout = self.sock.gettimeout()
        try:
            self.sock.settimeout(SLICE)
            while True:
                self._parse()
                self._fill()
        except _HandBack:
            return self._leftover()
        except _Stop:
            return b""
        except _Abort as exc:
            self._abort(exc.reason, str(exc))
            return b""
        except OSError:  # reset by the peer, say: pynetdicom sees the connection go
            return b""
        except Exception as exc:  # a bug here must not leave the peer hanging
            log.exception("SCP: the fast receive failed")
            self._abort(REASON_UNSPECIFIED, f"internal error ({type(exc).__name__})")
            return b""
        finally:
            self._drop_store()
            if self.spare is not None:
                scp_receive.drop_spare(self.spare)
                self.spare = None
            with contextlib.suppress(OSError):
                self.sock.settimeout(old_timeout)
            if assoc is not None:
                _pynetdicom.pause_reactor(assoc, False)

    def _fill(self) -> None:
        """Write the pending data set slices, make room, read once more from the socket."""
        if self.pending:
            self._flush()
        if self.start == self.end:
            self.start = self.end = 0
        elif len(self.buf) - self.end < MIN_READ:
            n = self.end - self.start
            self.buf[:n] = self.buf[self.start : self.end]
            self.start, self.end = 0, n
        while True:
            if self.assoc is not None and _pynetdicom.wants_control(self.assoc):
                raise _Stop
            try:
                k = self.sock.recv_into(self.view[self.end :])
            except TimeoutError:
                if self.timeout and time.monotonic() - self.last_data >= self.timeout:
                    self.rec.add_error(
                        f"no data from the peer for {self.timeout:g} s: association aborted"
                    )
                    raise _Stop from None  # pynetdicom's idle timer has expired too: it aborts
                continue
            if not k:
                raise _Stop  # the peer closed the connection
            self.end += k
            self.last_data = time.monotonic()
            if self.assoc is not None:
                _pynetdicom.restart_idle_timer(self.assoc)
            return

    def _parse(self) -> None:
        """Handle every complete item in the buffer; return when more bytes are needed."""
        buf = self.buf
        while True:
            start, avail = self.start, self.end - self.start
            if self.frag_left:  # inside a data set fragment: write what is here
                n = min(self.frag_left, avail)
                if not n:
                    return
                self.pending.append(self.view[start : start + n])
                head = self.store.head  # type: ignore[union-attr]  # frag_left: a store
                if len(head) < HEAD:
                    head += self.view[start : start + min(n, HEAD - len(head))]
                self.start = start + n
                self.frag_left -= n
                self.pdu_left -= n
                if not self.frag_left and self.frag_last:
                    self._stored()
                continue
            if not self.pdu_left:  # a PDU starts here
                if avail < 6:
                    return
                kind, length = _PDU.unpack_from(buf, start)
                if kind != 0x04:
                    raise _HandBack  # A-RELEASE-RQ, A-ABORT, anything else: pynetdicom's
                if length < 6:
                    raise _Abort(INVALID_PARAMETER, f"a P-DATA-TF PDU of {length} bytes")
                self.start = start + 6
                self.pdu_left = length
                continue
            # a PDV item starts here
            if avail < 6:
                return
            item_len, context_id, mch = _PDV.unpack_from(buf, start)
            if item_len < 2 or item_len + 4 > self.pdu_left:
                raise _Abort(INVALID_PARAMETER, "a PDV item does not fit its PDU")
            if context_id not in self.contexts:
                raise _Abort(
                    UNEXPECTED_PARAMETER,
                    f"a PDV on presentation context {context_id}, which was not accepted",
                )
            frag = item_len - 2
            if mch & 1:
                if avail < 4 + item_len:  # a command fragment is used whole
                    if len(self.cmd) + item_len > MAX_COMMAND:
                        raise _Abort(INVALID_PARAMETER, "a command set longer than 64 KiB")
                    return
                self._command_fragment(start, item_len, context_id, mch)
                continue
            store = self.store
            if store is None or self.cmd:
                raise _Abort(UNEXPECTED_PARAMETER, "a data set fragment without its command")
            if context_id != store.context_id:
                raise _Abort(
                    UNEXPECTED_PARAMETER,
                    f"a data set fragment on presentation context {context_id}, its command"
                    f" on {store.context_id}",
                )
            self.start = start + 6
            self.pdu_left -= 6
            self.frag_left = frag
            self.frag_last = bool(mch & 2)
            if not frag and self.frag_last:
                self._stored()

    def _command_fragment(self, start: int, item_len: int, context_id: int, mch: int) -> None:
        if self.store is not None:
            raise _Abort(UNEXPECTED_PARAMETER, "a command before the data set was complete")
        if len(self.cmd) + item_len > MAX_COMMAND:
            raise _Abort(INVALID_PARAMETER, "a command set longer than 64 KiB")
        if self.cmd_items and context_id != self.cmd_context:
            raise _Abort(UNEXPECTED_PARAMETER, "a command's fragments on two contexts")
        self.cmd_context = context_id
        self.cmd_items.append(bytes(self.buf[start : start + 4 + item_len]))
        self.cmd += self.buf[start + 6 : start + 4 + item_len]
        self.start = start + 4 + item_len
        self.pdu_left -= 4 + item_len
        if mch & 2:
            self._command()

    # ------------------------------------------------------------------ messages
    def _command(self) -> None:
        """A complete command set: start a C-STORE, answer a C-ECHO, or hand back."""
        try:
            values = command_values(bytes(self.cmd))
        except ProtocolError as exc:
            raise _Abort(REASON_UNSPECIFIED, f"a command set that cannot be read: {exc}") from None
        field = values.get(0x0100)
        abstract, ts = self.contexts[self.cmd_context]
        has_data = values.get(0x0800, NO_DATA_SET) != NO_DATA_SET
        message_id = values.get(0x0110)
        if not isinstance(message_id, int):
            raise _HandBack
        if field == C_STORE_RQ and has_data and abstract in self.storage:
            sop_class = uid_value(values.get(0x0002))
            inst = uid_value(values.get(0x1000))
            if sop_class != abstract or not inst:
                raise _HandBack  # pynetdicom's way (another service class, odd UIDs)
            try:
                meta = scp_receive.file_meta_for(sop_class, inst, ts)
            except (ValueError, struct.error):
                raise _HandBack from None
            f, self.spare = self.spare or scp_receive.spare_file(self.tmp_dir), None
            scp_receive.adopt(self.assoc, f)
            f.write(PREAMBLE)
            f.write(meta)
            self.store = _Store(self.cmd_context, f, message_id, sop_class, inst, ts)
            self.store.head += PREAMBLE
            self.store.head += meta
            self.rec.transcript.command("<<", "C-STORE-RQ", {0x0110: message_id, 0x0002: sop_class})
        elif field == C_ECHO_RQ and not has_data and abstract == VERIFICATION:
            self.rec.transcript.command("<<", "C-ECHO-RQ", {0x0110: message_id})
            self._send(p_data(self.cmd_context, echo_rsp(message_id), True, self.peer_max))
            self.rec.transcript.command(
                ">>", "C-ECHO-RSP", {0x0120: message_id, 0x0002: VERIFICATION, 0x0900: 0}
            )
        else:
            raise _HandBack
        self.cmd.clear()
        self.cmd_items.clear()

    def _stored(self) -> None:
        """The last fragment of a data set: archive it, answer the C-STORE-RSP."""
        store = self.store
        assert store is not None
        self._flush()
        self.store = None
        tmp = store.file.path
        scp_receive.claim(self.assoc, tmp)  # received whole: archived or removed here
        try:
            status, comment = self.archive_file(self.rec, tmp, store.ts, bytes(store.head))
        except Exception as exc:  # a bug in archiving: answered as pynetdicom would (0xC211)
            log.exception("SCP: archiving a received file failed")
            self.rec.failed += 1
            self.rec.add_error(f"archive failed: {type(exc).__name__}: 0xC211 sent")
            with contextlib.suppress(OSError):
                tmp.unlink()
            status, comment = 0xC211, ""
        rsp = store_rsp(store.sop_class, store.message_id, status, store.sop_instance, comment)
        self._send(p_data(store.context_id, rsp, True, self.peer_max))
        # the next file is created while the peer reads and sends the next data set
        self.spare = scp_receive.spare_file(self.tmp_dir)
        self._line(">>", "C-STORE-RSP", store.message_id, store.sop_class, status)

    def _line(
        self, direction: str, name: str, message_id: int, sop_class: str, status: int | None
    ) -> None:
        """The transcript's line of a C-STORE message (the text after the message ID is
        formatted once per SOP class and status)."""
        key = (name, sop_class, status)
        rest = self.lines.get(key)
        if rest is None:
            values: dict[int, Any] = {0x0002: sop_class}
            if status is not None:
                values[0x0900] = status
            rest = self.lines[key] = command_text(values)
        field = "MessageID" if status is None else "MessageIDBeingRespondedTo"
        self.rec.transcript.add(direction, name, f"{field}={message_id} {rest}")

    def _flush(self) -> None:
        pending, self.pending = self.pending, []
        if self.store is not None and pending:
            self.store.file.write_now(pending)

    def _drop_store(self) -> None:
        """The reader stops mid-data set: the file is closed; it stays registered to the
        association, whose close removes it and reports it (``scp_receive.forget``)."""
        self.pending = []
        if self.store is not None:
            self.store.file.discard()
            self.store = None

    # ------------------------------------------------------------------ writing
    def _send(self, data: bytes) -> None:
        """Send ``data`` (a response), waiting at most the network timeout for room."""
        view = memoryview(data)
        deadline = time.monotonic() + (self.timeout or 60.0)
        while view:
            try:
                k = self.sock.send(view)
            except TimeoutError:
                k = 0
            view = view[k:]
            if view and time.monotonic() > deadline:
                self.rec.add_error("the peer stopped reading: association aborted")
                raise _Stop  # pynetdicom's idle timer aborts it

    def _abort(self, reason: int, text: str) -> None:
        self.rec.aborted = True
        self.rec.add_error(f"protocol error from the peer ({text}): A-ABORT sent")
        log.warning("SCP: association #%s aborted: %s", self.rec.id, text)
        self.rec.transcript.abort_sent = (2, reason)
        self.rec.transcript.add(">>", "A-ABORT", describe_abort(2, reason, ours=True))
        with contextlib.suppress(OSError):
            self.sock.settimeout(1.0)
            self.sock.sendall(a_abort(2, reason))
        with contextlib.suppress(OSError):  # pynetdicom sees the connection closed
            self.sock.shutdown(socket.SHUT_RDWR)

    def _leftover(self) -> bytes:
        """What pynetdicom gets: the command being received (its PDV items, each as a
        P-DATA-TF of its own), the rest of the current P-DATA-TF, and what follows."""
        parts = [_PDU.pack(0x04, len(i)) + i for i in self.cmd_items]
        if self.pdu_left:
            parts.append(_PDU.pack(0x04, self.pdu_left))
        parts.append(bytes(self.buf[self.start : self.end]))
        return b"".join(parts)


def _no_archive(rec: Any, tmp: Path, ts: str, head: bytes) -> tuple[int, str]:
    raise RuntimeError("no archive")
