"""Browsing the index page by page: search, order and counts done by SQLite (no Qt).

The archive browser shows one row per study and its series on demand.  With 100,000
studies nothing may hold every row in memory or walk them in Python: :func:`list_studies`
returns one page (``offset``/``limit``) of the studies matching a search, in the order
asked, and :func:`count_studies` the totals of the whole match.  Both run on a worker with
a read connection of the index (``Archive.reader()``, which defines ``casefold``), never
on the GUI thread.

A search is words separated by spaces; a study matches when every word occurs, ignoring
case, in its patient's name or ID, its description, accession, study ID or date
(``20240101`` or ``2024-01-01``), or in the description or modality of one of its series.
Words of ASCII letters use SQLite's ``LIKE`` (case-insensitive for ASCII, in C); a word
with other letters is matched with Python's ``casefold`` (so ``müller`` finds ``MÜLLER``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

# The text one study is searched in (its own columns and its patient's).
_STUDY_TEXT = (
    "(p.patient_name || ' ' || p.patient_id || ' ' || st.description || ' ' || st.accession"
    " || ' ' || st.study_id || ' ' || st.study_date || ' ' || substr(st.study_date, 1, 4)"
    " || '-' || substr(st.study_date, 5, 2) || '-' || substr(st.study_date, 7, 2))"
)
_SERIES_TEXT = "(se.description || ' ' || se.modality)"

_N_SERIES = "(SELECT COUNT(*) FROM series se WHERE se.study_pk = st.pk)"
_N_IMAGES = (
    "(SELECT COUNT(*) FROM instances i JOIN series se ON i.series_pk = se.pk"
    " WHERE se.study_pk = st.pk)"
)
_SIZE = (
    "(SELECT COALESCE(SUM(i.size), 0) FROM instances i JOIN series se ON i.series_pk = se.pk"
    " WHERE se.study_pk = st.pk)"
)

# order key -> (the terms the direction applies to, fixed tie-breakers)
ORDERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "patient": (("p.patient_name COLLATE NOCASE",), ("st.study_date DESC", "st.pk")),
    "description": (("st.description COLLATE NOCASE",), ("st.pk",)),
    "date": (("st.study_date", "st.study_time"), ("st.pk",)),
    "modality": (
        ("(SELECT MIN(se.modality) FROM series se WHERE se.study_pk = st.pk)",),
        ("st.pk",),
    ),
    "series": ((_N_SERIES,), ("st.pk",)),
    "images": ((_N_IMAGES,), ("st.pk",)),
    "size": ((_SIZE,), ("st.pk",)),
    "patient_id": (("p.patient_id COLLATE NOCASE",), ("st.pk",)),
    "accession": (("st.accession COLLATE NOCASE",), ("st.pk",)),
}

_FROM = "studies st JOIN patients p ON st.patient_pk = p.pk"


@dataclass(frozen=True)
class StudyRow:
    pk: int
    study_uid: str
    patient_name: str
    patient_id: str
    birth_date: str
    date: str
    time: str
    accession: str
    description: str
    modalities: str  # "CT\\MR", sorted
    series: int
    images: int
    size: int


@dataclass(frozen=True)
class SeriesRow:
    pk: int
    series_uid: str
    number: int | None
    description: str
    modality: str
    date: str
    images: int
    size: int


@dataclass(frozen=True)
class Totals:
    """What a search matched: the browser's summary line and its row count."""

    studies: int = 0
    patients: int = 0
    series: int = 0
    images: int = 0
    size: int = 0


def search_words(text: str) -> list[str]:
    """The words of a search box's text (a trailing comma, as in "DOE, JANE", dropped)."""
    return [w for w in (x.strip(",") for x in text.split()) if w]


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _where(text: str) -> tuple[str, list[str]]:
    """The WHERE clause (or "") and its parameters for a search text."""
    conds: list[str] = []
    params: list[str] = []
    for word in search_words(text):
        if word.isascii():
            conds.append(
                f"({_STUDY_TEXT} LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM series se"
                f" WHERE se.study_pk = st.pk AND {_SERIES_TEXT} LIKE ? ESCAPE '\\'))"
            )
            params += [_like(word)] * 2
        else:
            conds.append(
                f"(instr(casefold({_STUDY_TEXT}), ?) > 0 OR EXISTS (SELECT 1 FROM series se"
                f" WHERE se.study_pk = st.pk AND instr(casefold({_SERIES_TEXT}), ?) > 0))"
            )
            params += [word.casefold()] * 2
    return (" WHERE " + " AND ".join(conds) if conds else ""), params


