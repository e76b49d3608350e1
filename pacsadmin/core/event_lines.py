"""One codec for the typed events a child process prints as JSON lines for the window.

A stream (``serve --events``, ``echo-all --events``) defines its events as frozen
dataclasses with a ``KIND`` class variable and one :class:`Codec`: the writer and the reader
share one definition.  A line is ``{"v": version, "event": kind, field: value, ...}``.
Reading checks each field against its annotation: ``str``, ``bool``, ``int`` (not a bool),
``float`` (finite; JSON may give an int), ``X | None``, ``tuple[X, ...]``, ``list[X]``,
``dict[str, Any]`` and ``Any`` (JSON nested at most ``max_depth`` deep), and dataclasses
(objects; arrays of the field values for the classes in ``arrays``; the fields of an
:data:`INLINE` one sit on the line itself).  Unknown fields are ignored and missing ones take
their defaults: adding a field with a default keeps the version, any other change bumps it.
:meth:`Codec.parse_line` never raises: a line that is too long, not JSON, of a wrong shape or
an unknown kind is :class:`Unreadable`, one of another version :class:`Unsupported`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar


class _Kind(Protocol):
    KIND: ClassVar[str]  # the "event" of its lines


E = TypeVar("E", bound=_Kind)
INLINE = {"inline": True}  # field(metadata=INLINE): the dataclass's fields sit on the line


def cut(text: object, limit: int) -> str:
    """``text`` as a string of at most ``limit`` characters (an ellipsis marks a cut)."""
    t = str(text)
    return t if len(t) <= limit else t[: limit - 1] + "…"


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
    reads: int = field(default=0, compare=False)  # the version the reader reads
    writer: str = field(default="the process", compare=False)  # "the SCP process"

    @property
    def message(self) -> str:
        side = "newer" if self.version > self.reads else "older"
        return (
            f"{self.writer} speaks events schema {self.version} (a {side} pacsadmin); "
            f"this one reads schema {self.reads}"
        )


class _Bad(Exception):
    """A field that is missing or of the wrong type (the message names it)."""


def _not(path: str, tp: Any) -> _Bad:
    name = tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")
    return _Bad(f"{path!r} is not {name} (a field of the wrong type)")


class Codec(Generic[E]):
    """The JSON lines of one event stream: ``kinds`` are its event dataclasses (``E``)."""

    def __init__(
        self,
        version: int,
        kinds: Iterable[type[E]],
        max_line: int,
        *,
        writer: str = "the process",
        arrays: Iterable[type] = (),
        max_depth: int = 32,
    ) -> None:
        self.version, self.max_line, self.writer = version, max_line, writer
        self.kinds: dict[str, type[E]] = {k.KIND: k for k in kinds}
        self.arrays, self.max_depth = frozenset(arrays), max_depth

    # ------------------------------------------------------------------ writing
    def to_json_line(self, event: E) -> str:
        """One JSON line (no newline) for ``event``: the version and kind first."""
        data: dict[str, Any] = {"v": self.version, "event": event.KIND}
        data.update(self._plain(event))
        return json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))

    def _plain(self, value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            if type(value) in self.arrays:
                return [self._plain(getattr(value, f.name)) for f in dataclasses.fields(value)]
            out: dict[str, Any] = {}
            for f in dataclasses.fields(value):
                v = self._plain(getattr(value, f.name))
                if f.metadata.get("inline"):
                    out.update(v)
                else:
                    out[f.name] = v
            return out
        if isinstance(value, (tuple, list)):
            return [self._plain(v) for v in value]
        if isinstance(value, dict):
            return {k: self._plain(v) for k, v in value.items()}
        return value

    # ------------------------------------------------------------------ reading
    def parse_line(self, line: str | bytes) -> E | Unreadable | Unsupported:
        """The event on ``line`` (bytes from a pipe too), or why there is none; never raises."""
        if isinstance(line, bytes):
            line = line.decode("utf-8", "replace")
        head = cut(line.strip(), 200)
        if len(line) > self.max_line:
            return Unreadable(head, f"longer than {self.max_line} bytes")
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):
            return Unreadable(head, "not JSON")
        if not isinstance(data, dict):
            return Unreadable(head, "not a JSON object")
        version, kind = data.get("v"), data.get("event")
        if type(version) is not int:
            return Unreadable(head, "no schema version")
        if not isinstance(kind, str):
            return Unreadable(head, "no event kind")
        if version != self.version:
            return Unsupported(version, cut(kind, 64), self.version, self.writer)
        cls = self.kinds.get(kind)
        if cls is None:
            return Unreadable(head, f"unknown event kind {cut(kind, 64)!r}")
        try:
            event: E = self._record(cls, data, "")
            return event
        except _Bad as bad:
            return Unreadable(head, f"{kind}: {bad}")
        except (TypeError, ValueError, RecursionError) as exc:  # a __post_init__ refused it
            return Unreadable(head, f"{kind}: {type(exc).__name__}: {cut(exc, 100)}")

    def _record(self, cls: type, data: Any, path: str) -> Any:
        fields = dataclasses.fields(cls)
        if cls in self.arrays and isinstance(data, list):
            data = {f.name: v for f, v in zip(fields, data, strict=False)}
        if not isinstance(data, dict):
            raise _not(path, cls)
        hints = _hints(cls)
        kw: dict[str, Any] = {}
        for f in fields:
            where = f"{path}.{f.name}" if path else f.name
            if f.metadata.get("inline"):
                kw[f.name] = self._record(hints[f.name], data, path)
            elif f.name in data:
                kw[f.name] = self._value(hints[f.name], data[f.name], where)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _Bad(f"no {where!r}")
        return cls(**kw)

    def _value(self, tp: Any, v: Any, path: str) -> Any:
        """``v`` converted to the annotation ``tp``; raises :class:`_Bad` naming ``path``."""
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if _is_record(tp):
            return self._record(tp, v, path)
        if tp is Any or origin is dict:
            if (origin is dict and not isinstance(v, dict)) or not self._shallow(v):
                raise _not(path, tp)
            return v
        if origin in (typing.Union, types.UnionType):
            if v is None and type(None) in args:
                return None
            rest = [a for a in args if a is not type(None)]
            try:
                if len(rest) == 1:
                    return self._value(rest[0], v, path)
            except _Bad:
                if _is_record(rest[0]):
                    raise  # it names the nested field
        elif origin in (tuple, list) and isinstance(v, list) and args[1:] in ((), (...,)):
            item = args[0]  # tuple[X, ...] or list[X]; a fixed-length tuple is not a field type
            try:
                return origin(self._value(item, x, f"{path}[{i}]") for i, x in enumerate(v))
            except _Bad:
                if _is_record(item):
                    raise
        elif tp is float and type(v) in (int, float) and math.isfinite(v):
            return float(v)
        elif (tp is int and type(v) is int) or (tp in (str, bool) and isinstance(v, tp)):
            return v
        raise _not(path, tp)

    def _shallow(self, v: Any) -> bool:
        """Whether the JSON value ``v`` nests at most ``max_depth`` deep."""
        level: list[Any] = [v]
        for _ in range(self.max_depth):
            level = [y for x in level if isinstance(x, (dict, list))
                     for y in (x.values() if isinstance(x, dict) else x)]  # fmt: skip
        return not level


_hints = functools.cache(typing.get_type_hints)  # a dataclass's field types, resolved


def _is_record(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)
