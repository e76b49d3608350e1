"""Results of the Connectivity Doctor: one :class:`Step` per layer, an :class:`EchoResult`
per run and an :class:`EchoSeries` for repeated runs.  Frozen, so they can be handed to the
GUI thread as they are."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from pacsadmin.core.dimse.status import status_info
from pacsadmin.core.dimse.transcript import Transcript, TranscriptLine

STEP_TITLES = {
    "dns": "DNS resolution",
    "tcp": "TCP connect",
    "tls": "TLS handshake",
    "associate": "A-ASSOCIATE",
    "echo": "C-ECHO",
    "release": "A-RELEASE",
}
OK, FAILED, SKIPPED, WARNING = "ok", "failed", "skipped", "warning"


@dataclass(frozen=True)
class Step:
    key: str
    status: str  # ok / failed / skipped / warning
    ms: float | None
    detail: str
    advice: str = ""

    @property
    def title(self) -> str:
        return STEP_TITLES[self.key]

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.key,
            "title": self.title,
            "status": self.status,
            "ms": None if self.ms is None else round(self.ms, 2),
            "detail": self.detail,
            "advice": self.advice,
        }


@dataclass(frozen=True)
class EchoResult:
    node_name: str
    target: str  # AET@HOST:PORT
    calling_ae: str
    started_at: str  # ISO time, UTC
    steps: tuple[Step, ...]
    contexts: tuple[dict[str, Any], ...] = ()
    transcript: tuple[TranscriptLine, ...] = ()
    echo_status: int | None = None
    total_ms: float = 0.0
    peer_implementation: str = ""
    tls_info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(s.status in (OK, SKIPPED, WARNING) for s in self.steps) and any(
            s.key == "echo" and s.status in (OK, WARNING) for s in self.steps
        )

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if s.status == FAILED), None)

    @property
    def rtt_ms(self) -> float | None:
        """The C-ECHO request/response round trip alone."""
        return next((s.ms for s in self.steps if s.key == "echo" and s.ms is not None), None)

    @property
    def summary(self) -> str:
        f = self.failed_step
        if f is None:
            status = status_info(self.echo_status or 0, "C-ECHO").label
            return f"Echo to {self.target} succeeded ({status}) in {self.total_ms:.1f} ms."
        return f"{f.title} failed: {f.detail}"

    @property
    def advice(self) -> str:
        f = self.failed_step
        return f.advice if f else ""

    def transcript_text(self) -> str:
        t = Transcript()
        t._lines = list(self.transcript)
        header = (
            f"pacsadmin association transcript\nnode: {self.node_name}\n"
            f"target: {self.target}\ncalling AE: {self.calling_ae}\n"
            f"started: {self.started_at}\nresult: {self.summary}\n"
        )
        steps = "\n".join(
            f"  {s.title:<15} {s.status:<8} {'' if s.ms is None else f'{s.ms:8.1f} ms'}  {s.detail}"
            for s in self.steps
        )
        return t.text(header + "steps:\n" + steps + "\n\nwire log:")

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node_name,
            "target": self.target,
            "calling_ae": self.calling_ae,
            "started_at": self.started_at,
            "ok": self.ok,
            "summary": self.summary,
            "advice": self.advice,
            "total_ms": round(self.total_ms, 2),
            "echo_rtt_ms": None if self.rtt_ms is None else round(self.rtt_ms, 2),
            "echo_status": self.echo_status,
            "echo_status_name": None
            if self.echo_status is None
            else status_info(self.echo_status, "C-ECHO").label,
            "steps": [s.to_json() for s in self.steps],
            "presentation_contexts": list(self.contexts),
            "peer_implementation": self.peer_implementation,
            "tls": self.tls_info,
        }


@dataclass(frozen=True)
class EchoSeries:
    results: tuple[EchoResult, ...]

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def succeeded(self) -> int:
        return sum(r.ok for r in self.results)

    def latency(self) -> dict[str, float] | None:
        ms = [r.total_ms for r in self.results if r.ok]
        if not ms:
            return None
        return {"min": min(ms), "median": statistics.median(ms), "max": max(ms)}

    def to_json(self) -> dict[str, Any]:
        lat = self.latency()
        return {
            "ok": self.ok,
            "count": len(self.results),
            "succeeded": self.succeeded,
            "latency_ms": None if lat is None else {k: round(v, 2) for k, v in lat.items()},
            "results": [r.to_json() for r in self.results],
        }


# ------------------------------------------------------------------ steps
