"""Group files into series, sort them along the slice normal, and check a series (QC).

Only headers are read (Pixel Data is deferred, its length still known), so scanning is fast
and one bad file is a per-file error, never the end of the scan (docs/safety.md rule 3).
"""

from __future__ import annotations

import itertools
import os
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from pacsadmin.core.imaging.errors import ImageError, image_error, per_file
from pacsadmin.core.imaging.fastattrs import fast_get
from pacsadmin.core.imaging.frames import FrameAttrs, frame_attrs
from pacsadmin.core.imaging.geometry import MAX_FRAMES, Geometry, read_geometry
from pacsadmin.core.imaging.loader import FILE_ERRORS, check_deflated

_PIXEL_DATA = 0x7FE00010


@dataclass(frozen=True)
class InstanceInfo:
    path: str
    study_uid: str
    series_uid: str
    sop_uid: str
    instance_number: int | None
    modality: str
    series_description: str
    rows: int | None
    columns: int | None
    frames: int
    position: tuple[float, ...] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    rescale: tuple[float, float] | None
    burned_in: str
    pixel_problem: str | None  # "inconsistent image geometry: ..." or None
    pixel_excess: int = 0
    has_pixels: bool = True
    frame_positions: tuple[tuple[float, ...] | None, ...] = ()  # enhanced multi-frame
    geometry: Geometry | None = None  # checked against the Pixel Data length
    attrs: FrameAttrs | None = field(default=None, compare=False, repr=False)  # frame 0


@dataclass(frozen=True)
class Finding:
    """One QC finding: ``severity`` is "error", "warning" or "info"."""

    severity: str
    code: str
    message: str
    paths: tuple[str, ...] = ()


@dataclass
class Series:
    uid: str
    instances: list[InstanceInfo]
    sorted_by: str = "file name"

    @property
    def description(self) -> str:
        first = self.instances[0]
        text = first.series_description or "(no description)"
        return f"{first.modality or '?'} {text} ({len(self.instances)} images)"


@dataclass
class ScanResult:
    series: list[Series] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, message)


def _pixel_length(ds: object) -> int | None:
    try:
        el = ds.get_item(_PIXEL_DATA, keep_deferred=True)  # type: ignore[attr-defined]
    except (KeyError, TypeError):
        return None
    if el is None:
        return None
    length = getattr(el, "length", None)
    if length is None:
        value = getattr(el, "value", None)
        return None if value is None else len(value)
    return None if length == 0xFFFFFFFF else int(length)


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _frame_count(ds: Any, geo: Geometry | None, problem: str | None) -> int:
    """The frames the viewer makes slots for: the checked geometry's; else Number of Frames
    when it is in range; else 1 (that slot shows why the image cannot be shown).  A damaged
    Number of Frames of 2,000,000,000 made the viewer build as many slots."""
    if geo is not None:
        return geo.frames
    value = _opt_int(fast_get(ds, "NumberOfFrames")) or 1
    return value if problem is None and 1 <= value <= MAX_FRAMES else 1


def scan_file(path: str) -> InstanceInfo:
    """Read one file's header (Pixel Data deferred). Raises ImageError when unreadable."""
    return read_info(path)[0]


