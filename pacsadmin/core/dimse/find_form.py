"""The Query panel's form as plain data: what an admin fills in, checked and turned into a
:class:`~pacsadmin.core.dimse.find_query.FindQuery` before any traffic.

:class:`QueryForm` holds the fields as text (the GUI's widgets fill it; recent queries are
kept as its JSON in the settings); :meth:`QueryForm.to_query` refuses bad input with a
:class:`~pacsadmin.core.errors.ValidationError` whose message names the field: a date that
is not a date, an extra key that is not a DICOM keyword or tag number.  The date presets
(today, yesterday, the last 7 days) are resolved against the day the query runs, so a
recent "Today" query asks for the day it is re-run.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, timedelta
from typing import Any

from pacsadmin.core.dimse.find_query import MODEL_NAMES, FindQuery, check_level, resolve_key
from pacsadmin.core.errors import ValidationError

PRESETS = ("any", "today", "yesterday", "last7", "custom")
PRESET_NAMES = {
    "any": "Any date",
    "today": "Today",
    "yesterday": "Yesterday",
    "last7": "Last 7 days",
    "custom": "Custom range",
}
WILDCARD_HINT = "* matches any run of characters, ? one character (DOE* or D?E^JOHN)"
_DA = re.compile(r"^\d{8}$")
RECENT_LIMIT = 15


def preset_range(preset: str, today: date) -> tuple[date, date] | None:
    """The (first, last) day of a preset; None for "any" and "custom"."""
    if preset == "today":
        return today, today
    if preset == "yesterday":
        d = today - timedelta(days=1)
        return d, d
    if preset == "last7":
        return today - timedelta(days=6), today
    return None


def da(d: date) -> str:
    return d.strftime("%Y%m%d")


def parse_da(text: str, field: str, label: str) -> date:
    """``YYYYMMDD`` -> a date, or a ValidationError naming the field."""
    t = text.strip()
    if _DA.match(t):
        try:
            return date(int(t[:4]), int(t[4:6]), int(t[6:]))
        except ValueError:
            pass
    raise ValidationError(field, f"{label}: {text!r} is not a date (YYYYMMDD, e.g. 20240131).")


def check_date_match(text: str, field: str, label: str) -> str:
    """A DA matching value: empty, ``YYYYMMDD``, or a range ``A-B``, ``A-``, ``-B``."""
    t = text.strip()
    if not t:
        return ""
    bad = ValidationError(
        field,
        f"{label}: {text!r} is not a date (YYYYMMDD) or a range of dates (20240101-20240131, "
        "20240101-, -20240131).",
    )
    lo, dash, hi = t.partition("-")
    if t.count("-") > 1 or (dash and not lo.strip() and not hi.strip()):
        raise bad
    try:
        a = parse_da(lo, field, label) if lo.strip() else None
        b = parse_da(hi, field, label) if hi.strip() else None
    except ValidationError:
        raise bad from None
    if a and b and b < a:
        raise ValidationError(field, f"{label}: the range {text!r} ends before it begins.")
    return f"{lo.strip()}{dash}{hi.strip()}"


def parse_extra_keys(text: str) -> tuple[tuple[str, str], ...]:
    """``"KEY=VALUE; KEY=VALUE"`` (or one per line); a key is a keyword or a tag number
    (``00081030``, ``(0008,1030)``).  ``KEY`` alone, or ``KEY=``, asks for the attribute."""
    out: list[tuple[str, str]] = []
    for part in re.split(r"[;\n]", text):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        key = key.strip()
        if not key:
            raise ValidationError("extra_keys", f"Extra key {part.strip()!r}: the key is missing.")
        try:
            resolve_key(key)
        except ValidationError as exc:
            raise ValidationError("extra_keys", f"Extra key: {exc.message}") from None
        out.append((key, value.strip()))
    return tuple(out)


def parse_return_keys(text: str) -> tuple[str, ...]:
    """Keywords or tag numbers separated by commas, semicolons or spaces."""
    out: list[str] = []
    for key in re.split(r"[,;\s]+", text.strip()):
        if not key:
            continue
        try:
            resolve_key(key)
        except ValidationError as exc:
            raise ValidationError("return_keys", f"Return key: {exc.message}") from None
        out.append(key)
    return tuple(out)


@dataclass(frozen=True)
class QueryForm:
    """Every field of the Query panel, as the user typed it."""

    node: str = ""
    model: str = "study"  # study, patient, worklist
    level: str = "STUDY"  # ignored for the worklist
    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""  # a DA matching value (a date or a range)
    date_preset: str = "any"  # study date (worklist: scheduled date); see PRESETS
    date_from: str = ""  # YYYYMMDD, for "custom" (either end may be empty)
    date_to: str = ""
    modality: str = ""
    accession: str = ""
    study_description: str = ""
    referring_physician: str = ""
    study_uid: str = ""
    station_ae: str = ""  # worklist: Scheduled Station AE Title
    extra_keys: str = ""  # "KEY=VALUE; ..."
    return_keys: str = ""  # "KEY, KEY"
    charset: str | None = None  # None: the node's query character set; "": none

    # ------------------------------------------------------------------ dates
    def date_range(self, today: date) -> tuple[date | None, date | None]:
        """The study (or scheduled) date range the form asks for; (None, None): any."""
        if self.date_preset == "custom":
            label = "Scheduled date" if self.model == "worklist" else "Study date"
            a = parse_da(self.date_from, "date_from", label) if self.date_from.strip() else None
            b = parse_da(self.date_to, "date_to", label) if self.date_to.strip() else None
            if a and b and b < a:
                raise ValidationError("date_to", f"{label}: the range ends before it begins.")
            return a, b
        if self.date_preset not in PRESETS:
            raise ValidationError("date_preset", f"Unknown date preset {self.date_preset!r}.")
        got = preset_range(self.date_preset, today)
        return got if got else (None, None)

    def date_value(self, today: date) -> str:
        a, b = self.date_range(today)
        if a is None and b is None:
            return ""
        if a == b and a is not None:
            return da(a)
        return f"{da(a) if a else ''}-{da(b) if b else ''}"

    # ------------------------------------------------------------------ the query
    def to_query(self, today: date | None = None) -> FindQuery:
        """The query this form asks; a ValidationError for bad input (before traffic)."""
        today = today or date.today()
        worklist = self.model == "worklist"
        level = None if worklist else self.level
        q = FindQuery(model=self.model, level=level)
        check_level(q)
        keys: list[tuple[str, str]] = []

        def put(keyword: str, value: str) -> None:
            if value.strip():
                keys.append((keyword, value.strip()))

        put("PatientName", self.patient_name)
        put("PatientID", self.patient_id)
        put("PatientBirthDate", check_date_match(self.birth_date, "birth_date", "Birth date"))
        when = self.date_value(today)
        put("AccessionNumber", self.accession)
        if worklist:
            put("ScheduledProcedureStepStartDate", when)
            put("Modality", self.modality)
            put("ScheduledStationAETitle", self.station_ae)
        else:
            study_keys = [
                ("StudyDate", when),
                ("StudyDescription", self.study_description),
                ("ReferringPhysicianName", self.referring_physician),
                ("StudyInstanceUID", self.study_uid),
            ]
            modality_key = "ModalitiesInStudy" if level in ("PATIENT", "STUDY") else "Modality"
            study_keys.append((modality_key, self.modality))
            if level == "PATIENT" and any(v.strip() for _, v in study_keys):
                raise ValidationError(
                    "level",
                    "Study date, modality, accession and the other study keys cannot be "
                    "matched at the PATIENT level: choose the STUDY level.",
                )
            for keyword, value in study_keys:
                put(keyword, value)
        if level == "PATIENT" and self.accession.strip():
            raise ValidationError(
                "level", "The accession number is a study key: choose the STUDY level."
            )
        keys += parse_extra_keys(self.extra_keys)
        return replace(
            q,
            keys=tuple(keys),
            return_keys=parse_return_keys(self.return_keys),
            charset=self.charset,
        )

    # ------------------------------------------------------------------ recent queries
    def describe(self) -> str:
        """One line for the recent queries' menu."""
        parts = [self.node or "?", MODEL_NAMES.get(self.model, self.model)]
        if self.model != "worklist":
            parts[-1] += f" {self.level}"
        for label, value in (
            ("name", self.patient_name),
            ("ID", self.patient_id),
            ("born", self.birth_date),
            ("modality", self.modality),
            ("accession", self.accession),
            ("description", self.study_description),
            ("referring", self.referring_physician),
            ("UID", self.study_uid),
            ("station", self.station_ae),
            ("keys", self.extra_keys),
        ):
            if value.strip():
                parts.append(f"{label} {value.strip()}")
        if self.date_preset == "custom":
            parts.append(f"{self.date_from or '…'}–{self.date_to or '…'}")
        elif self.date_preset != "any":
            parts.append(PRESET_NAMES.get(self.date_preset, self.date_preset).lower())
        return " · ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None)} | {
            "charset": self.charset
        }

    @classmethod
    def from_json(cls, data: Any) -> QueryForm | None:
        """A form from its JSON; None when it is not one (a hand-edited settings file)."""
        if not isinstance(data, dict):
            return None
        kw: dict[str, Any] = {}
        for f in fields(cls):
            v = data.get(f.name)
            if f.name == "charset":
                kw[f.name] = v if isinstance(v, str) else None
            elif isinstance(v, str):
                kw[f.name] = v
        form = cls(**kw)
        if form.model not in MODEL_NAMES or form.date_preset not in PRESETS:
            return None
        return form


def remember(recent: tuple[dict[str, Any], ...], form: QueryForm) -> tuple[dict[str, Any], ...]:
    """The recent queries with ``form`` first (an identical older one removed), at most
    :data:`RECENT_LIMIT`."""
    entry = form.to_json()
    rest = tuple(r for r in recent if r != entry)
    return (entry, *rest)[:RECENT_LIMIT]


def save_recent(settings_file: Any, form: QueryForm) -> tuple[dict[str, Any], ...]:
    """Put ``form`` first in the settings file's recent queries (read, change, write: a
    setting changed meanwhile by ``pacsadmin settings`` is kept); the new list."""
    from pacsadmin.core.settings import load_settings, save_settings

    s = load_settings(settings_file)
    s = replace(s, recent_queries=remember(s.recent_queries, form))
    save_settings(settings_file, s)
    return s.recent_queries
