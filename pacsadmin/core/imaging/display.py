"""Fast window/level to 8 bits, at display resolution, and the "auto" window.

One W/L change costs one 8-bit lookup table built over every possible stored value (256 or
65,536 entries: the whole chain of :class:`FramePipeline` evaluated once per value) and one
``take`` over the pixels that are actually on screen.  :class:`DisplayBuffer` samples the
frame's stored integers once per zoom/pan/frame change (nearest neighbour, at most the view's
pixels), so a 3328x4096 mammogram costs the same per W/L change as a 1024x1024 image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pacsadmin.core.imaging.luts import Window
from pacsadmin.core.imaging.pipeline import FramePipeline, Voi


def _histogram(pipe: FramePipeline, stored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(modality values present, their pixel counts), padding excluded, sorted by value."""
    bits = stored.dtype.itemsize * 8
    if stored.dtype.kind in "iu" and bits <= 16:
        counts = np.bincount(stored.reshape(-1).view(f"u{bits // 8}"), minlength=1 << bits)
        patterns = np.nonzero(counts)[0]
        values = patterns.astype(f"u{bits // 8}")
        if stored.dtype.kind == "i":
            values = values.view(f"i{bits // 8}")
        values = values.astype(np.int64)
        counts = counts[patterns]
    else:
        step = max(1, int(np.sqrt(stored.size / 1_000_000)))
        values, counts = np.unique(stored[::step, ::step], return_counts=True)
    if pipe.padding is not None:
        keep = (values < pipe.padding[0]) | (values > pipe.padding[1])
        if keep.any():
            values, counts = values[keep], counts[keep]
    m = pipe.modality_values(values)
    order = np.argsort(m, kind="stable")
    return m[order], counts[order]


def histogram(
    pipe: FramePipeline, stored: np.ndarray, bins: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """(bin edges, counts) of the frame's modality values, padding excluded."""
    m, counts = _histogram(pipe, stored)
    hist, edges = np.histogram(m, bins=bins, weights=counts)
    return edges, hist


def auto_window(
    pipe: FramePipeline, stored: np.ndarray, percentiles: tuple[float, float] | None = None
) -> Window:
    """Min/max (``percentiles=None``) or percentile window of the frame's modality values.

    Padding is excluded.  ``percentiles=(1, 99)`` ignores the 1 % darkest and brightest pixels.
    """
    m, counts = _histogram(pipe, stored)
    if percentiles is None:
        lo, hi = float(m[0]), float(m[-1])
        label = "auto: min/max"
    else:
        cum = np.cumsum(counts, dtype=np.float64)
        total = cum[-1]
        p_lo, p_hi = percentiles
        lo = float(m[min(np.searchsorted(cum, total * p_lo / 100.0, side="left"), len(m) - 1)])
        hi = float(m[min(np.searchsorted(cum, total * p_hi / 100.0, side="left"), len(m) - 1)])
        label = f"auto: {p_lo:g}-{p_hi:g} percentile"
    width = max(hi - lo, 1e-6)  # LINEAR_EXACT: any width above 0 (PET SUV, float data)
    return Window(lo + width / 2, width, "LINEAR_EXACT", label, "auto")


def fit_indices(
    rows: int,
    cols: int,
    view_h: int,
    view_w: int,
    region: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices sampling ``region`` (r0, r1, c0, c1) into at most the view.

    The aspect ratio is kept; the result has at most view_h x view_w samples (nearest
    neighbour at pixel centres).
    """
    r0, r1, c0, c1 = region if region is not None else (0.0, float(rows), 0.0, float(cols))
    scale = min(view_h / max(r1 - r0, 1e-9), view_w / max(c1 - c0, 1e-9))
    out_h = max(1, min(view_h, round((r1 - r0) * scale)))
    out_w = max(1, min(view_w, round((c1 - c0) * scale)))
    ri = np.clip(np.floor(r0 + (np.arange(out_h) + 0.5) / scale), 0, rows - 1).astype(np.intp)
    ci = np.clip(np.floor(c0 + (np.arange(out_w) + 0.5) / scale), 0, cols - 1).astype(np.intp)
    return ri, ci


@dataclass
class DisplayBuffer:
    """A frame's stored values sampled at display resolution; :meth:`render` per W/L change."""

    pipeline: FramePipeline
    samples: np.ndarray  # stored integers (or RGB8 for color), at most the view's size

    @classmethod
    def for_view(
        cls,
        pipeline: FramePipeline,
        frame: np.ndarray,
        view_h: int,
        view_w: int,
        region: tuple[float, float, float, float] | None = None,
    ) -> DisplayBuffer:
        ri, ci = fit_indices(frame.shape[0], frame.shape[1], view_h, view_w, region)
        samples = frame.take(ri, axis=0).take(ci, axis=1)
        return cls(pipeline, samples)

    def render(self, voi: Voi | None = None) -> np.ndarray:
        """uint8 (h, w) for grayscale with ``voi`` (default: the pipeline's), RGB8 as is."""
        if self.pipeline.is_color:
            return self.samples
        pipe = self.pipeline if voi is None else self.pipeline.with_voi(voi)
        return pipe.to_uint8(self.samples)
