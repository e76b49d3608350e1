"""Where archived files live on disk: names chosen by the app, never by the data.

::

    archive/
      index.sqlite3        the SQLite index (patients, studies, series, instances)
      data/ab/<uuid>.dcm   every stored file, named by a random UUID (docs/safety.md rule 1)
      tmp/                 files being received or imported; swept at start-up

UIDs and patient attributes live only in the index, so a UID such as ``../../etc/x``,
one with separators or NULs, can never choose where a file is written.  Every final path
is still resolved and checked to be inside the archive root before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pacsadmin.core.errors import PacsAdminError

DATA = "data"
TMP = "tmp"
INDEX = "index.sqlite3"
SUFFIX = ".dcm"
TMP_SUFFIX = ".part"
_NEW_NAME = re.compile(r"data/([0-9a-f]{2})/\1[0-9a-f]{30}\.dcm")  # what new_relpath makes


class OutsideArchive(PacsAdminError):
    """A path that would land outside the archive root."""


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def create(cls, root: Path) -> Layout:
        root = Path(root).expanduser().resolve()
        for d in (root, root / DATA, root / TMP):
            d.mkdir(parents=True, exist_ok=True)
        data = root / DATA
        if not (data / "ff").is_dir():  # the 256 fan-out folders, made once (a mkdir per
            for i in range(256):  # received file would cost ~0.5 ms on some file systems)
                (data / f"{i:02x}").mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(root, 0o700)
        return cls(root)

    @property
    def data_dir(self) -> Path:
        return self.root / DATA

    @property
    def tmp_dir(self) -> Path:
        return self.root / TMP

    @property
    def index_path(self) -> Path:
        return self.root / INDEX

    def new_relpath(self) -> str:
        """A fresh relative path ``data/ab/<uuid>.dcm`` (the UUID is random, not a UID)."""
        name = uuid.uuid4().hex
        return f"{DATA}/{name[:2]}/{name}{SUFFIX}"

    def resolve(self, relpath: str) -> Path:
        """The absolute path of ``relpath``; :class:`OutsideArchive` if it escapes the root."""
        if "\x00" in relpath:
            raise OutsideArchive(f"A path with a NUL byte is not allowed: {relpath!r}")
        p = (self.root / relpath).resolve()
        if not p.is_relative_to(self.root / DATA):
            raise OutsideArchive(f"{relpath!r} resolves outside the archive folder {self.root}.")
        return p

    def resolve_new(self, relpath: str) -> Path:
        """The absolute path of a name :meth:`new_relpath` made, checked on the string alone.

        For writing a new file only: the name must have exactly the shape ``new_relpath``
        gives (``data/ab/<32 hex>.dcm``, no separators, dots or NULs from anywhere else) and
        its normalised form must lie under ``data/``.  No ``realpath`` system calls (about
        0.07 ms a file); the root itself was resolved when the archive was opened.  A path
        from the index, a DICOMDIR or a user goes through :meth:`resolve`."""
        if not _NEW_NAME.fullmatch(relpath):
            raise OutsideArchive(f"{relpath!r} is not a name the archive made; refused.")
        root = str(self.root)
        p = os.path.normpath(os.path.join(root, relpath))
        if not p.startswith(os.path.join(root, DATA) + os.sep):
            raise OutsideArchive(f"{relpath!r} lands outside the archive folder {self.root}.")
        return Path(p)

    def relpath(self, path: Path) -> str:
        return Path(path).resolve().relative_to(self.root).as_posix()

    def new_temp(self) -> Path:
        """A temp file name in the archive's own file system (for os.replace).

        The name starts with the writing process's PID, so a sweep never deletes the temp
        files of a process that is still running (an import in the GUI while ``serve``
        starts and sweeps, say)."""
        return self.tmp_dir / f"{os.getpid()}-{uuid.uuid4().hex}{TMP_SUFFIX}"

    def sweep_temp(self, older_than: float = 0.0) -> int:
        """Delete leftovers of interrupted transfers and imports; return how many.

        Files named by a process that is still alive are kept, whatever their age."""
        n = 0
        now = time.time()
        for p in self.tmp_dir.iterdir():
            try:
                if p.name.startswith(".") or _owner_alive(p.name):
                    continue
                if p.is_file() and now - p.stat().st_mtime >= older_than:
                    p.unlink()
                    n += 1
            except OSError:
                pass
        return n

    def iter_files(self) -> Iterator[str]:
        """Every stored file's relative path (``data/ab/<uuid>.dcm``)."""
        for sub in sorted(self.data_dir.iterdir()):
            if sub.is_dir():
                for p in sorted(sub.iterdir()):
                    if p.is_file():
                        yield f"{DATA}/{sub.name}/{p.name}"
            elif sub.is_file():
                yield f"{DATA}/{sub.name}"


def _owner_alive(name: str) -> bool:
    """True when ``name`` is ``<pid>-...`` and that process exists."""
    pid_text, sep, _ = name.partition("-")
    if not sep or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True
