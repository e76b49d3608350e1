"""Every use of a pynetdicom internal, in one place (the pynetdicom seam).

pynetdicom has no public API for what the functions here do: its settings module
(``pynetdicom._config``), the chunked receive's temp file and file meta group (globals of
``pynetdicom.dimse_messages``), the DUL's poll interval, ``Association.kill``'s members,
``AE._create_socket`` and ``AE._servers``, and which thread calls our code.  The rest of
pacsadmin calls the named functions below and never touches a private name of pynetdicom;
tests/unit/test_library_seams.py greps the code for such names, and fails on an upgrade of
pynetdicom that changes what any function here relies on (attributes, signatures, what
pynetdicom calls and on which thread, the source of what is copied).  pyproject.toml pins
pynetdicom below the next minor release; before moving that bound, run that test against
the new version and review this module against its source.

Importing this module imports nothing of pynetdicom: each function imports what it needs
(pynetdicom takes ~0.1 s to import; the CLI's start-up does not pay for it).
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

LOW_LATENCY_POLL = 0.0002  # s: the DUL's poll interval for low-latency associations (1 ms)
KILL_POLL = 0.0005  # s: kill_association's poll (Association.kill polls every 10 ms)
LEASED_POLL = 0.01  # s: the DUL's poll while a SocketLease holds its socket (1 ms else)
LEASE_WAIT = 5.0  # s: at most, for the DUL to leave a read it began before the lease


# ------------------------------------------------------------------ settings (_config)
def quiet_logging() -> None:
    """No identifier pretty-printing and no per-PDU log handlers (23% of a C-FIND, and
    patient data in the logs).  Call before any AE is made."""
    from pynetdicom import _config

    _config.LOG_HANDLER_LEVEL = "none"
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False


def logs_identifiers() -> bool:
    """True when pynetdicom would log request or response identifiers (patient data)."""
    from pynetdicom import _config

    return bool(_config.LOG_REQUEST_IDENTIFIERS or _config.LOG_RESPONSE_IDENTIFIERS)


def chunked_receive() -> bool:
    """Whether received C-STORE data sets go to a temp file (``STORE_RECV_CHUNKED_DATASET``)."""
    from pynetdicom import _config

    return bool(_config.STORE_RECV_CHUNKED_DATASET)


def set_chunked_receive(on: bool) -> bool:
    """Received C-STORE data sets to a temp file (on) or memory; returns the previous mode."""
    from pynetdicom import _config

    previous = bool(_config.STORE_RECV_CHUNKED_DATASET)
    _config.STORE_RECV_CHUNKED_DATASET = on
    return previous


def set_chunked_send(on: bool) -> bool:
    """``send_c_store(path)`` sends the file's bytes as they are, never decoded (on);
    returns the previous mode (``STORE_SEND_CHUNKED_DATASET``)."""
    from pynetdicom import _config

    previous = bool(_config.STORE_SEND_CHUNKED_DATASET)
    _config.STORE_SEND_CHUNKED_DATASET = on
    return previous


# ------------------------------------------------------------------ connection hooks
def set_nodelay(event: Any) -> None:
    """An ``EVT_CONN_OPEN`` handler: TCP_NODELAY on the association's socket (Nagle's
    algorithm holds each small PDU up to 40 ms waiting for the peer's delayed ACK)."""
    s = event.assoc.dul.socket.socket
    if s is not None:
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def cut_connection(assoc: Any) -> bool:
    """Shut the association's TCP connection down from any thread (both directions, at the
    file descriptor: for a TLS socket too, without touching its SSL state).  Whatever reads
    it (pynetdicom's DUL, a fast receive loop) sees the end of the connection and the
    association ends as after a peer's disconnect: ``EVT_CONN_CLOSE`` runs.  No A-ABORT is
    written: another thread may be in the middle of writing a PDU.  False when the
    association had no socket left."""
    s = getattr(getattr(assoc, "dul", None), "socket", None)
    s = getattr(s, "socket", None)
    if s is None:
        return False
    try:
        socket.socket.shutdown(s, socket.SHUT_RDWR)
    except OSError:  # already closed
        return False
    return True


