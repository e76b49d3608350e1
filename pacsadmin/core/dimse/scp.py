"""The app's own DICOM node: storage SCP (C-ECHO, C-STORE) and Q/R SCP over the archive.

C-STORE data sets are never decoded: pynetdicom writes each one straight to a temp file in
the archive's own ``tmp/`` (``STORE_RECV_CHUNKED_DATASET``), which the archive's writer
``os.replace``\\ s into place and indexes (docs/notes.md: +15-20% over re-encoding).  A
transfer that aborts leaves only that temp file, removed when the connection closes (and
swept at start-up if the process died).  A full disk answers 0xA700 and keeps serving.

Security (docs/safety.md rule 9): the called AE title must be ours; optionally only calling AE
titles of nodes in the directory (and only from their addresses) are accepted, an unknown
caller being rejected with "calling AE title not recognized"; a cap on simultaneous
associations.  Deflated Explicit VR Little Endian is accepted and stored as received, but
pydicom and pynetdicom inflate it without bound (a deflate bomb: a few MB that inflate to
many GB), so before anything parses a deflated file the archive inflates it as a bounded
stream (:mod:`pacsadmin.core.deflate`): more than 1 GiB inflated, or a corrupt or
truncated stream, is refused with 0xC210 and an Error Comment saying why, and nothing is
kept.  Logs: one line per association, no patient data.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pacsadmin.core import deflate
from pacsadmin.core.archive import Archive, is_disk_full, read_meta
from pacsadmin.core.archive.archive import StoreOutcome
from pacsadmin.core.archive.meta import read_meta_head
from pacsadmin.core.dimse import _pynetdicom, scp_access, scp_events, scp_fast, scp_receive
from pacsadmin.core.dimse.association import _init_pynetdicom
from pacsadmin.core.dimse.scp_deadline import Watchdog
from pacsadmin.core.dimse.scp_tls import ScpTls, server_context
from pacsadmin.core.dimse.transcript import Transcript
from pacsadmin.core.nodes import NodeDirectory
from pacsadmin.core.settings import Settings, Timeouts

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

log = logging.getLogger("pacsadmin.scp")
TRANSCRIPT_LINES = 2000  # per association: the first and the last 1,000 (memory stays bounded)

# Uncompressed, Deflated (bounded: core/deflate.py) and common compressed transfer syntaxes.
DEFLATED = "1.2.840.10008.1.2.1.99"
TRANSFER_SYNTAXES = [
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired, still sent by old modalities)
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline (8-bit)
    "1.2.840.10008.1.2.4.51",  # JPEG Extended (12-bit)
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.4.201",  # HTJ2K Lossless
    "1.2.840.10008.1.2.4.202",  # HTJ2K Lossless RPCL
    "1.2.840.10008.1.2.4.203",  # HTJ2K
    "1.2.840.10008.1.2.5",  # RLE Lossless
    DEFLATED,  # last: a context that also offers an uncompressed syntax gets that one
]


def _status(code: int, comment: str) -> Dataset:
    """A C-STORE response status with an Error Comment (LO: 64 characters at most)."""
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.Status = code
    ds.ErrorComment = comment[:64]
    return ds


@functools.cache
def _storage_classes() -> frozenset[str]:
    """The SOP classes the SCP stores (its storage contexts): the fast receive's."""
    from pynetdicom.presentation import AllStoragePresentationContexts

    return frozenset(str(cx.abstract_syntax) for cx in AllStoragePresentationContexts)


