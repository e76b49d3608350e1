"""C-FIND results as plain, frozen data: one :class:`FindMatch` per pending response and
a :class:`FindResult` at the end.

A match holds its identifier's values as plain Python (keyword -> ``str``, ``list[str]``
for several values, ``list[dict]`` for a sequence), decoded with the identifier's own
Specific Character Set (PS3.5 6.1).  Text is decoded strictly: bytes that the declared
character set cannot carry (or an unknown character set, or an identifier that does not
parse) make the match *unreadable*, with the reason and the values as far as they could
be read, so one bad record never ends a query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pacsadmin.core.dimse.status import Outcome

# the small round counts a PACS's result limit is set to; from 1000 up, every multiple of 500
_SMALL_ROUND = frozenset({100, 200, 250, 300, 400, 500})
_TEXT_VRS = {"SH", "LO", "ST", "LT", "UT", "UC", "PN"}
_SINGLE_VALUED = {"ST", "LT", "UT"}  # a backslash in these is text, not a delimiter
_ASCII_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"}


@dataclass(frozen=True)
class FindMatch:
    """One pending C-FIND response.  ``values``: keyword (or ``"GGGGEEEE"`` for an
    attribute without a keyword) -> value; ``unreadable``: why it could not be decoded
    ("" when it could)."""

    index: int
    status: int
    values: dict[str, Any] = field(hash=False)
    unreadable: str = ""

    def get(self, keyword: str, default: str = "") -> Any:
        return self.values.get(keyword, default)


@dataclass(frozen=True)
class FindResult:
    node_name: str
    target: str
    calling_ae: str
    query: str  # "Study Root, STUDY level"
    matches: tuple[FindMatch, ...]
    outcome: Outcome  # FAILURE also when the query never reached the peer
    status: int | None  # the final DIMSE status, None when none arrived
    sentence: str  # what happened, for people
    advice: str = ""
    cancelled: bool = False
    msg_id: int = 1
    cancel_msg_id: int | None = None  # the Message ID Being Responded To of our C-CANCEL
    aborted: bool = False  # we aborted the association (peer silent after cancel, timeout)
    capped: str = ""  # a sentence when the count looks like the PACS's limit
    elapsed_ms: float = 0.0
    first_ms: float | None = None  # from the request to the first match
    transcript: tuple[Any, ...] = ()

    @property
    def ok(self) -> bool:
        """The query ran to its end (success or warning), or was cancelled by the user."""
        return self.cancelled or self.outcome in (Outcome.SUCCESS, Outcome.WARNING)

    @property
    def unreadable(self) -> int:
        return sum(1 for m in self.matches if m.unreadable)

    @property
    def summary(self) -> str:
        n = len(self.matches)
        text = f"{n} match{'es' if n != 1 else ''}"
        if self.unreadable:
            text += f" ({self.unreadable} unreadable)"
        text += f"; {self.sentence}"
        if self.capped:
            text += f" {self.capped}"
        return text


def looks_capped(count: int) -> bool:
    """A count of matches that is likely a PACS's configured limit, not the truth: 100,
    200, 250, 300, 400, 500, then any multiple of 500 from 1000 (1000, 1500, 2000, 5000,
    10000, 50000...).  Limits are set by people, who pick round numbers; a real answer
    lands on one of these about once in 500."""
    return count in _SMALL_ROUND or (count >= 1000 and count % 500 == 0)


def cap_warning(count: int, outcome: Outcome) -> str:
    if looks_capped(count) and outcome in (Outcome.SUCCESS, Outcome.WARNING):
        return (
            f"Exactly {count} matches, a round number: the PACS has probably capped the "
            "answer at its limit. Narrow the query (a shorter date range, a patient ID) "
            "to see the rest."
        )
    return ""


# ------------------------------------------------------------------ identifier -> values
class Unreadable(Exception):
    pass


def _codecs(charset: Any) -> tuple[list[str], str | None]:
    """(the character set terms, the one strict Python codec or None for ISO 2022)."""
    from pydicom.charset import python_encoding

    if charset is None or charset == "":
        terms: list[str] = []
    elif isinstance(charset, str):
        terms = [charset]
    else:
        terms = [str(t) for t in charset]
    terms = [t.strip() for t in terms]
    if not terms or (len(terms) == 1 and terms[0] in ("", "ISO_IR 6")):
        return terms, "ascii"
    for t in terms:
        if t and t not in python_encoding:
            raise Unreadable(f"unknown character set {t!r}")
    if len(terms) == 1 and not terms[0].startswith("ISO 2022"):
        return terms, python_encoding[terms[0]]
    return terms, None


def _text(raw: bytes, vr: str, terms: list[str], codec: str | None, problems: list[str]) -> str:
    if codec is not None:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            cs = terms[0] if terms else "the default repertoire (no Specific Character Set)"
            problems.append(f"bytes that {cs} cannot carry")
            return raw.decode("latin-1" if codec == "ascii" else codec, "replace")
    from pydicom.charset import decode_bytes

    delimiters = {0x5E, 0x3D} if vr == "PN" else {0x5C}  # ^ = for names, \ otherwise
    return decode_bytes(raw, terms, delimiters)


def _split(text: str, vr: str) -> str | list[str]:
    text = text.rstrip("\x00 ") if vr not in ("UT",) else text.rstrip("\x00")
    if vr in _SINGLE_VALUED or "\\" not in text:
        return text.strip() if vr in _ASCII_VRS else text
    parts = [p.strip() if vr in _ASCII_VRS else p.rstrip() for p in text.split("\\")]
    return parts


def _values(ds: Any, terms: list[str], codec: str | None, problems: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tag in list(ds.keys()):
        t = int(tag)
        if t >> 16 in (0x0000, 0x0002):
            continue
        try:
            key, value = _element(ds, tag, terms, codec, problems)
        except Exception as exc:  # one broken element: the others are still read
            problems.append(
                f"({t >> 16:04X},{t & 0xFFFF:04X}) does not parse ({type(exc).__name__})"
            )
            continue
        out[key] = value
    return out


_names: dict[int, tuple[str, str]] = {}


def _name(tag: int) -> tuple[str, str]:
    """(keyword or "GGGGEEEE", the dictionary's VR or UN), remembered per tag."""
    known = _names.get(tag)
    if known is not None:
        return known
    from pydicom.datadict import dictionary_VR, keyword_for_tag

    try:
        vr = dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        vr = "UN"
    entry = (keyword_for_tag(tag) or f"{tag:08X}", vr)
    if len(_names) < 4096:
        _names[tag] = entry
    return entry


def _element(
    ds: Any, tag: Any, terms: list[str], codec: str | None, problems: list[str]
) -> tuple[str, Any]:
    t = int(tag)
    raw = ds.get_item(tag)
    key, dict_vr = _name(t)
    vr = getattr(raw, "VR", None) or dict_vr
    value = getattr(raw, "value", None)
    if vr == "SQ":
        items = ds[tag].value or []
        return key, [_values(item, terms, codec, problems) for item in items]
    if value is None or value == b"":
        return key, ""
    if isinstance(value, bytes) and vr in _TEXT_VRS:
        return key, _split(_text(value, vr, terms, codec, problems), vr)
    if isinstance(value, bytes) and vr in _ASCII_VRS:
        try:
            return key, _split(value.decode("ascii"), vr)
        except UnicodeDecodeError:
            problems.append(f"{key} has bytes outside ASCII")
            return key, _split(value.decode("latin-1"), vr)
    if isinstance(value, bytes) and vr in ("OB", "OW", "UN", "OD", "OF", "OL", "OV"):
        return key, value.hex()
    v = ds[tag].value  # numbers (US, UL, FD...) and elements pydicom already converted
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return key, [str(x) for x in v]
    return key, "" if v is None else str(v)


def to_match(index: int, status: int, identifier: Any) -> FindMatch:
    """The match for one pending response; never raises."""
    if identifier is None:
        return FindMatch(index, status, {}, "the identifier could not be parsed")
    problems: list[str] = []
    values: dict[str, Any] = {}
    try:
        cs_raw = identifier.get_item(0x00080005)
        cs: Any = None
        if cs_raw is not None:
            cs_value = getattr(cs_raw, "value", None)
            if isinstance(cs_value, bytes):
                cs = [t.strip() for t in cs_value.decode("ascii", "replace").split("\\")]
                cs = [t for t in cs] if len(cs) > 1 else cs[0]
            else:
                cs = identifier.SpecificCharacterSet
        try:
            terms, codec = _codecs(cs)
        except Unreadable as exc:
            problems.append(str(exc))
            terms, codec = [], "latin-1"
        values = _values(identifier, terms, codec, problems)
    except Exception as exc:  # a broken identifier: a row marked unreadable, not a crash
        problems.append(f"the identifier does not parse ({type(exc).__name__}: {exc})")
    reason = "; ".join(dict.fromkeys(problems))
    return FindMatch(index, status, values, reason)
