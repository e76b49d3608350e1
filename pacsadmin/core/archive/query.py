"""C-FIND matching over the index (PS3.4 C.2.2.2): SQL built from an identifier.

Single value, wildcards ``*`` and ``?``, date/time ranges, UID lists and universal
matching; person names match case-insensitively (and against the alphabetic group alone
when the query has no ``=``).  Text lives in the index as decoded Unicode, so ISO_IR 100
and ISO_IR 192 names match whatever character set the query came in.
"""

from __future__ import annotations

import fnmatch
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
_RANK = {lvl: i for i, lvl in enumerate(LEVELS)}


class QueryError(ValueError):
    """The identifier does not fit the model or level (answer 0xA900 / 0xC000)."""


@dataclass(frozen=True)
class Attr:
    level: str
    expr: str  # SQL expression
    vr: str
    computed: bool = False  # a subquery: only selected when asked for


_N_PAT_SERIES = (
    "(SELECT COUNT(*) FROM series s2 JOIN studies t2 ON s2.study_pk = t2.pk"
    " WHERE t2.patient_pk = p.pk)"
)
_N_PAT_INST = (
    "(SELECT COUNT(*) FROM instances i2 JOIN series s2 ON i2.series_pk = s2.pk"
    " JOIN studies t2 ON s2.study_pk = t2.pk WHERE t2.patient_pk = p.pk)"
)
ATTRS: dict[str, Attr] = {
    "PatientName": Attr("PATIENT", "p.patient_name", "PN"),
    "PatientID": Attr("PATIENT", "p.patient_id", "LO"),
    "PatientBirthDate": Attr("PATIENT", "p.birth_date", "DA"),
    "PatientSex": Attr("PATIENT", "p.sex", "CS"),
    "NumberOfPatientRelatedStudies": Attr(
        "PATIENT", "(SELECT COUNT(*) FROM studies t2 WHERE t2.patient_pk = p.pk)", "IS", True
    ),
    "NumberOfPatientRelatedSeries": Attr("PATIENT", _N_PAT_SERIES, "IS", True),
    "NumberOfPatientRelatedInstances": Attr("PATIENT", _N_PAT_INST, "IS", True),
    "StudyInstanceUID": Attr("STUDY", "st.study_uid", "UI"),
    "StudyDate": Attr("STUDY", "st.study_date", "DA"),
    "StudyTime": Attr("STUDY", "st.study_time", "TM"),
    "AccessionNumber": Attr("STUDY", "st.accession", "SH"),
    "StudyID": Attr("STUDY", "st.study_id", "SH"),
    "StudyDescription": Attr("STUDY", "st.description", "LO"),
    "ReferringPhysicianName": Attr("STUDY", "st.referring_physician", "PN"),
    "ModalitiesInStudy": Attr(
        "STUDY",
        "(SELECT GROUP_CONCAT(DISTINCT s2.modality) FROM series s2 WHERE s2.study_pk = st.pk)",
        "CS",
        True,
    ),
    "NumberOfStudyRelatedSeries": Attr(
        "STUDY", "(SELECT COUNT(*) FROM series s2 WHERE s2.study_pk = st.pk)", "IS", True
    ),
    "NumberOfStudyRelatedInstances": Attr(
        "STUDY",
        "(SELECT COUNT(*) FROM instances i2 JOIN series s2 ON i2.series_pk = s2.pk"
        " WHERE s2.study_pk = st.pk)",
        "IS",
        True,
    ),
    "SeriesInstanceUID": Attr("SERIES", "se.series_uid", "UI"),
    "Modality": Attr("SERIES", "se.modality", "CS"),
    "SeriesNumber": Attr("SERIES", "se.series_number", "IS"),
    "SeriesDescription": Attr("SERIES", "se.description", "LO"),
    "BodyPartExamined": Attr("SERIES", "se.body_part", "CS"),
    "SeriesDate": Attr("SERIES", "se.series_date", "DA"),
    "SeriesTime": Attr("SERIES", "se.series_time", "TM"),
    "NumberOfSeriesRelatedInstances": Attr(
        "SERIES", "(SELECT COUNT(*) FROM instances i2 WHERE i2.series_pk = se.pk)", "IS", True
    ),
    "SOPInstanceUID": Attr("IMAGE", "i.sop_uid", "UI"),
    "SOPClassUID": Attr("IMAGE", "i.sop_class_uid", "UI"),
    "InstanceNumber": Attr("IMAGE", "i.instance_number", "IS"),
    "Rows": Attr("IMAGE", "i.rows", "US"),
    "Columns": Attr("IMAGE", "i.columns", "US"),
    "NumberOfFrames": Attr("IMAGE", "i.frames", "IS"),
}

