"""Retrieve accounting: what the PACS holds for a selection, and what the archive got.

Before a retrieve, :func:`learn_expected` asks the PACS by C-FIND (Study Root): the
parents of each selected series or instance (a hierarchical PACS such as DCMTK
``dcmqrscp`` needs them in the retrieve identifier), the Number of Study/Series Related
Instances, and the SOP Instance UID of every instance (series by series, so a
hierarchical PACS can answer).  After it, :func:`present` reads the archive's index for
those UIDs: the PACS's "n completed" is a claim, the index is what arrived (only complete
files get a row, see ``core/archive/archive.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.retrieve_model import Expected, Item, Selection
from pacsadmin.core.format import format_da, format_pn
from pacsadmin.core.jobs import JobContext
from pacsadmin.core.nodes import DicomNode

LATE_GRACE = 5.0  # seconds to wait for instances a PACS sends after its final response


class _Finder:
    def __init__(
        self,
        local: LocalAE,
        node: DicomNode,
        ctx: JobContext,
        passphrase: str | None,
        timeout: float | None,
    ):
        self.local, self.node = local, node
        # the matches are not the retrieve's partial results: a quiet context, same token
        self.ctx = JobContext(ctx.job_id, ctx.token, lambda e: None)
        self.passphrase, self.timeout = passphrase, timeout
        self.problem = ""

    def __call__(self, level: str, keys: dict[str, str]) -> list[dict[str, Any]] | None:
        from pacsadmin.core.dimse.find import find
        from pacsadmin.core.dimse.find_query import FindQuery

        q = FindQuery(
            model="study", level=level, keys=tuple(keys.items()), charset="", defaults=False
        )
        r = find(
            self.local,
            self.node,
            q,
            ctx=self.ctx,
            passphrase=self.passphrase,
            timeout=self.timeout,
        )
        if not r.ok or r.cancelled:
            self.problem = f"the {level}-level C-FIND failed: {r.sentence}"
            return None
        return [dict(m.values) for m in r.matches if not m.unreadable]


# the keys that say what a study or series is, asked with its count (no extra query)
_STUDY_LABEL = ("PatientName", "StudyDate", "StudyDescription")
_SERIES_LABEL = ("Modality", "SeriesDescription")


def _label(row: dict[str, Any], keys: tuple[str, ...]) -> str:
    parts = []
    for k in keys:
        v = str(row.get(k) or "").strip()
        if k == "PatientName":
            v = format_pn(v)
        elif k == "StudyDate":
            v = format_da(v)
        if v:
            parts.append(v)
    return " · ".join(parts)


def _join_labels(labels: list[str]) -> str:
    labels = [x for x in labels if x]
    if len(labels) > 1:
        return f"{labels[0]} (+{len(labels) - 1} more)"
    return labels[0] if labels else ""


def _int(v: Any) -> int | None:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return None


def learn_expected(
    local: LocalAE,
    node: DicomNode,
    selection: Selection,
    *,
    ctx: JobContext,
    passphrase: str | None = None,
    timeout: float | None = None,
) -> Expected:
    """The selection with its parents filled in, and every instance it holds at the PACS.
    Never raises for what the PACS answers: a failed query leaves the count unknown
    (``count=None``, ``problem`` says why) and the parents as given."""
    find = _Finder(local, node, ctx, passphrase, timeout)
    items: list[Item] = []
    instances: dict[str, Item] = {}
    classes: dict[str, None] = {}
    counted: int | None = 0  # from Number of ... Related Instances, when every item had one
    labels: list[str] = []  # what each study or series is, for people (the GUI's list)
    listed = True

    def list_series(study: str, series: str) -> bool:
        rows = find(
            "IMAGE",
            {
                "StudyInstanceUID": study,
                "SeriesInstanceUID": series,
                "SOPInstanceUID": "",
                "SOPClassUID": "",
            },
        )
        if rows is None:
            return False
        for r in rows:
            uid = str(r.get("SOPInstanceUID", ""))
            if uid:
                instances[uid] = Item("IMAGE", study, series, uid)
                if r.get("SOPClassUID"):
                    classes[str(r["SOPClassUID"])] = None
        return True

    for it in selection.items:
        if ctx.cancelled:
            break
        if it.level == "STUDY":
            rows = find(
                "STUDY",
                {
                    "StudyInstanceUID": it.study,
                    "NumberOfStudyRelatedInstances": "",
                    **dict.fromkeys(_STUDY_LABEL, ""),
                },
            )
            if rows:
                labels.append(_label(rows[0], _STUDY_LABEL))
            n = _int(rows[0].get("NumberOfStudyRelatedInstances")) if rows else None
            counted = None if n is None or counted is None else counted + n
            items.append(it)
            series_rows = find("SERIES", {"StudyInstanceUID": it.study, "SeriesInstanceUID": ""})
            if series_rows is None:
                listed = False
                continue
            for s in series_rows:
                if not list_series(it.study, str(s.get("SeriesInstanceUID", ""))):
                    listed = False
        elif it.level == "SERIES":
            study = it.study
            rows = find(
                "SERIES",
                {
                    "StudyInstanceUID": study,
                    "SeriesInstanceUID": it.series,
                    "NumberOfSeriesRelatedInstances": "",
                    **dict.fromkeys(_SERIES_LABEL, ""),
                },
            )
            if rows:
                labels.append(_label(rows[0], _SERIES_LABEL))
            if rows and not study:
                study = str(rows[0].get("StudyInstanceUID", ""))
            n = _int(rows[0].get("NumberOfSeriesRelatedInstances")) if rows else None
            counted = None if n is None or counted is None else counted + n
            items.append(Item("SERIES", study, it.series))
            if not study or not list_series(study, it.series):
                listed = False
        else:
            study, series = it.study, it.series
            if not (study and series):
                found = find(
                    "IMAGE",
                    {
                        "StudyInstanceUID": study,
                        "SeriesInstanceUID": series,
                        "SOPInstanceUID": it.instance,
                        "SOPClassUID": "",
                    },
                )
                if found:
                    study = study or str(found[0].get("StudyInstanceUID", ""))
                    series = series or str(found[0].get("SeriesInstanceUID", ""))
                    if found[0].get("SOPClassUID"):
                        classes[str(found[0]["SOPClassUID"])] = None
            full = Item("IMAGE", study, series, it.instance)
            items.append(full)
            instances[it.instance] = full
            counted = None if counted is None else counted + 1
    if listed and not ctx.cancelled:
        return Expected(
            tuple(items),
            tuple(instances.values()),
            len(instances),
            tuple(classes),
            "IMAGE-level C-FIND",
            label=_join_labels(labels),
        )
    how = "Number of Related Instances (C-FIND)" if counted is not None else ""
    return Expected(
        tuple(items),
        tuple(instances.values()),
        counted,
        tuple(classes),
        how,
        find.problem or ("cancelled" if ctx.cancelled else "the PACS did not list the instances"),
        label=_join_labels(labels),
    )


def present(archive: Any, uids: list[str], since: float) -> tuple[set[str], int]:
    """Which of ``uids`` the archive's index holds, and how many of those it had before
    ``since`` (a ``time.time()``)."""
    con = archive.reader()
    found: set[str] = set()
    old = 0
    for k in range(0, len(uids), 500):
        chunk = uids[k : k + 500]
        marks = ",".join("?" * len(chunk))
        for uid, at in con.execute(
            f"SELECT sop_uid, received_at FROM instances WHERE sop_uid IN ({marks})", chunk
        ):
            found.add(uid)
            if at < since:
                old += 1
    return found, old


def wait_for_late(
    archive: Any,
    uids: list[str],
    since: float,
    grace: float,
    ctx: JobContext,
    on_change: Callable[[int], None] | None = None,
) -> tuple[set[str], int]:
    """Poll the index until every uid is there, ``grace`` seconds pass, or cancel."""
    deadline = time.monotonic() + grace
    found, old = present(archive, uids, since)
    while len(found) < len(uids) and time.monotonic() < deadline and not ctx.cancelled:
        time.sleep(0.1)
        before = len(found)
        found, old = present(archive, uids, since)
        if on_change is not None and len(found) != before:
            on_change(len(found))
    return found, old


def audit_retrieve(audit: Any, r: Any, **extra: Any) -> None:
    """One audit record of a finished retrieve (the CLI's and the window's): its outcome
    and accounting; ``extra`` goes into the details (e.g. ``from="window"``)."""
    audit.record(
        r.method.lower().replace("c-", ""),
        "success" if r.ok else "failure",
        node=r.node_name,
        target=r.target,
        summary=r.summary[:500],
        details={
            "status": r.status,
            "completed": r.completed,
            "failed": r.failed,
            "expected": r.expected,
            "received": r.received,
            "missing": len(r.missing),
            "destination": r.destination,
            **extra,
        },
    )
