"""Per-frame attributes: classic headers and enhanced multi-frame functional groups.

For enhanced CT/MR/XA (PS3.3 C.7.6.16) a frame's rescale, window, position, orientation and
pixel spacing live in its Per-frame Functional Groups item, else in the Shared Functional
Groups; classic objects have them at the top level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pacsadmin.core.imaging.fastattrs import fast_get

_PER_FRAME = 0x52009230  # Per-frame Functional Groups Sequence
_SHARED = 0x52009229  # Shared Functional Groups Sequence


def functional_item(ds: Any, index: int, keyword: str) -> Any | None:
    """The first item of ``keyword`` for frame ``index``: per-frame first, then shared."""
    per = ds.get("PerFrameFunctionalGroupsSequence")
    if per is not None and 0 <= index < len(per):
        seq = per[index].get(keyword)
        if seq:
            return seq[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        seq = shared[0].get(keyword)
        if seq:
            return seq[0]
    return None


def _floats(value: Any, n: int | None = None) -> tuple[float, ...] | None:
    if value is None or value == "":
        return None
    try:
        seq = list(value) if hasattr(value, "__iter__") and not isinstance(value, str) else [value]
        out = tuple(float(v) for v in seq)
    except (TypeError, ValueError):
        return None
    if n is not None and len(out) != n:
        return None
    return out


@dataclass(frozen=True)
class FrameAttrs:
    """What the pipeline and the series tools need about one frame."""

    rescale_slope: float | None
    rescale_intercept: float | None
    rescale_type: str
    window_centers: tuple[float, ...]
    window_widths: tuple[float, ...]
    window_explanations: tuple[str, ...]
    voi_function: str
    position: tuple[float, ...] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    slice_thickness: float | None
    enhanced: bool


def frame_attrs(ds: Any, index: int = 0) -> FrameAttrs:
    """Collect the frame's attributes (functional groups win over top-level values)."""
    enhanced = _PER_FRAME in ds or _SHARED in ds

    def src(keyword: str) -> Any:
        item = functional_item(ds, index, keyword) if enhanced else None
        return item if item is not None else ds

    pvt = src("PixelValueTransformationSequence")
    voi = src("FrameVOILUTSequence")
    pos = src("PlanePositionSequence")
    ori = src("PlaneOrientationSequence")
    meas = src("PixelMeasuresSequence")
    slope = _floats(fast_get(pvt, "RescaleSlope"), 1)
    intercept = _floats(fast_get(pvt, "RescaleIntercept"), 1)
    centers = _floats(fast_get(voi, "WindowCenter")) or ()
    widths = _floats(fast_get(voi, "WindowWidth")) or ()
    expl = voi.get("WindowCenterWidthExplanation")
    if expl is None:
        explanations: tuple[str, ...] = ()
    elif isinstance(expl, str):
        explanations = (expl,)
    else:
        explanations = tuple(str(e) for e in expl)
    thickness = _floats(fast_get(meas, "SliceThickness"), 1)
    return FrameAttrs(
        rescale_slope=slope[0] if slope else None,
        rescale_intercept=intercept[0] if intercept else None,
        rescale_type=str(pvt.get("RescaleType", "") or ""),
        window_centers=centers,
        window_widths=widths,
        window_explanations=explanations,
        voi_function=str(fast_get(voi, "VOILUTFunction", "") or "LINEAR").strip().upper(),
        position=_floats(fast_get(pos, "ImagePositionPatient"), 3),
        orientation=_floats(fast_get(ori, "ImageOrientationPatient"), 6),
        pixel_spacing=_floats(fast_get(meas, "PixelSpacing"), 2),
        slice_thickness=thickness[0] if thickness else None,
        enhanced=enhanced,
    )