def set_low_latency(assoc: Any) -> None:
    """The DUL polls every 0.2 ms instead of 1 ms: an echo round trip 18 -> 6 ms, at the
    cost of CPU (not for long transfers).  Call from ``EVT_CONN_OPEN``."""
    assoc.dul._run_loop_delay = LOW_LATENCY_POLL


def kill_association(assoc: Any, *, timeout: float = 5.0) -> None:
    """``Association.kill`` with a 0.5 ms poll instead of 10 ms (an echo's release then
    costs 11 ms of sleeping); same steps otherwise.  Gives up waiting after ``timeout``."""
    assoc._reactor_checkpoint.set()
    assoc._kill = True
    assoc.is_established = False
    assoc._is_paused = True
    deadline = time.monotonic() + timeout
    while assoc.dul.is_alive() and not assoc.dul.stop_dul():
        if time.monotonic() > deadline:
            break
        time.sleep(KILL_POLL)


def use_fast_kill(assoc: Any) -> None:
    """The association tears down (release, abort) through :func:`kill_association`."""
    assoc.kill = lambda: kill_association(assoc)


def current_association() -> Any:
    """The association pynetdicom is running the calling code for, or None.

    pynetdicom calls the ACSE's ``AE.require_calling_aet`` on the association's own thread
    (an ``Association`` is a ``Thread``) and creates a chunked receive's temp file on the
    association's DUL thread (whose ``assoc`` is the association)."""
    th = threading.current_thread()
    assoc = getattr(th, "assoc", None)  # a DUL thread (checked first: once per C-STORE)
    if assoc is not None:
        return assoc
    from pynetdicom.association import Association

    return th if isinstance(th, Association) else None


# ------------------------------------------------------------------ SCU message races
def responses_to_the_caller(assoc: Any) -> None:
    """The association's reactor thread never takes a DIMSE message off the queue: every
    response goes to the ``send_*`` call waiting for it.  For associations that only send
    requests (C-STORE SCU); not for one that must serve the peer's requests (C-GET).

    Why: pynetdicom 3.0's reactor sets ``_is_paused = True`` on every loop, before it
    checks the checkpoint that ``send_c_store`` clears; so ``send_c_store`` can see "paused"
    while the reactor is running on, and the reactor then takes the C-STORE-RSP as if it
    were a request and drops it.  The sender waits out its DIMSE timeout and aborts
    (measured: 300 files to storescp with TCP_NODELAY lost one response in most runs).
    The reactor reads messages with ``get_msg(block=False)``, the senders with
    ``block=True``; the instance's ``get_msg`` answers the first with nothing."""
    dimse = assoc.dimse
    original = dimse.get_msg

    def get_msg(block: bool = False) -> Any:
        if not block:
            return None, None
        return original(block=True)

    dimse.get_msg = get_msg


def wake_on_close(event: Any) -> None:
    """An ``EVT_CONN_CLOSE`` handler: a ``send_*`` call waiting for a response returns at
    once (as after a DIMSE timeout) when the connection closes, instead of waiting out
    the DIMSE timeout for a response that cannot come (a peer killed mid-send)."""
    event.assoc.dimse.msg_queue.put((None, None))


# ------------------------------------------------------------------ the socket lent to us
def serialized_writes(assoc: Any) -> threading.Lock:
    """A lock every PDU pynetdicom's DUL writes on this association is written under
    (installed once): code of ours that writes on the same socket from another thread
    holds it for each whole message.  Plain sockets only (ValueError for TLS: an
    ``SSLSocket`` must not be used by two threads)."""
    sock = assoc.dul.socket
    lock = getattr(sock, "pacsadmin_write_lock", None)
    if lock is not None:
        return lock  # type: ignore[no-any-return]
    if isinstance(sock.socket, ssl.SSLSocket):
        raise ValueError("shared writes on a TLS socket")
    lock = threading.Lock()
    send = sock.send

    def locked_send(data: bytes) -> bool:
        with lock:
            return bool(send(data))

    sock.send = locked_send
    sock.pacsadmin_write_lock = lock
    return lock


def override_send_msg(assoc: Any, send_msg: Callable[[Any, int], None] | None) -> Any:
    """The association's DIMSE ``send_msg(primitive, context_id)`` (what pynetdicom's
    service classes send every response with) replaced by ``send_msg`` (None: its own
    again); returns pynetdicom's own."""
    dimse = assoc.dimse
    if send_msg is None:
        vars(dimse).pop("send_msg", None)
    else:
        dimse.send_msg = send_msg
    return type(dimse).send_msg.__get__(dimse)


