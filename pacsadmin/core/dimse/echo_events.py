"""The typed events of an Echo-all run in a process of its own, and their one codec.

``pacsadmin echo-all --events`` prints one JSON line per event on stdout; the window (and
any other reader) parses them with :func:`decode`, the inverse of :func:`encode`.  Every
line carries the schema version ``v``; a reader refuses a version it does not know
instead of guessing.  The results carry the whole :class:`EchoSeries` (steps, contexts,
transcript), so the reader gets the same values as an echo run in its own process.

Events, in order: ``started`` (once), ``result`` (once per node, as each finishes),
then ``ended`` (once) or ``failed`` (the run could not start: bad input, no nodes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pacsadmin.core.dimse.echo_result import EchoResult, EchoSeries, Step
from pacsadmin.core.dimse.transcript import TranscriptLine

SCHEMA_VERSION = 1


class EventFormatError(ValueError):
    """A line that is not an event of this schema (or of another version)."""


@dataclass(frozen=True)
class EchoRunStarted:
    total: int  # nodes to echo
    concurrency: int  # echoes at once


@dataclass(frozen=True)
class EchoNodeResult:
    index: int  # position of the node in the request (names may repeat across sites)
    node: str  # the node's name
    series: EchoSeries


@dataclass(frozen=True)
class EchoRunEnded:
    done: int  # nodes with a result
    total: int
    cancelled: bool


@dataclass(frozen=True)
class EchoRunFailed:
    message: str  # a sentence for people


EchoEvent = EchoRunStarted | EchoNodeResult | EchoRunEnded | EchoRunFailed


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
def encode(ev: EchoEvent) -> str:
    """One line of JSON (no newline) for ``ev``."""
    body: dict[str, Any]
    if isinstance(ev, EchoRunStarted):
        body = {"event": "started", "total": ev.total, "concurrency": ev.concurrency}
    elif isinstance(ev, EchoNodeResult):
        body = {
            "event": "result",
            "index": ev.index,
            "node": ev.node,
            "results": [result_record(r) for r in ev.series.results],
        }
    elif isinstance(ev, EchoRunEnded):
        body = {"event": "ended", "done": ev.done, "total": ev.total, "cancelled": ev.cancelled}
    elif isinstance(ev, EchoRunFailed):
        body = {"event": "failed", "message": ev.message}
    else:  # pragma: no cover - the union above is closed
        raise TypeError(f"not an echo event: {ev!r}")
    return json.dumps({"v": SCHEMA_VERSION, **body}, separators=(",", ":"))


def decode(line: str | bytes) -> EchoEvent:
    """The event on one line; :class:`EventFormatError` when it is not one."""
    try:
        d = json.loads(line)
    except ValueError as exc:
        raise EventFormatError(f"not JSON: {exc}") from None
    if not isinstance(d, dict):
        raise EventFormatError("not a JSON object")
    if d.get("v") != SCHEMA_VERSION:
        raise EventFormatError(
            f"schema version {d.get('v')!r}, this program reads version {SCHEMA_VERSION}"
        )
    kind = d.get("event")
    try:
        if kind == "started":
            return EchoRunStarted(int(d["total"]), int(d["concurrency"]))
        if kind == "result":
            series = EchoSeries(tuple(result_from(r) for r in d["results"]))
            return EchoNodeResult(int(d["index"]), str(d["node"]), series)
        if kind == "ended":
            return EchoRunEnded(int(d["done"]), int(d["total"]), bool(d["cancelled"]))
        if kind == "failed":
            return EchoRunFailed(str(d["message"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise EventFormatError(f"a {kind!r} event without a valid {exc}") from None
    raise EventFormatError(f"unknown event {kind!r}")