_FROM = {
    "PATIENT": "patients p",
    "STUDY": "studies st JOIN patients p ON st.patient_pk = p.pk",
    "SERIES": "series se JOIN studies st ON se.study_pk = st.pk"
    " JOIN patients p ON st.patient_pk = p.pk",
    "IMAGE": "instances i JOIN series se ON i.series_pk = se.pk"
    " JOIN studies st ON se.study_pk = st.pk JOIN patients p ON st.patient_pk = p.pk",
}
_ORDER = {
    "PATIENT": "p.pk",
    "STUDY": "st.pk",
    "SERIES": "se.pk",
    "IMAGE": "se.pk, i.instance_number, i.pk",
}


def _glob(pattern: str) -> str:
    return pattern.replace("[", "[[]")


def pn_match(value: Any, pattern: Any) -> int:
    """Case-insensitive PN match; a pattern without '=' also tries the alphabetic group."""
    if not isinstance(value, str) or not isinstance(pattern, str):
        return 0
    v, p = value.casefold(), pattern.casefold()
    regex = _pn_cache.get(p)
    if regex is None:
        if len(_pn_cache) > 1000:  # patterns come from peers: keep the cache bounded
            _pn_cache.clear()
        regex = re.compile(fnmatch.translate(p.replace("[", "[[]")), re.DOTALL)
        _pn_cache[p] = regex
    if regex.fullmatch(v):
        return 1
    if "=" not in p and "=" in v:
        return 1 if regex.fullmatch(v.split("=", 1)[0]) else 0
    return 0


_pn_cache: dict[str, re.Pattern[str]] = {}


def register_functions(con: sqlite3.Connection) -> None:
    con.create_function("pn_match", 2, pn_match, deterministic=True)


def _text_value(elem: Any) -> str:
    v = elem.value
    if v is None:
        return ""
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return "\\".join(str(x) for x in v)
    if isinstance(v, bytes):
        return v.decode("latin-1", "replace")
    return str(v)


def _condition(keyword: str, attr: Attr, raw: str) -> tuple[str, list[Any]] | None:
    """The SQL condition for one matching key; None for universal matching."""
    value = raw.strip().replace("\x00", "")
    if value in ("", "*"):
        return None
    expr = attr.expr
    if keyword == "ModalitiesInStudy":
        mods = [m.strip() for m in value.split("\\") if m.strip()]
        marks = ",".join("?" * len(mods))
        return (
            f"EXISTS (SELECT 1 FROM series s3 WHERE s3.study_pk = st.pk"
            f" AND s3.modality IN ({marks}))",
            mods,
        )
    if attr.vr == "UI":
        uids = [u.strip() for u in value.split("\\") if u.strip()]
        if len(uids) == 1:
            return f"{expr} = ?", uids
        return f"{expr} IN ({','.join('?' * len(uids))})", uids
    if attr.vr in ("DA", "TM") and "-" in value:
        lo, _, hi = value.partition("-")
        lo, hi = lo.strip(), hi.strip()
        conds = [f"{expr} != ''"]
        params: list[str | int] = []
        if lo:
            conds.append(f"{expr} >= ?")
            params.append(lo)
        if hi:
            if attr.vr == "TM":  # "1200" includes 12:00:59.999
                conds.append(f"substr({expr}, 1, ?) <= ?")
                params += [len(hi.split(".")[0]), hi]
            else:
                conds.append(f"{expr} <= ?")
                params.append(hi)
        return " AND ".join(conds), params
    if attr.vr in ("IS", "US"):
        try:
            nums = [int(x) for x in value.split("\\") if x.strip()]
        except ValueError:
            raise QueryError(f"{keyword}: {value!r} is not a number") from None
        return f"{expr} IN ({','.join('?' * len(nums))})", nums
    values = [x for x in value.split("\\") if x != ""] or [value]
    conds, params = [], []
    for v in values:
        if attr.vr == "PN":
            conds.append(f"pn_match({expr}, ?)")
            params.append(v)
        elif "*" in v or "?" in v:
            conds.append(f"{expr} GLOB ?")
            params.append(_glob(v))
        else:
            conds.append(f"{expr} = ?")
            params.append(v)
    return ("(" + " OR ".join(conds) + ")" if len(conds) > 1 else conds[0]), params


