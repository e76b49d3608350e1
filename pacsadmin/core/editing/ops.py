"""The same tag edits over many files: plan (validate and preview), then apply as a batch.

:func:`plan_edits` loads every file, applies the edits in an :class:`EditSession` (which
validates each value against the file's VR and character set) and keeps only the stamp
and the preview: a bad value, an unreadable file or a missing sequence refuses the plan
before any file is touched.  :func:`apply_plan` runs the batch; each file is read again,
checked against its stamp (size, mtime, inode; SHA-256 when the plan has one), hashed
for the journal, rendered and verified there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pacsadmin.core.editing.batch import BatchResult, BatchStore, FileEdit, run_batch
from pacsadmin.core.editing.model import DicomFile, Stamp, load_header, parse, read_stamped
from pacsadmin.core.editing.session import Change, EditSession
from pacsadmin.core.errors import PacsAdminError

Recipe = Callable[[EditSession], None]  # applies the edits to one file's session


class FileChangedSinceLoad(PacsAdminError):
    pass


@dataclass
class FilePlan:
    path: Path
    stamp: Stamp
    changes: list[Change]
    archive_rel: str | None = None
    charset: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "changes": [c.to_json() for c in self.changes]}


@dataclass
class Plan:
    files: list[FilePlan]
    recipe: Recipe
    upgrade_charset: bool = False
    label: str = ""
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[str] = field(default_factory=list)

    @property
    def changing(self) -> list[FilePlan]:
        return [f for f in self.files if f.changes]


def open_session(df: DicomFile, recipe: Recipe, upgrade_charset: bool) -> EditSession:
    s = EditSession(df, upgrade_charset=upgrade_charset)
    recipe(s)
    return s


def plan_edits(
    paths: list[Path],
    recipe: Recipe,
    *,
    upgrade_charset: bool = False,
    label: str = "",
    archive_rels: dict[Path, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Plan:
    """Validate ``recipe`` on every file; ``refused`` lists each file and why (a plan
    with any refusal must not be applied)."""
    from pacsadmin.core.damaged import reason

    plan = Plan([], recipe, upgrade_charset, label)
    for i, p in enumerate(paths):
        try:
            df = load_header(p)
            if not df.complete:
                plan.refused.append((str(p), "cannot be saved: " + df.problems[-1]))
                continue
            s = open_session(df, recipe, upgrade_charset)
            assert df.stamp is not None
            rel = (archive_rels or {}).get(p)
            plan.files.append(FilePlan(p, df.stamp, s.preview(), rel, df.charset))
        except PacsAdminError as exc:
            plan.refused.append((str(p), str(exc)))
        except Exception as exc:
            plan.refused.append((str(p), reason(exc)))
        if progress is not None:
            progress(i + 1, len(paths))
    return plan


def producer(
    fp: FilePlan, recipe: Recipe, upgrade_charset: bool
) -> Callable[[], tuple[bytes, str]]:
    def produce() -> tuple[bytes, str]:
        data, st = read_stamped(fp.path)
        if (st.size, st.mtime_ns, st.inode) != (fp.stamp.size, fp.stamp.mtime_ns, fp.stamp.inode):
            raise FileChangedSinceLoad(f"{fp.path} changed on disk since it was loaded")
        if fp.stamp.sha256 and st.sha256 != fp.stamp.sha256:
            raise FileChangedSinceLoad(f"{fp.path} changed on disk since it was loaded")
        df = parse(data, fp.path, st)
        return open_session(df, recipe, upgrade_charset).render(), st.sha256

    return produce


def apply_plan(
    store: BatchStore,
    plan: Plan,
    *,
    audit: Any = None,
    on_changed: Callable[[list[FileEdit]], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    details: dict[str, Any] | None = None,
) -> BatchResult:
    """Run the plan's changing files as one batch and record it in the audit log (the
    one place patient values may appear: every file, tag, old and new value)."""
    if plan.refused:
        raise PacsAdminError(
            "The plan has refused files; nothing was changed: "
            + "; ".join(f"{p}: {r}" for p, r in plan.refused[:3])
        )
    edits = [
        FileEdit(fp.path, producer(fp, plan.recipe, plan.upgrade_charset), fp.stamp, fp.archive_rel)
        for fp in plan.changing
    ]
    result = run_batch(store, edits, label=plan.label, on_changed=on_changed, progress=progress)
    if audit is not None:
        changed = set(result.changed)
        audit.record(
            "edit",
            "stopped" if result.stopped else "ok",
            target=plan.label or "tags",
            summary=f"batch {result.batch_id}: {len(result.changed)} file(s) changed"
            + (f"; stopped: {result.stopped}" if result.stopped else ""),
            details={
                "batch": result.batch_id,
                **(details or {}),
                "files": [fp.to_json() for fp in plan.changing if str(fp.path) in changed],
                "stopped": result.stopped,
            },
        )
    return result
