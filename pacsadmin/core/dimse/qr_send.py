"""The local node's C-MOVE and C-GET sub-operations through the fast sender
(``store_fast.py``).

pynetdicom runs the C-MOVE (PS3.4 C.4.2): it opens the sub-association to the
destination with the contexts ``qr_scp`` gives, calls ``send_c_store`` on it for each
pending (status, data set) the handler yields, keeps the counts (remaining, completed,
failed, warning) and sends every C-MOVE-RSP.  Here, once the sub-association is
established, its ``send_c_store`` and ``release`` are replaced (through the pynetdicom
seam) by :class:`SubOperations`': the handler yields an :class:`ArchivedFile` (a data set
naming the archived file, its UIDs from the index; the file is not read) and the file
goes through :class:`StoreStream`; the status goes back to pynetdicom as a data set with
a Status, so its counts stay its own and right.  A file the fast sender cannot take as
it is (its transfer syntax not accepted for its SOP class: the destination wants it
uncompressed) is read with pydicom and sent by pynetdicom's own ``send_c_store``, as
before.  A lost sub-association fails the file being sent and each one after it (an
exception, which pynetdicom counts as a failed sub-operation); every wait is bounded by
the node's network and DIMSE timeouts.

C-GET (PS3.4 C.4.3): the sub-operations go over the C-GET's own association, whose
``send_c_store`` is replaced while the handler yields (:func:`get_files`).  pynetdicom
writes the pending C-GET-RSPs from its DUL thread meanwhile: the lease serializes whole
messages (``shared_writes``), so plain TCP only (TLS: pynetdicom's path, as before).  A
C-CANCEL-RQ the fast sender reads is handed to pynetdicom, so the handler sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from pydicom.dataset import Dataset

from pacsadmin.core.dimse import _pynetdicom
from pacsadmin.core.dimse.pdu import command, element, p_data, send_within
from pacsadmin.core.dimse.store_fast import StoreStream

log = logging.getLogger("pacsadmin.scp")


class ArchivedFile(Dataset):
    """A sub-operation's instance: its file and UIDs from the index, never read here.
    pynetdicom needs a ``Dataset`` (it checks) with the SOP Instance UID (it lists the
    failed ones in the final response)."""

    def __init__(self, path: str, sop_class: str, sop_instance: str, transfer_syntax: str):
        super().__init__()
        self.SOPInstanceUID = sop_instance
        self.archived_path = path
        self.archived_sop_class = sop_class
        self.archived_syntax = transfer_syntax


class SubOperations:
    """``send_c_store`` and ``release`` of one C-MOVE sub-association."""

    def __init__(self, assoc: Any, timeouts: Any, get_msg_id: int | None = None) -> None:
        """``get_msg_id``: the C-GET's Message ID when the sub-operations go over the
        C-GET's own association (None: a C-MOVE's sub-association)."""
        self.assoc = assoc
        self.original_store = assoc.send_c_store
        self.original_release = assoc.release
        self.get_msg_id = get_msg_id
        contexts = {
            (str(c.abstract_syntax), str(c.transfer_syntax[0])): int(c.context_id)
            for c in assoc.accepted_contexts
        }
        self.stream = StoreStream(
            _pynetdicom.SocketLease(assoc, shared_writes=get_msg_id is not None),
            contexts,
            network_timeout=timeouts.network,
            dimse_timeout=timeouts.dimse,
            on_message=self._on_message if get_msg_id is not None else None,
        )
        self.fast = self.slow = 0
        self.lost_logged = False

    def send_c_store(
        self,
        dataset: Any,
        msg_id: int = 1,
        priority: int = 2,
        originator_aet: str | None = None,
        originator_id: int | None = None,
    ) -> Dataset:
        if not isinstance(dataset, ArchivedFile):
            return self._slow(dataset, msg_id, priority, originator_aet, originator_id)
        out = self.stream.store(
            dataset.archived_path,
            dataset.archived_sop_class,
            str(dataset.SOPInstanceUID),
            dataset.archived_syntax,
            msg_id,
            originator_aet=originator_aet,
            originator_id=originator_id,
        )
        if out is None:  # not as it is: pydicom reads it, pynetdicom converts and sends
            from pydicom import dcmread

            ds = dcmread(dataset.archived_path)
            return self._slow(ds, msg_id, priority, originator_aet, originator_id)
        if out.status is None:
            if not self.lost_logged:
                self.lost_logged = True
                log.warning("retrieve: the sub-operations' peer was lost (%s)", out.detail)
            raise ConnectionError(f"the move destination was lost: {out.detail}")
        self.fast += 1
        rsp = Dataset()
        rsp.Status = out.status
        if out.comment:
            rsp.ErrorComment = out.comment[:64]
        return rsp

    def _slow(
        self, ds: Any, msg_id: int, priority: int, aet: str | None, oid: int | None
    ) -> Dataset:
        if not self.stream.pause():
            raise ConnectionError("the move destination was lost")
        self.slow += 1
        rsp: Dataset = self.original_store(
            ds, msg_id=msg_id, priority=priority, originator_aet=aet, originator_id=oid
        )
        return rsp

    def _on_message(self, ctx: int, cmd: dict[int, Any], data: bytes | None) -> bool:
        """On a C-GET's association: the peer's C-CANCEL-RQ for the C-GET."""
        if cmd.get(0x00000100) == 0x0FFF and cmd.get(0x00000120) == self.get_msg_id:
            _pynetdicom.note_cancel(self.assoc, int(self.get_msg_id or 0))
            return True
        return False

    def release(self) -> None:
        if self.stream.finish():
            self.original_release()
        else:  # the connection is closed: pynetdicom's side only has to stop
            _pynetdicom.kill_association(self.assoc)
        log.info("C-MOVE sub-operations: %d sent as they are, %d converted", self.fast, self.slow)


class Installer:
    """An ``EVT_ESTABLISHED`` handler for the sub-association (``evt_handlers`` of the
    C-MOVE destination): the fast sender takes its C-STOREs from then on.  ``installed``
    tells the handler whether it may yield :class:`ArchivedFile` (never otherwise:
    pynetdicom would send it as a data set)."""

    def __init__(self, timeouts: Any) -> None:
        self.timeouts = timeouts
        self.installed = False

    def __call__(self, event: Any) -> None:
        try:
            subs = SubOperations(event.assoc, self.timeouts)
        except Exception as exc:  # pynetdicom's own path then, as before
            log.warning("C-MOVE: the fast sender is not used (%s)", type(exc).__name__)
            return
        _pynetdicom.override_store_calls(event.assoc, subs.send_c_store, subs.release)
        self.installed = True


def get_files(event: Any, timeouts: Any, files: Iterator[tuple[int, Any]]) -> Iterator[Any] | None:
    """A C-GET handler's pending sub-operations (``files``: what ``qr_scp._files``
    yields) sent by the fast sender over the C-GET's association; None when it cannot be
    used here (TLS, Composite Instance Retrieve Without Bulk Data, no SCP-role context):
    the caller yields pynetdicom's data sets instead."""
    assoc = event.assoc
    if str(event.context.abstract_syntax) == "1.2.840.10008.5.1.4.1.2.5.3":
        return None  # pynetdicom strips bulk data from a Dataset: not from a file
    try:
        subs = SubOperations(assoc, timeouts, get_msg_id=int(event.request.MessageID))
    except Exception as exc:
        log.info("C-GET: the fast sender is not used (%s)", exc)
        return None
    return _get(subs, files)


