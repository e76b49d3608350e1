"""Per-frame attributes: classic headers and enhanced multi-frame functional groups.

For enhanced CT/MR/XA (PS3.3 C.7.6.16) a frame's rescale, window, position, orientation and
pixel spacing live in its Per-frame Functional Groups item, else in the Shared Functional
Groups; classic objects have them at the top level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    enhanced = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds

    def src(keyword: str) -> Any:
        item = functional_item(ds, index, keyword) if enhanced else None
        return item if item is not None else ds

    pvt = src("PixelValueTransformationSequence")
    voi = src("FrameVOILUTSequence")
    pos = src("PlanePositionSequence")
    ori = src("PlaneOrientationSequence")
    meas = src("PixelMeasuresSequence")
    slope = _floats(pvt.get("RescaleSlope"), 1)
    intercept = _floats(pvt.get("RescaleIntercept"), 1)
    centers = _floats(voi.get("WindowCenter")) or ()
    widths = _floats(voi.get("WindowWidth")) or ()
    expl = voi.get("WindowCenterWidthExplanation")
    if expl is None:
        explanations: tuple[str, ...] = ()
    elif isinstance(expl, str):
        explanations = (expl,)
    else:
        explanations = tuple(str(e) for e in expl)
    thickness = _floats(meas.get("SliceThickness"), 1)
    return FrameAttrs(
        rescale_slope=slope[0] if slope else None,
        rescale_intercept=intercept[0] if intercept else None,
        rescale_type=str(pvt.get("RescaleType", "") or ""),
        window_centers=centers,
        window_widths=widths,
        window_explanations=explanations,
        voi_function=str(voi.get("VOILUTFunction", "") or "LINEAR").strip().upper(),
        position=_floats(pos.get("ImagePositionPatient"), 3),
        orientation=_floats(ori.get("ImageOrientationPatient"), 6),
        pixel_spacing=_floats(meas.get("PixelSpacing"), 2),
        slice_thickness=thickness[0] if thickness else None,
        enhanced=enhanced,
    )
