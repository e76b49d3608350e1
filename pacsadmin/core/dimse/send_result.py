"""What the send tool returns: one frozen row per file, and the run's totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.nodes import DicomNode


class FileState(StrEnum):
    STORED = "stored"  # the peer answered Success or a Warning
    FAILED = "failed"  # the peer answered a failure, or it could not be sent
    NOT_SENT = "not sent"  # never reached the peer (association lost, cancelled)
    SKIPPED = "skipped"  # not DICOM or damaged: never tried


@dataclass(frozen=True)
class FileResult:
    path: str
    state: FileState
    sop_class: str = ""
    sop_class_name: str = ""
    sop_instance: str = ""
    transfer_syntax: str = ""  # the file's
    accepted_syntax: str = ""  # the one it went over the wire in ("" when not sent)
    status: int | None = None  # the C-STORE-RSP's status
    meaning: str = ""  # the status's meaning, or why it failed / was skipped
    decompressed: bool = False
    size: int = 0

    @property
    def ok(self) -> bool:
        return self.state is FileState.STORED

    @property
    def status_text(self) -> str:
        return f"0x{self.status:04X}" if self.status is not None else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "state": str(self.state),
            "sop_class": self.sop_class,
            "sop_class_name": self.sop_class_name,
            "sop_instance": self.sop_instance,
            "transfer_syntax": self.transfer_syntax,
            "accepted_syntax": self.accepted_syntax,
            "status": self.status_text or None,
            "meaning": self.meaning,
            "decompressed": self.decompressed,
            "size": self.size,
        }


@dataclass(frozen=True)
class SendProgress:
    """How far a send is: counts and bytes; rate and remaining time follow from them."""

    done: int
    total: int
    bytes_done: int
    bytes_total: int
    elapsed_s: float
    failed: int = 0

    @property
    def rate(self) -> float:
        """Files a second so far."""
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def bytes_rate(self) -> float:
        return self.bytes_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def remaining_s(self) -> float | None:
        r = self.bytes_rate
        if r <= 0:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) / r)

    def message(self) -> str:
        from pacsadmin.core.format import format_size

        text = (
            f"{self.done}/{self.total} files, {format_size(self.bytes_done)} of "
            f"{format_size(self.bytes_total)}, {self.rate:.0f} files/s"
        )
        left = self.remaining_s
        if left is not None and self.done < self.total:
            text += f", about {left:.0f} s left"
        if self.failed:
            text += f", {self.failed} failed"
        return text


@dataclass(frozen=True)
class SendResult:
    node: DicomNode
    local: LocalAE
    files: tuple[FileResult, ...]
    associations: int = 0
    elapsed_s: float = 0.0
    cancelled: bool = False
    decompress_if_needed: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def stored(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.ok)

    @property
    def failed(self) -> tuple[FileResult, ...]:
        """Every file that was not stored (skipped ones included)."""
        return tuple(f for f in self.files if not f.ok)

    @property
    def resendable(self) -> tuple[FileResult, ...]:
        """Failed or not sent: what "resend failed only" sends again."""
        return tuple(f for f in self.files if f.state in (FileState.FAILED, FileState.NOT_SENT))

    @property
    def ok(self) -> bool:
        return bool(self.files) and all(f.ok for f in self.files)

    @property
    def bytes_stored(self) -> int:
        return sum(f.size for f in self.files if f.ok)

    @property
    def rate(self) -> float:
        return len(self.stored) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def summary(self) -> str:
        n = len(self.files)
        text = f"{len(self.stored)} of {n} file(s) stored on {self.node.ae_title}"
        counts = {s: sum(1 for f in self.files if f.state is s) for s in FileState}
        extra = [
            f"{counts[s]} {s}"
            for s in (FileState.FAILED, FileState.NOT_SENT, FileState.SKIPPED)
            if counts[s]
        ]
        if extra:
            text += " (" + ", ".join(extra) + ")"
        if self.cancelled:
            text += "; cancelled"
        return text + f" in {self.elapsed_s:.1f} s."

    def summarize(self) -> tuple[str, bool]:
        """The Jobs panel's one line."""
        return self.summary, self.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.node.address,
            "node": self.node.name,
            "ok": self.ok,
            "summary": self.summary,
            "stored": len(self.stored),
            "failed": len(self.failed),
            "associations": self.associations,
            "elapsed_s": round(self.elapsed_s, 3),
            "cancelled": self.cancelled,
            "notes": list(self.notes),
            "files": [f.to_json() for f in self.files],
        }
