"""Running entry points over damaged files in tests: a per-file time limit, and the checks
every fuzz test makes (tests/fuzz.py makes the files)."""

from __future__ import annotations

import hashlib
import os
import signal
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# damaged files per entry point, and the seed: a longer run by hand with
# PACSADMIN_FUZZ_COUNT=5000 PACSADMIN_FUZZ_SEED=soak-1 pytest tests/unit/test_fuzz_*.py
COUNT = int(os.environ.get("PACSADMIN_FUZZ_COUNT", "300"))
SEED = os.environ.get("PACSADMIN_FUZZ_SEED", "ci")
PER_FILE = 15.0  # seconds one file may take (shared 2-core machine), else it is a hang


class Hang(BaseException):
    """A file took longer than PER_FILE: BaseException, so no boundary swallows it."""


class Guard:
    """A per-file time limit (SIGALRM, main thread): :meth:`arm` before each file.  Also a
    job context (``cancelled``/``progress``/``report``): the importer reads ``cancelled``
    once per file, which re-arms the limit for that file."""

    def __init__(self, limit: float = PER_FILE) -> None:
        self.limit = limit
        self.label = ""
        self.reports: list[tuple] = []

    def arm(self, label: str = "") -> None:
        self.label = label
        signal.setitimer(signal.ITIMER_REAL, self.limit)

    @property
    def cancelled(self) -> bool:
        self.arm(self.label)
        return False

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        if message:
            self.label = message

    def report(self, item: tuple) -> None:
        self.reports.append(item)


@contextmanager
def per_file_limit(limit: float = PER_FILE) -> Iterator[Guard]:
    guard = Guard(limit)

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {guard.limit:g} s for {guard.label or 'a file'}")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        guard.arm()
        yield guard
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def one_line(text: str) -> bool:
    text = text.strip()
    return bool(text) and "\n" not in text and "Traceback" not in text


def sop_uid(path: Path) -> str:
    import pydicom

    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_archive(archive: Any, inputs: list[Path]) -> None:
    """Index and files agree, no temp file is left, and every archived file is a complete
    byte-for-byte copy of one of the inputs (never half of one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = archive.verify()
    assert rep.ok, rep.to_json()
    assert not list(archive.layout.tmp_dir.iterdir())
    given = {sha(p) for p in inputs}
    for rel in archive.layout.iter_files():
        assert sha(archive.path_of(rel)) in given, rel
