"""A capped C-FIND asked again day by day, the answers merged.

A PACS that caps its answers (at 500, 1000... matches: ``find_result.looks_capped``)
hides the rest of a date range.  :func:`find_by_day` runs the same query once per day of
its date range (the first key whose VR is DA with a value: the study date, or the
worklist's scheduled date), one day after the other on fresh associations, and merges the
matches: each is reported through ``ctx.report`` as it arrives unless an earlier day
already returned the same entity (the level's unique key: the Study, Series or SOP
Instance UID, the Patient ID; a worklist item's Study Instance UID and Scheduled
Procedure Step ID), re-numbered in the merged order.  A day that is itself capped is
named in the result; the first day that fails ends the run (the same PACS would most
likely fail the others) with what arrived kept.  Cancel stops after the running day's
C-CANCEL.  Qt-free: the GUI's "Split by day" and ``pacsadmin find --split-days``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from pacsadmin.core.dimse.find_form import da, parse_da
from pacsadmin.core.dimse.find_query import FindQuery, resolve_key
from pacsadmin.core.dimse.find_result import FindMatch, FindResult, looks_capped
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.errors import ValidationError
from pacsadmin.core.jobs import JobContext, JobEvent, JobPartial

MAX_DAYS = 1000  # about three years, one query each: more is a mistake, not a plan
UNIQUE_KEYS = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}


@dataclass(frozen=True)
class DayResult:
    day: str  # YYYYMMDD
    count: int  # matches the PACS returned for this day
    new: int  # of those, not already returned by an earlier day
    outcome: Outcome
    sentence: str
    capped: bool  # this day's count is itself a likely cap


@dataclass(frozen=True)
class SplitResult:
    result: FindResult  # the merged result (matches, outcome, the diagnosis)
    days: tuple[DayResult, ...]
    planned: int  # days in the range
    key: str  # the date key that was split (StudyDate...)
    duplicates: int  # matches dropped because an earlier day returned them

    @property
    def capped_days(self) -> tuple[DayResult, ...]:
        return tuple(d for d in self.days if d.capped)


def date_key(query: FindQuery) -> tuple[int, str, str]:
    """(index in ``query.keys``, keyword, value) of the date to split on."""
    for i, (key, value) in enumerate(query.keys):
        if value.strip() and resolve_key(key)[2] == "DA":
            return i, resolve_key(key)[1], value.strip()
    raise ValidationError(
        "split",
        "Splitting by day needs a date range in the query (a study date such as "
        "20240101-20240131, or the worklist's scheduled date).",
    )


def split_days(value: str, keyword: str, today: date) -> list[date]:
    """The days of a DA matching value; an open end is today (or refused at the start)."""
    lo, dash, hi = value.partition("-")
    if not dash:
        return [parse_da(value, "split", keyword)]
    if not lo.strip():
        raise ValidationError(
            "split", f"{keyword} {value!r} has no first day: give the range a start to split it."
        )
    first = parse_da(lo, "split", keyword)
    last = parse_da(hi, "split", keyword) if hi.strip() else max(today, first)
    if last < first:
        raise ValidationError("split", f"{keyword} {value!r} ends before it begins.")
    n = (last - first).days + 1
    if n > MAX_DAYS:
        raise ValidationError(
            "split", f"{keyword} {value!r} is {n} days; split at most {MAX_DAYS} days at once."
        )
    return [first + timedelta(days=k) for k in range(n)]


def day_queries(query: FindQuery, today: date | None = None) -> tuple[str, list[FindQuery]]:
    """(the split keyword, one query per day, in date order)."""
    i, keyword, value = date_key(query)
    days = split_days(value, keyword, today or date.today())
    out = []
    for d in days:
        keys = list(query.keys)
        keys[i] = (keys[i][0], da(d))
        out.append(replace(query, keys=tuple(keys)))
    return keyword, out


def match_key(query: FindQuery, m: FindMatch) -> str | None:
    """The entity a match stands for (None: unknown, never merged with another)."""
    if query.model == "worklist":
        sps = m.values.get("ScheduledProcedureStepSequence")
        step = sps[0].get("ScheduledProcedureStepID", "") if isinstance(sps, list) and sps else ""
        study = m.values.get("StudyInstanceUID", "")
        return f"{study}|{step}" if study or step else None
    value = m.values.get(UNIQUE_KEYS.get(query.level or "", ""), "")
    return value if isinstance(value, str) and value else None


FindFn = Callable[..., FindResult]


def find_by_day(
    local: Any,
    node: Any,
    query: FindQuery,
    *,
    ctx: JobContext,
    today: date | None = None,
    find_fn: FindFn | None = None,
    **find_kw: Any,
) -> SplitResult:
    """Run ``query`` once per day of its date range and merge the answers (see the module
    docstring).  A query without a date range raises ValidationError before traffic."""
    if find_fn is None:
        from pacsadmin.core.dimse.find import find

        find_fn = find
    run: FindFn = find_fn
    keyword, queries = day_queries(query, today)
    t0 = time.perf_counter()
    merged: list[FindMatch] = []
    seen: set[str] = set()
    days: list[DayResult] = []
    counts = {"dups": 0, "count": 0, "new": 0}

    def listener(ev: JobEvent) -> None:
        if not isinstance(ev, JobPartial) or not isinstance(ev.item, FindMatch):
            return
        counts["count"] += 1
        key = match_key(query, ev.item)
        if key is not None and key in seen:
            counts["dups"] += 1
            return
        if key is not None:
            seen.add(key)
        m = replace(ev.item, index=len(merged))
        merged.append(m)
        counts["new"] += 1
        ctx.report(m)

    last: FindResult | None = None
    for k, q in enumerate(queries):
        if ctx.cancelled:
            break
        day = q.keys[date_key(query)[0]][1]
        ctx.progress(k, len(queries), f"{day}: day {k + 1} of {len(queries)}")
        counts["count"] = counts["new"] = 0
        last = run(local, node, q, ctx=JobContext(ctx.job_id, ctx.token, listener), **find_kw)
        days.append(
            DayResult(
                day,
                counts["count"],
                counts["new"],
                last.outcome,
                last.sentence,
                not last.cancelled
                and last.ok
                and (looks_capped(counts["count"]) or bool(last.capped)),
            )
        )
        if not last.ok or last.cancelled:
            break
    ctx.progress(len(days), len(queries), "")
    return SplitResult(
        _merged(query, queries, days, merged, last, counts["dups"], ctx, t0),
        tuple(days),
        len(queries),
        keyword,
        counts["dups"],
    )


def _merged(
    query: FindQuery,
    queries: list[FindQuery],
    days: list[DayResult],
    merged: list[FindMatch],
    last: FindResult | None,
    dups: int,
    ctx: JobContext,
    t0: float,
) -> FindResult:
    n = len(merged)
    dup_text = f", {dups} duplicate(s) dropped" if dups else ""
    capped = [d for d in days if d.capped]
    cap_text = ""
    if capped:
        which = ", ".join(f"{d.day} ({d.count})" for d in capped[:5])
        more = f" and {len(capped) - 5} more" if len(capped) > 5 else ""
        cap_text = (
            f"Still capped on {len(capped)} day(s): {which}{more}. Narrow those days "
            "further (a modality, a patient name)."
        )
    base: dict[str, Any] = {
        "query": f"{query.describe()}, day by day",
        "matches": tuple(merged),
        "elapsed_ms": (time.perf_counter() - t0) * 1000,
        "capped": cap_text,
    }
    if last is None:  # cancelled before the first day
        return FindResult(
            node_name="",
            target="",
            calling_ae="",
            outcome=Outcome.CANCEL,
            status=None,
            sentence="Cancelled before the first day was asked.",
            cancelled=True,
            **base,
        )
    if last.cancelled or ctx.cancelled:
        sentence = (
            f"Cancelled on {days[-1].day} (day {len(days)} of {len(queries)}): {last.sentence}"
        )
        outcome = Outcome.CANCEL
    elif not last.ok:
        sentence = (
            f"The query for {days[-1].day} (day {len(days)} of {len(queries)}) failed: "
            f"{last.sentence}"
        )
        outcome = Outcome.FAILURE
    else:
        warned = any(d.outcome is Outcome.WARNING for d in days)
        outcome = Outcome.WARNING if warned else Outcome.SUCCESS
        sentence = f"Completed day by day: {len(days)} day(s), {n} match(es){dup_text}."
    return replace(
        last,
        outcome=outcome,
        sentence=sentence,
        cancelled=last.cancelled or ctx.cancelled,
        **base,
    )