class SocketLease:
    """An established association's socket, lent to our own code (the fast C-STORE
    sender, ``store_fast.py``) while pynetdicom's DUL thread keeps off it.

    Between :meth:`take` and :meth:`give_back` the DUL neither reads the socket nor lets
    the network idle timer run out (its ``_is_transport_event``, the one place it reads,
    answers "nothing came" and restarts the timer), so every byte the peer sends is ours
    to read, and the socket is ours to write (nothing is queued to the DUL meanwhile: the
    caller sends nothing through pynetdicom while it holds the lease).  A read the DUL
    had started finishes before :meth:`take` returns (one lock).  pynetdicom keeps the
    association: negotiation before, release or abort after :meth:`give_back`.  Works for
    TLS too: one thread at a time uses the ``SSLSocket``.

    ``shared_writes``: pynetdicom goes on sending on this association meanwhile (a C-GET's
    pending responses, from its DUL thread): each of its PDUs is written under
    :attr:`write_lock`, which our code holds for each whole message it writes (PS3.8
    9.3.5: no fragment of another message in between).  Plain sockets only (an
    ``SSLSocket`` must not be written and read by two threads)."""

    def __init__(self, assoc: Any, *, shared_writes: bool = False) -> None:
        self.assoc = assoc
        dul = assoc.dul
        self.sock: socket.socket = dul.socket.socket
        self._lock = threading.Lock()
        self._held = False
        self._delay: float | None = None
        self._timeout: float | None = None
        self.write_lock: threading.Lock | None = None
        if shared_writes:
            self.write_lock = serialized_writes(assoc)
        original = dul._is_transport_event
        timer = dul._idle_timer
        self._through = threading.Event()  # the DUL has called the override once

        def is_transport_event() -> bool:
            self._through.set()
            with self._lock:
                if self._held:
                    timer.restart()
                    return False
                return bool(original())

        dul._is_transport_event = is_transport_event

    @property
    def peer_max_pdu(self) -> int:
        """The peer's maximum PDU length (0: no limit)."""
        a = self.assoc
        peer = a.requestor if a.is_acceptor else a.acceptor
        return int(peer.maximum_length or 0)

    def take(self) -> socket.socket:
        """The socket is ours from now on.  The first time, this waits (at most
        :data:`LEASE_WAIT`) for the DUL to come round its loop once: a call it began
        before the override was installed could still read a PDU (measured under load:
        the first C-STORE-RSP taken by the DUL, the sender waiting out its timeout)."""
        if not self._through.is_set() and self.assoc.dul.is_alive():
            self._through.wait(LEASE_WAIT)
        with self._lock:
            self._held = True
            self._timeout = self.sock.gettimeout()  # ours set their own; given back after
            if self.write_lock is None:  # nothing for the DUL to do: it polls less often
                self._delay = self.assoc.dul._run_loop_delay
                self.assoc.dul._run_loop_delay = LEASED_POLL
        return self.sock

    def give_back(self) -> None:
        with self._lock:
            self._held = False
            try:
                self.sock.settimeout(self._timeout)
            except OSError:
                pass  # closed
            if self._delay is not None:
                self.assoc.dul._run_loop_delay = self._delay
                self._delay = None


def override_store_calls(
    assoc: Any, send_c_store: Callable[..., Any], release: Callable[[], None]
) -> None:
    """This association's ``send_c_store`` and ``release`` are these (instance
    attributes).  pynetdicom's C-MOVE SCP sends each sub-operation with
    ``store_assoc.send_c_store(dataset, msg_id=, originator_aet=, originator_id=)`` after
    checking ``isinstance(dataset, Dataset)``, counts an exception as a failed
    sub-operation, and ends with ``store_assoc.release()``; its C-GET SCP sends each with
    ``self.assoc.send_c_store(dataset, msg_id=)`` (``qr_send.py``)."""
    assoc.send_c_store = send_c_store
    assoc.release = release


