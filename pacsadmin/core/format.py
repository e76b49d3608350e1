"""How every DICOM value and quantity is shown to people: one module, no Qt.

The GUI (tables, the viewer's corners, dialogs) and the CLI's text output call these
functions; machine-readable output (``--json``) keeps the raw values.  Every function takes
untrusted text and never raises on a malformed value: what it cannot parse it returns as
the raw text, stripped.

Dates and times follow :func:`configure` (or the ``PACSADMIN_DATE_STYLE`` environment
variable, read once at import):

* ``"auto"`` (the default): the user's locale when one is set (``LC_TIME``/``LANG``; the
  GUI's QApplication applies it at start-up on Unix), ISO 8601 otherwise, so a headless
  run, a test or a ``C``/``POSIX`` locale gets ``2024-03-05 14:30:05``;
* ``"iso"``: always ISO 8601 (``2024-03-05``, ``14:30:05``);
* ``"locale"``: always the locale's ``%x``/``%X``;
* any other text containing ``%``: a :func:`time.strftime` pattern for dates (times stay
  ISO).
"""

from __future__ import annotations

import locale
import math
import os
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from datetime import time as dtime

__all__ = [
    "configure",
    "date_style",
    "format_ae",
    "format_bytes_rate",
    "format_da",
    "format_dt",
    "format_duration",
    "format_number",
    "format_pn",
    "format_rate",
    "format_size",
    "format_status",
    "format_table",
    "format_text",
    "format_timestamp",
    "format_tm",
    "format_value",
    "format_window",
]

_style = os.environ.get("PACSADMIN_DATE_STYLE", "auto").strip() or "auto"


def configure(style: str) -> None:
    """Set how dates and times are shown: ``auto``, ``iso``, ``locale`` or a strftime
    pattern for dates (see the module docstring)."""
    global _style
    _style = style.strip() or "auto"


def date_style() -> str:
    return _style


def _use_locale() -> bool:
    if _style == "locale":
        return True
    if _style != "auto":
        return False
    try:
        name = locale.setlocale(locale.LC_TIME)  # a query: changes nothing
    except (locale.Error, ValueError):
        return False
    return name not in ("C", "POSIX", "C.UTF-8", "C.utf8", "")


def _fmt_date(d: date) -> str:
    if "%" in _style:
        try:
            return d.strftime(_style)
        except (ValueError, UnicodeError):
            return d.isoformat()
    if _use_locale():
        return d.strftime("%x")
    return d.isoformat()


def _fmt_time(t: dtime, parts: int, fraction: str) -> str:
    """``parts``: how many of hours, minutes and seconds the value gave (1-3)."""
    if parts == 3 and _use_locale():
        return t.strftime("%X")
    text = f"{t.hour:02d}" + (f":{t.minute:02d}" if parts >= 2 else ":00")
    if parts >= 3:
        text += f":{t.second:02d}"
        if fraction:
            text += "." + fraction
    return text


# ------------------------------------------------------------------ PN
def format_pn(value: object, *, upper_family: bool = True, all_groups: bool = False) -> str:
    """A DICOM person name (PN) for a person.

    ``DOE^John^Albert^Dr.^Jr.`` -> ``DOE, Dr. John Albert, Jr.``: the family name first
    (upper case by convention, so it is never taken for a given name), then prefix, given
    and middle names, then the suffix.  A PN has up to three component groups, alphabetic
    ``=`` ideographic ``=`` phonetic: the first non-empty one is shown; with ``all_groups``
    the others follow in brackets (``YAMADA, Tarou (山田, 太郎)``).  Empty: ``""``.
    """
    text = "" if value is None else str(value)
    groups = [_pn_group(g, upper_family) for g in text.split("=")[:3]]
    shown = [g for g in groups if g]
    if not shown:
        return ""
    if all_groups and len(shown) > 1:
        return f"{shown[0]} ({' / '.join(dict.fromkeys(shown[1:]))})"
    return shown[0]


def _pn_group(group: str, upper_family: bool) -> str:
    parts = [p.strip() for p in group.split("^")]
    if len(parts) > 5:  # malformed: keep the extra components with the suffix
        parts = [*parts[:4], " ".join(p for p in parts[4:] if p)]
    family, given, middle, prefix, suffix = [*parts, "", "", "", ""][:5]
    if upper_family:
        family = family.upper()
    first = " ".join(p for p in (prefix, given, middle) if p)
    text = ", ".join(p for p in (family, first) if p)
    if suffix:
        text = f"{text}, {suffix}" if text else suffix
    return text