@per_file
def read_info(path: str, *, full: bool = False) -> tuple[InstanceInfo, Any]:
    """(InstanceInfo, dataset); ``full`` reads Pixel Data too (to decode it next)."""
    check_deflated(path)
    try:
        ds = pydicom.dcmread(path, defer_size=None if full else 1024)
    except InvalidDicomError:
        raise ImageError("this is not a DICOM file", kind="not-dicom") from None
    except OSError as exc:
        if exc.errno is None:  # pydicom's "No tag to read at file position": damage
            raise
        raise ImageError(f"cannot read the file: {exc.strerror or exc}", kind="io") from None
    # anything else a damaged file raises: the per_file boundary says what it means
    try:
        attrs = frame_attrs(ds, 0)
        number = fast_get(ds, "InstanceNumber")
        number = int(number) if number not in (None, "") else None
        has_pixels = _PIXEL_DATA in ds
        problem, excess, geo = None, 0, None
        length = _pixel_length(ds) if has_pixels else None
        if has_pixels and length is not None:
            try:
                geo = read_geometry(ds, pixel_length=length)
                excess = geo.excess_bytes
            except ImageError as exc:
                problem = str(exc)
        rescale = None
        if attrs.rescale_slope is not None or attrs.rescale_intercept is not None:
            rescale = (attrs.rescale_slope or 1.0, attrs.rescale_intercept or 0.0)
        frames = _frame_count(ds, geo, problem)
        frame_positions: tuple[tuple[float, ...] | None, ...] = ()
        if attrs.enhanced and frames > 1:
            n = min(frames, len(ds.get("PerFrameFunctionalGroupsSequence") or ()))
            frame_positions = tuple(frame_attrs(ds, k).position for k in range(n))
        info = InstanceInfo(
            path=path,
            study_uid=str(fast_get(ds, "StudyInstanceUID", "") or ""),
            series_uid=str(fast_get(ds, "SeriesInstanceUID", "") or ""),
            sop_uid=str(fast_get(ds, "SOPInstanceUID", "") or ""),
            instance_number=number,
            modality=str(fast_get(ds, "Modality", "") or ""),
            series_description=str(ds.get("SeriesDescription", "") or ""),
            rows=geo.rows if geo is not None else _opt_int(fast_get(ds, "Rows")),
            columns=geo.columns if geo is not None else _opt_int(fast_get(ds, "Columns")),
            frames=frames,
            position=attrs.position,
            orientation=attrs.orientation,
            pixel_spacing=attrs.pixel_spacing,
            rescale=rescale,
            burned_in=str(fast_get(ds, "BurnedInAnnotation", "") or "").upper(),
            pixel_problem=problem,
            pixel_excess=excess,
            has_pixels=has_pixels,
            frame_positions=frame_positions,
            geometry=geo,
            attrs=attrs,
        )
        return info, ds
    except FILE_ERRORS as exc:
        raise ImageError(f"the header cannot be read ({type(exc).__name__}: {exc})") from None


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """Files under ``paths`` (folders walked recursively, hidden files skipped), sorted."""
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and name.upper() != "DICOMDIR":
                        yield os.path.join(root, name)
        else:
            yield p


def is_dicomdir(path: str) -> bool:
    return os.path.isfile(path) and os.path.basename(path).upper() == "DICOMDIR"


