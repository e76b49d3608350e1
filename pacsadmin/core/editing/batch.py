"""Batches of file rewrites that never lose data: journal, backups, undo, recovery.

For each batch, in ``<home>/editing/batches/<id>/`` (the app's folder, never beside the
user's files): ``journal.jsonl`` and ``backups/<n>.dcm``.  The steps, a chunk of files at a
time (docs/safety.md, "Editing files"):

1. every file is checked first: unchanged since it was loaded (size, mtime, inode),
   writable, its folder writable; any failure refuses the batch before a byte moves;
2. the original is kept as a backup (a hard link when the app's folder is on the same
   file system: the original inode is never written, ``os.replace`` only moves the name;
   else a copy), and the journal records path, old and new SHA-256 and the temp name;
   journal and backups are fsynced before any temp file exists;
3. the new bytes (already re-read and compared by the writer) go to a temp file in the
   file's own folder (``.<name>.pacsadmin-<id>.tmp``), the chunk's temps are made durable
   (one ``syncfs`` per file system), each is read back and compared with the bytes meant,
   then ``os.replace``\\ d over its file and the folders fsynced;
4. an ``end`` record closes the batch (``done``, or ``stopped`` with the error).

Killing the process at any moment leaves each file whole, old or new (``os.replace`` is
atomic); :func:`recover` (at start-up) rolls an unfinished batch back from its backups
and removes its temps, and completes an interrupted undo.  :func:`undo_batch` restores a
whole batch byte-exact, refusing a file that changed since.
"""

from __future__ import annotations

import contextlib
import os
import shutil
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
    new_batch_id,
    reads_back,
    sha,
    sync_files,
    temp_name,
    write_temp,
)
from pacsadmin.core.editing.model import Stamp
from pacsadmin.core.editing.undo import UndoResult, list_batches, recover, undo_batch
from pacsadmin.core.fileio import fsync_dir

__all__ = [
    "BatchRefused",
    "BatchResult",
    "BatchStore",
    "FileEdit",
    "UndoResult",
    "list_batches",
    "precheck",
    "recover",
    "run_batch",
    "undo_batch",
]

CHUNK = 64  # files written, fsynced and renamed together


@dataclass
class FileEdit:
    """One file to rewrite: ``produce()`` gives the new bytes (already verified) and the
    SHA-256 of the original bytes they were made from."""

    path: Path
    produce: Callable[[], tuple[bytes, str]]
    stamp: Stamp
    archive_rel: str | None = None  # a file of the local archive: re-indexed after


@dataclass
class BatchResult:
    batch_id: str
    changed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    stopped: str = ""  # why the batch stopped before its end ("" when it did not)

    @property
    def ok(self) -> bool:
        return not self.stopped and not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch_id,
            "changed": self.changed,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "stopped": self.stopped,
        }


def precheck(edits: list[FileEdit]) -> list[tuple[str, str]]:
    """(path, reason) of every file the batch may not touch."""
    out = []
    for e in edits:
        p = e.path
        try:
            st = os.stat(p)
        except OSError as exc:
            out.append((str(p), f"cannot be read: {exc.strerror}"))
            continue
        if (st.st_size, st.st_mtime_ns, st.st_ino) != (
            e.stamp.size,
            e.stamp.mtime_ns,
            e.stamp.inode,
        ):
            out.append((str(p), "changed on disk since it was loaded: reload it"))
        elif not st.st_mode & 0o200 or not os.access(p, os.W_OK):  # root may write 0444
            out.append((str(p), "is read-only"))
        elif not os.access(p.parent, os.W_OK | os.X_OK):
            out.append((str(p), "its folder is read-only"))
    return out