# ------------------------------------------------------------------ DA, TM, DT
_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")  # YYYYMMDD, or ACR-NEMA YYYY.MM.DD
_TM = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?$")


def _parse_da(text: str) -> date | None:
    m = _DA.match(text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def format_da(value: object) -> str:
    """A DICOM date (DA) in the configured style; a range ``A-B`` as ``A – B``; a value
    that is not a valid date comes back as the raw text."""
    text = "" if value is None else str(value).strip()
    if "-" in text and text.count("-") == 1:  # a query range, open at either end
        lo, hi = (s.strip() for s in text.split("-"))
        a, b = _parse_da(lo), _parse_da(hi)
        if (a or not lo) and (b or not hi) and (a or b):
            return f"{_fmt_date(a) if a else ''} – {_fmt_date(b) if b else ''}".strip()
        return text
    d = _parse_da(text)
    return _fmt_date(d) if d else text


def format_tm(value: object, *, fraction: bool = False) -> str:
    """A DICOM time (TM): ``143005.123`` -> ``14:30:05`` (``.123`` with ``fraction``);
    ``14`` -> ``14:00``; ``1430`` -> ``14:30``.  Invalid: the raw text."""
    text = "" if value is None else str(value).strip()
    m = _TM.match(text)
    if not m:
        return text
    hh, mm, ss = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    if ss == 60:  # a leap second is allowed by DICOM, not by datetime
        ss = 59
    try:
        t = dtime(hh, mm, ss)
    except ValueError:
        return text
    parts = 1 + (m[2] is not None) + (m[3] is not None)
    return _fmt_time(t, parts, (m[4] or "") if fraction else "")


def format_dt(value: object, *, fraction: bool = False) -> str:
    """A DICOM date-time (DT), ``YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX]``: the date as
    :func:`format_da`, the time as :func:`format_tm`, the offset as ``UTC+01:00``.
    Partial dates stay partial (``2024``, ``2024-03``).  Invalid: the raw text."""
    text = "" if value is None else str(value).strip()
    m = _DT.match(text)
    if not m:
        return text
    year, month, day = m[1], m[2], m[3]
    try:
        if day:
            d_text = _fmt_date(date(int(year), int(month), int(day)))
        elif month:
            if not 1 <= int(month) <= 12:
                return text
            d_text = f"{year}-{month}"
        else:
            d_text = year
        t_text = ""
        if m[4]:
            if not day:
                return text
            parts = 1 + bool(m[5]) + bool(m[6])
            t = dtime(int(m[4]), int(m[5] or 0), min(59, int(m[6] or 0)))
            t_text = _fmt_time(t, parts, (m[7] or "") if fraction else "")
    except ValueError:
        return text
    out = f"{d_text} {t_text}".strip()
    if m[8]:
        out += f" UTC{m[8][0]}{m[8][1:3]}:{m[8][3:]}"
    return out


def format_timestamp(ts: float | None, *, seconds: bool = True) -> str:
    """A POSIX time (the audit log, the last echo) as local date and time."""
    if ts is None:
        return ""
    try:
        dt = datetime.fromtimestamp(ts)
    except (OverflowError, OSError, ValueError):
        return str(ts)
    t = dt.time().replace(microsecond=0)
    return f"{_fmt_date(dt.date())} {_fmt_time(t, 3 if seconds else 2, '')}"


def format_value(value: object, vr: str) -> str:
    """Any element value for a person, by its VR (PN, DA, TM, DT; the rest as text)."""
    if vr == "PN":
        return format_pn(value)
    if vr == "DA":
        return format_da(value)
    if vr == "TM":
        return format_tm(value)
    if vr == "DT":
        return format_dt(value)
    return "" if value is None else str(value).strip()


# ------------------------------------------------------------------ quantities
_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def format_size(n: float | None) -> str:
    """Bytes in SI units, as file managers show them: ``1234567`` -> ``1.2 MB``
    (1 kB = 1000 B); under 10 of a unit one decimal, above none (``12 MB``)."""
    if n is None or not math.isfinite(n):
        return ""
    size, sign = abs(float(n)), "-" if n < 0 else ""
    for unit in _UNITS:
        if size < 1000 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{sign}{size:.0f} B"
            if round(size, 1) < 10:
                return f"{sign}{size:.1f} {unit}"
            if round(size) < 1000 or unit == _UNITS[-1]:
                return f"{sign}{size:.0f} {unit}"
        size /= 1000
    return f"{sign}{size:.0f} {_UNITS[-1]}"  # pragma: no cover


def format_duration(seconds: float | None) -> str:
    """``0.0421`` -> ``42 ms``; ``4.2`` -> ``4.2 s``; ``65`` -> ``1 min 05 s``;
    ``7380`` -> ``2 h 03 min``."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    s = max(0.0, float(seconds))
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    whole = round(s)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def format_rate(count: float, seconds: float | None, unit: str = "img") -> str:
    """``count`` things in ``seconds``: ``12.3 img/s`` (one decimal under 100); empty when
    no time has passed."""
    if not seconds or seconds <= 0 or not math.isfinite(seconds):
        return ""
    rate = count / seconds
    return f"{rate:.1f} {unit}/s" if rate < 100 else f"{rate:.0f} {unit}/s"


def format_bytes_rate(nbytes: float, seconds: float | None) -> str:
    """``45.6 MB/s``; empty when no time has passed."""
    if not seconds or seconds <= 0 or not math.isfinite(seconds):
        return ""
    return format_size(nbytes / seconds) + "/s"


def format_number(x: float | int | str | None, decimals: int = 2) -> str:
    """A measurement without stray decimals: ``400.0`` -> ``400``, ``1500.5`` -> ``1500.5``,
    ``0.3333`` -> ``0.33``, ``-0.0`` -> ``0``.  Text that is no number comes back as is."""
    if x is None:
        return ""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x).strip()
    if not math.isfinite(v):
        return str(x).strip()
    text = f"{v:.{decimals}f}".rstrip("0").rstrip(".") if decimals > 0 else f"{v:.0f}"
    return "0" if text in ("-0", "") else text


def format_window(width: float | None, level: float | None) -> str:
    """``W 400 L 40``; either part alone when the other is unknown."""
    parts = []
    if width is not None:
        parts.append(f"W {format_number(width)}")
    if level is not None:
        parts.append(f"L {format_number(level)}")
    return " ".join(parts)


# ------------------------------------------------------------------ text and tables
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def format_text(value: object, limit: int = 0) -> str:
    """Untrusted text on one line: control characters (escape sequences a terminal would
    obey among them) shown as ``\\x1b``, newlines folded, cut at ``limit`` with ``…``."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\n", " ").strip())
    return text if not limit or len(text) <= limit else text[: limit - 1] + "…"


