"""Batches of file rewrites that never lose data: journal, backups, undo, recovery.

For each batch, in ``<home>/editing/batches/<id>/`` (the app's folder, never beside the
user's files): ``journal.jsonl`` and ``backups/<n>.dcm``.  The steps, a chunk of files at a
time (docs/safety.md, "Editing files"):

1. every file is checked first: unchanged since it was loaded (size, mtime, inode),
   writable, its folder writable; any failure refuses the batch before a byte moves;
2. the original is kept as a backup (a hard link when the app's folder is on the same
   file system: the original inode is never written, ``os.replace`` only moves the name;
   else a copy), and the journal records path, old and new SHA-256 and the temp name;
3. the new bytes go to a temp file in the file's own folder (``.<name>.pacsadmin-<id>.tmp``),
   all temps of the chunk are fsynced, the journal and backups fsynced, then each temp is
   ``os.replace``\\ d over its file and the folders fsynced (fsyncs batched per chunk);
4. an ``end`` record closes the batch (``done``, or ``stopped`` with the error).

Killing the process at any moment leaves each file whole, old or new (``os.replace`` is
atomic); :func:`recover` (at start-up) rolls an unfinished batch back from its backups
and removes its temps, and completes an interrupted undo.  :func:`undo_batch` restores a
whole batch byte-exact, refusing a file that changed since.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pacsadmin.core.editing.model import Stamp
from pacsadmin.core.errors import PacsAdminError
from pacsadmin.core.fileio import fsync_dir

CHUNK = 64  # files written, fsynced and renamed together


class BatchRefused(PacsAdminError):
    pass


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


@dataclass
class UndoResult:
    batch_id: str
    restored: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


class BatchStore:
    def __init__(self, home: Path) -> None:
        self.root = Path(home) / "editing" / "batches"

    def folder(self, batch_id: str) -> Path:
        if not batch_id or "/" in batch_id or batch_id.startswith("."):
            raise BatchRefused(f"{batch_id!r} is not a batch.")
        return self.root / batch_id

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "journal.jsonl").is_file())


def read_journal(folder: Path) -> list[dict[str, Any]]:
    out = []
    with contextlib.suppress(OSError):
        for line in (folder / "journal.jsonl").read_text("utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                break  # a line cut by a crash: nothing after it was acted on
    return out


def state_of(records: list[dict[str, Any]]) -> str:
    """``open`` (unfinished), ``done``, ``stopped``, ``undoing``, ``undone``,
    ``rolled_back``."""
    state = "open"
    for r in records:
        if r.get("type") == "end":
            state = r.get("state", "done")
        elif r.get("type") == "undo-begin":
            state = "undoing"
        elif r.get("type") == "undo-end":
            state = "undone"
        elif r.get("type") == "recovered":
            state = "rolled_back"
    return state


class _Journal:
    def __init__(self, folder: Path) -> None:
        self.fh = open(folder / "journal.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def add(self, rec: dict[str, Any], *, sync: bool = False) -> None:
        self.fh.write(json.dumps(rec) + "\n")
        if sync:
            self.sync()

    def sync(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(path: Path) -> str | None:
    try:
        return _sha(path.read_bytes())
    except OSError:
        return None


def temp_name(path: Path, batch_id: str) -> Path:
    return path.parent / f".{path.name}.pacsadmin-{batch_id}.tmp"


def new_batch_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


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


def _syncfs() -> Callable[[int], int] | None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]

    def call(fd: int) -> int:
        return int(fn(fd))

    return call


_SYNCFS = _syncfs()


def sync_files(fds: list[int]) -> None:
    """Make the files durable: one ``syncfs(2)`` per file system (Linux; the batched
    fsync: each fsync of a chunk's files would wait for its own journal commit, ~5 ms
    each on a busy disk), else an fsync per file."""
    if _SYNCFS is not None:
        seen: set[int] = set()
        for fd in fds:
            dev = os.fstat(fd).st_dev
            if dev in seen:
                continue
            seen.add(dev)
            if _SYNCFS(fd) != 0:
                break
        else:
            return
    for fd in fds:
        os.fsync(fd)


def write_temp(tmp: Path, data: bytes, mode: int) -> int:
    """Create ``tmp`` with ``data``; returns the open descriptor (fsynced later)."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o7777)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except BaseException:
        os.close(fd)
        raise
    return fd


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
    journal = _Journal(folder)
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
    journal: _Journal,
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
                    "new": _sha(new),
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
        staged.clear()
        sync_files([fd for _, _, fd in temps])
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
        cur = _file_sha(path)
        if cur == r["old"]:
            continue  # never replaced, or restored already
        if cur != r["new"]:
            out.refused.append((str(path), "changed since the batch: left as it is"))
            continue
        backup = folder / "backups" / f"{r['n']}.dcm"
        data = backup.read_bytes()
        if _sha(data) != r["old"]:
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
    records = read_journal(folder)
    if not records:
        raise BatchRefused(f"No batch {batch_id!r}.")
    state = state_of(records)
    if state in ("undone", "rolled_back"):
        raise BatchRefused(f"Batch {batch_id} was undone already.")
    journal = _Journal(folder)
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
        records = read_journal(folder)
        state = state_of(records)
        if state not in ("open", "undoing"):
            continue
        res = UndoResult(b)
        arch = _restore(folder, records, res)
        journal = _Journal(folder)
        rec_type = "recovered" if state == "open" else "undo-end"
        journal.add(
            {"type": rec_type, "restored": res.restored, "refused": [list(x) for x in res.refused]},
            sync=True,
        )
        journal.close()
        if on_restored is not None and arch:
            on_restored(arch)
        out.append(res)
    return out


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
