"""The node directory's file, shared by every pacsadmin process of a user.

The window, ``pacsadmin nodes ...`` in a terminal and the local SCP all read and write the
same ``nodes.json``.  Three rules keep one process from losing another's change:

* every change is a read-modify-write under an exclusive lock on a sidecar file
  (``nodes.json.lock``; ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows), and the
  file is re-read under that lock when its bytes differ from what this process last saw;
* the file is replaced atomically (temp file in the same folder, flush, fsync,
  ``os.replace``, fsync of the folder), so a reader sees the old or the new file, never half;
* a file that cannot be parsed is reported with its line and column and is never replaced:
  writes are refused until the user fixes or moves it (pacsadmin keeps no copy and never
  renames it; what to do with it is the user's choice).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pacsadmin.core.errors import PacsAdminError
from pacsadmin.core.fileio import atomic_write_bytes

LOCK_TIMEOUT_S = 10.0  # a change waits this long for another process's change to finish


class NodeFileDamaged(PacsAdminError):
    """``nodes.json`` exists but cannot be used; nothing is written until it is fixed."""

    def __init__(self, path: Path, problem: str, line: int | None = None, col: int | None = None):
        where = f" at line {line}, column {col}" if line is not None else ""
        super().__init__(
            f"The node directory {path} is damaged{where}: {problem}. "
            f"pacsadmin changes nothing in it until it is fixed: correct the file in an "
            f"editor, or move it aside to start with an empty directory."
        )
        self.path, self.problem, self.line, self.col = path, problem, line, col


class NodeFileLocked(PacsAdminError):
    """Another process held the lock for longer than :data:`LOCK_TIMEOUT_S`."""


@dataclass(frozen=True)
class Snapshot:
    """What the file held when read: its parsed content (``None``: no file) and the
    digest of its bytes (``""``: no file)."""

    data: dict[str, Any] | None
    digest: str


def _digest(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


class NodeFile:
    """Locking, reading and atomic writing of one JSON file (no knowledge of nodes)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    # ------------------------------------------------------------------ cheap change check
    def stat_signature(self) -> tuple[int, int, int] | None:
        """(mtime_ns, size, inode) of the file, ``None`` when it does not exist.  Every
        write replaces the file, so a change moves at least one of them; the digest of the
        bytes is what decides (an inode may be reused)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    # ------------------------------------------------------------------ reading
    def read_bytes(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:  # permissions, a folder in its place: the same refusal
            raise NodeFileDamaged(self.path, f"it cannot be read ({exc.strerror})") from exc

    def digest_of(self, raw: bytes | None) -> str:
        return "" if raw is None else _digest(raw)

    def parse(self, raw: bytes | None) -> Snapshot:
        """Parse the bytes read; :class:`NodeFileDamaged` with the line and column."""
        if raw is None:
            return Snapshot(None, "")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            raise NodeFileDamaged(self.path, "it is not UTF-8 text", line, col) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NodeFileDamaged(self.path, exc.msg, exc.lineno, exc.colno) from None
        if not isinstance(data, dict):
            raise NodeFileDamaged(self.path, 'it is not a JSON object ({"nodes": [...]})')
        return Snapshot(data, _digest(raw))

    # ------------------------------------------------------------------ writing
    def write(self, data: dict[str, Any]) -> str:
        """Replace the file atomically; return the digest of what was written.  Call it
        only while holding :meth:`locked`."""
        raw = (json.dumps(data, indent=2) + "\n").encode("utf-8")
        atomic_write_bytes(self.path, raw)  # temp, flush, fsync, os.replace, fsync folder
        return _digest(raw)

    # ------------------------------------------------------------------ the lock
    @contextlib.contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        """Hold the exclusive lock on the sidecar lock file (processes and threads)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+b", buffering=0) as fh:
            _lock(fh, timeout, self.path)
            try:
                yield
            finally:
                _unlock(fh)


def _lock(fh: IO[bytes], timeout: float, path: Path) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        if _try_lock(fh):
            return
        if time.monotonic() > deadline:
            raise NodeFileLocked(
                f"The node directory {path} stayed locked by another pacsadmin process for "
                f"{timeout:.0f} s; nothing was changed.  Try again."
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


if sys.platform == "win32":  # pragma: no cover - not run in CI (Linux)
    import msvcrt

    def _try_lock(fh: IO[bytes]) -> bool:
        # locks byte 0 of the lock file (the file may be empty: Windows allows locking
        # past the end); LK_NBLCK fails at once instead of retrying for 10 s
        fh.seek(0)
        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fh: IO[bytes]) -> None:
        fh.seek(0)
        with contextlib.suppress(OSError):
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fh: IO[bytes]) -> bool:
        # flock locks belong to the open file description: two opens in one process
        # exclude each other as two processes do
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fh: IO[bytes]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
