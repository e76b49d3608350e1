"""The typed events of an Echo-all run in a process of its own, and their one codec.

``pacsadmin echo-all --events`` prints one JSON line per event on stdout with
:func:`to_json_line`; the window (and any other reader) parses them with
:func:`parse_line`: one definition of each record, on both sides of the pipe, in the
shape of the SCP's events (``core/dimse/scp_events.py``).  Every line carries
``"v": SCHEMA_VERSION`` and ``"event"`` (the kind); :func:`parse_line` never raises: a
line of another version comes back as :class:`Unsupported`, anything else that is not an
event as :class:`Unreadable`, each saying why.  Adding a field with a default keeps the
version; removing or retyping one, or adding a kind, bumps it.  The results carry the
whole :class:`EchoSeries` (steps, contexts, transcript), so the reader gets the same
values as an echo run in its own process.

Events, in order: ``started`` (once), ``result`` (once per node, as each finishes),
then ``ended`` (once) or ``failed`` (the run could not start: bad input, no nodes).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from pacsadmin.core.dimse.echo_result import EchoResult, EchoSeries, Step
from pacsadmin.core.dimse.transcript import TranscriptLine

SCHEMA_VERSION = 1
MAX_LINE = 256 * 1024  # characters of one line; longer: not parsed (an echo's is ~3 KB)


@dataclass(frozen=True)
class EchoRunStarted:
    KIND: ClassVar[str] = "started"
    total: int  # nodes to echo
    concurrency: int  # echoes at once


@dataclass(frozen=True)
class EchoNodeResult:
    KIND: ClassVar[str] = "result"
    index: int  # position of the node in the request (names may repeat across sites)
    node: str  # the node's name
    series: EchoSeries


@dataclass(frozen=True)
class EchoRunEnded:
    KIND: ClassVar[str] = "ended"
    done: int  # nodes with a result
    total: int
    cancelled: bool


@dataclass(frozen=True)
class EchoRunFailed:
    """The run could not start (a node list it cannot read, no nodes)."""

    KIND: ClassVar[str] = "failed"
    message: str  # a sentence for people


EchoEvent = EchoRunStarted | EchoNodeResult | EchoRunEnded | EchoRunFailed


@dataclass(frozen=True)
class Unreadable:
    """A line that is not an event: not JSON, a missing or wrong field, an unknown kind."""

    line: str  # its start, for a debug log
    why: str


@dataclass(frozen=True)
class Unsupported:
    """An event line of another schema version (a newer or older pacsadmin wrote it)."""

    version: int
    kind: str

    @property
    def message(self) -> str:
        side = "newer" if self.version > SCHEMA_VERSION else "older"
        return (
            f"the echo process speaks events schema {self.version} (a {side} pacsadmin); "
            f"this one reads schema {SCHEMA_VERSION}"
        )


Parsed = EchoEvent | Unreadable | Unsupported


# ------------------------------------------------------------------ records
def step_record(s: Step) -> dict[str, Any]:
    return {"key": s.key, "status": s.status, "ms": s.ms, "detail": s.detail, "advice": s.advice}


def step_from(d: dict[str, Any]) -> Step:
    ms = d.get("ms")
    return Step(
        str(d["key"]),
        str(d["status"]),
        None if ms is None else float(ms),
        str(d.get("detail", "")),
        str(d.get("advice", "")),
    )


def result_record(r: EchoResult) -> dict[str, Any]:
    return {
        "node_name": r.node_name,
        "target": r.target,
        "calling_ae": r.calling_ae,
        "started_at": r.started_at,
        "steps": [step_record(s) for s in r.steps],
        "contexts": list(r.contexts),
        "transcript": [[x.t_ms, x.direction, x.kind, x.text] for x in r.transcript],
        "echo_status": r.echo_status,
        "total_ms": r.total_ms,
        "peer_implementation": r.peer_implementation,
        "tls_info": r.tls_info,
    }


def result_from(d: dict[str, Any]) -> EchoResult:
    status = d.get("echo_status")
    return EchoResult(
        node_name=str(d["node_name"]),
        target=str(d["target"]),
        calling_ae=str(d["calling_ae"]),
        started_at=str(d["started_at"]),
        steps=tuple(step_from(s) for s in d["steps"]),
        contexts=tuple(dict(c) for c in d.get("contexts", ())),
        transcript=tuple(
            TranscriptLine(float(t), str(di), str(k), str(x))
            for t, di, k, x in d.get("transcript", ())
        ),
        echo_status=None if status is None else int(status),
        total_ms=float(d.get("total_ms", 0.0)),
        peer_implementation=str(d.get("peer_implementation", "")),
        tls_info=dict(d.get("tls_info") or {}),
    )


# ------------------------------------------------------------------ the codec
def to_json_line(ev: EchoEvent) -> str:
    """One JSON line (no newline) for ``ev``: the version and kind first."""
    data: dict[str, Any] = {"v": SCHEMA_VERSION, "event": ev.KIND}
    for f in dataclasses.fields(ev):
        value = getattr(ev, f.name)
        if isinstance(value, EchoSeries):
            data["results"] = [result_record(r) for r in value.results]
        else:
            data[f.name] = value
    return json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def parse_line(line: str | bytes) -> Parsed:
    """The event on ``line``, or why there is none; never raises."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    head = line.strip()[:200]
    if len(line) > MAX_LINE:
        return Unreadable(head, f"longer than {MAX_LINE} bytes")
    try:
        d = json.loads(line)
    except (ValueError, RecursionError):
        return Unreadable(head, "not JSON")
    if not isinstance(d, dict):
        return Unreadable(head, "not a JSON object")
    version, kind = d.get("v"), d.get("event")
    if type(version) is not int:
        return Unreadable(head, "no schema version")
    if not isinstance(kind, str):
        return Unreadable(head, "no event kind")
    if version != SCHEMA_VERSION:
        return Unsupported(version, kind[:64])
    try:
        if kind == EchoRunStarted.KIND:
            return EchoRunStarted(_int(d["total"]), _int(d["concurrency"]))
        if kind == EchoNodeResult.KIND:
            series = EchoSeries(tuple(result_from(r) for r in d["results"]))
            return EchoNodeResult(_int(d["index"]), _str(d["node"]), series)
        if kind == EchoRunEnded.KIND:
            return EchoRunEnded(_int(d["done"]), _int(d["total"]), _bool(d["cancelled"]))
        if kind == EchoRunFailed.KIND:
            return EchoRunFailed(_str(d["message"]))
    except KeyError as exc:
        return Unreadable(head, f"{kind}: no {exc}")
    except (TypeError, ValueError, AttributeError) as exc:
        return Unreadable(head, f"{kind}: a field of the wrong type ({exc})")
    return Unreadable(head, f"unknown event kind {kind[:64]!r}")


def _int(v: Any) -> int:
    if type(v) is not int:
        raise TypeError(f"{v!r} is not a whole number")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"{v!r} is not true or false")
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{v!r} is not text")
    return v
