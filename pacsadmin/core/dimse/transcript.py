"""Association transcripts: what went over the wire, summarised, for the GUI and tickets.

Built from pynetdicom's notification events (PDUs and DIMSE messages).  It never holds
dataset contents (only command fields: message type, IDs, statuses), and the text export
still passes through the redactor, so a transcript is safe to attach to a vendor ticket.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from pacsadmin.core.dimse.status import CONTEXT_RESULT, describe_abort, describe_rejection
from pacsadmin.core.logs import redact


@dataclass(frozen=True)
class TranscriptLine:
    t_ms: float  # since the start of the run
    direction: str  # ">>" sent, "<<" received, "--" local
    kind: str  # "A-ASSOCIATE-RQ", "P-DATA-TF", "C-ECHO-RQ", "TCP", "TLS", ...
    text: str

    def format(self) -> str:
        return f"{self.t_ms:9.1f} ms  {self.direction}  {self.kind:<15} {self.text}"


_AFFECTED_CLASS, _STATUS = 0x00000002, 0x00000900
_COMMAND_FIELDS = (  # (tag, label) in the order a line shows them
    (0x00000110, "MessageID"),
    (0x00000120, "MessageIDBeingRespondedTo"),
    (0x00000002, "AffectedSOPClassUID"),
    (0x00000900, "Status"),
    (0x00001020, "Remaining"),
    (0x00001021, "Completed"),
    (0x00001022, "Failed"),
    (0x00001023, "Warning"),
)
_uid_labels: dict[str, str] = {}


def _uid_label(uid: str) -> str:
    """``uid_name`` of a SOP class UID, remembered (the same few in every association)."""
    label = _uid_labels.get(uid)
    if label is None:
        from pydicom.uid import UID

        label = uid_name(UID(uid))
        if len(_uid_labels) < 512:
            _uid_labels[uid] = label
    return label


def uid_name(uid: object) -> str:
    name = getattr(uid, "name", "") or ""
    return f"{name} ({uid})" if name and name != str(uid) else str(uid)


class Transcript:
    """Thread-safe collector; pynetdicom events arrive on its DUL/reactor threads."""

    def __init__(self, t0: float | None = None, *, max_lines: int | None = None) -> None:
        """``max_lines``: keep the first and the last ``max_lines // 2`` lines only (an SCP
        association that receives 100,000 images would otherwise hold half a million lines);
        the text says how many were left out between them."""
        self.t0 = t0 if t0 is not None else time.perf_counter()
        self._lines: list[TranscriptLine] = []
        self._head = max_lines // 2 if max_lines else None
        self._tail: deque[TranscriptLine] = deque(maxlen=max(1, (max_lines or 0) // 2))
        self.omitted = 0
        self._lock = threading.Lock()
        self.requested: dict[int, tuple[str, list[str]]] = {}  # cid -> (abstract, [ts])
        self.contexts: list[dict[str, Any]] = []  # filled on A-ASSOCIATE-AC
        self.rejection: tuple[int, int, int] | None = None
        self.abort_received: tuple[int, int] | None = None
        self.abort_sent: tuple[int, int] | None = None
        self.release_rp_received = False
        self.conn_closed_at: float | None = None
        self.peer_max_pdu: int | None = None
        self.peer_implementation: str = ""
        self.first_bytes: bytes = b""  # the start of the peer's first answer

    def note_first_bytes(self, data: bytes) -> None:
        """The peer's first bytes (from the socket): a line when they are not DICOM."""
        self.first_bytes = data
        if data and not is_pdu_start(data):
            self.add("<<", "NOT DICOM", f"{len(data)}+ bytes: {printable_start(data)}")

    def add(self, direction: str, kind: str, text: str) -> None:
        line = TranscriptLine((time.perf_counter() - self.t0) * 1000, direction, kind, text)
        with self._lock:
            if self._head is None or len(self._lines) < self._head:
                self._lines.append(line)
                return
            if len(self._tail) == self._tail.maxlen:
                self.omitted += 1
            self._tail.append(line)

    @property
    def lines(self) -> tuple[TranscriptLine, ...]:
        """Every line kept (with ``max_lines``: the first and the last ones)."""
        with self._lock:
            return (*self._lines, *self._tail)

    def text(self, header: str = "") -> str:
        with self._lock:
            head, tail, omitted = list(self._lines), list(self._tail), self.omitted
        parts = [line.format() for line in head]
        if omitted:
            parts.append(
                f"{'':9}     ..  {omitted} line(s) left out (the transcript keeps"
                f" the first {len(head)} and the last {len(tail)})"
            )
        parts += [line.format() for line in tail]
        body = "\n".join(parts)
        return redact((header + "\n" if header else "") + body + "\n")

    # ------------------------------------------------------------------ pynetdicom hooks
    def handlers(self) -> list[tuple[Any, Any]]:
        from pynetdicom import evt

        return [
            (evt.EVT_PDU_SENT, self._on_pdu_sent),
            (evt.EVT_PDU_RECV, self._on_pdu_recv),
            (evt.EVT_DIMSE_SENT, self._on_dimse_sent),
            (evt.EVT_DIMSE_RECV, self._on_dimse_recv),
            (evt.EVT_CONN_CLOSE, self._on_conn_close),
        ]

    def _on_pdu_sent(self, event: Any) -> None:
        self._pdu(">>", event.pdu)

    def _on_pdu_recv(self, event: Any) -> None:
        self._pdu("<<", event.pdu)

    def _on_conn_close(self, event: Any) -> None:
        self.conn_closed_at = time.perf_counter()
        self.add("--", "TCP", "connection closed")

    def _on_dimse_sent(self, event: Any) -> None:
        self._dimse(">>", event.message)

    def _on_dimse_recv(self, event: Any) -> None:
        self._dimse("<<", event.message)

    def _dimse(self, direction: str, msg: Any) -> None:
        """One line per DIMSE message.  Runs in pynetdicom's network thread for every
        C-STORE an SCP receives: the command set's elements are read by tag, present ones
        only (``getattr`` by keyword, absent ones raising inside, cost ~50 us a message)."""
        name = type(msg).__name__.replace("_", "-")
        cs = getattr(msg, "command_set", None)
        if cs is None:
            self.add(direction, name, "")
            return
        present = {int(tag): elem for tag, elem in cs.items()}
        values = {tag: cs[tag].value for tag, _ in _COMMAND_FIELDS if tag in present}
        self.command(direction, name, values)

    def command(self, direction: str, name: str, values: dict[int, Any]) -> None:
        """One line for a DIMSE message from its command set's values by tag (the fast
        receive decodes them from bytes: ``scp_fast.py``)."""
        self.add(direction, name, command_text(values))

    def _pdu(self, direction: str, pdu: Any) -> None:
        kind = type(pdu).__name__
        if kind == "A_ASSOCIATE_RQ":
            lines = [f"called AE {pdu.called_ae_title!r}, calling AE {pdu.calling_ae_title!r}"]
            ui = pdu.user_information
            if ui is not None:
                lines.append(
                    f"max PDU {ui.maximum_length}, implementation "
                    f"{ui.implementation_class_uid} {ui.implementation_version_name or ''}".rstrip()
                )
            for cx in pdu.presentation_context:
                ts = [str(t) for t in cx.transfer_syntax]
                self.requested[int(cx.context_id)] = (str(cx.abstract_syntax), ts)
                lines.append(
                    f"  context {cx.context_id}: {uid_name(cx.abstract_syntax)}; "
                    f"{len(ts)} transfer syntax(es)"
                )
            self.add(
                direction, "A-ASSOCIATE-RQ", "\n" + "\n".join(" " * 32 + line for line in lines)
            )
        elif kind == "A_ASSOCIATE_AC":
            ui = pdu.user_information
            if ui is not None:
                self.peer_max_pdu = ui.maximum_length
                self.peer_implementation = (
                    f"{ui.implementation_class_uid} {ui.implementation_version_name or ''}"
                ).strip()
            lines = [f"peer max PDU {self.peer_max_pdu}, implementation {self.peer_implementation}"]
            self.contexts = []
            for cx in pdu.presentation_context:
                cid = int(cx.context_id)
                abstract, _ = self.requested.get(cid, ("?", []))
                result = int(cx.result)
                row = {
                    "context_id": cid,
                    "abstract_syntax": abstract,
                    "abstract_syntax_name": uid_name_str(abstract),
                    "result": result,
                    "result_text": CONTEXT_RESULT.get(result, f"result {result}"),
                    "transfer_syntax": str(cx.transfer_syntax) if result == 0 else "",
                    "transfer_syntax_name": uid_name_str(str(cx.transfer_syntax))
                    if result == 0
                    else "",
                }
                self.contexts.append(row)
                lines.append(
                    f"  context {cid}: {row['result_text']}"
                    + (f" ({row['transfer_syntax_name']})" if result == 0 else "")
                )
            self.add(
                direction, "A-ASSOCIATE-AC", "\n" + "\n".join(" " * 32 + line for line in lines)
            )
        elif kind == "A_ASSOCIATE_RJ":
            self.rejection = (int(pdu.result), int(pdu.source), int(pdu.reason_diagnostic))
            sentence, _ = describe_rejection(*self.rejection)
            self.add(
                direction,
                "A-ASSOCIATE-RJ",
                f"result {pdu.result}, source {pdu.source}, reason "
                f"{pdu.reason_diagnostic}: {sentence}",
            )
        elif kind == "P_DATA_TF":
            items = pdu.presentation_data_value_items
            size = sum(len(i.presentation_data_value or b"") for i in items)
            flags = []
            for i in items:
                hb = i.presentation_data_value[0] if i.presentation_data_value else 0
                flags.append(("command" if hb & 1 else "data") + (", last" if hb & 2 else ""))
            self.add(
                direction, "P-DATA-TF", f"{len(items)} PDV(s), {size} bytes [{'; '.join(flags)}]"
            )
        elif kind == "A_RELEASE_RQ":
            self.add(direction, "A-RELEASE-RQ", "")
        elif kind == "A_RELEASE_RP":
            if direction == "<<":
                self.release_rp_received = True
            self.add(direction, "A-RELEASE-RP", "")
        elif kind == "A_ABORT_RQ":
            src, reason = int(pdu.source), int(pdu.reason_diagnostic)
            if direction == "<<":
                self.abort_received = (src, reason)
            else:
                self.abort_sent = (src, reason)
            self.add(direction, "A-ABORT", describe_abort(src, reason, ours=direction == ">>"))
        else:
            self.add(direction, kind, "")


def uid_name_str(uid: str) -> str:
    try:
        from pydicom.uid import UID

        name = UID(uid).name
    except Exception:
        return uid
    return name if name and name != uid else uid


def is_pdu_start(data: bytes) -> bool:
    """Whether ``data`` can start a DICOM upper layer PDU (types 01H-07H, PS3.8 9.3)."""
    return bool(data) and 0x01 <= data[0] <= 0x07


def printable_start(data: bytes, limit: int = 80) -> str:
    """The first line of ``data`` for people: ASCII as it is, anything else as \\xNN."""
    line = data.split(b"\n", 1)[0].rstrip(b"\r")[:limit]
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in line)


def command_text(values: dict[int, Any]) -> str:
    """The text of a DIMSE message's line: its command fields by tag, in a fixed order."""
    parts = []
    for tag, kw in _COMMAND_FIELDS:
        v = values.get(tag)
        if v in (None, "", b""):
            continue
        if tag == _STATUS:
            from pacsadmin.core.dimse.status import status_info

            parts.append(f"Status={status_info(int(v)).label}")
        elif tag == _AFFECTED_CLASS:
            parts.append(f"{kw}={_uid_label(str(v))}")
        else:
            parts.append(f"{kw}={v}")
    return " ".join(parts)
