"""The on-disk side of editing batches: where they live, the journal, temp files, syncs.

``<home>/editing/batches/<id>/journal.jsonl`` holds one JSON record a line (``begin``,
one ``file`` a file: path, old and new SHA-256, temp name, archive path; ``end`` with
``done`` or ``stopped``; ``undo-begin``/``undo-end``; ``recovered``); ``backups/<n>.dcm``
the originals; ``lock`` is held (flock) by the process running or undoing the batch, so a
start-up recovery in another process never rolls back a batch that is still running.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from pacsadmin.core.errors import PacsAdminError


class BatchRefused(PacsAdminError):
    pass


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


class Journal:
    def __init__(self, folder: Path) -> None:
        self.fh: TextIO = open(folder / "journal.jsonl", "a", encoding="utf-8")  # noqa: SIM115

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


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha(path: Path) -> str | None:
    try:
        return sha(path.read_bytes())
    except OSError:
        return None


def temp_name(path: Path, batch_id: str) -> Path:
    return path.parent / f".{path.name}.pacsadmin-{batch_id}.tmp"


def new_batch_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


@contextlib.contextmanager
def batch_lock(folder: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold the batch's lock; yields False (without waiting) when ``wait`` is False and
    another process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


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


def reads_back(fd: int, data: bytes) -> bool:
    """The file at ``fd`` holds exactly ``data`` (read back from the file system)."""
    got = os.pread(fd, len(data) + 1, 0)
    return len(got) == len(data) and got == data


def write_temp(tmp: Path, data: bytes, mode: int) -> int:
    """Create ``tmp`` with ``data``; returns the open descriptor (fsynced later)."""
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode & 0o7777)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except BaseException:
        os.close(fd)
        raise
    return fd