def _get(subs: SubOperations, files: Iterator[tuple[int, Any]]) -> Iterator[Any]:
    _pynetdicom.override_store_calls(subs.assoc, subs.send_c_store, subs.original_release)
    try:
        yield from files
    finally:  # the last sub-operation is done: pynetdicom reads the socket again
        _pynetdicom.restore_store_calls(subs.assoc)
        if not subs.stream.finish():
            _pynetdicom.kill_association(subs.assoc)
        log.info("C-GET sub-operations: %d sent as they are, %d converted", subs.fast, subs.slow)


_COUNTS = (
    (0x00001020, "NumberOfRemainingSuboperations"),
    (0x00001021, "NumberOfCompletedSuboperations"),
    (0x00001022, "NumberOfFailedSuboperations"),
    (0x00001023, "NumberOfWarningSuboperations"),
)
_RSP_FIELD = {"C_MOVE": 0x8021, "C_GET": 0x8010}


def pending_rsp(primitive: Any) -> bytes:
    """The command set of a pending C-MOVE-RSP / C-GET-RSP without identifier, as
    pynetdicom encodes it from ``primitive`` (PS3.7 9.3.4.2 / 9.3.3.2)."""
    uid = str(primitive.AffectedSOPClassUID).encode("ascii")
    els = [
        element(0x00000002, None, uid + b"\x00" * (len(uid) % 2)),
        element(0x00000100, "H", _RSP_FIELD[type(primitive).__name__]),
        element(0x00000120, "H", int(primitive.MessageIDBeingRespondedTo)),
        element(0x00000800, "H", 0x0101),
        element(0x00000900, "H", int(primitive.Status)),
    ]
    for tag, name in _COUNTS:
        value = getattr(primitive, name)
        if value is not None:
            els.append(element(tag, "H", int(value)))
    return command(els)


class PendingResponses:
    """pynetdicom's pending C-MOVE / C-GET responses (no identifier) written as bytes
    from the handler's thread (pynetdicom encodes each through pydicom and hands it to its
    DUL thread: 1-3 ms each here, as much as sending the image); every other message
    (the final response first of all) through pynetdicom, after them.  The DUL's own
    writes go under the same lock (``serialized_writes``): plain TCP only."""

    def __init__(self, assoc: Any, timeout: float) -> None:
        self.lock = _pynetdicom.serialized_writes(assoc)  # ValueError on TLS
        self.assoc = assoc
        self.sock = assoc.dul.socket.socket
        self.peer_max = int(assoc.requestor.maximum_length or 0)
        self.timeout = timeout
        self.sent = 0
        self.original = _pynetdicom.override_send_msg(assoc, self.send_msg)

    def send_msg(self, primitive: Any, context_id: int) -> None:
        if (
            type(primitive).__name__ not in _RSP_FIELD
            or primitive.Status != 0xFF00
            or primitive.Identifier is not None
        ):
            self.original(primitive, context_id)
            return
        data = p_data(context_id, pending_rsp(primitive), True, self.peer_max)
        try:
            with self.lock:
                send_within(self.sock, data, self.timeout)
            self.sent += 1
        except OSError as exc:  # the peer is gone or stuck: pynetdicom's side stops too
            log.warning("retrieve: the requestor stopped receiving responses (%s)", exc)
            _pynetdicom.override_send_msg(self.assoc, None)
            try:
                self.sock.shutdown(2)
            except OSError:
                pass

    def close(self) -> None:
        _pynetdicom.override_send_msg(self.assoc, None)


def with_pending(event: Any, timeout: float, subs: Iterator[Any]) -> Iterator[Any]:
    """``subs`` (the handler's pending sub-operations) with the pending responses written
    by :class:`PendingResponses` while they run (pynetdicom's own when it cannot be)."""
    try:
        pending: PendingResponses | None = PendingResponses(event.assoc, timeout)
    except ValueError:
        pending = None
    try:
        yield from subs
    finally:
        if pending is not None:
            pending.close()
