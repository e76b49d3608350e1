"""Anonymize files and folders into a NEW folder (the originals are never touched).

Output names come from the batch, never from the files: ``OUT/<pseudonym>/ST001/SE001/
IM00001.dcm`` (a UID or a name in a file cannot steer a write outside ``OUT``).  Each
file is written to a temp file in its folder and renamed into place, so ``OUT`` holds
only whole files.  Pixel Data is copied as it is (never decoded): pixels with burned-in
text are not cleaned, and a file that says so (Burned In Annotation YES) is flagged.
The pseudonym map (which patient became which pseudonym) goes to the audit log only:
it is the key back to the patients.
"""

from __future__ import annotations

import io
import os
import secrets as _secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pacsadmin.core import damaged
from pacsadmin.core.anonymize.profile import Anonymizer, Batch, Change, Options
from pacsadmin.core.errors import ValidationError
from pacsadmin.core.fileio import atomic_write_bytes
from pacsadmin.core.jobs import JobContext, null_context

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"


@dataclass(frozen=True)
class FileOutcome:
    source: str
    output: str = ""  # "" when not written
    state: str = "written"  # written, skipped (not DICOM, damaged, a DICOMDIR), failed
    reason: str = ""
    warnings: tuple[str, ...] = ()


@dataclass
class AnonymizeResult:
    out_dir: str
    options: Options
    files: list[FileOutcome] = field(default_factory=list)
    patients: int = 0
    elapsed_s: float = 0.0
    cancelled: bool = False

    @property
    def written(self) -> int:
        return sum(f.state == "written" for f in self.files)

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.state == "failed"]

    @property
    def skipped(self) -> list[FileOutcome]:
        return [f for f in self.files if f.state == "skipped"]

    def summary(self) -> str:
        s = f"{self.written} file(s) of {self.patients} patient(s) anonymized into {self.out_dir}"
        if self.skipped:
            s += f"; {len(self.skipped)} skipped"
        if self.failed:
            s += f"; {len(self.failed)} failed"
        if self.cancelled:
            s += " (cancelled)"
        return s


def files_of(paths: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[str, str]]:
    """(file, "") for every file under the inputs, or (input, why) for a missing one."""
    for raw in paths:
        p = os.fspath(raw)
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs.sort()
                for name in sorted(names):
                    yield os.path.join(root, name), ""
        elif os.path.isfile(p):
            yield p, ""
        else:
            yield p, "no such file or folder"


def check_output(out_dir: Path, inputs: Iterable[str | os.PathLike[str]]) -> None:
    """The output must be a new or empty folder, not an input folder, nor inside or
    around one (anonymized files never mix with the originals)."""
    out = out_dir.resolve()
    for raw in inputs:
        src = Path(raw).resolve()
        if not src.is_dir():
            continue  # a file (or a missing input): the new, empty folder cannot mix with it
        if out == src or src in out.parents or out in src.parents:
            raise ValidationError(
                "output",
                f"The output folder {out_dir} is inside or around an input ({raw}): "
                "anonymized files must not mix with the originals. Choose a new folder.",
            )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValidationError(
            "output",
            f"The output folder {out_dir} exists and is not empty: choose a new or empty folder.",
        )


