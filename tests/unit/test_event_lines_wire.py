"""The JSON lines of ``serve --events`` and ``echo-all --events`` stay byte-for-byte what
they were when each stream had a codec of its own: a reader of either age follows a writer
of the other.  ``data/event_lines_wire.jsonl`` holds the lines the old codecs wrote for
:func:`samples`, one per line, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from pacsadmin.core.dimse import echo_events, scp_events
from pacsadmin.core.dimse.echo_result import EchoResult, EchoSeries, Step
from pacsadmin.core.dimse.transcript import TranscriptLine

WIRE = Path(__file__).parent / "data" / "event_lines_wire.jsonl"


def _echo_result(ok: bool) -> EchoResult:
    steps = (
        Step("dns", "ok", 0.25, "127.0.0.1"),
        Step("tcp", "ok", 1.0, "connected"),
        Step("associate", "ok" if ok else "failed", None if not ok else 2.5, "accepted",
             "" if ok else "Check the called AE title."),
    )  # fmt: skip
    return EchoResult(
        node_name="Main PACS",
        target="PACS@127.0.0.1:11112",
        calling_ae="PACSADMIN",
        started_at="2026-12-03T14:00:00+00:00",
        steps=steps,
        contexts=({"id": 1, "abstract": "1.2.840.10008.1.1", "result": 0,
                   "transfer_syntax": ["1.2.840.10008.1.2"], "name": "Verification"},)
        if ok else (),
        transcript=(TranscriptLine(0.0, "--", "TCP", "connect"),
                    TranscriptLine(1.5, ">>", "A-ASSOCIATE-RQ", "called PACS, calling PACSADMIN"),
                    TranscriptLine(3, "<<", "C-ECHO-RSP", "Status 0x0000 \u00e9\u2603")),
        echo_status=0 if ok else None,
        total_ms=12.75 if ok else 0.0,
        peer_implementation="OFFIS_DCMTK_369" if ok else "",
        tls_info={"version": "TLSv1.3", "verified": True} if ok else {},
    )  # fmt: skip


def samples() -> list[object]:
    s = scp_events
    return [
        s.Listening(4242, "PACSADMIN", 11112, "127.0.0.1"),
        s.Listening(4242, "PACSADMIN", 11112),
        s.Failed(4242, s.PORT_IN_USE, "port 11112 is already in use by another program"),
        s.Stopped(4242, s.STOP_PARENT_GONE, "the process that started it ended"),
        s.Stopped(4242, s.STOP_SIGNAL),
        s.AssociationOpened(4242, 1, "MODALITY", "PACSADMIN", "10.0.0.7", 40001, started=1.5),
        s.AssociationProgress(4242, 1, "MODALITY", stored=12, duplicates=1, bytes=6_000_000,
                              started=1.5, errors=("cannot understand: \u00fc",), failed=1),
        s.AssociationClosed(4242, 1, "MODALITY", "PACSADMIN", "10.0.0.7", 40001, 1.5, 9.25,
                            stored=500, duplicates=3, failed=2, bytes=10**9, finds=1, moves=2,
                            gets=3, aborted=True, rejected="no", errors=("disk full",) * 2,
                            errors_more=7, transcript_file="/home/u/logs/assoc-4242-000001.txt"),
        echo_events.EchoRunStarted(2, 8),
        echo_events.EchoNodeResult(0, "Main PACS", EchoSeries((_echo_result(True),))),
        echo_events.EchoNodeResult(1, "Other", EchoSeries((_echo_result(False),) * 2)),
        echo_events.EchoNodeResult(2, "None", EchoSeries(())),
        echo_events.EchoRunEnded(1, 2, True),
        echo_events.EchoRunFailed("No nodes to echo."),
    ]  # fmt: skip


def _line(ev: object) -> str:
    mod = scp_events if type(ev).__module__ == scp_events.__name__ else echo_events
    return mod.to_json_line(ev)  # type: ignore[arg-type]


def test_every_event_type_of_both_streams_is_sampled():
    kinds = {type(e) for e in samples()}
    assert set(scp_events.EVENT_TYPES) <= kinds
    assert {echo_events.EchoRunStarted, echo_events.EchoNodeResult, echo_events.EchoRunEnded,
            echo_events.EchoRunFailed} <= kinds  # fmt: skip


@pytest.mark.parametrize("i", range(len(samples())))
def test_the_wire_format_is_unchanged(i):
    ev = samples()[i]
    want = WIRE.read_text(encoding="ascii").splitlines()[i]
    assert _line(ev) == want
    mod = scp_events if type(ev).__module__ == scp_events.__name__ else echo_events
    assert mod.parse_line(want) == ev


if __name__ == "__main__":  # regenerate: only when the schema changes on purpose
    WIRE.write_text("".join(_line(e) + "\n" for e in samples()), encoding="ascii")