def run_batch(
    store: BatchStore,
    edits: list[FileEdit],
    *,
    label: str = "",
    on_changed: Callable[[list[FileEdit]], None] | None = None,
    chunk: int = CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Rewrite the files of ``edits`` as one batch (see the module's docstring).

    ``on_changed`` gets the edits whose files were replaced (the archive's re-index)."""
    refused = precheck(edits)
    if refused:
        raise BatchRefused(
            "Nothing was changed: "
            + "; ".join(f"{p} {why}" for p, why in refused[:5])
            + (f" (and {len(refused) - 5} more)" if len(refused) > 5 else "")
        )
    batch_id = new_batch_id()
    folder = store.folder(batch_id)
    (folder / "backups").mkdir(parents=True)
    with contextlib.suppress(OSError):
        os.chmod(store.root.parent, 0o700)
    with batch_lock(folder):  # before the journal exists: recovery elsewhere skips it
        return _run_locked(store, folder, batch_id, edits, label, on_changed, chunk, progress)


def _run_locked(
    store: BatchStore,
    folder: Path,
    batch_id: str,
    edits: list[FileEdit],
    label: str,
    on_changed: Callable[[list[FileEdit]], None] | None,
    chunk: int,
    progress: Callable[[int, int], None] | None,
) -> BatchResult:
    journal = Journal(folder)
    result = BatchResult(batch_id)
    journal.add(
        {
            "type": "begin",
            "id": batch_id,
            "label": label,
            "created": time.time(),
            "count": len(edits),
        },
        sync=True,
    )
    fsync_dir(store.root)
    done: list[FileEdit] = []
    try:
        for start in range(0, len(edits), chunk):
            part = edits[start : start + chunk]
            _run_chunk(folder, batch_id, journal, part, start, result, done)
            if progress is not None:
                progress(start + len(part), len(edits))
    except Exception as exc:
        from pacsadmin.core.damaged import reason

        result.stopped = _why(exc, reason)
    journal.add(
        {
            "type": "end",
            "state": "stopped" if result.stopped else "done",
            "changed": result.changed,
            "error": result.stopped,
        },
        sync=True,
    )
    journal.close()
    if on_changed is not None and done:
        on_changed(done)
    return result


def _why(exc: BaseException, reason: Callable[[BaseException], str]) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return reason(exc)


def _run_chunk(
    folder: Path,
    batch_id: str,
    journal: Journal,
    part: list[FileEdit],
    start: int,
    result: BatchResult,
    done: list[FileEdit],
) -> None:
    temps: list[tuple[FileEdit, Path, int]] = []  # (edit, temp, open fd)
    staged: list[tuple[FileEdit, Path, bytes, int]] = []
    try:
        for i, e in enumerate(part):
            n = start + i
            new, old_sha = e.produce()
            st = os.stat(e.path)
            if (st.st_size, st.st_mtime_ns, st.st_ino) != (
                e.stamp.size,
                e.stamp.mtime_ns,
                e.stamp.inode,
            ):
                raise BatchRefused(f"{e.path} changed on disk since it was loaded")
            backup = folder / "backups" / f"{n}.dcm"
            try:
                os.link(e.path, backup)
            except OSError:
                shutil.copyfile(e.path, backup)
            tmp = temp_name(e.path, batch_id)
            journal.add(
                {
                    "type": "file",
                    "n": n,
                    "path": str(e.path),
                    "old": old_sha,
                    "new": sha(new),
                    "tmp": str(tmp),
                    "archive": e.archive_rel,
                    "mode": st.st_mode & 0o7777,
                },
            )
            staged.append((e, tmp, new, st.st_mode))
        journal.sync()  # the temps' names are on disk before the temps are
        fsync_dir(folder / "backups")
        for e, tmp, new, mode in staged:
            temps.append((e, tmp, write_temp(tmp, new, mode)))
        sync_files([fd for _, _, fd in temps])
        for (e, _, new, _), (_, _, fd) in zip(staged, temps, strict=True):
            if not reads_back(fd, new):  # what is on disk is what was verified
                raise BatchRefused(
                    f"{e.path}: the new file read back differs from what was written"
                )
        staged.clear()
    except BaseException:
        for _, tmp, fd in temps:
            with contextlib.suppress(OSError):
                os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    for _, _, fd in temps:
        os.close(fd)
    parents: set[Path] = set()
    try:
        while temps:
            e, tmp, _ = temps[0]
            os.replace(tmp, e.path)
            temps.pop(0)
            result.changed.append(str(e.path))
            done.append(e)
            parents.add(e.path.parent)
    finally:
        for _, tmp, _ in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        for p in parents:
            fsync_dir(p)
