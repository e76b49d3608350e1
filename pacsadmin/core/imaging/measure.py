"""ROI statistics and distances in modality units and millimetres.

Pixel Spacing (PS3.3 C.7.6.2.1.1) is the patient-plane spacing; when only Imager Pixel
Spacing is present (projection radiography, PS3.3 C.8.11.4) it is at the detector, not
corrected for geometric magnification, and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pacsadmin.core.imaging.frames import frame_attrs
from pacsadmin.core.imaging.render import Frame


@dataclass(frozen=True)
class Spacing:
    row: float  # mm between rows
    col: float  # mm between columns
    source: str  # "Pixel Spacing" or "Imager Pixel Spacing (at the detector...)"


@dataclass(frozen=True)
class RoiStats:
    pixels: int
    mean: float
    std: float
    min: float
    max: float
    area_mm2: float | None
    unit: str
    note: str = ""

    def text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        area = f", area {self.area_mm2:.1f} mm²" if self.area_mm2 is not None else ""
        note = f" ({self.note})" if self.note else ""
        return (
            f"mean {self.mean:.1f}{unit}, SD {self.std:.1f}, min {self.min:.6g}, "
            f"max {self.max:.6g}, {self.pixels} px{area}{note}"
        )


def pixel_spacing(ds: Any, index: int = 0) -> Spacing | None:
    attrs = frame_attrs(ds, index)
    if attrs.pixel_spacing and all(v > 0 for v in attrs.pixel_spacing):
        return Spacing(attrs.pixel_spacing[0], attrs.pixel_spacing[1], "Pixel Spacing")
    ips = ds.get("ImagerPixelSpacing")
    try:
        values = [float(v) for v in ips] if ips is not None else []
    except (TypeError, ValueError):
        values = []
    if len(values) == 2 and all(v > 0 for v in values):
        return Spacing(
            values[0],
            values[1],
            "Imager Pixel Spacing: at the detector, not corrected for magnification",
        )
    return None


def rect_mask(shape: tuple[int, int], r0: float, c0: float, r1: float, c1: float) -> np.ndarray:
    """Pixels whose centres lie inside the rectangle (rows r0..r1, columns c0..c1)."""
    rows = np.arange(shape[0]) + 0.5
    cols = np.arange(shape[1]) + 0.5
    return ((rows >= r0) & (rows < r1))[:, None] & ((cols >= c0) & (cols < c1))[None, :]


def ellipse_mask(shape: tuple[int, int], r0: float, c0: float, r1: float, c1: float) -> np.ndarray:
    """Pixels whose centres lie inside the ellipse inscribed in the rectangle."""
    cy, cx = (r0 + r1) / 2, (c0 + c1) / 2
    ry, rx = max((r1 - r0) / 2, 1e-9), max((c1 - c0) / 2, 1e-9)
    rows = (np.arange(shape[0]) + 0.5 - cy) / ry
    cols = (np.arange(shape[1]) + 0.5 - cx) / rx
    return rows[:, None] ** 2 + cols[None, :] ** 2 <= 1.0


def roi_stats(frame: Frame, mask: np.ndarray) -> RoiStats | None:
    """Statistics of the modality values under ``mask`` (None for an empty ROI or color)."""
    if frame.pipeline.is_color or not mask.any():
        return None
    values = frame.pipeline.modality_values(frame.stored[mask])
    spacing = pixel_spacing(frame.image.ds, frame.index) if frame.image is not None else None
    area = None if spacing is None else float(mask.sum()) * spacing.row * spacing.col
    note = "" if spacing is None or spacing.source == "Pixel Spacing" else spacing.source
    if spacing is None:
        note = "no pixel spacing: area unknown"
    unit = getattr(frame.pipeline.modality, "type", "") or ""
    return RoiStats(
        int(mask.sum()),
        float(values.mean()),
        float(values.std()),
        float(values.min()),
        float(values.max()),
        area,
        unit,
        note,
    )


def distance(frame: Frame, p0: tuple[float, float], p1: tuple[float, float]) -> str:
    """Distance between two (row, col) points: mm with its source, else pixels."""
    dr, dc = p1[0] - p0[0], p1[1] - p0[1]
    spacing = pixel_spacing(frame.image.ds, frame.index) if frame.image is not None else None
    if spacing is None:
        return f"{np.hypot(dr, dc):.1f} px (no pixel spacing)"
    mm = float(np.hypot(dr * spacing.row, dc * spacing.col))
    note = "" if spacing.source == "Pixel Spacing" else f" ({spacing.source})"
    return f"{mm:.1f} mm{note}"
