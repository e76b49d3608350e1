"""Query/Retrieve SCP handlers over the archive index (PS3.4 annex C).

C-FIND (Patient Root and Study Root, all levels), C-MOVE to nodes of the directory by AE
title (0xA801 when unknown) and C-GET.  Pending responses carry the sub-operation counts
(pynetdicom fills them in); a C-CANCEL is honoured between responses (0xFE00).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from pacsadmin.core.archive import Archive
from pacsadmin.core.archive import index as idx
from pacsadmin.core.archive.query import (
    QueryError,
    build_find,
    build_retrieve,
    parse_identifier,
    register_functions,
    run_find,
)
from pacsadmin.core.dimse import find_bulk

log = logging.getLogger("pacsadmin.scp")

PATIENT_ROOT = {
    "1.2.840.10008.5.1.4.1.2.1.1",  # find
    "1.2.840.10008.5.1.4.1.2.1.2",  # move
    "1.2.840.10008.5.1.4.1.2.1.3",  # get
}
EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
_CHARSETS = {"ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8", "ISO 2022 IR 100": "latin-1"}


def _model(event: Any) -> str:
    return "PATIENT" if str(event.request.AffectedSOPClassUID) in PATIENT_ROOT else "STUDY"


def _charset(values: list[str], requested: Any) -> str | None:
    """The response's Specific Character Set: ASCII needs none; else the query's own set
    when it can hold every value, otherwise UTF-8 (ISO_IR 192)."""
    req = ""
    if requested:
        req = str(requested[-1] if isinstance(requested, (list, tuple)) else requested).strip()
        if type(requested).__name__ == "MultiValue":
            req = str(requested[-1]).strip()
    text = "".join(values)
    if text.isascii():
        return req or None
    codec = _CHARSETS.get(req)
    if codec:
        try:
            text.encode(codec)
            return "ISO_IR 100" if codec == "latin-1" else "ISO_IR 192"
        except UnicodeEncodeError:
            pass
    return "ISO_IR 192"


_TAG_VR: dict[str, tuple[int, str] | None] = {}


def _tag_vr(kw: str) -> tuple[int, str] | None:
    tv = _TAG_VR.get(kw, False)
    if tv is False:
        from pydicom.datadict import dictionary_VR, tag_for_keyword

        tag = tag_for_keyword(kw)
        tv = (int(tag), dictionary_VR(tag)) if tag is not None else None
        _TAG_VR[kw] = tv
    return tv  # type: ignore[return-value]


def _elements(
    level: str, row: dict[str, Any], requested_charset: Any
) -> tuple[list[tuple[int, str, Any]], str | None]:
    """``(tag, VR, value)`` of one match's identifier (the requested attributes, known
    ones only) and its Specific Character Set; QueryRetrieveLevel included."""
    texts = [v for v in row.values() if isinstance(v, str)]
    cs = _charset(texts, requested_charset)
    out: list[tuple[int, str, Any]] = [(0x00080052, "CS", level)]
    for kw, v in row.items():
        tv = _tag_vr(kw)
        if tv is not None:
            out.append((tv[0], tv[1], v))
    return out, cs


def _response(level: str, row: dict[str, Any], requested_charset: Any) -> Any:
    """The identifier of one match as a pydicom Dataset (the path through pynetdicom)."""
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

    elements, cs = _elements(level, row, requested_charset)
    ds = Dataset()
    if cs:
        ds.SpecificCharacterSet = cs
    for tag, vr, v in elements:
        if vr == "SQ":
            value: Any = []
        elif v is None or v == "":
            value = None
        elif vr in ("IS", "US", "UL", "SS", "SL"):
            value = int(v)
        elif vr == "CS" and isinstance(v, str) and "\\" in v:
            value = v.split("\\")
        else:
            value = v
        ds[tag] = DataElement(tag, vr, value)
    return ds


def _find_rows(archive: Archive, q: Any, con: Any, ae_title: str) -> Iterator[dict[str, Any]]:
    for row in run_find(con, q):
        if "RetrieveAETitle" in row:
            row["RetrieveAETitle"] = ae_title or None
        if "InstanceAvailability" in row:
            row["InstanceAvailability"] = "ONLINE"
        yield row


def handle_find(
    archive: Archive,
    event: Any,
    ae_title: str = "",
    *,
    transcript: Any = None,
    timeout: float | None = 30.0,
) -> Iterator[tuple[int, Any]]:
    try:
        identifier = event.identifier
        level, keys = parse_identifier(identifier, _model(event))
        q = build_find(level, keys)
    except QueryError as exc:
        log.warning("C-FIND refused: %s", exc)
        yield 0xA900, None
        return
    except Exception as exc:
        log.warning("C-FIND: cannot read the identifier (%s)", type(exc).__name__)
        yield 0xC000, None
        return
    requested_cs = identifier.get("SpecificCharacterSet")
    con = idx.connect(archive.layout.index_path, readonly=True)
    try:
        if find_bulk.BulkSender.usable(event):
            yield from _find_bulk(
                archive, event, q, con, ae_title, requested_cs, transcript, timeout
            )
            return
        for row in _find_rows(archive, q, con, ae_title):
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, _response(q.level, row, requested_cs)
    finally:
        con.close()


def _find_bulk(
    archive: Archive,
    event: Any,
    q: Any,
    con: Any,
    ae_title: str,
    requested_cs: Any,
    transcript: Any,
    timeout: float | None,
) -> Iterator[tuple[int, Any]]:
    """Pending responses written by :mod:`find_bulk`; the final one through pynetdicom.

    A C-CANCEL is checked before every match and, through SQLite's progress handler, while
    a slow query scans (what is buffered then is dropped: the peer asked to stop); a match
    waits in the buffer at most ``FLUSH_SECONDS`` while the scan goes on."""
    bulk = find_bulk.BulkSender(event, timeout)
    state: dict[str, Any] = {"cancelled": False, "error": None}

    def progress() -> int:
        try:
            if event.is_cancelled:
                state["cancelled"] = True
                return 1
            if bulk.due():
                bulk.flush()
        except Exception as exc:  # the peer is gone: stop the scan, report below
            state["error"] = exc
            return 1
        return 0

    con.set_progress_handler(progress, 20000)
    implicit = bulk.implicit
    try:
        for row in _find_rows(archive, q, con, ae_title):
            if state["cancelled"] or event.is_cancelled:
                state["cancelled"] = True
                break
            elements, cs = _elements(q.level, row, requested_cs)
            data: bytes | None
            try:
                data = find_bulk.encode_identifier(elements, cs, implicit)
            except find_bulk.Unencodable:
                from pynetdicom.dsutils import encode

                data = encode(_response(q.level, row, requested_cs), implicit, True)
                if not data:  # as pynetdicom answers an identifier it cannot encode
                    bulk.flush()
                    log.error("C-FIND: a match could not be encoded; 0xC312")
                    yield 0xC312, None
                    return
            bulk.add(data)
        if not state["cancelled"]:
            bulk.flush()
    except Exception as exc:
        if state["error"] is None and not state["cancelled"]:
            state["error"] = exc
    finally:
        con.set_progress_handler(None, 0)
    if transcript is not None and bulk.sent:
        transcript.add(">>", "C-FIND-RSP", f"Pending x {bulk.sent} (sent in bulk)")
    if state["cancelled"]:
        yield 0xFE00, None
        return
    err = state["error"]
    if err is not None:
        if isinstance(err, (OSError, TimeoutError)):
            log.warning("C-FIND: the peer stopped receiving responses (%s); aborted", err)
            find_bulk.close(bulk.sock)  # an A-ABORT cannot pass a full send buffer
            event.assoc.abort()
            return
        if "interrupted" in str(err):  # our progress handler stopped the scan
            log.warning("C-FIND: stopped (%s)", type(err).__name__)
            event.assoc.abort()
            return
        log.error("C-FIND failed: %s", type(err).__name__)
        yield 0xC000, None
        return
    yield 0x0000, None


def _matches(archive: Archive, event: Any) -> list[tuple[str, str, str, str]]:
    level, keys = parse_identifier(event.identifier, _model(event))
    sql, params = build_retrieve(level, keys)
    con = idx.connect(archive.layout.index_path, readonly=True)
    try:
        register_functions(con)
        return [tuple(r) for r in con.execute(sql, params).fetchall()]
    finally:
        con.close()


_UID = re.compile(r"[0-9.]{1,64}")
_SOP_KEYWORDS = ("SOPClassUID", "SOPInstanceUID")


def _datasets(
    archive: Archive, event: Any, rows: list[tuple[str, str, str, str]]
) -> Iterator[tuple[int, Any]]:
    from pydicom import dcmread

    for rel, _cls, _ts, _sop in rows:
        if event.is_cancelled:
            yield 0xFE00, None
            return
        try:  # the retrieve's file boundary: a damaged archived file is one failed sub-op
            ds = dcmread(archive.path_of(rel))
            # pynetdicom reads both, even to report a sub-operation that failed, and lists the
            # failed ones in the final response: a data set without them (indexed by its file
            # meta's UIDs) or with one that cannot be encoded ended the C-GET with no final
            # response
            if not all(_UID.fullmatch(str(ds[kw].value)) for kw in _SOP_KEYWORDS):
                raise ValueError("no valid SOP Class and Instance UIDs")
        except Exception as exc:
            log.error("retrieve: an archived file cannot be read (%s)", type(exc).__name__)
            # pynetdicom counts a pending result that is not a Dataset as a failed sub-op
            yield 0xFF00, "unreadable"
            continue
        yield 0xFF00, ds


def _files(
    archive: Archive, event: Any, rows: list[tuple[str, str, str, str]]
) -> Iterator[tuple[int, Any]]:
    """The pending sub-operations for the fast sender (``qr_send.py``): each archived
    file as an :class:`ArchivedFile`, its UIDs from the index; it is read while sent."""
    from pacsadmin.core.dimse.qr_send import ArchivedFile

    for rel, cls, ts, sop in rows:
        if event.is_cancelled:
            yield 0xFE00, None
            return
        if not (_UID.fullmatch(cls or "") and _UID.fullmatch(sop or "")):
            log.error("retrieve: an archived instance has no valid SOP Class/Instance UIDs")
            yield 0xFF00, "unreadable"  # a failed sub-operation, as in _datasets
            continue
        yield 0xFF00, ArchivedFile(str(archive.path_of(rel)), cls, sop, ts)


def _contexts(rows: list[tuple[str, str, str, str]]) -> list[Any]:
    """Presentation contexts for the sub-association: each SOP class in its stored
    transfer syntax, plus an uncompressed one (pynetdicom converts between those)."""
    from pynetdicom import build_context

    out: dict[tuple[str, tuple[str, ...]], Any] = {}
    for _rel, cls, ts, _sop in rows:
        for tss in ((ts,), (EXPLICIT, IMPLICIT)):
            key = (cls, tss)
            if key not in out and len(out) < 128:
                out[key] = build_context(cls, list(tss))
    return list(out.values())


def handle_move(archive: Archive, event: Any, nodes: Any, config: Any) -> Iterator[Any]:
    dest = event.move_destination
    dest = (dest.decode("ascii", "replace") if isinstance(dest, bytes) else str(dest)).strip()
    found = nodes.find_by_ae_title(dest) if nodes is not None else []
    if not found:
        log.warning("C-MOVE refused: destination %r is not in the node directory", dest)
        yield None, None  # pynetdicom answers 0xA801 Move destination unknown
        return
    node = found[0]
    try:
        rows = _matches(archive, event)
        error = 0
    except QueryError as exc:
        log.warning("C-MOVE refused: %s", exc)
        rows, error = [], 0xA900
    except Exception as exc:
        log.warning("C-MOVE: cannot read the identifier (%s)", type(exc).__name__)
        rows, error = [], 0xC000
    from pynetdicom import evt

    from pacsadmin.core.dimse._pynetdicom import set_nodelay
    from pacsadmin.core.dimse.qr_send import Installer

    fast = Installer(config.timeouts)
    kwargs = {
        "contexts": _contexts(rows) if rows else None,
        "evt_handlers": [(evt.EVT_CONN_OPEN, set_nodelay), (evt.EVT_ESTABLISHED, fast)],
        "max_pdu": config.max_pdu,
    }
    if not rows:
        kwargs.pop("contexts")
    yield node.host, node.port, kwargs
    if error:
        yield 1
        yield error, None
        return
    yield len(rows)
    log.info("C-MOVE of %d instance(s) to %s", len(rows), dest)
    # pynetdicom has opened the sub-association by now; the fast sender when installed
    if fast.installed:
        from pacsadmin.core.dimse.qr_send import with_pending

        yield from with_pending(event, config.timeouts.network, _files(archive, event, rows))
    else:
        yield from _datasets(archive, event, rows)


def handle_get(archive: Archive, event: Any, config: Any = None) -> Iterator[Any]:
    try:
        rows = _matches(archive, event)
    except QueryError as exc:
        log.warning("C-GET refused: %s", exc)
        yield 1
        yield 0xA900, None
        return
    except Exception as exc:
        log.warning("C-GET: cannot read the identifier (%s)", type(exc).__name__)
        yield 1
        yield 0xC000, None
        return
    yield len(rows)
    fast = None
    if config is not None and rows:
        from pacsadmin.core.dimse.qr_send import get_files

        fast = get_files(event, config.timeouts, _files(archive, event, rows))
    if fast is not None:
        from pacsadmin.core.dimse.qr_send import with_pending

        yield from with_pending(event, config.timeouts.network, fast)
    else:
        yield from _datasets(archive, event, rows)