def dicomdir_files(path: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Files a DICOMDIR references, and (reference, problem) pairs for the bad ones.

    Referenced File IDs are untrusted: each resolved path must stay inside the DICOMDIR's
    folder (docs/safety.md rule 1), else it is reported and skipped.
    """
    import pydicom

    root = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    try:
        check_deflated(path)
        ds = pydicom.dcmread(path)
        records = list(ds.get("DirectoryRecordSequence") or ())
    except Exception as exc:  # the DICOMDIR's file boundary: one line, the scan goes on
        return [], [(path, f"the DICOMDIR cannot be read ({image_error(exc)})")]
    files: list[str] = []
    bad: list[tuple[str, str]] = []
    for n, rec in enumerate(records, 1):
        try:  # a damaged record: that record is reported, the others are opened
            ref = rec.get("ReferencedFileID")
            if not ref:
                continue
            parts = [ref] if isinstance(ref, str) else [str(p) for p in ref]
            target = os.path.realpath(os.path.join(root, *parts))
        except Exception as exc:
            bad.append((f"{path} record {n}", f"cannot be read ({image_error(exc)})"))
            continue
        shown = "\\".join(parts)
        if os.path.commonpath([root, target]) != root:
            bad.append((shown, "the DICOMDIR points outside its folder: not opened"))
        elif not os.path.isfile(target):
            bad.append((shown, "referenced by the DICOMDIR but missing"))
        else:
            files.append(target)
    if not files and not bad:  # say so: an empty viewer reads as nothing wrong
        bad.append((path, "the DICOMDIR lists no files (damaged or empty)"))
    return files, bad


def slice_normal(orientation: tuple[float, ...]) -> np.ndarray:
    row, col = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    return np.cross(row, col)


def _close(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """``np.allclose(a, b, atol=1e-3)`` for two short tuples, without numpy's overhead."""
    return len(a) == len(b) and all(
        abs(x - y) <= 1e-3 + 1e-5 * abs(y) for x, y in zip(a, b, strict=True)
    )


def sort_instances(instances: list[InstanceInfo]) -> tuple[list[InstanceInfo], str]:
    """Along the slice normal when every image has position and one orientation, else by
    instance number, else by file name.  Returns (sorted, how)."""
    if instances and all(i.position and i.orientation for i in instances):
        first = instances[0].orientation
        assert first is not None
        if all(_close(i.orientation, first) for i in instances):  # type: ignore[arg-type]
            nx, ny, nz = (float(v) for v in slice_normal(first))
            keyed = sorted(
                instances,
                key=lambda i: (
                    nx * i.position[0] + ny * i.position[1] + nz * i.position[2],  # type: ignore[index]
                    i.instance_number or 0,
                ),
            )
            return keyed, "position along the slice normal"
    if instances and all(i.instance_number is not None for i in instances):
        return sorted(instances, key=lambda i: (i.instance_number, i.path)), "instance number"
    return sorted(instances, key=lambda i: i.path), "file name"


def scan(
    paths: Iterable[str | os.PathLike[str]],
    *,
    progress: Callable[[int, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    on_file: Callable[[InstanceInfo, Any], None] | None = None,
) -> ScanResult:
    """Scan files and folders into sorted series; unreadable files go to ``errors``.

    With ``on_file`` every file is read whole (Pixel Data included) and handed over with its
    InstanceInfo as it is read, so a viewer can decode in the same pass (one read per file).
    """
    groups: dict[str, list[InstanceInfo]] = defaultdict(list)
    result = ScanResult()
    expanded: list[str] = []
    for p in paths:
        p = os.fspath(p)
        if is_dicomdir(p):
            files, bad = dicomdir_files(p)
            expanded += files
            result.errors += bad
        else:
            expanded.append(p)
    for n, path in enumerate(iter_files(expanded), 1):
        if cancelled is not None and cancelled():
            break
        try:
            info, ds = read_info(path, full=on_file is not None)
        except ImageError as exc:
            result.errors.append((path, str(exc)))
        else:
            groups[info.series_uid or f"(no series UID) {path}"].append(info)
            if on_file is not None:
                on_file(info, ds)
        if progress is not None:
            progress(n, path)
    for uid, members in groups.items():
        ordered, how = sort_instances(members)
        result.series.append(Series(uid, ordered, how))
    result.series.sort(key=lambda s: (s.instances[0].study_uid, s.instances[0].series_description))
    return result


def _describe_values(values: Counter[Any]) -> str:
    return ", ".join(f"{v} ({n} images)" for v, n in values.most_common(4))


def qc(series: Series) -> list[Finding]:
    """Series QC: missing slices, duplicates, inconsistent geometry/rescale, pixel data
    length mismatches, Burned In Annotation = YES.  Errors first."""
    out: list[Finding] = []
    inst = series.instances
    by_sop: dict[str, list[str]] = defaultdict(list)
    for i in inst:
        by_sop[i.sop_uid].append(i.path)
    for sop, paths in by_sop.items():
        if len(paths) > 1:
            out.append(
                Finding(
                    "error",
                    "duplicate-sop",
                    f"SOP Instance UID {sop} appears {len(paths)} times",
                    tuple(paths),
                )
            )
    for key, label in (
        ("orientation", "Image Orientation (Patient)"),
        ("pixel_spacing", "Pixel Spacing"),
        ("rescale", "Rescale Slope/Intercept"),
    ):
        values = Counter(
            tuple(round(v, 4) for v in getattr(i, key)) if getattr(i, key) else None for i in inst
        )
        if len(values) > 1:
            out.append(
                Finding(
                    "warning",
                    f"inconsistent-{key.replace('_', '-')}",
                    f"{label} differs across the series: {_describe_values(values)}",
                )
            )
    sizes = Counter((i.rows, i.columns) for i in inst)
    if len(sizes) > 1:
        text = ", ".join(f"{r}x{c} ({n} images)" for (r, c), n in sizes.most_common(4))
        out.append(Finding("warning", "inconsistent-size", f"image sizes differ: {text}"))
    for i in inst:
        if i.pixel_problem:
            out.append(Finding("error", "pixel-length", i.pixel_problem, (i.path,)))
        elif i.pixel_excess:
            out.append(
                Finding(
                    "info",
                    "pixel-length",
                    f"Pixel Data is {i.pixel_excess} bytes longer than needed",
                    (i.path,),
                )
            )
        if i.burned_in == "YES":
            out.append(
                Finding(
                    "warning",
                    "burned-in",
                    "Burned In Annotation is YES: the pixels may show patient data",
                    (i.path,),
                )
            )
    out += _position_findings(series)
    out += _number_findings(inst)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda f: order.get(f.severity, 3))


def _position_findings(series: Series) -> list[Finding]:
    out: list[Finding] = []
    inst = [i for i in series.instances if i.frames == 1]
    if len(inst) >= 3 and series.sorted_by == "position along the slice normal":
        normal = slice_normal(inst[0].orientation)  # type: ignore[arg-type]
        along = [float(np.dot(normal, i.position)) for i in inst]  # type: ignore[arg-type]
        out += _gaps(np.array(along), [(i.path,) for i in inst], "image")
    for i in series.instances:  # enhanced multi-frame: the frames are the slices
        if i.frames >= 3 and i.orientation and all(p is not None for p in i.frame_positions):
            normal = slice_normal(i.orientation)
            dist = np.array([float(np.dot(normal, p)) for p in i.frame_positions])  # type: ignore[arg-type]
            order = np.argsort(dist, kind="stable")
            labels: list[tuple[str, ...]] = [(f"{i.path} frame {k + 1}",) for k in order]
            out += _gaps(dist[order], labels, "frame")
    return out


def _gaps(dist: np.ndarray, labels: list[tuple[str, ...]], what: str) -> list[Finding]:
    """Duplicate positions, gaps (missing slices) and irregular steps along the normal."""
    steps = np.diff(dist)
    out: list[Finding] = []
    for k in np.nonzero(np.abs(steps) < 1e-3)[0]:
        out.append(
            Finding(
                "error",
                "duplicate-position",
                f"two {what}s at the same position ({dist[k]:.2f} mm along the normal)",
                labels[k] + labels[k + 1],
            )
        )
    real = steps[np.abs(steps) >= 1e-3]
    if not len(real):
        return out
    spacing = statistics.median(real.tolist())  # np.median imports numpy.ma: ~7 ms, GUI thread
    for k in np.nonzero(steps > 1.5 * spacing)[0]:
        missing = round(steps[k] / spacing) - 1
        out.append(
            Finding(
                "error",
                "missing-slice",
                f"gap of {steps[k]:.2f} mm between {dist[k]:.2f} and {dist[k + 1]:.2f} mm (slice "
                f"spacing {spacing:.2f} mm): about {missing} slice(s) missing",
                labels[k] + labels[k + 1],
            )
        )
    irregular = (
        (steps > 1e-3) & (steps <= 1.5 * spacing) & (np.abs(steps - spacing) > 0.1 * spacing)
    )
    if irregular.any():
        out.append(
            Finding(
                "warning",
                "irregular-spacing",
                f"{int(irregular.sum())} slice step(s) differ from {spacing:.2f} mm by "
                "more than 10 %",
            )
        )
    return out


def _number_findings(inst: list[InstanceInfo]) -> list[Finding]:
    numbers = sorted(i.instance_number for i in inst if i.instance_number is not None)
    out: list[Finding] = []
    if len(numbers) < 2:
        return out
    counts = Counter(numbers)
    dups = sorted(n for n, c in counts.items() if c > 1)
    if dups:
        out.append(
            Finding(
                "warning",
                "duplicate-instance-number",
                f"Instance Number used more than once: {_ranges(dups)}",
            )
        )
    unique = sorted(counts)
    missing = [n for a, b in itertools.pairwise(unique) for n in range(a + 1, b)]
    if missing:
        out.append(
            Finding(
                "warning",
                "missing-instance-number",
                f"Instance Numbers missing: {_ranges(missing)}",
            )
        )
    return out


def _ranges(numbers: list[int]) -> str:
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    if len(parts) > 8:
        parts = [*parts[:8], f"... ({len(numbers)} in all)"]
    return ", ".join(parts)