def _order(order_by: str, descending: bool) -> str:
    if order_by not in ORDERS:
        raise ValueError(f"cannot order studies by {order_by!r}: one of {', '.join(ORDERS)}")
    terms, ties = ORDERS[order_by]
    way = " DESC" if descending else ""
    return ", ".join([t + way for t in terms] + list(ties))


def list_studies(
    con: sqlite3.Connection,
    filter_text: str = "",
    order_by: str = "patient",
    *,
    descending: bool = False,
    offset: int = 0,
    limit: int = 200,
) -> list[StudyRow]:
    """One page of the studies matching ``filter_text``, in the order asked.

    Two steps: the page's keys are chosen by one ordered query (SQLite computes a count
    used to sort only when the order needs it), then only that page's counts and sizes.
    """
    where, params = _where(filter_text)
    pks = [
        int(r[0])
        for r in con.execute(
            f"SELECT st.pk FROM {_FROM}{where} ORDER BY {_order(order_by, descending)}"
            " LIMIT ? OFFSET ?",
            [*params, max(0, int(limit)), max(0, int(offset))],
        )
    ]
    if not pks:
        return []
    marks = ",".join("?" * len(pks))
    rows = con.execute(
        "SELECT st.pk, st.study_uid, p.patient_name, p.patient_id, p.birth_date, st.study_date,"
        " st.study_time, st.accession, st.description,"
        " (SELECT GROUP_CONCAT(DISTINCT se.modality) FROM series se WHERE se.study_pk = st.pk),"
        f" {_N_SERIES}, {_N_IMAGES}, {_SIZE}"
        f" FROM {_FROM} WHERE st.pk IN ({marks})",
        pks,
    ).fetchall()
    by_pk = {}
    for r in rows:
        mods = "\\".join(sorted(filter(None, (r[9] or "").split(","))))
        by_pk[int(r[0])] = StudyRow(
            int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], mods,
            int(r[10]), int(r[11]), int(r[12]),
        )  # fmt: skip
    return [by_pk[pk] for pk in pks if pk in by_pk]


def count_studies(con: sqlite3.Connection, filter_text: str = "") -> Totals:
    """How many studies (and their patients, series, images and bytes) match."""
    where, params = _where(filter_text)
    if not where:  # the whole archive: plain counts of the tables

        def one(sql: str) -> int:
            return int(con.execute(sql).fetchone()[0])

        return Totals(
            one("SELECT COUNT(*) FROM studies"),
            one("SELECT COUNT(DISTINCT patient_pk) FROM studies"),
            one("SELECT COUNT(*) FROM series"),
            one("SELECT COUNT(*) FROM instances"),
            one("SELECT COALESCE(SUM(size), 0) FROM instances"),
        )
    # MATERIALIZED: the match is computed once, not once per count
    n, patients, series, images, size = con.execute(
        f"WITH m AS MATERIALIZED (SELECT st.pk, st.patient_pk FROM {_FROM}{where})"
        " SELECT (SELECT COUNT(*) FROM m), (SELECT COUNT(DISTINCT patient_pk) FROM m),"
        " (SELECT COUNT(*) FROM series WHERE study_pk IN (SELECT pk FROM m)),"
        " (SELECT COUNT(*) FROM instances i JOIN series se ON i.series_pk = se.pk"
        "   WHERE se.study_pk IN (SELECT pk FROM m)),"
        " (SELECT COALESCE(SUM(i.size), 0) FROM instances i JOIN series se"
        "   ON i.series_pk = se.pk WHERE se.study_pk IN (SELECT pk FROM m))",
        params,
    ).fetchone()
    return Totals(int(n), int(patients), int(series), int(images), int(size))


def list_series(con: sqlite3.Connection, study_uid: str) -> list[SeriesRow]:
    """The series of one study, by series number, with their image counts and sizes."""
    rows = con.execute(
        "SELECT se.pk, se.series_uid, se.series_number, se.description, se.modality,"
        " se.series_date, COUNT(i.pk), COALESCE(SUM(i.size), 0)"
        " FROM series se JOIN studies st ON se.study_pk = st.pk"
        " LEFT JOIN instances i ON i.series_pk = se.pk"
        " WHERE st.study_uid = ? GROUP BY se.pk ORDER BY se.series_number, se.pk",
        (study_uid,),
    ).fetchall()
    return [SeriesRow(int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), int(r[7])) for r in rows]