# ------------------------------------------------------------------ per-association record
@dataclass
class AssociationRecord:
    """What the Received view shows and the log line says (no patient data)."""

    id: int
    address: str = ""
    port: int = 0
    calling_ae: str = ""
    called_ae: str = ""
    started: float = field(default_factory=time.time)
    ended: float | None = None
    accepted: bool = False
    rejected: str = ""
    aborted: bool = False
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    bytes: int = 0
    finds: int = 0
    moves: int = 0
    gets: int = 0
    errors: list[str] = field(default_factory=list)  # the first MAX_ERRORS; add_error()
    errors_more: int = 0  # errors left off the list (a 10,000-file send that all fail)
    transcript: Transcript = field(
        default_factory=lambda: Transcript(max_lines=TRANSCRIPT_LINES), repr=False
    )
    transcript_file: str = ""

    def summary(self) -> str:
        dur = (self.ended or time.time()) - self.started
        who = f"{self.calling_ae or '?'}@{self.address}:{self.port} -> {self.called_ae or '?'}"
        if self.rejected:
            return f"association #{self.id} {who}: rejected ({self.rejected})"
        parts = [f"{self.stored} stored"]
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicate(s) kept first")
        if self.failed:
            parts.append(f"{self.failed} failed")
        for n, what in ((self.finds, "C-FIND"), (self.moves, "C-MOVE"), (self.gets, "C-GET")):
            if n:
                parts.append(f"{n} {what}")
        rate = f", {self.stored / dur:.0f} img/s" if self.stored and dur > 0 else ""
        end = ", aborted" if self.aborted else ""
        return (
            f"association #{self.id} {who}: {', '.join(parts)}, "
            f"{self.bytes / 1e6:.1f} MB in {dur:.1f} s{rate}{end}"
        )

    def snapshot(self) -> AssociationRecord:
        return replace(self, errors=list(self.errors))

    def add_error(self, text: str) -> None:
        """Keep the first :data:`scp_events.MAX_ERRORS` errors; count the rest."""
        if len(self.errors) < scp_events.MAX_ERRORS:
            self.errors.append(text)
        else:
            self.errors_more += 1

    def event(self, kind: type[scp_events.Association], pid: int) -> scp_events.Association:
        """This record as the ``serve --events`` event ``kind`` (open, progress, close):
        every field of the event but ``pid`` is a field of the record, of the same name."""
        data = {f.name: getattr(self, f.name) for f in fields(kind) if f.name != "pid"}
        data["errors"] = tuple(self.errors)
        return kind(pid=pid, **data)


@dataclass(frozen=True)
class ScpConfig:
    ae_title: str = "PACSADMIN"
    port: int = 11112
    bind: str = ""  # all addresses
    max_pdu: int = 0
    timeouts: Timeouts = field(default_factory=Timeouts)
    whitelist: bool = False
    check_address: bool = False
    max_associations: int = 10
    reuse_port: bool = False  # several processes on one port (SO_REUSEPORT)
    tls: ScpTls | None = None  # TLS on (the key's passphrase is given to LocalScp)
    association_deadline: float = 3600.0  # seconds from the connection to the end
    # C-STORE data sets read from the socket by scp_fast.py (False: pynetdicom's chunked
    # receive for every message, the path before it; kept for comparison and as a fallback)
    fast_receive: bool = True

    @classmethod
    def from_settings(cls, s: Settings, **kw: Any) -> ScpConfig:
        if s.scp_tls and "tls" not in kw:
            kw["tls"] = ScpTls(s.scp_tls_cert, s.scp_tls_key, s.scp_tls_client_ca)
        kw.setdefault("association_deadline", s.scp_association_deadline)
        return cls(
            ae_title=s.local_ae_title,
            port=s.scp_port,
            max_pdu=s.max_pdu,
            timeouts=s.timeouts,
            whitelist=s.scp_whitelist,
            check_address=s.scp_check_address,
            max_associations=s.scp_max_associations,
            **kw,
        )


Listener = Callable[[str, AssociationRecord], None]  # ("open"|"store"|"close", snapshot)


