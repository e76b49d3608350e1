"""One retrieve association: C-MOVE-RQs or C-GET-RQs and their responses (PS3.4 C.4.2, C.4.3).

:func:`run` opens its own association (DNS, TCP, TLS and the A-ASSOCIATE as the find
does), sends one request per selected item, reads every pending response (remaining /
completed / failed / warning sub-operations, reported through a callback), and returns
what happened as a :class:`Raw` for ``retrieve.py`` to account and explain.  It never
raises for what the network or the peer does.

Cancel: the token's callback sends a C-CANCEL-RQ naming the request's Message ID, the
worker reads on to the final response (0xFE00), and when none arrives within the grace
period the connection is closed.

C-GET: the PACS sends the instances over the same association (C-STORE sub-operations,
SCP role negotiated per SOP class, PS3.7 D.3.3.4); each is written to a temp file in the
archive's ``tmp/`` and handed to the archive's writer (``Archive.ingest``: renamed into
place under a name the app chooses, then indexed), as the SCP does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pacsadmin.core.dimse.association import associate, effective_timeouts, make_ae
from pacsadmin.core.dimse.find import _Canceller, _next_msg_id
from pacsadmin.core.dimse.probe import Failed, close_quietly, dns_step, tcp_step, tls_step
from pacsadmin.core.dimse.retrieve_model import GET_SOP, MOVE_SOP, Item, RetrieveProgress
from pacsadmin.core.dimse.transcript import Transcript
from pacsadmin.core.jobs import JobContext

_TS = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]
_PENDING = (0xFF00, 0xFF01)
# C-GET: storage classes offered (with the SCP role) when the C-FIND did not say which
FALLBACK_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image
    "1.2.840.10008.5.1.4.1.1.4",  # MR Image
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
    "1.2.840.10008.5.1.4.1.1.1",  # CR Image
    "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray for presentation
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
    "1.2.840.10008.5.1.4.1.1.128",  # PET Image
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.11.1",  # Grayscale Softcopy Presentation State
    "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF
)


@dataclass
class Raw:
    """What the association did (filled in as it goes)."""

    final: int | None = None  # the last final status (the worst one over several requests)
    completed: int = 0
    failed: int = 0
    warning: int = 0
    remaining: int | None = None
    failed_uids: list[str] = field(default_factory=list)
    local_address: str = ""
    msg_id: int = 0
    t_request: float | None = None  # perf_counter when the first request was sent
    cancel_sent: bool = False
    aborted: bool = False
    no_response: bool = False
    refused: tuple[str, str] | None = None  # (sentence, advice): no association
    abort_received: Any = None
    error_comment: str = ""  # (0000,0902) of the final response, when the PACS gave one
    stored: int = 0  # C-GET: instances written into the archive over this association
    store_errors: list[str] = field(default_factory=list)
    transcript: tuple[Any, ...] = ()


def identifier(item: Item) -> Any:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = item.level
    ds.StudyInstanceUID = item.study
    if item.level in ("SERIES", "IMAGE"):
        ds.SeriesInstanceUID = item.series
    if item.level == "IMAGE":
        ds.SOPInstanceUID = item.instance
    return ds


def _worse(a: int | None, b: int) -> int:
    """The final status to report over several requests: a failure over a warning over
    a success."""
    if a is None:
        return b

    def rank(c: int) -> int:
        return 0 if c == 0 else (1 if 0xB000 <= c <= 0xBFFF else 2)

    return b if rank(b) > rank(a) else a


def _uids(ds: Any) -> list[str]:
    if ds is None:
        return []
    with contextlib.suppress(Exception):
        v = ds.get("FailedSOPInstanceUIDList")
        if v is None:
            return []
        vals = v if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue" else [v]
        return [str(u) for u in vals if str(u)]
    return []


def _store_handler(archive: Any, raw: Raw, source: str) -> Callable[[Any], int]:
    """EVT_C_STORE on a C-GET association: the data set into the archive (never decoded
    here; the archive's writer reads its meta and names the file)."""

    def handle(event: Any) -> int:
        tmp = Path(archive.new_temp())
        try:
            try:
                chunked = event.dataset_path  # set when chunked receive is on (an SCP runs here)
            except AttributeError:
                chunked = None
            src = Path(chunked) if chunked else None
            if src is not None:
                shutil.copyfile(src, tmp)
                with contextlib.suppress(OSError):
                    os.unlink(src)
            else:
                with open(tmp, "wb") as f:
                    f.write(event.encoded_dataset(include_meta=True))
            archive.ingest(tmp, source=source)
        except Exception as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if len(raw.store_errors) < 20:
                raw.store_errors.append(f"{type(exc).__name__}: {exc}"[:200])
            from pacsadmin.core.archive import is_disk_full

            return 0xA700 if is_disk_full(exc) else 0xC211
        raw.stored += 1
        return 0x0000

    return handle


def run(
    method: str,
    local: Any,
    node: Any,
    items: tuple[Item, ...],
    *,
    ctx: JobContext,
    dest_ae: str = "",
    archive: Any = None,
    sop_classes: tuple[str, ...] = (),
    passphrase: str | None = None,
    timeout: float | None = None,
    cancel_grace: float = 5.0,
    on_progress: Callable[[RetrieveProgress], None] | None = None,
) -> Raw:
    raw = Raw(msg_id=_next_msg_id())
    t = effective_timeouts(local, node, timeout)
    tr = Transcript(max_lines=400)
    sop = MOVE_SOP if method == "C-MOVE" else GET_SOP
    assoc: Any = None
    sock: socket.socket | None = None
    try:
        _, (family, sockaddr) = dns_step(node.host, node.port, t.connect)
        _, sock = tcp_step(family, sockaddr, t.connect, ctx)
        if node.tls.enabled:
            _, sock, _ = tls_step(sock, node, node.host, t.connect, passphrase)
        with contextlib.suppress(OSError):
            raw.local_address = str(sock.getsockname()[0])
        from pynetdicom import build_context, build_role, evt

        ae = make_ae(local, node, t, sock)
        contexts = [build_context(sop, _TS)]
        ext_neg = None
        handlers: list[tuple[Any, Any]] = []
        if method == "C-GET":
            classes = list(dict.fromkeys((*sop_classes, *FALLBACK_CLASSES)))[:120]
            # uncompressed only: the PACS, as acceptor, picks one syntax per context and
            # Orthanc refuses the sub-operation when it picked one it cannot convert to
            contexts += [build_context(c, _TS) for c in classes]
            ext_neg = [build_role(c, scp_role=True) for c in classes]
            source = f"{node.ae_title}@{node.host}"
            handlers.append((evt.EVT_C_STORE, _store_handler(archive, raw, source)))
        conn = sock
        unhook = ctx.token.on_cancel(lambda: close_quietly(conn))
        try:
            assoc = associate(
                ae,
                node,
                contexts,
                tr,
                address=sockaddr[0],
                extra_handlers=handlers,
                ext_neg=ext_neg,
            )
        finally:
            unhook()
        if not assoc.is_established:
            if ctx.cancelled:
                raw.refused = ("Cancelled before the association was accepted.", "")
                return raw
            from pacsadmin.core.dimse.echo import association_failure

            step = association_failure(assoc, tr, node, local, t, 0.0)
            raw.refused = (step.detail, step.advice)
            return raw
        if not any(c["result"] == 0 and c["abstract_syntax"] == sop for c in tr.contexts):
            raw.refused = (
                f"The peer does not support Study Root {method} (the presentation context "
                "was rejected).",
                f"Enable {method} for this AE title at the peer"
                + (", or retrieve with C-MOVE." if method == "C-GET" else "."),
            )
            return raw
        base = (0, 0, 0)
        for item in items:
            if ctx.cancelled:
                break
            raw.msg_id = _next_msg_id()
            ds = identifier(item)
            if raw.t_request is None:
                raw.t_request = time.perf_counter()
            if method == "C-MOVE":
                responses = assoc.send_c_move(ds, dest_ae, sop, msg_id=raw.msg_id)
            else:
                responses = assoc.send_c_get(ds, sop, msg_id=raw.msg_id)
            canceller = _Canceller(assoc, raw.msg_id, sop, sock, cancel_grace)
            unhook = ctx.token.on_cancel(canceller)
            try:
                code = _read(responses, raw, base, on_progress)
            finally:
                canceller.done()
                unhook()
                raw.cancel_sent = raw.cancel_sent or canceller.sent
                raw.aborted = raw.aborted or canceller.aborted
            if code is None:
                break
            raw.final = _worse(raw.final, code)
            base = (raw.completed, raw.failed, raw.warning)
        raw.abort_received = tr.abort_received
        return raw
    except Failed as failed:
        s = failed.step
        raw.refused = (f"{s.title} failed: {s.detail}", s.advice)
        return raw
    finally:
        raw.transcript = tuple(tr.lines)
        if assoc is not None:
            if assoc.is_established and raw.final is not None and not raw.no_response:
                assoc.release()
            if assoc.is_established:
                assoc.abort()
            from pacsadmin.core.dimse.echo import join_threads

            join_threads(assoc)
        elif sock is not None:
            close_quietly(sock)


def _read(
    responses: Any,
    raw: Raw,
    base: tuple[int, int, int],
    on_progress: Callable[[RetrieveProgress], None] | None,
) -> int | None:
    """Read to the final response; its status (None when none came)."""
    last = None
    for status, ident in responses:
        if status is last:
            continue
        last = status
        if "Status" not in status:
            raw.no_response = True
            return None
        code = int(status.Status)

        rem = _count(status, "NumberOfRemainingSuboperations")
        done, bad, warn = (
            _count(status, "NumberOfCompletedSuboperations"),
            _count(status, "NumberOfFailedSuboperations"),
            _count(status, "NumberOfWarningSuboperations"),
        )
        if done is not None:
            raw.completed = base[0] + done
        if bad is not None:
            raw.failed = base[1] + bad
        if warn is not None:
            raw.warning = base[2] + warn
        if code in _PENDING:
            raw.remaining = rem
            if on_progress is not None:
                on_progress(RetrieveProgress(rem, raw.completed, raw.failed, raw.warning, None))
            continue
        raw.remaining = rem if rem is not None else 0
        with contextlib.suppress(Exception):
            raw.error_comment = str(status.get("ErrorComment", "") or "").strip()
        raw.failed_uids += _uids(ident)
        return code
    raw.no_response = True
    return None


def _count(status: Any, keyword: str) -> int | None:
    v = status.get(keyword)
    try:
        return int(v) if v is not None and str(v) != "" else None
    except (TypeError, ValueError):
        return None