def restore_store_calls(assoc: Any) -> None:
    """pynetdicom's own ``send_c_store`` and ``release`` again (see above)."""
    for name in ("send_c_store", "release"):
        vars(assoc).pop(name, None)


def note_cancel(assoc: Any, msg_id: int) -> None:
    """A C-CANCEL-RQ for request ``msg_id`` arrived (read by our code, not pynetdicom's):
    recorded where pynetdicom's DIMSE provider records it, so the request's handler sees
    ``event.is_cancelled``."""
    from pynetdicom.dimse_primitives import C_CANCEL

    primitive = C_CANCEL()
    primitive.MessageIDBeingRespondedTo = msg_id
    assoc.dimse.cancel_req[msg_id] = primitive


def dimse_pdus(primitive: Any, context_id: int, max_pdu: int) -> bytes:
    """The bytes pynetdicom puts on the wire for a DIMSE request or response primitive
    (``C_STORE`` ...): its message, fragmented into P-DATA-TF PDUs (tests compare the fast
    paths' bytes with these)."""
    from pynetdicom import dimse_messages
    from pynetdicom.pdu import P_DATA_TF

    kind = "RSP" if primitive.Status is not None else "RQ"
    msg = getattr(dimse_messages, f"{type(primitive).__name__}_{kind}")()
    msg.primitive_to_message(primitive)
    out = b""
    for p in msg.encode_msg(context_id, max_pdu):
        pdu = P_DATA_TF()
        pdu.from_primitive(p)
        out += pdu.encode()
    return out


def decode_dimse(pdus: list[bytes]) -> Any:
    """The DIMSE primitive pynetdicom decodes from these P-DATA-TF PDUs (one message)."""
    from pynetdicom.dimse_messages import DIMSEMessage
    from pynetdicom.pdu import P_DATA_TF

    msg = DIMSEMessage()
    for raw in pdus:
        pdu = P_DATA_TF()
        pdu.decode(raw)
        if msg.decode_msg(pdu.to_primitive()):
            return msg.message_to_primitive()
    return None


# ------------------------------------------------------------------ our own socket
def preconnected_ae_class(
    sock: socket.socket, on_first_bytes: Callable[[bytes], None] | None = None
) -> type:
    """An AE class whose association runs over ``sock``, already connected (and wrapped
    in TLS) by the caller: the Connectivity Doctor times DNS, TCP and TLS as separate
    steps on the connection that then carries the association.  Overrides
    ``AE._create_socket``; the socket skips ``AssociationSocket.__init__`` (which would
    bind a new socket, or treat ours as an incoming one) and sets its attributes itself.

    ``on_first_bytes(data)``: called once with the first bytes the peer sends (see
    :func:`_first_bytes_seen`)."""
    from pynetdicom import AE

    sock_cls = _preconnected_socket_class()

    class PreconnectedAE(AE):
        def _create_socket(self, assoc: Any, address: Any, tls_args: Any) -> Any:
            return sock_cls(assoc, sock, on_first_bytes)

    return PreconnectedAE


def _make_preconnected_socket_class() -> type:
    from pynetdicom import evt
    from pynetdicom.transport import AddressInformation, AssociationSocket

    class PreconnectedSocket(AssociationSocket):
        """An AssociationSocket over a socket we connected ourselves (requestor side)."""

        def __init__(
            self,
            assoc: Any,
            sock: socket.socket,
            on_first_bytes: Callable[[bytes], None] | None = None,
        ) -> None:  # no super(): see above
            self._assoc = assoc
            self._ready = threading.Event()
            self.socket = sock
            self._is_connected = False
            self._tls_args = None
            self.select_timeout = 0.5
            self._on_first_bytes = on_first_bytes  # ours, not pynetdicom's

        def recv(self, nr_bytes: int) -> bytearray:
            data: bytearray = super().recv(nr_bytes)
            if self._on_first_bytes is not None:
                tap, self._on_first_bytes = self._on_first_bytes, None
                tap(_first_bytes_seen(self.socket, bytes(data)))
            return data

        def connect(self, primitive: Any) -> None:
            try:
                assert self.socket is not None
                self.socket.settimeout(None)
                self.assoc.requestor.address_info = AddressInformation.from_tuple(
                    self.socket.getsockname()
                )
                self._is_connected = True
                evt.trigger(
                    self.assoc, evt.EVT_CONN_OPEN, {"address": primitive.address_info.as_tuple}
                )
                primitive.result = "Evt2"
                self.provider_queue.put(primitive)
            except OSError:
                if self.socket:
                    self._shutdown_socket()
                    self.socket = None
                primitive.result = "Evt17"
                self.provider_queue.put(primitive)
            finally:
                self._ready.set()

    return PreconnectedSocket


