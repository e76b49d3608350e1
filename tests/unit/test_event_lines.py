"""The event-line codec shared by ``serve --events`` and ``echo-all --events``: every field
conversion rule, nested records, and a clear result (never an exception) for any line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from pacsadmin.core.event_lines import INLINE, Codec, Unreadable, Unsupported, cut


@dataclass(frozen=True)
class Point:
    x: float
    label: str = ""


@dataclass(frozen=True)
class Pair:  # written as a JSON array [a, b]
    a: int
    b: str


@dataclass(frozen=True)
class Bag:
    points: tuple[Point, ...]
    pairs: tuple[Pair, ...] = ()


@dataclass(frozen=True)
class Every:
    KIND: ClassVar[str] = "every"
    n: int
    ok: bool
    name: str
    t: float
    maybe: float | None
    count: int | None = None
    words: tuple[str, ...] = ()
    numbers: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    anything: Any = None
    where: Point | None = None


@dataclass(frozen=True)
class Nested:
    KIND: ClassVar[str] = "nested"
    id: int
    bag: Bag = field(metadata=INLINE)


@dataclass(frozen=True)
class Picky:
    KIND: ClassVar[str] = "picky"
    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("n must not be negative")


CODEC: Codec[Every | Nested | Picky] = Codec(
    3, [Every, Nested, Picky], 4096, writer="the test process", arrays=[Pair], max_depth=5
)
EVERY = Every(7, True, "n\u00e4me \u2603", 1.5, None, 3, ("a", "b"), [1, 2],
              {"k": [1, {"z": None}]}, [True, "x"], Point(2.0, "p"))  # fmt: skip
NESTED = Nested(9, Bag((Point(1.0), Point(-2.5, "q")), (Pair(1, "one"), Pair(2, "two"))))


def _line(**fields: Any) -> str:
    return json.dumps({"v": 3, **fields})


@pytest.mark.parametrize("event", [EVERY, Nested(1, Bag(())), NESTED, Picky(0)], ids=repr)
def test_round_trip(event):
    line = CODEC.to_json_line(event)
    assert "\n" not in line and line.isascii()
    assert line.startswith(f'{{"v":3,"event":"{event.KIND}",')
    assert CODEC.parse_line(line) == event
    assert CODEC.parse_line(line.encode() + b"\n") == event


def test_nested_records_inline_fields_and_arrays_on_the_wire():
    data = json.loads(CODEC.to_json_line(NESTED))
    assert data == {"v": 3, "event": "nested", "id": 9,
                    "points": [{"x": 1.0, "label": ""}, {"x": -2.5, "label": "q"}],
                    "pairs": [[1, "one"], [2, "two"]]}  # fmt: skip


def test_json_ints_become_floats_and_missing_fields_take_defaults():
    got = CODEC.parse_line(_line(event="every", n=1, ok=False, name="", t=2, maybe=3))
    assert got == Every(1, False, "", 2.0, 3.0)
    assert type(got.t) is float and type(got.maybe) is float
    got = CODEC.parse_line(_line(event="nested", id=1, points=[{"x": 0}], pairs=[[5, "f"]]))
    assert got == Nested(1, Bag((Point(0.0),), (Pair(5, "f"),)))


def test_unknown_fields_are_ignored():
    line = _line(event="picky", n=4, later=[1, {"deep": "x"}])
    assert CODEC.parse_line(line) == Picky(4)
    line = _line(event="nested", id=1, points=[{"x": 0, "y": 1}], pairs=[[5, "f", "more"]])
    assert CODEC.parse_line(line) == Nested(1, Bag((Point(0.0),), (Pair(5, "f"),)))


BASE = {"event": "every", "n": 1, "ok": True, "name": "x", "t": 0.5, "maybe": None}


@pytest.mark.parametrize(
    "change, why",
    [
        ({"n": "1"}, "every: 'n' is not int (a field of the wrong type)"),
        ({"n": True}, "'n' is not int"),
        ({"n": 1.0}, "'n' is not int"),
        ({"ok": 1}, "'ok' is not bool"),
        ({"name": 5}, "'name' is not str"),
        ({"name": None}, "'name' is not str"),
        ({"t": "0.5"}, "'t' is not float"),
        ({"t": True}, "'t' is not float"),
        ({"t": float("inf")}, "'t' is not float"),
        ({"maybe": "no"}, "'maybe' is not float | None"),
        ({"count": 1.5}, "'count' is not int | None"),
        ({"words": "ab"}, "'words' is not tuple[str, ...]"),
        ({"words": ["a", 1]}, "'words' is not tuple[str, ...]"),
        ({"numbers": [1, None]}, "'numbers' is not list[int]"),
        ({"extra": [1]}, "'extra' is not dict[str, Any]"),
        ({"extra": {"k": [[[[[1]]]]]}}, "'extra' is not dict"),  # nested deeper than 5
        ({"anything": [[[[[[]]]]]]}, "'anything' is not Any"),
        ({"where": [1]}, "'where' is not Point"),
        ({"where": {"label": "p"}}, "every: no 'where.x'"),
        ({"where": {"x": "1"}}, "'where.x' is not float"),
        ({"name": None, "n": None}, "'n' is not int"),  # the first field in order
    ],
)
def test_a_field_of_the_wrong_type_is_named(change, why):
    got = CODEC.parse_line(_line(**{**BASE, **change}))
    assert isinstance(got, Unreadable), got
    assert why in got.why


def test_a_missing_field_or_nested_field_is_named():
    assert CODEC.parse_line(_line(event="every", n=1)).why == "every: no 'ok'"
    got = CODEC.parse_line(_line(event="nested", id=1))
    assert got.why == "nested: no 'points'"  # an inline record's fields sit on the line
    got = CODEC.parse_line(_line(event="nested", id=1, points=[{"x": 1}, {}]))
    assert got.why == "nested: no 'points[1].x'"
    got = CODEC.parse_line(_line(event="nested", id=1, points=[], pairs=[[1]]))
    assert got.why == "nested: no 'pairs[0].b'"
    got = CODEC.parse_line(_line(event="nested", id=1, points=[], pairs=[["1", "b"]]))
    assert "'pairs[0].a' is not int" in got.why


def test_a_value_the_event_refuses_is_unreadable():
    got = CODEC.parse_line(_line(event="picky", n=-1))
    assert isinstance(got, Unreadable) and "n must not be negative" in got.why


@pytest.mark.parametrize(
    "line, why",
    [
        ("", "not JSON"),
        ("12:00:01 listening", "not JSON"),
        ('{"v": 3, "event": "picky", "n": ', "not JSON"),
        ("\x00\xff garbage \x1b[31m", "not JSON"),
        ('{"v": 3, "event": "picky", "n": NaN}', "'n' is not int"),
        ("[1, 2]", "not a JSON object"),
        ('"text"', "not a JSON object"),
        ('{"event": "picky", "n": 1}', "no schema version"),
        ('{"v": 3.0, "event": "picky", "n": 1}', "no schema version"),
        ('{"v": true, "event": "picky", "n": 1}', "no schema version"),
        ('{"v": 3, "n": 1}', "no event kind"),
        ('{"v": 3, "event": 7}', "no event kind"),
        ('{"v": 3, "event": "exploded"}', "unknown event kind 'exploded'"),
        ('{"v": 3, "event": "' + "k" * 500 + '"}', "unknown event kind 'kkk"),
        ('{"v": 3, "event": "picky", "n": 1, "x": "' + "y" * 5000 + '"}', "longer than 4096"),
        ('{"v": 3, "event": "picky", "n": 1, "x": ' + "[" * 4000 + "]" * 40, "not JSON"),
        ('{"v": 3, "event": "picky", "n": 1, "x": ' + "[" * 2000 + "]" * 2000 + "}", ""),
    ],
)
def test_a_garbled_line_is_unreadable_with_a_reason(line, why):
    got = CODEC.parse_line(line)
    if not why:  # deep nesting the JSON parser accepts or refuses: either way no exception
        assert got == Picky(1) or isinstance(got, Unreadable)
        return
    assert isinstance(got, Unreadable), got
    assert why in got.why and len(got.why) < 200
    assert len(got.line) <= 200  # what a debug log shows of it


def test_every_prefix_of_a_line_is_an_event_or_unreadable_never_an_exception():
    line = CODEC.to_json_line(NESTED)
    for end in range(len(line)):
        assert isinstance(CODEC.parse_line(line[:end]), Unreadable)
    raw = line.encode()
    for i in range(0, len(raw), 3):
        CODEC.parse_line(raw[:i] + b"\xff" + raw[i + 1 :])


def test_another_schema_version_is_unsupported_and_says_so():
    got = CODEC.parse_line('{"v": 4, "event": "new kind", "shape": {"all": "different"}}')
    assert got == Unsupported(4, "new kind")
    assert got.message == (
        "the test process speaks events schema 4 (a newer pacsadmin); this one reads schema 3"
    )
    older = CODEC.parse_line(json.dumps({"v": 2, "event": "x" * 100}))
    assert isinstance(older, Unsupported) and "older" in older.message
    assert len(older.kind) == 64


def test_a_field_type_the_codec_does_not_know_is_refused_not_guessed():
    @dataclass(frozen=True)
    class Odd:
        KIND: ClassVar[str] = "odd"
        pair: tuple[int, str]

    codec: Codec[Odd] = Codec(1, [Odd], 1000)
    got = codec.parse_line('{"v": 1, "event": "odd", "pair": [1, "a"]}')
    assert isinstance(got, Unreadable) and "'pair' is not tuple[int, str]" in got.why


def test_cut_bounds_text_and_marks_the_cut():
    assert cut("abc", 3) == "abc"
    assert cut("abcd", 3) == "ab…"
    assert cut(12345, 4) == "123…"
