"""Which C-FIND matches the local archive already holds: all, some or none of their
instances.  Read from the index on a worker (the ``io`` lane in the GUI), 500 UIDs per
statement."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

ALL, SOME, NONE = "all", "some", "none"
_COLUMN = {
    "PATIENT": "p.patient_id",
    "STUDY": "st.study_uid",
    "SERIES": "se.series_uid",
    "IMAGE": "i.sop_uid",
}
_CHUNK = 500


def local_counts(con: sqlite3.Connection, level: str, uids: Sequence[str]) -> dict[str, int]:
    """UID (a Patient ID at the PATIENT level) -> instances the archive holds under it;
    UIDs it does not know are left out."""
    col = _COLUMN[level]
    wanted = sorted({u for u in uids if u})
    out: dict[str, int] = {}
    for k in range(0, len(wanted), _CHUNK):
        chunk = wanted[k : k + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = con.execute(
            f"SELECT {col}, COUNT(i.pk) FROM instances i"
            " JOIN series se ON i.series_pk = se.pk JOIN studies st ON se.study_pk = st.pk"
            " JOIN patients p ON st.patient_pk = p.pk"
            f" WHERE {col} IN ({marks}) GROUP BY {col}",
            chunk,
        ).fetchall()
        out.update({str(uid): int(n) for uid, n in rows})
    return out


def mark(local: int, remote: int | None) -> str:
    """all / some / none from the instances held here and the count the PACS reported
    (``None``: it reported none; then holding any counts as "some": it cannot be told
    complete)."""
    if local <= 0:
        return NONE
    if remote is not None and local >= remote:
        return ALL
    return SOME


def marks(con: sqlite3.Connection, level: str, rows: Sequence[tuple[str, int | None]]) -> list[str]:
    """One mark per (uid, the PACS's instance count) row.  An IMAGE row counts one."""
    counts = local_counts(con, level, [u for u, _ in rows])
    out = []
    for uid, remote in rows:
        if level == "IMAGE":
            remote = 1
        out.append(mark(counts.get(uid, 0), remote) if uid else NONE)
    return out
