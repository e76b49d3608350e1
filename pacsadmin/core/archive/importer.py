"""Import files, folders (recursively) and DICOMDIRs into the archive, as a job.

One bad file never stops the batch (RELIABILITY rule 3): each is listed with its reason.
DICOMDIR Referenced File IDs are resolved and must stay inside the DICOMDIR's folder.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pacsadmin.core.archive.archive import Archive, StoreOutcome, is_disk_full
from pacsadmin.core.archive.meta import PARSE_ERRORS, InstanceMeta, NotIndexable, read_meta

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"


@dataclass
class ImportReport:
    stored: int = 0
    duplicates: int = 0
    overwritten: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    cancelled: bool = False
    seen: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and not self.cancelled

    def to_json(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "overwritten": self.overwritten,
            "seen": self.seen,
            "errors": [{"path": p, "reason": r} for p, r in self.errors],
            "cancelled": self.cancelled,
        }


def _is_dicomdir(path: Path) -> bool:
    if path.name.upper() == "DICOMDIR":
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    return head[128:132] == b"DICM" and DICOMDIR_CLASS.encode() in head


def dicomdir_files(dicomdir: Path) -> Iterator[Path | tuple[str, str]]:
    """The files a DICOMDIR references; (ref, reason) for those refused."""
    from pydicom import dcmread

    base = dicomdir.parent.resolve()
    ds = dcmread(dicomdir, force=False)
    for rec in ds.get("DirectoryRecordSequence", []):
        ref = rec.get("ReferencedFileID")
        if ref is None:
            continue
        parts = [ref] if isinstance(ref, str) else [str(x) for x in ref]
        text = "\\".join(parts)
        if any(
            not p or p in (".", "..") or "/" in p or "\x00" in p or ":" in p for p in parts
        ) or os.path.isabs(parts[0]):
            yield (text, "Referenced File ID is not a plain relative path; refused")
            continue
        target = base.joinpath(*parts).resolve()
        if not target.is_relative_to(base):
            yield (text, "Referenced File ID points outside the DICOMDIR's folder; refused")
            continue
        yield target


def _walk(paths: list[Path], report: ImportReport) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
                dirnames.sort()
                for name in sorted(filenames):
                    p = Path(dirpath) / name
                    if name.upper() == "DICOMDIR":
                        continue  # the files it lists are in this walk anyway
                    yield p
        elif path.is_file():
            if _is_dicomdir(path):
                try:
                    for item in dicomdir_files(path):
                        if isinstance(item, tuple):
                            report.errors.append(item)
                        else:
                            yield item
                except Exception as exc:
                    report.errors.append((str(path), f"unreadable DICOMDIR: {_reason(exc)}"))
            else:
                yield path
        else:
            report.errors.append((str(path), "no such file or folder"))


def _reason(exc: BaseException) -> str:
    from pydicom.errors import InvalidDicomError

    if isinstance(exc, InvalidDicomError):
        return "not a DICOM file (no DICM prefix)"
    if isinstance(exc, NotIndexable):
        return f"DICOM file without what the index needs: {exc}"
    if is_disk_full(exc):
        return "the disk is full"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


BATCH = 64  # files per index transaction
IN_MEMORY = 64 * 1024 * 1024  # smaller files are read once, parsed and written from memory


def import_paths(archive: Archive, paths: list[Path], ctx: Any = None) -> ImportReport:
    """Import every DICOM file under ``paths``; report progress and honour cancel.

    Each file is read once (header parsed from the same bytes), written to a temp file in
    the archive, and indexed in batches of ``BATCH`` per transaction."""
    from pydicom.errors import InvalidDicomError

    report = ImportReport()
    files = list(_walk([Path(p) for p in paths], report))
    total = len(files)
    batch: list[tuple[Path, InstanceMeta, int]] = []
    sources: list[Path] = []

    def flush() -> None:
        if not batch:
            return
        try:
            results = archive.ingest_many(batch, source="import")
        except Exception as exc:  # the whole transaction failed
            results = [exc] * len(batch)
        for src, res in zip(sources, results, strict=True):
            if isinstance(res, BaseException):
                report.errors.append((str(src), _reason(res)))
            elif res.outcome is StoreOutcome.STORED:
                report.stored += 1
            elif res.outcome is StoreOutcome.DUPLICATE:
                report.duplicates += 1
            else:
                report.overwritten += 1
        batch.clear()
        sources.clear()

    for n, f in enumerate(files):
        if ctx is not None:
            if ctx.cancelled:
                report.cancelled = True
                break
            if n % 20 == 0:
                ctx.progress(n, total, str(f))
        report.seen += 1
        tmp: Path | None = None
        try:
            size = f.stat().st_size
            if size <= IN_MEMORY:
                data = f.read_bytes()
                meta = read_meta(io.BytesIO(data))
                tmp = archive.new_temp()
                tmp.write_bytes(data)
            else:
                meta = read_meta(f)
                tmp = archive.new_temp()
                shutil.copyfile(f, tmp)
                size = tmp.stat().st_size
        except (InvalidDicomError, NotIndexable, *PARSE_ERRORS) as exc:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            if isinstance(exc, NotIndexable) and _is_dicomdir(f):
                continue  # a DICOMDIR: its files are imported on their own
            report.errors.append((str(f), _reason(exc)))
            if is_disk_full(exc):  # every further file would fail the same way
                report.errors.append(("", "import stopped: the disk is full"))
                break
            continue
        batch.append((tmp, meta, size))
        sources.append(f)
        if len(batch) >= BATCH:
            flush()
    flush()
    if ctx is not None:
        with contextlib.suppress(Exception):
            ctx.progress(report.seen, total, "done")
    return report
