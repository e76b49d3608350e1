"""Retrieve (C-MOVE, C-GET) as plain, frozen data: what to retrieve, its progress, its end.

A :class:`Selection` names studies, series or instances by UID, with their parents where
the Query/Retrieve level needs them (PS3.4 C.4.2.2.1: a SERIES-level request of the Study
Root model carries the Study Instance UID; an IMAGE-level one also the Series Instance
UID).  :class:`RetrieveProgress` is one pending response's counts, and
:class:`RetrieveResult` the final report with the accounting: what the PACS said, what
the archive actually holds, and the instances that are missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pacsadmin.core.dimse.status import Outcome

LEVELS = ("STUDY", "SERIES", "IMAGE")
MOVE_SOP = "1.2.840.10008.5.1.4.1.2.2.2"  # Study Root Q/R Information Model - MOVE
GET_SOP = "1.2.840.10008.5.1.4.1.2.2.3"  # Study Root Q/R Information Model - GET


@dataclass(frozen=True)
class Item:
    """One thing to retrieve.  ``level``: STUDY, SERIES or IMAGE; the UIDs of the level
    and of its parents (a parent may be "" until it is learnt by a C-FIND)."""

    level: str
    study: str = ""
    series: str = ""
    instance: str = ""

    @property
    def uid(self) -> str:
        return {"STUDY": self.study, "SERIES": self.series, "IMAGE": self.instance}[self.level]

    @property
    def complete(self) -> bool:
        """Every UID the level needs is known."""
        need = LEVELS.index(self.level) + 1
        return all((self.study, self.series, self.instance)[:need])

    def describe(self) -> str:
        return f"{self.level.lower()} {self.uid}"


@dataclass(frozen=True)
class Selection:
    items: tuple[Item, ...]

    @classmethod
    def of(
        cls,
        studies: tuple[str, ...] | list[str] = (),
        series: tuple[str, ...] | list[str] = (),
        instances: tuple[str, ...] | list[str] = (),
    ) -> Selection:
        """Bare UIDs; the parents are learnt from the PACS by C-FIND before the retrieve."""
        return cls(
            tuple(Item("STUDY", study=u) for u in studies)
            + tuple(Item("SERIES", series=u) for u in series)
            + tuple(Item("IMAGE", instance=u) for u in instances)
        )

    def describe(self) -> str:
        if len(self.items) == 1:
            return self.items[0].describe()
        return f"{len(self.items)} items"


def retry_items(instances: tuple[Item, ...], missing: tuple[Item, ...]) -> tuple[Item, ...]:
    """The requests that ask for exactly the ``missing`` instances: a whole study or
    series when every instance of it is missing, else the instances one by one (the
    level falls from study to series to instance)."""
    miss = {i.instance for i in missing}
    by_study: dict[str, list[Item]] = {}
    by_series: dict[tuple[str, str], list[Item]] = {}
    for i in instances:
        by_study.setdefault(i.study, []).append(i)
        by_series.setdefault((i.study, i.series), []).append(i)
    out: list[Item] = []
    covered: set[str] = set()
    for study, items in by_study.items():
        if study and all(i.instance in miss for i in items):
            out.append(Item("STUDY", study))
            covered |= {i.instance for i in items}
    for (study, series), items in by_series.items():
        todo = [i for i in items if i.instance not in covered]
        if study and series and len(todo) == len(items) and all(i.instance in miss for i in items):
            out.append(Item("SERIES", study, series))
            covered |= {i.instance for i in items}
    out += [i for i in missing if i.instance not in covered]
    return tuple(out)


@dataclass(frozen=True)
class Expected:
    """What the PACS holds for the selection, learnt by C-FIND before the retrieve."""

    items: tuple[Item, ...]  # the selection with its parents filled in
    instances: tuple[Item, ...]  # every instance (IMAGE items), when the PACS listed them
    count: int | None  # the expected number of instances, None when it could not be learnt
    sop_classes: tuple[str, ...] = ()
    how: str = ""  # "IMAGE-level C-FIND", "NumberOfStudyRelatedInstances", ...
    problem: str = ""  # why the count is unknown
    # what the selection is, for people: "DOE^JANE · 20240120 · CT chest" (patient data:
    # shown in the window, never logged)
    label: str = field(default="", repr=False)


@dataclass(frozen=True)
class RetrieveProgress:
    """One pending response: the PACS's sub-operation counts, and what the archive has."""

    remaining: int | None
    completed: int
    failed: int
    warning: int
    received: int | None = None  # instances the archive received for this retrieve so far