# The first bytes the peer sent.  The DUL reads a PDU's 6-byte header with its first
# AssociationSocket.recv and, for an unknown PDU type (an HTTP server's "HTTP/1.0 400
# ..."), drops them and aborts: without them the Doctor could only say "no answer".  recv
# is overridden in our own socket class above; what follows is peeked, never consumed.
def _first_bytes_seen(sock: socket.socket | None, data: bytes, limit: int = 256) -> bytes:
    """``data`` and, when it is not the start of a DICOM PDU (types 01H-07H), what follows
    it on the socket (peeked, waiting at most 0.1 s for it)."""
    if sock is None or not data or 0x01 <= data[0] <= 0x07 or isinstance(sock, ssl.SSLSocket):
        return data
    try:
        select.select([sock], [], [], 0.1)
        return data + sock.recv(limit, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (OSError, ValueError):
        return data


_PRECONNECTED: type | None = None


def _preconnected_socket_class() -> type:
    global _PRECONNECTED
    if _PRECONNECTED is None:
        _PRECONNECTED = _make_preconnected_socket_class()
    return _PRECONNECTED


# ------------------------------------------------------------------ servers
def register_server(ae: Any, server: Any) -> None:
    """A server made with ``ae.make_server`` and started by us, known to ``ae`` as
    ``start_server`` would make it (``ae.shutdown()`` stops it; ``server.shutdown()``
    removes it from the AE's list, and fails when it is not there)."""
    ae._servers.append(server)


def stop_server_at_once(server: Any) -> None:
    """``server.shutdown()`` without waiting out the accept loop's poll: pynetdicom runs
    ``serve_forever`` with socketserver's 0.5 s poll, so a plain shutdown took up to
    0.5 s (every C-MOVE's receiver, every return-path test).  The stop request is
    flagged first, as ``shutdown`` itself does, then the listening socket is shut down,
    which wakes the poll at once on Linux; elsewhere the poll's timeout still ends it."""
    server._BaseServer__shutdown_request = True  # socketserver's flag, read after each poll
    with suppress(OSError):
        server.socket.shutdown(socket.SHUT_RDWR)
    server.shutdown()


# ------------------------------------------------------------------ chunked receive patches
# pynetdicom's chunked receive (DIMSEMessage.decode_msg) calls these globals of
# pynetdicom.dimse_messages for each incoming C-STORE data set:
#   NamedTemporaryFile(delete=False, mode="wb", suffix=".dcm")  -> the file it writes into
#   create_file_meta(sop_class_uid=, sop_instance_uid=, transfer_syntax=)  -> file meta
#   write_file_meta_info(file, file_meta)  -> writes the file meta group into the file
RECEIVE_PATCHED = ("NamedTemporaryFile", "create_file_meta", "write_file_meta_info")
_patch_lock = threading.Lock()
_originals: dict[str, Any] = {}  # name -> pynetdicom's own, while our patches are in
_previous_chunked = False


def install_receive_patches(
    temp_file: Callable[..., Any],
    create_file_meta: Callable[..., Any],
    write_file_meta_info: Callable[..., Any],
) -> None:
    """Turn the chunked receive on and give it these three functions (see
    :data:`RECEIVE_PATCHED`).  Installing again replaces the functions and keeps the
    originals saved by the first install; :func:`remove_receive_patches` restores them."""
    global _previous_chunked
    from pynetdicom import dimse_messages

    with _patch_lock:
        if not _originals:
            _originals.update({n: getattr(dimse_messages, n) for n in RECEIVE_PATCHED})
            _previous_chunked = set_chunked_receive(True)
        else:
            set_chunked_receive(True)
        for name, fn in zip(
            RECEIVE_PATCHED, (temp_file, create_file_meta, write_file_meta_info), strict=True
        ):
            setattr(dimse_messages, name, fn)


def remove_receive_patches() -> None:
    """pynetdicom's own functions and receive mode back (nothing when not installed)."""
    from pynetdicom import dimse_messages

    with _patch_lock:
        if not _originals:
            return
        for name, fn in _originals.items():
            setattr(dimse_messages, name, fn)
        _originals.clear()
        set_chunked_receive(_previous_chunked)


def receive_patches_installed() -> bool:
    with _patch_lock:
        return bool(_originals)


# ------------------------------------------------------------------ for tests
@contextmanager
def stall_reading(assoc: Any, gate: threading.Event) -> Iterator[None]:
    """While inside: ``assoc``'s DUL stops reading from its socket until ``gate`` is set
    (a peer that stops reading, for tests).  Reading resumes on exit."""
    assoc.dul._read_pdu_data = gate.wait
    try:
        yield
    finally:
        del assoc.dul._read_pdu_data


# ------------------------------------------------------------------ reading P-DATA ourselves
# The storage SCP's fast receive (scp_fast.py) reads an established association's PDUs on
# the DUL thread itself: pynetdicom's DUL calls ``_read_pdu_data`` when its socket has
# data; the instance's override below runs the reader once, in Sta6 (established), and
# gives pynetdicom back whatever the reader read and did not handle (A-RELEASE-RQ,
# A-ABORT, a message other than C-STORE / C-ECHO): pynetdicom reads those bytes as if
# they came from the socket, then the socket.  From then on pynetdicom reads as usual.
def take_over_reading(assoc: Any, reader: Callable[[], bytes]) -> None:
    """Install ``reader`` on ``assoc`` (call before its DUL thread starts: from
    ``EVT_CONN_OPEN``).  ``reader()`` runs on the DUL thread with the association
    established and returns the bytes it read and leaves to pynetdicom (b"" for none)."""
    dul = assoc.dul
    original = dul._read_pdu_data

    def read() -> None:
        if dul.state_machine.current_state != "Sta6":
            original()  # the A-ASSOCIATE-RQ, or anything before or after Sta6
            return
        del dul._read_pdu_data  # the reader runs once; pynetdicom's own from now on
        pushback = reader()
        if pushback:
            _read_from(dul, pushback, original)

    dul._read_pdu_data = read


def _read_from(dul: Any, data: bytes, read_pdu: Callable[[], None]) -> None:
    """pynetdicom reads the PDUs in ``data`` before the socket (each ``read_pdu`` call
    reads one PDU: from ``data`` first, the rest of a PDU cut short from the socket)."""
    asock = dul.socket
    view = memoryview(data)
    pos = 0

    def recv(n: int) -> bytearray:
        nonlocal pos
        out = bytearray(view[pos : pos + n])
        pos += len(out)
        if len(out) < n and asock.socket is not None:
            del asock.recv  # data used up: the socket itself, by pynetdicom's own recv
            out += asock.recv(n - len(out))
        return out

    asock.recv = recv
    try:
        while pos < len(data):
            before = pos
            read_pdu()
            events = dul.event_queue.queue
            if pos == before or (events and events[-1] in ("Evt17", "Evt19")):
                break  # the connection closed, or a PDU pynetdicom cannot read: it aborts
    finally:
        if "recv" in vars(asock):
            del asock.recv


def dul_socket(assoc: Any) -> Any:
    """The association's connected socket (plain or TLS), or None when closed."""
    asock = assoc.dul.socket
    return None if asock is None else asock.socket


def wants_control(assoc: Any) -> bool:
    """True when pynetdicom has something to do that the fast reader holds up: a
    primitive queued to send (an A-ABORT from a watchdog or a cancel) or a kill."""
    dul = assoc.dul
    return bool(dul.to_provider_queue.queue) or bool(assoc._kill) or bool(dul._kill_thread)


def restart_idle_timer(assoc: Any) -> None:
    """Data arrived: pynetdicom's network (idle) timer starts again."""
    assoc.dul._idle_timer.restart()


def pause_reactor(assoc: Any, paused: bool) -> None:
    """The association's reactor thread waits (no 1 ms polling) while the fast reader
    has the association; ``abort()`` wakes it whatever this says."""
    if paused:
        assoc._reactor_checkpoint.clear()
    else:
        assoc._reactor_checkpoint.set()