class LocalScp:
    """Storage + Q/R SCP over an :class:`Archive`.  ``start()`` returns at once."""

    def __init__(
        self,
        archive: Archive,
        config: ScpConfig,
        *,
        nodes: NodeDirectory | None = None,
        listener: Listener | None = None,
        keep_transcripts: int = 50,
        transcript_dir: Path | None = None,
        tls_passphrase: str | None = None,
        audit: Any = None,
    ) -> None:
        """``transcript_dir``: also write each association's transcript (redacted) there,
        as ``assoc-<pid>-<n>.txt``, keeping the newest 200 (for a GUI in another process).
        ``tls_passphrase``: the TLS key's (from the OS keyring).  ``audit``: an
        :class:`~pacsadmin.core.audit.AuditLog` for the associations the SCP ends itself
        (the deadline) and the TLS handshakes it refuses.
        """
        self.archive = archive
        self.config = config
        self.nodes = nodes
        self.listener = listener
        self._records: dict[int, AssociationRecord] = {}
        self.finished: deque[AssociationRecord] = deque(maxlen=keep_transcripts)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: Any = None
        self.ae: Any = None
        self._nodes_mtime: float | None = None
        self._nodes_lock = threading.Lock()
        self.transcript_dir = transcript_dir
        self.audit = audit
        self._tls_passphrase = tls_passphrase
        self._watchdog = Watchdog(config.association_deadline, self._on_deadline)

    def _current_nodes(self) -> NodeDirectory | None:
        """The node directory, re-read when its file changed (move destinations)."""
        if self.nodes is None:
            return None
        with self._nodes_lock:
            path = getattr(self.nodes, "path", None)
            try:
                mtime = os.stat(path).st_mtime if path else None
            except OSError:
                mtime = None
            if mtime != self._nodes_mtime:
                with contextlib.suppress(Exception):
                    self.nodes.load()
                self._nodes_mtime = mtime
        return self.nodes

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalScp:
        _init_pynetdicom()
        from pynetdicom import evt
        from pynetdicom.presentation import AllStoragePresentationContexts
        from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # made at import time
            PatientRootQueryRetrieveInformationModelFind,
            PatientRootQueryRetrieveInformationModelGet,
            PatientRootQueryRetrieveInformationModelMove,
            StudyRootQueryRetrieveInformationModelFind,
            StudyRootQueryRetrieveInformationModelGet,
            StudyRootQueryRetrieveInformationModelMove,
            Verification,
        )

        if self.nodes is not None:  # the directory as loaded now; re-read when it changes
            with contextlib.suppress(OSError, TypeError):
                self._nodes_mtime = os.stat(self.nodes.path).st_mtime
        cfg = self.config
        ssl_context = None if cfg.tls is None else server_context(cfg.tls, self._tls_passphrase)
        scp_receive.install()
        ae = scp_access.make_ae_class()(ae_title=cfg.ae_title)
        ae.pacs_tmp_dir = self.archive.layout.tmp_dir
        ae.maximum_pdu_size = cfg.max_pdu
        ae.maximum_associations = cfg.max_associations
        ae.require_called_aet = True
        ae.acse_timeout = cfg.timeouts.acse
        ae.dimse_timeout = cfg.timeouts.dimse
        ae.network_timeout = cfg.timeouts.network
        ae.connection_timeout = cfg.timeouts.connect
        if cfg.whitelist:
            ae.allowed = scp_access.Allowed(self.nodes, cfg.check_address)
        ae.add_supported_context(Verification)
        for cx in AllStoragePresentationContexts:
            # scu_role/scp_role True: accept C-STORE from a sender, and the reverse role
            # that a C-GET requestor proposes for its sub-operations.
            ae.add_supported_context(
                cx.abstract_syntax, TRANSFER_SYNTAXES, scu_role=True, scp_role=True
            )
        for qr in (
            PatientRootQueryRetrieveInformationModelFind,
            PatientRootQueryRetrieveInformationModelMove,
            PatientRootQueryRetrieveInformationModelGet,
            StudyRootQueryRetrieveInformationModelFind,
            StudyRootQueryRetrieveInformationModelMove,
            StudyRootQueryRetrieveInformationModelGet,
        ):
            ae.add_supported_context(qr, TRANSFER_SYNTAXES[:3])
        handlers = [
            (evt.EVT_CONN_OPEN, self._on_open),
            (evt.EVT_CONN_CLOSE, self._on_close),
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_ABORTED, self._on_aborted),
            (evt.EVT_C_ECHO, lambda e: 0x0000),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_MOVE, self._on_move),
            (evt.EVT_C_GET, self._on_get),
            (evt.EVT_PDU_SENT, self._tx("_on_pdu_sent")),
            (evt.EVT_PDU_RECV, self._tx("_on_pdu_recv")),
            (evt.EVT_DIMSE_SENT, self._tx("_on_dimse_sent")),
            (evt.EVT_DIMSE_RECV, self._tx("_on_dimse_recv")),
        ]
        sc = scp_access.server_class(
            cfg.reuse_port,
            tls_handshake_timeout=None if ssl_context is None else cfg.timeouts.acse,
            on_tls_refused=self._on_tls_refused,
        )
        try:
            if sc is None:
                self._server = ae.start_server(
                    (cfg.bind, cfg.port), block=False, evt_handlers=handlers
                )
            else:  # start_server(block=False) with our server class (SO_REUSEPORT, TLS)
                server = ae.make_server(
                    (cfg.bind, cfg.port),
                    evt_handlers=handlers,
                    server_class=sc,
                    ssl_context=ssl_context,
                )
                threading.Thread(
                    target=server.serve_forever, name="pacsadmin-scp-server", daemon=True
                ).start()
                _pynetdicom.register_server(ae, server)
                self._server = server
        except BaseException:  # the port is taken, say
            scp_receive.uninstall()
            raise
        self.ae = ae
        self._watchdog.start()
        log.info(
            "SCP %s listening on %s:%d (whitelist %s, %s, association deadline %g s)",
            cfg.ae_title,
            cfg.bind or "*",
            self.port,
            "on" if cfg.whitelist else "off",
            "no TLS" if cfg.tls is None else cfg.tls.describe(),
            cfg.association_deadline,
        )
        return self

    @property
    def port(self) -> int:
        return int(self._server.server_address[1]) if self._server else self.config.port

    def stop(self) -> None:
        if self._server is not None:
            _pynetdicom.stop_server_at_once(self._server)
            self._server = None
            self._watchdog.stop()
            scp_receive.uninstall()
            log.info("SCP %s stopped", self.config.ae_title)

    def __enter__(self) -> LocalScp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def active(self) -> list[AssociationRecord]:
        with self._lock:
            return [r.snapshot() for r in self._records.values()]

    # ------------------------------------------------------------------ events
    def _rec(self, assoc: Any, *, create: bool = False) -> AssociationRecord:
        """The record of ``assoc``; events after the connection closed get a throwaway."""
        with self._lock:
            rec = self._records.get(id(assoc))
            if rec is None:
                rec = AssociationRecord(next(self._ids) if create else 0)
                if create:
                    self._records[id(assoc)] = rec
            return rec

    def _emit(self, kind: str, rec: AssociationRecord) -> None:
        if self.listener is not None:
            try:
                self.listener(kind, rec.snapshot())
            except Exception:
                log.exception("SCP listener failed")

    def _tx(self, method: str) -> Callable[[Any], None]:
        pdu_event = "pdu" in method

        def handler(event: Any) -> None:
            # P-DATA PDUs are summarised by the DIMSE lines: a 500-image receive would
            # otherwise add thousands of lines
            if pdu_event and type(event.pdu).__name__ == "P_DATA_TF":
                return
            getattr(self._rec(event.assoc).transcript, method)(event)

        return handler

    def _on_open(self, event: Any) -> None:
        _pynetdicom.set_nodelay(event)
        assoc = event.assoc
        rec = self._rec(assoc, create=True)
        self._watchdog.add(assoc)
        addr = event.address or ("", 0)
        rec.address, rec.port = str(addr[0]), int(addr[1])
        rec.transcript.add("--", "TCP", f"connection from {rec.address}:{rec.port}")
        if self.config.fast_receive:
            scp_fast.install(
                assoc,
                record=lambda: self._rec(assoc),
                archive_file=self._store_received,
                tmp_dir=self.archive.layout.tmp_dir,
                storage=_storage_classes(),
                timeout=self.config.timeouts.network,
            )

    def _names(self, event: Any, rec: AssociationRecord) -> None:
        with contextlib.suppress(Exception):
            rec.calling_ae = str(event.assoc.requestor.ae_title).strip()
            rec.called_ae = str(event.assoc.acceptor.ae_title).strip()
            prim = event.assoc.requestor.primitive
            if prim is not None:
                rec.calling_ae = str(prim.calling_ae_title).strip()
                rec.called_ae = str(prim.called_ae_title).strip()

    def _on_accepted(self, event: Any) -> None:
        rec = self._rec(event.assoc)
        self._names(event, rec)
        rec.accepted = True
        self._emit("open", rec)

    def _on_rejected(self, event: Any) -> None:
        rec = self._rec(event.assoc)
        self._names(event, rec)
        rec.rejected = "rejected"  # the reason is read from the A-ASSOCIATE-RJ at close

    def _on_aborted(self, event: Any) -> None:
        self._rec(event.assoc).aborted = True

    def _on_close(self, event: Any) -> None:
        with self._lock:  # stays among the active ones until it is among the finished
            rec = self._records.get(id(event.assoc))
        self._watchdog.remove(event.assoc)
        removed = scp_receive.forget(event.assoc)
        if rec is None:
            return
        if removed:
            rec.aborted = True
            rec.add_error(f"{removed} incomplete transfer(s) discarded")
        rec.ended = time.time()
        rj = rec.transcript.rejection
        if rec.rejected and rj is not None:
            from pacsadmin.core.dimse.status import describe_rejection

            rec.rejected = describe_rejection(*rj)[0].split(": ", 1)[-1]
        if rec.rejected:
            log.warning("%s", rec.summary())
        else:
            log.info("%s", rec.summary())
        if self.transcript_dir is not None:
            rec.transcript_file = self._write_transcript(rec)
        with self._lock:
            self._records.pop(id(event.assoc), None)
            self.finished.append(rec)
        self._emit("close", rec)

    def _on_deadline(self, assoc: Any) -> None:
        """The watchdog's thread, just before it cuts ``assoc``'s connection."""
        rec = self._rec(assoc)
        limit = self.config.association_deadline
        why = f"association deadline of {limit:g} s passed: connection closed by the SCP"
        rec.aborted = True
        rec.add_error(why)
        rec.transcript.add("--", "SCP", why)
        who = f"{rec.calling_ae or '?'}@{rec.address}:{rec.port}"
        log.warning("association #%d %s: %s", rec.id, who, why)
        self._audit("scp-deadline", who, f"association #{rec.id}: {why}")

    def _on_tls_refused(self, address: Any, why: str) -> None:
        """A TLS handshake that failed (no client certificate, TLS 1.1, plain DICOM ...):
        logged, audited and shown as a rejected association (no DICOM was exchanged)."""
        host, port = (str(address[0]), int(address[1])) if address else ("?", 0)
        rec = AssociationRecord(next(self._ids), address=host, port=port, rejected=why)
        rec.ended = time.time()
        log.warning("connection from %s:%d refused: %s", host, port, why)
        self._audit("scp-tls", f"{host}:{port}", f"connection refused: {why}", "refused")
        with self._lock:
            self.finished.append(rec)
        self._emit("close", rec)

    def _audit(self, action: str, target: str, summary: str, outcome: str = "aborted") -> None:
        if self.audit is None:
            return
        try:
            self.audit.record(action, outcome, target=target, summary=summary)
        except Exception as exc:  # the audit database unwritable: said, never fatal
            log.warning("SCP: cannot write the audit log: %s", type(exc).__name__)

    def _write_transcript(self, rec: AssociationRecord) -> str:
        from pacsadmin.core.fileio import atomic_write_text

        folder = Path(self.transcript_dir or ".")
        path = folder / f"assoc-{os.getpid()}-{rec.id:06d}.txt"
        try:
            atomic_write_text(path, rec.transcript.text(rec.summary()))
            old = sorted(folder.glob("assoc-*.txt"), key=lambda p: p.stat().st_mtime)
            for p in old[:-200]:
                with contextlib.suppress(OSError):
                    p.unlink()
        except OSError as exc:
            log.warning("SCP: cannot write a transcript: %s", exc.strerror or exc)
            return ""
        return str(path)

    # ------------------------------------------------------------------ C-STORE
    def _on_store(self, event: Any) -> int | Dataset:
        """pynetdicom's C-STORE handler (the path when the fast receive is off or handed
        an association back): the same archiving as the fast receive's."""
        rec = self._rec(event.assoc)
        try:
            tmp = Path(event.dataset_path)
        except Exception:
            rec.failed += 1
            return 0xC210  # cannot understand
        scp_receive.claim(event.assoc, tmp)  # received whole: this handler disposes of it
        code, comment = self._store_received(rec, tmp, str(event.context.transfer_syntax))
        return _status(code, comment) if comment else code

    def _store_received(
        self, rec: AssociationRecord, tmp: Path, transfer_syntax: str, head: bytes | None = None
    ) -> tuple[int, str]:
        """Archive a data set received whole into ``tmp`` (or answer why not; nothing is
        kept then): the status of the C-STORE-RSP and its Error Comment ("" for none).
        ``head``: the file's first bytes, as ``read_meta_head`` takes them, when the
        receiver kept them (the file is not read again)."""
        write_error = scp_receive.take_write_error(tmp)
        if write_error is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
            rec.failed += 1
            rec.add_error(f"write failed ({write_error.strerror}): 0xA700 sent")
            log.error("SCP: cannot write a received file (%s); 0xA700", write_error.strerror)
            return 0xA700, ""
        source = f"{rec.calling_ae}@{rec.address}"
        try:  # the data set's boundary: whatever a damaged one raises is answered, and the
            # SCP goes on; a deflated one is inflated bounded before any parse
            if transfer_syntax == DEFLATED:
                meta = read_meta(deflate.guard(tmp))
            elif head is not None:
                meta = read_meta_head(head, tmp)
            else:
                meta = read_meta(tmp)
        except Exception as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            rec.failed += 1
            return self._store_failed(rec, exc, parsing=True)
        try:
            res = self.archive.ingest(tmp, meta=meta, source=source)
        except Exception as exc:
            rec.failed += 1  # ingest removed the temp file
            return self._store_failed(rec, exc, parsing=False)
        if res.outcome is StoreOutcome.DUPLICATE:
            rec.duplicates += 1
        else:
            rec.stored += 1
            rec.bytes += res.size
        self._emit("store", rec)
        return 0x0000, ""

    def _store_failed(
        self, rec: AssociationRecord, exc: Exception, *, parsing: bool
    ) -> tuple[int, str]:
        """The status (and Error Comment) for a received data set that could not be
        archived (nothing is kept).

        A full disk or another system error: 0xA700 (out of resources: the sender may try
        again).  Anything a damaged data set makes the header parse raise (pydicom's
        BytesLengthException, EOFError, ...), a deflate bomb, a data set without its UIDs:
        0xC210 (cannot understand) with the reason in the Error Comment.  The archive failing
        otherwise (its index): 0xC211.  Logs and the record say only the exception's type
        (no patient data)."""
        from pacsadmin.core import damaged
        from pacsadmin.core.archive import NotIndexable
        from pacsadmin.core.deflate import DeflateError

        if is_disk_full(exc):
            rec.add_error("disk full: 0xA700 sent")
            log.error("SCP: the archive's disk is full; C-STORE refused with 0xA700")
            return 0xA700, ""
        if isinstance(exc, DeflateError):  # a deflate bomb, a broken stream: say so
            rec.add_error(str(exc))
            log.warning("SCP: C-STORE refused: %s", exc)
            return 0xC210, str(exc)
        if isinstance(exc, OSError) and exc.errno is not None:  # the system's, not the data's
            rec.add_error(f"{exc.strerror or damaged.kind(exc)}: 0xA700 sent")
            log.error("SCP: C-STORE failed: %s", exc.strerror or damaged.kind(exc))
            return 0xA700, ""
        if isinstance(exc, NotIndexable):
            rec.add_error(f"cannot understand: {damaged.kind(exc)}")
            return 0xC210, f"not archived: {exc}"
        if not parsing:
            rec.add_error(f"archive failed: {damaged.kind(exc)}: 0xC211 sent")
            log.error("SCP: C-STORE failed in the archive: %s", damaged.kind(exc))
            return 0xC211, ""
        rec.add_error(f"cannot understand: {damaged.kind(exc)}")
        log.warning("SCP: a damaged data set refused with 0xC210 (%s)", damaged.kind(exc))
        return 0xC210, damaged.reason(exc)

    # ------------------------------------------------------------------ Q/R
    def _on_find(self, event: Any) -> Any:
        from pacsadmin.core.dimse import qr_scp

        rec = self._rec(event.assoc)
        rec.finds += 1
        yield from qr_scp.handle_find(
            self.archive,
            event,
            self.config.ae_title,
            transcript=rec.transcript,
            timeout=self.config.timeouts.network,
        )

    def _on_move(self, event: Any) -> Any:
        from pacsadmin.core.dimse import qr_scp

        self._rec(event.assoc).moves += 1
        yield from qr_scp.handle_move(self.archive, event, self._current_nodes(), self.config)

    def _on_get(self, event: Any) -> Any:
        from pacsadmin.core.dimse import qr_scp

        self._rec(event.assoc).gets += 1
        yield from qr_scp.handle_get(self.archive, event, self.config)
