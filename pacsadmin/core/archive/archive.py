"""The local archive: files stored byte for byte under app-chosen names, and their index.

A file always reaches the archive the same way: written completely to a temp name in
``tmp/`` (same file system), then, in the index writer's transaction, checked for a
duplicate SOP Instance UID, ``os.replace``\\ d to ``data/ab/<uuid>.dcm`` and given its row.
An aborted transfer or a full disk leaves at most a temp file, swept at start-up, never a
partial file under ``data/`` nor a row (docs/safety.md rules 1, 9, 14).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pacsadmin.core.archive import index as idx
from pacsadmin.core.archive.layout import Layout
from pacsadmin.core.archive.meta import InstanceMeta, read_meta
from pacsadmin.core.fileio import fsync_dir

log = logging.getLogger(__name__)


STALE_TEMP = 600.0  # seconds without a write: a temp file nobody is writing any more


def serve_lock(root: Path) -> Any:
    """An exclusive lock on the archive for the SCP process that owns ``tmp/`` (the parent of
    the worker processes); None when another one holds it.  Keep the returned file open."""
    import fcntl

    Layout.create(root)
    fh = open(Path(root) / ".serve.lock", "a+b")  # noqa: SIM115 - held for the process life
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


class DuplicatePolicy(StrEnum):
    KEEP_FIRST = "keep_first"  # default: the first copy stays, the duplicate is logged
    OVERWRITE = "overwrite"


class StoreOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # kept the first copy, dropped this one
    OVERWRITTEN = "overwritten"


@dataclass(frozen=True)
class StoreResult:
    outcome: StoreOutcome
    sop_instance_uid: str
    path: str  # relative to the archive root
    size: int


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


@dataclass
class VerifyReport:
    indexed: int = 0
    files: int = 0
    missing_files: list[str] = field(default_factory=list)  # rows without their file
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    unindexed: list[str] = field(default_factory=list)  # files without a row
    temp_files: int = 0
    repaired: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not (self.missing_files or self.unreadable or self.unindexed)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "indexed": self.indexed,
            "files": self.files,
            "missing_files": self.missing_files,
            "unreadable": [{"path": p, "reason": r} for p, r in self.unreadable],
            "unindexed": self.unindexed,
            "temp_files": self.temp_files,
            "repaired": self.repaired,
            "cancelled": self.cancelled,
        }


class Archive:
    """The archive at a folder; one per process per folder (it owns the index writer)."""

    def __init__(
        self,
        root: Path,
        *,
        duplicate_policy: DuplicatePolicy | str = DuplicatePolicy.KEEP_FIRST,
        fsync: bool = False,
        sweep: bool | str = True,
    ) -> None:
        """``sweep``: True removes temp files untouched for 10 minutes (another process,
        a running ``pacsadmin serve``, may be receiving into ``tmp/``: its files are written
        continuously); ``"all"`` removes every temp file, for the one process that holds
        :meth:`serve_lock`; False none (SCP worker processes: their parent swept)."""
        self.layout = Layout.create(root)
        self.duplicate_policy = DuplicatePolicy(duplicate_policy)
        self.fsync = fsync
        idx.init_db(self.layout.index_path)
        if sweep == "all":
            self.swept = self.layout.sweep_temp()
        elif sweep:
            self.swept = self.layout.sweep_temp(older_than=STALE_TEMP)
        else:
            self.swept = 0
        if self.swept:
            log.info("archive: swept %d temp file(s) left by an interrupted transfer", self.swept)
        self.writer = idx.IndexWriter(self.layout.index_path)
        self._local = threading.local()

    @property
    def root(self) -> Path:
        return self.layout.root

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def reader(self) -> sqlite3.Connection:
        """A read-only connection for the calling thread (WAL: never blocks the writer)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = idx.connect(self.layout.index_path, readonly=True)
            self._local.con = con
        return con

    def path_of(self, relpath: str) -> Path:
        return self.layout.resolve(relpath)

    def counts(self) -> dict[str, int]:
        con = self.reader()
        out = {}
        for t in ("patients", "studies", "series", "instances"):
            out[t] = int(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
        out["bytes"] = int(con.execute("SELECT COALESCE(SUM(size),0) FROM instances").fetchone()[0])
        return out

    def studies(self) -> list[dict[str, Any]]:
        """One row per study with its patient, counts and size (the CLI list, a browser)."""
        rows = (
            self.reader()
            .execute(
                "SELECT p.patient_id, p.patient_name, p.birth_date, st.study_uid, st.study_date,"
                " st.study_time, st.accession, st.description,"
                " (SELECT GROUP_CONCAT(DISTINCT modality) FROM series WHERE study_pk = st.pk),"
                " (SELECT COUNT(*) FROM series WHERE study_pk = st.pk),"
                " (SELECT COUNT(*) FROM instances i JOIN series se ON i.series_pk = se.pk"
                "   WHERE se.study_pk = st.pk),"
                " (SELECT COALESCE(SUM(size),0) FROM instances i JOIN series se"
                "   ON i.series_pk = se.pk WHERE se.study_pk = st.pk)"
                " FROM studies st JOIN patients p ON st.patient_pk = p.pk"
                " ORDER BY st.study_date DESC, st.study_time DESC, st.pk"
            )
            .fetchall()
        )
        keys = [
            "patient_id",
            "patient_name",
            "birth_date",
            "study_uid",
            "study_date",
            "study_time",
            "accession",
            "description",
            "modalities",
            "series",
            "instances",
            "size",
        ]
        out = []
        for r in rows:
            d = dict(zip(keys, r, strict=True))
            d["modalities"] = "\\".join(sorted(filter(None, (d["modalities"] or "").split(","))))
            out.append(d)
        return out

    def instance_paths(self, level: str, uids: list[str]) -> list[tuple[int, str]]:
        """(pk, relpath) of every instance under the given studies/series/instances."""
        col = {
            "study": "st.study_uid",
            "series": "se.series_uid",
            "instance": "i.sop_uid",
            "patient": "p.patient_id",
        }[level]
        out: list[tuple[int, str]] = []
        con = self.reader()
        for k in range(0, len(uids), 500):
            chunk = uids[k : k + 500]
            marks = ",".join("?" * len(chunk))
            out += con.execute(
                "SELECT i.pk, i.path FROM instances i JOIN series se ON i.series_pk = se.pk"
                " JOIN studies st ON se.study_pk = st.pk JOIN patients p ON st.patient_pk = p.pk"
                f" WHERE {col} IN ({marks})",
                chunk,
            ).fetchall()
        return out

    # ------------------------------------------------------------------ writing
    def new_temp(self) -> Path:
        return self.layout.new_temp()

    def ingest(
        self,
        tmp: Path,
        *,
        meta: InstanceMeta | None = None,
        source: str = "",
        timeout: float | None = 120,
    ) -> StoreResult:
        """Move a complete temp file into the archive and index it (one writer step).

        ``tmp`` must be on the archive's file system (``new_temp()``).  On any failure the
        temp file is deleted and nothing is left under ``data/`` nor in the index.
        """
        tmp = Path(tmp)
        try:
            if meta is None:
                meta = read_meta(tmp)
            size = tmp.stat().st_size
            if self.fsync:
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            m = meta
            result, old = self.writer.call(
                lambda con: self._ingest_step(con, tmp, m, size, source), timeout
            )
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        if old is not None:  # overwrite: the replaced file goes once its row is gone
            with contextlib.suppress(OSError):
                self.layout.resolve(old).unlink()
        if result.outcome is StoreOutcome.DUPLICATE:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return result

    def ingest_many(
        self, items: list[tuple[Path, InstanceMeta, int]], *, source: str = ""
    ) -> list[StoreResult | BaseException]:
        """Like :meth:`ingest` for complete temp files ``(tmp, meta, size)``, in ONE writer
        transaction (a savepoint per file, so one failure does not undo the others)."""

        def step(con: sqlite3.Connection) -> list[tuple[StoreResult, str | None] | BaseException]:
            out: list[tuple[StoreResult, str | None] | BaseException] = []
            for tmp, m, size in items:
                con.execute("SAVEPOINT one")
                try:
                    out.append(self._ingest_step(con, tmp, m, size, source))
                    con.execute("RELEASE one")
                except Exception as exc:
                    con.execute("ROLLBACK TO one")
                    con.execute("RELEASE one")
                    out.append(exc)
            return out

        try:
            if self.fsync:
                for tmp, _, _ in items:
                    fd = os.open(tmp, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
            results = self.writer.call(step, 600)
        except BaseException:
            for tmp, _, _ in items:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            raise
        final: list[StoreResult | BaseException] = []
        for (tmp, _, _), r in zip(items, results, strict=True):
            if isinstance(r, BaseException):
                with contextlib.suppress(OSError):
                    tmp.unlink()
                final.append(r)
                continue
            res, old = r
            if old is not None:
                with contextlib.suppress(OSError):
                    self.layout.resolve(old).unlink()
            if res.outcome is StoreOutcome.DUPLICATE:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            final.append(res)
        return final

    def _ingest_step(
        self, con: sqlite3.Connection, tmp: Path, m: InstanceMeta, size: int, source: str
    ) -> tuple[StoreResult, str | None]:
        existing = idx.find_instance(con, m.sop_instance_uid)
        old: str | None = None
        if existing is not None:
            if self.duplicate_policy is DuplicatePolicy.KEEP_FIRST:
                log.info(
                    "archive: duplicate SOP instance received; kept the first copy (%s)",
                    existing[1],
                )
                dup = StoreResult(StoreOutcome.DUPLICATE, m.sop_instance_uid, existing[1], size)
                return dup, None
            old = existing[1]
            idx.delete_instance_rows(con, [existing[0]])
        rel = self.layout.new_relpath()
        final = self.layout.resolve_new(rel)  # our own name, checked inside data/
        try:
            os.replace(tmp, final)
        except FileNotFoundError:  # a fan-out folder removed by hand: make it again
            if not tmp.exists():
                raise
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        try:
            idx.insert_instance(con, m, path=rel, size=size, received_at=time.time(), source=source)
        except BaseException:
            with contextlib.suppress(OSError):
                final.unlink()
            raise
        if self.fsync:
            fsync_dir(final.parent)
        outcome = StoreOutcome.OVERWRITTEN if old else StoreOutcome.STORED
        if old:
            log.info("archive: duplicate SOP instance received; overwrote the first copy")
        return StoreResult(outcome, m.sop_instance_uid, rel, size), old

    def add_file(
        self, src: Path, *, meta: InstanceMeta | None = None, source: str = "import"
    ) -> StoreResult:
        """Copy ``src`` byte for byte into the archive."""
        tmp = self.new_temp()
        try:
            shutil.copyfile(src, tmp)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return self.ingest(tmp, meta=meta, source=source)

    def delete(self, level: str, uids: list[str]) -> int:
        """Delete files and rows together; returns the number of instances deleted.

        Rows go first in one transaction, then the files; a crash in between leaves files
        without rows, which ``verify`` reports and ``verify --repair`` re-indexes or not.
        """
        found = self.instance_paths(level, uids)
        if not found:
            return 0
        pks = [pk for pk, _ in found]
        self.writer.call(lambda con: idx.delete_instance_rows(con, pks))
        for _, rel in found:
            with contextlib.suppress(OSError):
                self.layout.resolve(rel).unlink()
        return len(found)

    # ------------------------------------------------------------------ verify
    def verify(self, ctx: Any = None, *, repair: bool = False, parse: bool = True) -> VerifyReport:
        """Every indexed file exists and parses; every file under data/ is indexed."""
        rep = VerifyReport(temp_files=sum(1 for p in self.layout.tmp_dir.iterdir()))
        rows = self.reader().execute("SELECT pk, path, sop_uid FROM instances").fetchall()
        rep.indexed = len(rows)
        indexed = {r[1] for r in rows}
        files = list(self.layout.iter_files())
        rep.files = len(files)
        total = len(rows) + len(files)
        drop: list[int] = []
        for n, (pk, rel, sop) in enumerate(rows):
            if ctx is not None:
                if ctx.cancelled:
                    rep.cancelled = True
                    return rep
                if n % 200 == 0:
                    ctx.progress(n, total, "checking indexed files")
            try:
                p = self.layout.resolve(rel)
            except Exception as exc:
                rep.unreadable.append((rel, str(exc)))
                continue
            if not p.is_file():
                rep.missing_files.append(rel)
                drop.append(pk)
                continue
            if parse:
                try:
                    m = read_meta(p)
                    if m.sop_instance_uid != sop:
                        rep.unreadable.append((rel, "SOP Instance UID differs from the index"))
                except Exception as exc:
                    rep.unreadable.append((rel, f"{type(exc).__name__}: {exc}"))
        for rel in files:
            if ctx is not None and ctx.cancelled:
                rep.cancelled = True
                return rep
            if rel not in indexed:
                rep.unindexed.append(rel)
        if repair:
            self._repair(rep, drop)
        if ctx is not None:
            ctx.progress(total, total, "done")
        return rep

    def _repair(self, rep: VerifyReport, drop: list[int]) -> None:
        if drop:
            self.writer.call(lambda con: idx.delete_instance_rows(con, drop))
            rep.repaired += [f"dropped row of missing file {p}" for p in rep.missing_files]
        for rel in rep.unindexed:
            path = self.layout.resolve(rel)
            try:
                m = read_meta(path)
                size = path.stat().st_size

                def step(
                    con: sqlite3.Connection, m: InstanceMeta = m, size: int = size, rel: str = rel
                ) -> bool:
                    if idx.find_instance(con, m.sop_instance_uid) is not None:
                        return False
                    idx.insert_instance(
                        con, m, path=rel, size=size, received_at=time.time(), source="repair"
                    )
                    return True

                if self.writer.call(step):
                    rep.repaired.append(f"indexed {rel}")
                else:
                    rep.repaired.append(f"left {rel}: a duplicate of an indexed instance")
            except Exception as exc:
                rep.repaired.append(f"left {rel}: {type(exc).__name__}: {exc}")