class _Names:
    """Output paths from the batch's counters (never from the files' values)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.studies: dict[tuple[str, str], int] = {}
        self.series: dict[tuple[str, str], int] = {}
        self.images: dict[tuple[str, str], int] = {}

    def path(self, pseudonym: str, study: str, series: str) -> Path:
        st = self.studies.setdefault(
            (pseudonym, study), 1 + sum(1 for p, _ in self.studies if p == pseudonym)
        )
        se = self.series.setdefault(
            (study, series), 1 + sum(1 for s, _ in self.series if s == study)
        )
        n = self.images[(study, series)] = self.images.get((study, series), 0) + 1
        return self.out / pseudonym / f"ST{st:03d}" / f"SE{se:03d}" / f"IM{n:05d}.dcm"


def _read(path: str) -> Any:
    from pydicom import dcmread

    return dcmread(path)  # with its pixel data: a file is never saved without it


def _warnings(ds: Any) -> tuple[str, ...]:
    out = []
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        out.append("Burned In Annotation is YES: text in the pixels is NOT removed.")
    elif ds.get("Modality") in ("US", "SC", "XC", "OT", "DOC") and "PixelData" in ds:
        out.append(
            f"A {ds.get('Modality')} image often shows patient text in its pixels: check it."
        )
    return tuple(out)


def anonymize(
    inputs: list[str],
    out_dir: str | os.PathLike[str],
    options: Options,
    *,
    ctx: JobContext | None = None,
    audit: Any = None,
    secret: bytes | None = None,
) -> AnonymizeResult:
    """Anonymize every DICOM file under ``inputs`` into ``out_dir`` (new or empty).
    Raises ValidationError for bad options or output folder, before any file is read."""
    ctx = ctx or null_context()
    options.validate()
    out = Path(out_dir)
    check_output(out, inputs)
    t0 = time.perf_counter()
    batch = Batch(options, secret or _secrets.token_bytes(32))
    result = AnonymizeResult(str(out), options)
    names = _Names(out)
    listed = list(files_of(inputs))
    for i, (path, why) in enumerate(listed):
        if ctx.cancelled:
            result.cancelled = True
            break
        ctx.progress(i, len(listed), f"{i} of {len(listed)} files")
        outcome = _one(path, why, batch, names)
        result.files.append(outcome)
        ctx.report(outcome)
    result.patients = len(batch.pseudonyms)
    result.elapsed_s = time.perf_counter() - t0
    if audit is not None:
        audit.record(
            "anonymize",
            "success" if not result.failed and not result.cancelled else "failure",
            target=str(out),
            summary=result.summary(),
            details={
                "pseudonyms": dict(batch.pseudonyms),  # the key back: the audit log only
                "options": options.chosen(),
                "written": result.written,
                "failed": [f.source for f in result.failed],
            },
        )
    return result


def _one(path: str, why: str, batch: Batch, names: _Names) -> FileOutcome:
    if why:
        return FileOutcome(path, state="skipped", reason=why)
    try:
        ds = _read(path)
    except Exception as exc:  # not DICOM, truncated, hostile: named, skipped
        return FileOutcome(path, state="skipped", reason=damaged.reason(exc))
    meta = getattr(ds, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta:
        return FileOutcome(path, state="skipped", reason="not a DICOM Part 10 file")
    if str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_CLASS:
        return FileOutcome(
            path, state="skipped", reason="a DICOMDIR (it names patients): not copied"
        )
    warnings = _warnings(ds)
    try:
        Anonymizer(batch).apply(ds)
        pseudonym = str(ds.PatientID)
        dest = names.path(
            pseudonym, str(ds.get("StudyInstanceUID", "")), str(ds.get("SeriesInstanceUID", ""))
        )
        buf = io.BytesIO()
        ds.preamble = b"\x00" * 128
        ds.save_as(buf, enforce_file_format=True)
        atomic_write_bytes(dest, buf.getvalue(), mode=0o644)
    except OSError as exc:
        return FileOutcome(path, state="failed", reason=f"cannot write: {exc.strerror or exc}")
    except Exception as exc:
        return FileOutcome(path, state="failed", reason=damaged.reason(exc))
    return FileOutcome(path, str(dest), warnings=warnings)


def preview(path: str | os.PathLike[str], options: Options) -> tuple[list[Change], tuple[str, ...]]:
    """What anonymizing ``path`` would change (nothing is written), and its warnings."""
    options.validate()
    ds = _read(os.fspath(path))
    warnings = _warnings(ds)
    changes = Anonymizer(Batch(options, _secrets.token_bytes(32))).apply(ds)
    return changes, warnings
