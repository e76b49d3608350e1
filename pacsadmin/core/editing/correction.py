"""Fix a mislabeled study: patient and study attributes over a set of files, with a
preview, the Original Attributes Sequence, an explicit UID policy and an audit record.

::

    c = Correction(patient=PatientFields(name="DOE^JANE", id="P2"),
                   study=StudyFields(accession="A7"),
                   uid_policy=UidPolicy.KEEP)
    plan = plan_correction(c, files=[...])                  # or archive=..., study_uids=[...]
    plan.files[i].changes    # the before/after of every file (the preview)
    plan.warnings            # e.g. the patient's other studies keep the old identity
    result = apply_correction(plan, store, audit=..., archive=...)   # one batch; undo_batch

Old values go to a new item of the Original Attributes Sequence (0400,0561): its Modified
Attributes Sequence holds the replaced elements as they were (bytes copied), with the
modification time, the modifying system and reason CORRECT (PS3.3 C.12.1).

UID policy NEW: every Study, Series and SOP Instance UID of the files gets a new UID (one
map for the whole plan), and every UI element anywhere in the files holding one of the old
UIDs (references inside the study, the file meta's Media Storage SOP Instance UID) is
rewritten with it, so the study stays consistent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pacsadmin.core.editing.batch import BatchResult, BatchStore, FileEdit
from pacsadmin.core.editing.model import DicomFile, load_header, walk
from pacsadmin.core.editing.ops import Plan, apply_plan, plan_edits
from pacsadmin.core.editing.session import EditSession
from pacsadmin.core.editing.tagpath import TagPath
from pacsadmin.core.editing.values import decode_value
from pacsadmin.core.errors import PacsAdminError

ORIGINAL_ATTRIBUTES = "OriginalAttributesSequence"
UID_TAGS = (0x0020000D, 0x0020000E, 0x00080018)  # study, series, SOP instance
UID_NOTE_KEEP = (
    "UIDs are kept: a PACS that already holds these instances may ignore or reject the "
    "corrected copies when they are sent back (delete them there first, or choose new UIDs)."
)


class UidPolicy(StrEnum):
    KEEP = "keep"
    NEW = "new"


@dataclass(frozen=True)
class PatientFields:
    """None: leave as it is; "": make empty."""

    name: str | None = None
    id: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    other_ids: str | None = None  # Other Patient IDs (0010,1000), backslash-separated


@dataclass(frozen=True)
class StudyFields:
    accession: str | None = None
    description: str | None = None
    date: str | None = None
    referring_physician: str | None = None


_PATIENT = {"name": "PatientName", "id": "PatientID", "birth_date": "PatientBirthDate",
            "sex": "PatientSex", "other_ids": "OtherPatientIDs"}  # fmt: skip
_STUDY = {"accession": "AccessionNumber", "description": "StudyDescription",
          "date": "StudyDate", "referring_physician": "ReferringPhysicianName"}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Correction:
    patient: PatientFields = PatientFields()
    study: StudyFields = StudyFields()
    uid_policy: UidPolicy = UidPolicy.KEEP
    reason: str = "CORRECT"

    def targets(self) -> list[tuple[str, str]]:
        """(keyword, new value) of every field given."""
        out = []
        for attr, kw in _PATIENT.items():
            v = getattr(self.patient, attr)
            if v is not None:
                out.append((kw, v))
        for attr, kw in _STUDY.items():
            v = getattr(self.study, attr)
            if v is not None:
                out.append((kw, v))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "fields": dict(self.targets()),
            "uid_policy": str(self.uid_policy),
            "reason": self.reason,
        }


@dataclass
class CorrectionPlan:
    correction: Correction
    plan: Plan
    uid_map: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    other_studies: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[Any]:
        return self.plan.files

    @property
    def refused(self) -> list[tuple[str, str]]:
        return self.plan.refused


def top_value(df: DicomFile, tag: int) -> str | None:
    nodes = df.meta if tag >> 16 == 2 else df.elements
    buf = df.head if tag >> 16 == 2 else df.body
    for n in nodes:
        if n.tag == tag:
            return decode_value(buf[n.value_start : n.end], n.vr, df.charset, n.little)
    return None


def _tag(kw: str) -> int:
    return TagPath.parse(kw).tag


def recipe_for(c: Correction, uid_map: dict[str, str], stamp: str):  # type: ignore[no-untyped-def]
    """The edits of ``c`` for one file's session (the same on every run: the time and
    the UID map are fixed by the plan)."""

    def recipe(s: EditSession) -> None:
        df = s.df
        changes = [(kw, v) for kw, v in c.targets() if top_value(df, _tag(kw)) != v]
        remaps = []
        if c.uid_policy is UidPolicy.NEW:
            for key, node in walk(df.elements):
                if node.vr == "UI" and node.items is None:
                    old = decode_value(df.body[node.value_start : node.end], "UI", [], True)
                    if old in uid_map:
                        remaps.append((TagPath.of(key), uid_map[old]))
            for n in df.meta:
                if n.tag == 0x00020003:
                    old = decode_value(df.head[n.value_start : n.end], "UI", [], True)
                    if old in uid_map:
                        remaps.append((TagPath.of((n.tag,)), uid_map[old]))
        if not changes and not remaps:
            return
        k = s.add_item(ORIGINAL_ATTRIBUTES)
        item = f"{ORIGINAL_ATTRIBUTES}[{k}]"
        kept = [kw for kw, _ in changes]
        if remaps:
            kept += [
                kw
                for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
                if top_value(df, _tag(kw)) is not None
            ]
        for kw in kept:
            s.copy(kw, f"{item}.ModifiedAttributesSequence[0].{kw}")
        s.set(f"{item}.AttributeModificationDateTime", stamp)
        s.set(f"{item}.ModifyingSystem", "pacsadmin")
        s.set(f"{item}.ReasonForTheAttributeModification", c.reason)
        s.set(f"{item}.SourceOfPreviousValues", "")
        for kw, v in changes:
            s.set(kw, v)
        for path, new in remaps:
            s.set(path, new)

    return recipe


def _uid_map(paths: list[Path]) -> dict[str, str]:
    from pydicom.uid import generate_uid

    out: dict[str, str] = {}
    for p in paths:
        df = load_header(p)
        for tag in UID_TAGS:
            v = top_value(df, tag)
            if v and v not in out:
                out[v] = generate_uid()
    return out


def plan_correction(
    c: Correction,
    *,
    files: list[Path] | None = None,
    archive: Any = None,
    study_uids: list[str] | None = None,
    upgrade_charset: bool = False,
    progress: Any = None,
) -> CorrectionPlan:
    """The preview of ``c`` over local ``files`` or the ``archive``'s ``study_uids``."""
    if not c.targets() and c.uid_policy is UidPolicy.KEEP:
        raise PacsAdminError("Nothing to correct: no field was given and UIDs are kept.")
    paths = [Path(f).resolve() for f in files or []]
    rels: dict[Path, str] = {}
    if study_uids:
        if archive is None:
            raise PacsAdminError("Archive studies need the archive.")
        for _, rel in archive.instance_paths("study", study_uids):
            p = archive.path_of(rel)
            paths.append(p)
            rels[p] = rel
    elif archive is not None:
        from pacsadmin.core.editing.archive_link import archive_rel

        for p in paths:
            r = archive_rel(archive.root, p)
            if r:
                rels[p] = r
    uid_map = _uid_map(paths) if c.uid_policy is UidPolicy.NEW else {}
    stamp = time.strftime("%Y%m%d%H%M%S")
    plan = plan_edits(
        paths,
        recipe_for(c, uid_map, stamp),
        upgrade_charset=upgrade_charset,
        label="correction",
        archive_rels=rels,
        progress=progress,
    )
    cp = CorrectionPlan(c, plan, uid_map)
    if c.uid_policy is UidPolicy.KEEP:
        cp.notes.append(UID_NOTE_KEEP)
    if archive is not None:
        _other_studies(cp, archive, paths)
    return cp


