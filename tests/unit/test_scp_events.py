"""The ``serve --events`` contract: every event type round-trips through one JSON line, and
a reader gets a clear result (never an exception) for anything else."""

from __future__ import annotations

import dataclasses
import errno
import json
import socket

import pytest

from pacsadmin.core.dimse import scp_events
from pacsadmin.core.dimse.scp_events import (
    EVENT_TYPES,
    MAX_ERRORS,
    MAX_LINE,
    MAX_TEXT,
    SCHEMA_VERSION,
    AssociationClosed,
    AssociationOpened,
    AssociationProgress,
    Failed,
    Listening,
    Stopped,
    Unreadable,
    Unsupported,
    listen_failure,
    parse_line,
    to_json_line,
)

SAMPLES = [
    Listening(4242, "PACSADMIN", 11112, "127.0.0.1"),
    Failed(4242, scp_events.PORT_IN_USE, "port 11112 is already in use by another program"),
    Stopped(4242, scp_events.STOP_PARENT_GONE, "the process that started it ended"),
    AssociationOpened(4242, 1, "MODALITY", "PACSADMIN", "10.0.0.7", 40001, started=1.5),
    AssociationProgress(4242, 1, "MODALITY", stored=12, duplicates=1, bytes=6_000_000,
                        started=1.5, errors=("cannot understand: NotIndexable",), failed=1),
    AssociationClosed(4242, 1, "MODALITY", "PACSADMIN", "10.0.0.7", 40001, 1.5, 9.25,
                      stored=500, duplicates=3, failed=2, bytes=10**9, finds=1, moves=2,
                      gets=3, aborted=True, rejected="", errors=("disk full: 0xA700 sent",) * 2,
                      errors_more=7, transcript_file="/home/u/logs/assoc-4242-000001.txt"),
]  # fmt: skip


def test_every_event_type_is_sampled():
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip(event):
    line = to_json_line(event)
    assert "\n" not in line
    data = json.loads(line)
    assert data["v"] == SCHEMA_VERSION and data["event"] == event.KIND
    back = parse_line(line)
    assert type(back) is type(event) and back == event
    assert parse_line(line.encode() + b"\n") == event  # bytes from a pipe, with the newline


def test_a_close_event_keeps_its_counts_and_key():
    ev = parse_line(to_json_line(SAMPLES[-1]))
    assert isinstance(ev, AssociationClosed)
    assert (ev.stored, ev.duplicates, ev.failed, ev.images) == (500, 3, 2, 503)
    assert ev.key == (4242, 1) and ev.error_count == 9 and ev.ended == 9.25


@pytest.mark.parametrize(
    "line, why",
    [
        ("12:00:01 SCP listening", "not JSON"),
        ('{"v": 1, "event": "open", "pid": 1, "id": ', "not JSON"),
        ("[1, 2, 3]", "not a JSON object"),
        ('{"event": "open", "pid": 1, "id": 1}', "no schema version"),
        ('{"v": "1", "event": "open", "pid": 1, "id": 1}', "no schema version"),
        ('{"v": 1, "pid": 1}', "no event kind"),
        ('{"v": 1, "event": "exploded", "pid": 1}', "unknown event kind 'exploded'"),
        ('{"v": 1, "event": "open", "pid": 1}', "open: no 'id'"),
        ('{"v": 1, "event": "open", "pid": 1, "id": "7"}', "open: 'id' is not int"),
        ('{"v": 1, "event": "open", "pid": 1, "id": true}', "open: 'id' is not int"),
        ('{"v": 1, "event": "close", "pid": 1, "id": 1, "errors": "x"}', "'errors' is not"),
        ('{"v": 1, "event": "close", "pid": 1, "id": 1, "errors": [1]}', "'errors' is not"),
        ('{"v": 1, "event": "close", "pid": 1, "id": 1, "started": NaN}', "'started' is not"),
        ('{"v": 1, "event": "listening", "pid": 1, "ae_title": "A", "port": 1.5}', "'port'"),
        ("\x00\xff garbage \x1b[31m", "not JSON"),
        ('{"v": 1, "event": "open", "pid": 1, "id": 1, "x": ' + "[" * 100_000, "longer"),
    ],
)
def test_a_garbled_line_is_unreadable_with_a_reason(line, why):
    res = parse_line(line)
    assert isinstance(res, Unreadable), res
    assert why in res.why
    assert len(res.line) <= 200  # what a debug log shows of it