@dataclass
class FindQuery:
    level: str
    select: list[str]  # keywords of returned attributes (in request order)
    sql: str
    params: list[Any]


def parse_identifier(identifier: Any, model: str = "STUDY") -> tuple[str, list[tuple[str, str]]]:
    """(level, [(keyword, raw value), ...]) of a C-FIND/C-MOVE/C-GET identifier."""
    level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if level not in LEVELS:
        raise QueryError(f"QueryRetrieveLevel {level!r} is not PATIENT, STUDY, SERIES or IMAGE")
    if model == "STUDY" and level == "PATIENT":
        raise QueryError("Study Root has no PATIENT level")
    keys = []
    for elem in identifier:
        kw = elem.keyword
        if not kw or kw in ("QueryRetrieveLevel", "SpecificCharacterSet"):
            continue
        keys.append((kw, "" if elem.VR == "SQ" else _text_value(elem)))
    return level, keys


def build_find(level: str, keys: list[tuple[str, str]]) -> FindQuery:
    select, cols, where, params = [], [], [], []
    for kw, raw in keys:
        select.append(kw)
        attr = ATTRS.get(kw)
        if attr is None or _RANK[attr.level] > _RANK[level]:
            continue  # not known or below the level: returned empty, never matched
        cond = _condition(kw, attr, raw)
        if cond is not None:
            where.append(cond[0])
            params += cond[1]
    for kw in select:
        attr = ATTRS.get(kw)
        ok = attr is not None and _RANK[attr.level] <= _RANK[level]
        cols.append(attr.expr if ok and attr else "NULL")
    sql = f"SELECT {', '.join(cols) or 'NULL'} FROM {_FROM[level]}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {_ORDER[level]}"
    return FindQuery(level, select, sql, params)


def build_retrieve(level: str, keys: list[tuple[str, str]]) -> tuple[str, list[Any]]:
    """SQL selecting (path, sop_class, transfer_syntax, sop_uid) of the matching instances."""
    where, params = [], []
    for kw, raw in keys:
        attr = ATTRS.get(kw)
        if attr is None or attr.computed or _RANK[attr.level] > _RANK[level]:
            continue
        cond = _condition(kw, attr, raw)
        if cond is not None:
            where.append(cond[0])
            params += cond[1]
    if not where:
        raise QueryError("a retrieve needs at least one unique key (e.g. StudyInstanceUID)")
    sql = (
        f"SELECT i.path, i.sop_class_uid, i.transfer_syntax, i.sop_uid FROM {_FROM['IMAGE']}"
        f" WHERE {' AND '.join(where)} ORDER BY {_ORDER['IMAGE']}"
    )
    return sql, params


def run_find(con: sqlite3.Connection, q: FindQuery) -> Iterator[dict[str, Any]]:
    register_functions(con)
    cur = con.execute(q.sql, q.params)
    for row in cur:
        out: dict[str, Any] = {}
        for kw, v in zip(q.select, row, strict=True):
            if kw == "ModalitiesInStudy" and isinstance(v, str):
                v = "\\".join(sorted(filter(None, v.split(","))))
            out[kw] = v
        yield out
