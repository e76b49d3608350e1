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
values as an echo run in its own process; a transcript line is an array
``[t_ms, direction, kind, text]``.  The codec is :mod:`pacsadmin.core.event_lines`.

Events, in order: ``started`` (once), ``result`` (once per node, as each finishes),
then ``ended`` (once) or ``failed`` (the run could not start: bad input, no nodes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from pacsadmin.core.dimse.echo_result import EchoSeries
from pacsadmin.core.dimse.transcript import TranscriptLine
from pacsadmin.core.event_lines import INLINE, Codec
from pacsadmin.core.event_lines import Unreadable as Unreadable  # re-exported
from pacsadmin.core.event_lines import Unsupported as Unsupported

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
    series: EchoSeries = field(metadata=INLINE)  # on the line as "results": [...]


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
EVENT_TYPES = (EchoRunStarted, EchoNodeResult, EchoRunEnded, EchoRunFailed)


_CODEC: Codec[EchoEvent] = Codec(
    SCHEMA_VERSION, EVENT_TYPES, MAX_LINE, writer="the echo process", arrays=[TranscriptLine]
)
Parsed = EchoEvent | Unreadable | Unsupported
to_json_line = _CODEC.to_json_line  # one JSON line (no newline): the version and kind first
parse_line = _CODEC.parse_line  # the event on a line (str or bytes), or why not; never raises