def _other_studies(cp: CorrectionPlan, archive: Any, paths: list[Path]) -> None:
    """The patient's studies in the archive that this correction leaves as they are."""
    if cp.correction.patient == PatientFields():
        return
    ids: set[str] = set()
    studies: set[str] = set()
    for p in paths:
        try:
            df = load_header(p)
        except OSError:
            continue
        ids.add(top_value(df, 0x00100020) or "")
        studies.add(top_value(df, 0x0020000D) or "")
    others = [
        s
        for s in archive.studies()
        if s["patient_id"] in ids and s["patient_id"] and s["study_uid"] not in studies
    ]
    cp.other_studies = others
    if others:
        cp.warnings.append(
            f"This patient has {len(others)} other stud{'y' if len(others) == 1 else 'ies'} "
            "in the archive that would keep the old identity (apply to all of this "
            "patient's studies to correct them too)."
        )


def apply_correction(
    cp: CorrectionPlan,
    store: BatchStore,
    *,
    audit: Any = None,
    archive: Any = None,
    progress: Any = None,
) -> BatchResult:
    """One batch; archive files re-indexed in one transaction when it ends."""
    on_changed = None
    if archive is not None:
        from pacsadmin.core.editing.archive_link import reindex

        def on_changed(done: list[FileEdit]) -> None:
            reindex(archive, [e.archive_rel for e in done if e.archive_rel])

    return apply_plan(
        store,
        cp.plan,
        audit=audit,
        on_changed=on_changed,
        progress=progress,
        details={"correction": cp.correction.to_json(), "uid_map": cp.uid_map},
    )


def patient_studies(archive: Any, patient_id: str) -> list[str]:
    """Study UIDs of every study of ``patient_id`` in the archive ("apply to all")."""
    return [s["study_uid"] for s in archive.studies() if s["patient_id"] == patient_id]