def format_table(
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    right: tuple[int, ...] = (),
    limits: dict[int, int] | None = None,
) -> list[str]:
    """Plain-text table lines: a header row, then columns two spaces apart, as wide as
    their longest cell (``limits``: a column's widest, cut with ``…``); ``right``: the
    columns aligned right (numbers)."""
    limits = limits or {}
    cells = [[format_text(c, limits.get(i, 0)) for i, c in enumerate(r)] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for r in cells:
        pairs = enumerate(zip(r, widths, strict=True))
        cols = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs]
        lines.append("  ".join(cols).rstrip())
    return lines


# ------------------------------------------------------------------ network
def format_ae(ae_title: str, host: str = "", port: int | None = None) -> str:
    """``PACS@10.0.0.5:104``; IPv6 hosts in brackets (``PACS@[::1]:104``)."""
    ae = (ae_title or "").strip()
    if not host:
        return ae
    h = f"[{host}]" if ":" in host and not host.startswith("[") else host
    where = f"{h}:{port}" if port is not None else h
    return f"{ae}@{where}" if ae else where


def format_status(code: object, name: str = "") -> str:
    """A DIMSE status as ``0xA801 Refused: move destination unknown``.

    ``code`` is a number (``0xA801``, ``"0xA801"``, ``"43009"``) with its ``name``, or a
    looked-up status (anything with ``code`` and ``name``, as
    :func:`pacsadmin.core.dimse.status.status_info` returns; the lookup lives there, so
    this module stays a basic the network layer may use).  Not a 16-bit number: the raw
    text."""
    if code is None:
        return ""
    looked_up = getattr(code, "name", None)
    if looked_up is not None and hasattr(code, "code"):
        code, name = code.code, name or str(looked_up)
    try:
        n = int(code, 0) if isinstance(code, str) else int(code)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(code).strip()
    if not 0 <= n <= 0xFFFF:
        return str(code).strip()
    return f"0x{n:04X} {name.strip()}".strip()
