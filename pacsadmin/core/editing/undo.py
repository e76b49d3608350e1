"""Undo a batch byte-exact, and recover unfinished batches at start-up."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pacsadmin.core.editing.journal import (
    BatchRefused,
    BatchStore,
    Journal,
    batch_lock,
    file_sha,
    read_journal,
    sha,
    state_of,
    write_temp,
)
from pacsadmin.core.fileio import fsync_dir


@dataclass
class UndoResult:
    batch_id: str
    restored: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


# ------------------------------------------------------------------ undo and recovery
def _restore(folder: Path, records: list[dict[str, Any]], out: UndoResult) -> list[str]:
    """Put back every file of the batch that holds its new version; returns the
    archive paths restored."""
    arch: list[str] = []
    for r in records:
        if r.get("type") != "file":
            continue
        path, tmp = Path(r["path"]), Path(r["tmp"])
        with contextlib.suppress(OSError):
            tmp.unlink()  # a temp a crash left
        cur = file_sha(path)
        if cur == r["old"]:
            continue  # never replaced, or restored already
        if cur != r["new"]:
            out.refused.append((str(path), "changed since the batch: left as it is"))
            continue
        backup = folder / "backups" / f"{r['n']}.dcm"
        data = backup.read_bytes()
        if sha(data) != r["old"]:
            out.refused.append((str(path), "its backup is damaged: left as it is"))
            continue
        fd = write_temp(tmp, data, int(r.get("mode", 0o644)))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        fsync_dir(path.parent)
        out.restored.append(str(path))
        if r.get("archive"):
            arch.append(r["archive"])
    return arch


def undo_batch(
    store: BatchStore,
    batch_id: str | None = None,
    *,
    on_restored: Callable[[list[str]], None] | None = None,
) -> UndoResult:
    """Restore the files of a batch (default: the latest one not undone) byte-exact."""
    if batch_id is None:
        cands = [
            b for b in store.ids() if state_of(read_journal(store.folder(b))) in ("done", "stopped")
        ]
        if not cands:
            raise BatchRefused("There is no batch to undo.")
        batch_id = cands[-1]
    folder = store.folder(batch_id)
    if not (folder / "journal.jsonl").is_file():
        raise BatchRefused(f"No batch {batch_id!r}.")
    with batch_lock(folder, wait=False) as mine:
        if not mine:
            raise BatchRefused(f"Batch {batch_id} is running in another process.")
        return _undo_locked(folder, batch_id, on_restored)


def _undo_locked(
    folder: Path, batch_id: str, on_restored: Callable[[list[str]], None] | None
) -> UndoResult:
    records = read_journal(folder)
    state = state_of(records)
    if state in ("undone", "rolled_back"):
        raise BatchRefused(f"Batch {batch_id} was undone already.")
    if state == "open":
        raise BatchRefused(f"Batch {batch_id} is unfinished: it is rolled back at start-up.")
    journal = Journal(folder)
    journal.add({"type": "undo-begin", "at": time.time()}, sync=True)
    out = UndoResult(batch_id)
    arch = _restore(folder, records, out)
    journal.add(
        {"type": "undo-end", "restored": out.restored, "refused": [list(x) for x in out.refused]},
        sync=True,
    )
    journal.close()
    if on_restored is not None and arch:
        on_restored(arch)
    return out


def recover(
    store: BatchStore, *, on_restored: Callable[[list[str]], None] | None = None
) -> list[UndoResult]:
    """At start-up: roll back every unfinished batch, complete every interrupted undo."""
    out = []
    for b in store.ids():
        folder = store.folder(b)
        if state_of(read_journal(folder)) not in ("open", "undoing"):
            continue
        with batch_lock(folder, wait=False) as mine:
            if mine:  # else: a live process is running or undoing it
                res = _recover_locked(folder, b, on_restored)
                if res is not None:
                    out.append(res)
    return out


def _recover_locked(
    folder: Path, b: str, on_restored: Callable[[list[str]], None] | None
) -> UndoResult | None:
    records = read_journal(folder)
    state = state_of(records)
    if state not in ("open", "undoing"):
        return None
    res = UndoResult(b)
    arch = _restore(folder, records, res)
    journal = Journal(folder)
    rec_type = "recovered" if state == "open" else "undo-end"
    journal.add(
        {"type": rec_type, "restored": res.restored, "refused": [list(x) for x in res.refused]},
        sync=True,
    )
    journal.close()
    if on_restored is not None and arch:
        on_restored(arch)
    return res


def list_batches(store: BatchStore) -> list[dict[str, Any]]:
    out = []
    for b in store.ids():
        recs = read_journal(store.folder(b))
        begin = recs[0] if recs else {}
        out.append(
            {
                "batch": b,
                "label": begin.get("label", ""),
                "created": begin.get("created"),
                "files": sum(1 for r in recs if r.get("type") == "file"),
                "state": state_of(recs),
            }
        )
    return out
