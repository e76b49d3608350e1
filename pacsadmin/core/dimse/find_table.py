"""C-FIND matches as table rows: the columns a query asks for, each match's cells as
people read them (``core/format.py``), sort keys, a filter text, CSV and tab-separated
text.  Qt-free: the Query panel builds rows on the worker thread that reads the
responses, so the GUI thread only appends finished rows; the CLI's CSV and the panel's
CSV export write the same raw values under the same DICOM keywords.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pacsadmin.core.dimse.find_query import FindQuery, build_identifier
from pacsadmin.core.dimse.find_result import FindMatch
from pacsadmin.core.dimse.retrieve_model import Item
from pacsadmin.core.format import format_value

SPS = "ScheduledProcedureStepSequence"
_HIDDEN = {0x00080005, 0x00080052}  # Specific Character Set, Query/Retrieve Level
_NUMERIC_VRS = {"IS", "DS", "US", "UL", "SS", "SL", "FL", "FD"}
TITLES = {
    "PatientName": "Patient name",
    "PatientID": "Patient ID",
    "PatientBirthDate": "Birth date",
    "PatientSex": "Sex",
    "StudyDate": "Study date",
    "StudyTime": "Time",
    "AccessionNumber": "Accession",
    "StudyID": "Study ID",
    "StudyDescription": "Study description",
    "ModalitiesInStudy": "Modalities",
    "ReferringPhysicianName": "Referring physician",
    "StudyInstanceUID": "Study Instance UID",
    "NumberOfStudyRelatedSeries": "Series",
    "NumberOfStudyRelatedInstances": "Instances",
    "NumberOfPatientRelatedStudies": "Studies",
    "SeriesInstanceUID": "Series Instance UID",
    "SeriesNumber": "Series #",
    "SeriesDescription": "Series description",
    "NumberOfSeriesRelatedInstances": "Instances",
    "SOPInstanceUID": "SOP Instance UID",
    "SOPClassUID": "SOP Class UID",
    "InstanceNumber": "Instance #",
    "ScheduledStationAETitle": "Station AE",
    "ScheduledProcedureStepStartDate": "Scheduled date",
    "ScheduledProcedureStepStartTime": "Scheduled time",
    "ScheduledPerformingPhysicianName": "Performing physician",
    "ScheduledProcedureStepDescription": "Step description",
    "ScheduledProcedureStepID": "Step ID",
    "RequestedProcedureID": "Requested procedure",
    "RequestedProcedureDescription": "Procedure description",
}
# the columns people read first, in this order; the others follow in tag order, UIDs last
ORDER = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "NumberOfPatientRelatedStudies",
    "StudyDate", "StudyTime", "ModalitiesInStudy", "StudyDescription", "AccessionNumber",
    "StudyID", "ReferringPhysicianName", "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances", "SeriesNumber", "Modality", "SeriesDescription",
    "NumberOfSeriesRelatedInstances", "InstanceNumber", "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime", "ScheduledStationAETitle",
)  # fmt: skip
LEVEL_UID = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}


@dataclass(frozen=True)
class Column:
    keyword: str  # the DICOM keyword (or GGGGEEEE); the CSV header
    title: str  # for people
    vr: str
    in_sps: bool = False  # a worklist key inside the Scheduled Procedure Step Sequence

    @property
    def numeric(self) -> bool:
        return self.vr in _NUMERIC_VRS


@dataclass(frozen=True, slots=True)
class FindRow:
    """One match as the table shows it (slots: 10,000 rows are 10,000 objects for the
    GUI process's garbage collector, not 20,000)."""

    match: FindMatch
    cells: tuple[str, ...]  # what the table shows, one per column
    hay: str  # the cells, case-folded, for the filter box
    uid: str  # the level's unique key ("" when the peer did not return it)


def columns_for(query: FindQuery) -> tuple[Column, ...]:
    """The columns of the attributes ``query`` asks for, in the identifier's order
    (tag order: patient, study, series, instance attributes)."""
    from pydicom.datadict import keyword_for_tag

    ds = build_identifier(query, "ISO_IR 192")  # any text fits; the query was checked
    out: list[Column] = []
    for elem in ds:
        if int(elem.tag) in _HIDDEN:
            continue
        kw = keyword_for_tag(elem.tag) or f"{int(elem.tag):08X}"
        if elem.VR == "SQ":
            if kw == SPS and elem.value:
                for sub in elem.value[0]:
                    skw = keyword_for_tag(sub.tag) or f"{int(sub.tag):08X}"
                    out.append(Column(skw, TITLES.get(skw, skw), str(sub.VR), True))
            continue
        out.append(Column(kw, TITLES.get(kw, kw), str(elem.VR)))
    rank = {kw: i for i, kw in enumerate(ORDER)}
    return tuple(sorted(out, key=lambda c: (c.vr == "UI", rank.get(c.keyword, len(ORDER)))))


def raw_value(match: FindMatch, column: Column) -> str:
    """The value as DICOM wrote it (several values joined with a backslash)."""
    values: Any = match.values
    if column.in_sps:
        sps = values.get(SPS)
        values = sps[0] if isinstance(sps, list) and sps and isinstance(sps[0], dict) else {}
    v = values.get(column.keyword, "")
    if isinstance(v, list):
        if v and isinstance(v[0], dict):
            return f"({len(v)} item{'s' if len(v) != 1 else ''})"
        return "\\".join(str(x) for x in v)
    return str(v)


def sort_key(row: FindRow, columns: Sequence[Column], k: int) -> Any:
    """Column ``k``'s sort key: numbers as numbers, dates and times by their DICOM text,
    the rest by the shown text, case-folded."""
    c = columns[k]
    text = raw_value(row.match, c) if c.vr in ("DA", "TM", "DT") else row.cells[k]
    if c.numeric:
        try:
            return (0, float(text.split("\\")[0]))
        except ValueError:
            return (1, 0.0, text)
    return (0, text.casefold())


def make_row(
    match: FindMatch,
    columns: Sequence[Column],
    level: str | None,
    clean: Callable[[str], str] | None = None,
) -> FindRow:
    """The row for ``match``; ``clean``: applied to each shown cell (the GUI's: control
    characters made visible, one line, elided), so a view shows the cells as they are."""
    cells = tuple(
        format_value(r, c.vr) if c.vr in ("PN", "DA", "TM", "DT") else r
        for r, c in ((raw_value(match, c), c) for c in columns)
    )
    if clean is not None:
        cells = tuple(clean(c) for c in cells)
    uid = match.values.get(LEVEL_UID.get(level or "", ""), "")
    return FindRow(match, cells, "\x1f".join(cells).casefold(), uid if isinstance(uid, str) else "")


def retrieve_item(level: str | None, match: FindMatch) -> Item | None:
    """The retrieve core's item for a STUDY, SERIES or IMAGE match (None for a patient
    or a worklist item, or when the peer did not return the level's UID)."""
    if level not in ("STUDY", "SERIES", "IMAGE"):
        return None

    def get(kw: str) -> str:
        v = match.values.get(kw, "")
        return v if isinstance(v, str) else ""

    item = Item(level, get("StudyInstanceUID"), get("SeriesInstanceUID"), get("SOPInstanceUID"))
    return item if item.uid else None


def _write(rows: Iterable[Sequence[str]], delimiter: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def to_csv(columns: Sequence[Column], rows: Iterable[FindRow], local: Sequence[str] = ()) -> str:
    """A header of DICOM keywords and one line per row of raw values (what
    ``pacsadmin find --csv`` writes); ``local``: each row's archive mark (all / some /
    none), as a ``Local`` column; an ``Unreadable`` column says why a match was not."""
    rows = list(rows)
    head = [c.keyword for c in columns]
    if local:
        head.append("Local")
    head.append("Unreadable")
    lines: list[list[str]] = [head]
    for k, r in enumerate(rows):
        line = [raw_value(r.match, c) for c in columns]
        if local:
            line.append(local[k] if k < len(local) else "")
        line.append(r.match.unreadable)
        lines.append(line)
    return _write(lines, ",")


def to_tsv(titles: Sequence[str], cells: Iterable[Sequence[str]]) -> str:
    """Tab-separated text (a header of titles, the cells as shown): for the clipboard; a
    spreadsheet pastes it into columns."""
    clean = [[c.replace("\t", " ").replace("\n", " ") for c in row] for row in cells]
    return "\n".join("\t".join(r) for r in [list(titles), *clean]) + "\n"


_COUNT_KEYS = {
    "PATIENT": "NumberOfPatientRelatedInstances",
    "STUDY": "NumberOfStudyRelatedInstances",
    "SERIES": "NumberOfSeriesRelatedInstances",
}


def remote_count(level: str | None, match: FindMatch) -> int | None:
    """The instance count the PACS reported for the match (None: it did not say)."""
    if level == "IMAGE":
        return 1
    v = match.values.get(_COUNT_KEYS.get(level or "", ""), "")
    try:
        return int(str(v).strip())
    except ValueError:
        return None


_NEXT = {"PATIENT": "STUDY", "STUDY": "SERIES", "SERIES": "IMAGE"}


def drill_down(query: FindQuery, match: FindMatch) -> FindQuery | None:
    """The query one level down under ``match`` (a patient's studies, a study's series, a
    series' instances), with the unique keys of every level above it (PS3.4 C.4.1.2.2:
    the Patient ID for the Patient Root, the Study and Series Instance UIDs); None at
    the IMAGE level, for the worklist, or when the match lacks its own unique key."""
    from dataclasses import replace

    level = query.level or ""
    nxt = _NEXT.get(level)
    if query.model == "worklist" or nxt is None:
        return None
    chain = ("PATIENT", "STUDY", "SERIES") if query.model == "patient" else ("STUDY", "SERIES")
    wanted = [LEVEL_UID[lv] for lv in chain[: chain.index(level) + 1]]
    known = {k: v for k, v in query.keys if k in wanted and v}
    keys: list[tuple[str, str]] = []
    for kw in wanted:
        v = match.values.get(kw) or known.get(kw, "")
        if isinstance(v, str) and v:
            keys.append((kw, v))
    if LEVEL_UID[level] not in dict(keys):
        return None
    return replace(query, level=nxt, keys=tuple(keys), return_keys=())