def test_deep_nesting_within_the_line_limit_is_unreadable_not_a_crash():
    line = '{"v": 1, "event": "open", "pid": 1, "id": 1, "x": ' + "[" * 30_000 + "]" * 30_000 + "}"
    assert len(line) < MAX_LINE
    res = parse_line(line)
    assert isinstance(res, (Unreadable, AssociationOpened))  # either way, no exception


def test_a_line_of_a_newer_schema_is_unsupported_and_says_so():
    line = json.dumps({"v": SCHEMA_VERSION + 1, "event": "close", "pid": 1, "id": 1,
                       "outcome": {"new": "shape"}})  # fmt: skip
    res = parse_line(line)
    assert isinstance(res, Unsupported)
    assert (res.version, res.kind) == (SCHEMA_VERSION + 1, "close")
    assert "newer pacsadmin" in res.message and f"schema {SCHEMA_VERSION}" in res.message
    older = parse_line(json.dumps({"v": 0, "event": "open"}))
    assert isinstance(older, Unsupported) and "older" in older.message


def test_unknown_fields_are_ignored_and_missing_ones_take_their_defaults():
    """Adding a field with a default keeps the schema version: old and new readers agree."""
    line = json.dumps({"v": SCHEMA_VERSION, "event": "progress", "pid": 3, "id": 9,
                       "stored": 4, "added_later": [1, 2]})  # fmt: skip
    ev = parse_line(line)
    assert ev == AssociationProgress(3, 9, stored=4)


def test_an_oversized_error_list_is_capped_with_a_count_of_the_rest():
    errors = tuple(f"cannot understand: file {i} " + "x" * 1000 for i in range(5000))
    ev = AssociationClosed(1, 1, failed=5000, errors=errors)
    assert len(ev.errors) == MAX_ERRORS and ev.errors_more == 5000 - MAX_ERRORS
    assert ev.error_count == 5000
    assert all(len(e) == MAX_TEXT and e.endswith("…") for e in ev.errors)
    line = to_json_line(ev)
    assert len(line) < 10_000  # 5 MB of errors become a small line
    assert parse_line(line) == ev
    # a writer that does not bound them (another program, a bug) is bounded on reading
    raw = {"v": SCHEMA_VERSION, "event": "close", "pid": 1, "id": 1, "errors": list(errors[:50]),
           "calling_ae": "A" * 5000}  # fmt: skip
    got = parse_line(json.dumps(raw))
    assert isinstance(got, AssociationClosed)
    assert len(got.errors) == MAX_ERRORS and got.errors_more == 30
    assert len(got.calling_ae) == MAX_TEXT


def test_strings_are_bounded_in_every_event():
    long = "y" * 10_000
    assert len(Failed(1, long, long).message) == MAX_TEXT
    assert len(Failed(1, long, long).reason) == 64
    assert len(Stopped(1, "signal", long).message) == MAX_TEXT
    assert len(Listening(1, long, 1).ae_title) == MAX_TEXT
    path = "/" + "d" * 10_000
    assert len(AssociationClosed(1, 1, transcript_file=path).transcript_file) == 4096


def test_events_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SAMPLES[-1].stored = 0  # type: ignore[misc]


def test_a_port_in_use_is_classified_from_the_real_error():
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        a.listen(1)
        port = a.getsockname()[1]
        with pytest.raises(OSError) as info:
            b.bind(("127.0.0.1", port))
    reason, sentence = listen_failure(info.value, port)
    assert reason == scp_events.PORT_IN_USE
    assert sentence.startswith(f"port {port} is already in use by another program")
    with socket.socket() as c, pytest.raises(OSError) as info:
        c.bind(("192.0.2.1", 0))  # TEST-NET-1: never an address of this host
    reason, sentence = listen_failure(info.value, 11112, "192.0.2.1")
    assert reason == scp_events.ADDRESS_UNAVAILABLE and "192.0.2.1" in sentence


def test_permission_denied_says_what_to_do():
    exc = OSError(errno.EACCES, "Permission denied")
    reason, sentence = listen_failure(exc, 104)
    assert reason == scp_events.PERMISSION_DENIED
    assert "port 104" in sentence and "1024" in sentence
    reason, sentence = listen_failure(OSError(errno.ENOBUFS, "No buffer space"), 11112)
    assert reason == scp_events.CANNOT_LISTEN and "No buffer space" in sentence