@dataclass(frozen=True)
class Receiver:
    """The listener a C-MOVE to the local node used."""

    ae_title: str
    port: int
    started: bool  # True: started for this move and stopped after it
    detail: str


@dataclass(frozen=True)
class RetrieveResult:
    method: str  # "C-MOVE" or "C-GET"
    node_name: str
    target: str
    destination: str  # the move destination AE title ("" for C-GET)
    selection: str
    outcome: Outcome
    status: int | None  # the final DIMSE status, None when none arrived
    sentence: str  # what happened, in plain words
    advice: str = ""
    completed: int = 0
    failed: int = 0
    warning: int = 0
    remaining: int | None = None
    failed_uids: tuple[str, ...] = ()  # Failed SOP Instance UID List of the final response
    expected: int | None = None
    expected_how: str = ""
    received: int | None = None  # in the archive for this selection (None: not checked)
    already_had: int = 0  # of those, in the archive before the retrieve began
    missing: tuple[str, ...] = ()  # SOP Instance UIDs expected but not in the archive
    missing_items: tuple[Item, ...] = field(default=(), repr=False)  # for retry_missing
    instances: tuple[Item, ...] = field(default=(), repr=False)  # every expected instance
    local_address: str = ""  # this computer's address as the PACS sees it
    receiver: Receiver | None = None
    cancelled: bool = False
    msg_id: int = 1
    cancel_msg_id: int | None = None
    aborted: bool = False
    elapsed_ms: float = 0.0
    transcript: tuple[Any, ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        """Everything arrived: the PACS reported no failure and nothing is missing."""
        if self.cancelled or self.outcome is not Outcome.SUCCESS:
            return False
        return not (self.failed or self.missing or self.failed_uids)

    @property
    def summary(self) -> str:
        parts = [f"{self.method} of {self.selection}: {self.sentence}"]
        parts.append(f"the PACS reports {self.completed} completed, {self.failed} failed")
        if self.warning:
            parts[-1] += f", {self.warning} with warnings"
        if self.expected is not None:
            parts.append(f"{self.expected} expected ({self.expected_how})")
        if self.received is not None:
            had = f", {self.already_had} of them already here" if self.already_had else ""
            parts.append(f"{self.received} in the local archive{had}")
        if self.missing:
            parts.append(f"{len(self.missing)} missing")
        return "; ".join(parts) + "."

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "node": self.node_name,
            "target": self.target,
            "destination": self.destination,
            "selection": self.selection,
            "ok": self.ok,
            "outcome": str(self.outcome),
            "status": self.status,
            "sentence": self.sentence,
            "advice": self.advice,
            "completed": self.completed,
            "failed": self.failed,
            "warning": self.warning,
            "remaining": self.remaining,
            "failed_uids": list(self.failed_uids),
            "expected": self.expected,
            "expected_how": self.expected_how,
            "received": self.received,
            "already_had": self.already_had,
            "missing": list(self.missing),
            "local_address": self.local_address,
            "receiver": None
            if self.receiver is None
            else {
                "ae_title": self.receiver.ae_title,
                "port": self.receiver.port,
                "started": self.receiver.started,
                "detail": self.receiver.detail,
            },
            "cancelled": self.cancelled,
            "cancel_msg_id": self.cancel_msg_id,
            "aborted": self.aborted,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }
