"""What is applied to one frame, and applying it (PS3.4 N.2, PS3.3 C.11).

:func:`build_pipeline` reads the frame's attributes into a frozen :class:`FramePipeline`:
modality transform (Rescale or Modality LUT), the VOI in use and every VOI the file offers,
the presentation inversion, the padding range.  The viewer swaps the VOI with
:meth:`FramePipeline.with_voi` on every drag; :meth:`FramePipeline.display_lut` turns the whole
chain into one 8-bit lookup table indexed by the stored value's bit pattern.
:meth:`FramePipeline.describe` is what the pipeline inspector shows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from pacsadmin.core.imaging.codecs import ts_name
from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.fastattrs import fast_get
from pacsadmin.core.imaging.frames import FrameAttrs, frame_attrs
from pacsadmin.core.imaging.geometry import Geometry
from pacsadmin.core.imaging.luts import LookupTable, Rescale, Window, parse_lut

Voi = Window | LookupTable

_MODALITY_LUT = 0x00283000  # Modality LUT Sequence
_VOI_LUT = 0x00283010  # VOI LUT Sequence
_PADDING = 0x00280120  # Pixel Padding Value


@dataclass(frozen=True)
class PipelineDescription:
    """The pipeline inspector's content: one sentence per stage."""

    frame: int  # 1-based
    frames: int
    transfer_syntax: str
    decoder: str
    photometric: str
    bits: str
    modality: str
    voi: str
    presentation: str
    padding: str
    notes: tuple[str, ...] = ()

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            ("Frame", f"{self.frame} of {self.frames}"),
            ("Transfer syntax", self.transfer_syntax),
            ("Decoder", self.decoder),
            ("Photometric", self.photometric),
            ("Bits", self.bits),
            ("Modality LUT", self.modality),
            ("VOI", self.voi),
            ("Presentation", self.presentation),
            ("Padding", self.padding),
        ]
        rows += [("Note", n) for n in self.notes]
        return rows

    def text(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.rows())


@dataclass(frozen=True)
class FramePipeline:
    geometry: Geometry
    photometric: str  # as decoded (YBR_* decoded to RGB)
    modality: Rescale | LookupTable
    voi: Voi | None  # None for color
    voi_choices: tuple[Voi, ...]
    invert: bool  # MONOCHROME1 or Presentation LUT Shape INVERSE
    presentation: str
    padding: tuple[int, int] | None  # stored values shown as background
    stored_range: tuple[int, int]  # min/max stored value of the frame, padding excluded
    decoder: str
    frame_index: int
    notes: tuple[str, ...] = ()
    user_invert: bool = False

    @property
    def is_color(self) -> bool:
        return self.geometry.samples == 3 or self.photometric == "PALETTE COLOR"

    @property
    def modality_range(self) -> tuple[float, float]:
        lo, hi = self.stored_range
        if isinstance(self.modality, Rescale):
            a, b = self.modality.apply([lo, hi])
            return (float(min(a, b)), float(max(a, b)))
        values = self.modality.apply(np.arange(lo, hi + 1))
        return (float(values.min()), float(values.max()))

    def with_voi(self, voi: Voi) -> FramePipeline:
        return dataclasses.replace(self, voi=voi)

    def with_user_invert(self, flag: bool) -> FramePipeline:
        return dataclasses.replace(self, user_invert=flag)

    # -- applying -----------------------------------------------------------------------
    def modality_values(self, stored: Any) -> np.ndarray:
        """Stored values -> modality values (HU for CT), float64."""
        return np.asarray(self.modality.apply(stored), dtype=np.float64)

    def display_float(self, stored: Any) -> np.ndarray:
        """Stored values -> display values in 0..1 (0 black), padding not applied."""
        m = self.modality_values(stored)
        voi = self.voi
        if isinstance(voi, Window):
            from pacsadmin.core.imaging.luts import window

            y = window(m, voi.center, voi.width, voi.function)
        elif isinstance(voi, LookupTable):
            y = np.clip(voi.apply(m) / voi.out_max, 0.0, 1.0)
        else:
            raise ImageError("a color image has no window", kind="lut")
        if self.invert != self.user_invert:
            y = 1.0 - y
        return y

    def padding_mask(self, stored: np.ndarray) -> np.ndarray | None:
        if self.padding is None:
            return None
        lo, hi = self.padding
        return (stored >= lo) & (stored <= hi)

    def display_lut(self) -> np.ndarray | None:
        """uint8 table indexed by the stored value's unsigned bit pattern, or None.

        None when stored values are wider than 16 bits (use :meth:`to_uint8` instead).
        """
        bits = self.geometry.bits_allocated
        if self.is_color or bits not in (8, 16):
            return None
        utype = np.uint8 if bits == 8 else np.uint16
        patterns = np.arange(1 << bits, dtype=np.int64).astype(utype)
        stored = (
            patterns.view(np.int8 if bits == 8 else np.int16)
            if self.geometry.signed
            else (patterns)
        )
        lut = np.rint(self.display_float(stored) * 255.0).astype(np.uint8)
        mask = self.padding_mask(stored)
        if mask is not None:
            lut[mask] = 0
        return lut

    def to_uint8(self, stored: np.ndarray) -> np.ndarray:
        """A grayscale frame (any size, e.g. display-resolution samples) -> uint8."""
        lut = self.display_lut()
        if lut is not None and stored.dtype.itemsize * 8 == self.geometry.bits_allocated:
            return lut.take(stored.view(np.uint8 if lut.size == 256 else np.uint16))
        out = np.rint(self.display_float(stored) * 255.0).astype(np.uint8)
        mask = self.padding_mask(stored)
        if mask is not None:
            out[mask] = 0
        return out

    # -- describing ---------------------------------------------------------------------
    def describe(self) -> PipelineDescription:
        g = self.geometry
        bits = (
            f"{g.bits_allocated} allocated, {g.bits_stored} stored, high bit {g.high_bit}, "
            f"{'signed' if g.signed else 'unsigned'}"
        )
        if g.bits_stored < g.bits_allocated:
            bits += " (bits above Bits Stored ignored)"
        photometric = g.photometric
        if self.photometric != g.photometric:
            photometric += f" (decoded to {self.photometric})"
        if g.samples == 3:
            photometric += (
                ", planar (R..., G..., B...)" if g.planar_configuration else ", interleaved"
            )
        if self.is_color:
            modality = "none (color)"
            voi = "none: color values shown as stored (PS3.4 N.2 applies to grayscale only)"
        else:
            modality = self.modality.describe()
            voi = self.voi.describe() if self.voi is not None else "none"
            n = len(self.voi_choices)
            if n:
                voi += f"; the file offers {n} VOI choice(s)"
        presentation = self.presentation
        if self.user_invert:
            presentation += "; inverted again by the user"
        if self.padding is None:
            padding = "none"
        elif self.padding[0] == self.padding[1]:
            padding = f"stored value {self.padding[0]} shown as background (black)"
        else:
            padding = f"stored values {self.padding[0]}..{self.padding[1]} shown as background"
        return PipelineDescription(
            frame=self.frame_index + 1,
            frames=g.frames,
            transfer_syntax=ts_name(g.transfer_syntax),
            decoder=self.decoder,
            photometric=photometric,
            bits=bits,
            modality=modality,
            voi=voi,
            presentation=presentation,
            padding=padding,
            notes=self.notes,
        )


def _signed_value(value: int, geo: Geometry) -> int:
    if geo.signed and value >= 1 << (geo.bits_allocated - 1):
        return value - (1 << geo.bits_allocated)
    return value


def _padding(ds: Any, geo: Geometry) -> tuple[int, int] | None:
    if _PADDING not in ds:
        return None
    try:
        value = ds.get("PixelPaddingValue")
        if value is None:
            return None
        lo = _signed_value(int(value), geo)
        limit = ds.get("PixelPaddingRangeLimit")
        hi = lo if limit is None else _signed_value(int(limit), geo)
    except (TypeError, ValueError):
        return None
    return (min(lo, hi), max(lo, hi))


def _presentation(ds: Any, photometric: str, notes: list[str]) -> tuple[bool, str]:
    shape = str(fast_get(ds, "PresentationLUTShape", "") or "").strip().upper()
    mono1 = photometric == "MONOCHROME1"
    if mono1 and shape == "INVERSE":
        return True, (
            "MONOCHROME1 with Presentation LUT Shape INVERSE: inverted once (the INVERSE "
            "shape states the MONOCHROME1 inversion, PS3.3 C.8.11.6.1.2; not inverted twice)"
        )
    if mono1:
        if shape == "IDENTITY":
            notes.append("MONOCHROME1 with Presentation LUT Shape IDENTITY is inconsistent")
        return True, "MONOCHROME1: inverted (the minimum value is shown white)"
    if shape == "INVERSE":
        return True, "Presentation LUT Shape INVERSE: inverted"
    if photometric.startswith("MONOCHROME"):
        return False, "MONOCHROME2: not inverted (the minimum value is shown black)"
    return False, "none (color)"


def stored_range(stored: np.ndarray, padding: tuple[int, int] | None) -> tuple[int, int]:
    """Min and max stored value, padding excluded (the whole frame if all is padding)."""
    if padding is not None:
        keep = (stored < padding[0]) | (stored > padding[1])
        if keep.any():
            values = stored[keep]
            return int(values.min()), int(values.max())
    return int(stored.min()), int(stored.max())


def build_pipeline(
    ds: Any,
    geometry: Geometry,
    stored: np.ndarray,
    photometric: str,
    decoder: str,
    index: int,
    *,
    attrs: FrameAttrs | None = None,
) -> FramePipeline:
    """Read frame ``index``'s display attributes; the default VOI follows ``pacsadmin render``:
    the file's first window, else its first VOI LUT, else the full range of modality values.

    ``attrs``: frame ``index``'s :func:`frame_attrs` when the caller already has them.
    """
    notes: list[str] = []
    if geometry.samples == 3 or photometric == "PALETTE COLOR":
        return FramePipeline(
            geometry=geometry,
            photometric=photometric,
            modality=Rescale(),
            voi=None,
            voi_choices=(),
            invert=False,
            presentation="none (color)",
            padding=None,
            stored_range=(int(stored.min()), int(stored.max())),
            decoder=decoder,
            frame_index=index,
        )
    if attrs is None:
        attrs = frame_attrs(ds, index)
    modality: Rescale | LookupTable
    mlut = ds.get("ModalityLUTSequence") if _MODALITY_LUT in ds else None
    is_ct = str(fast_get(ds, "Modality", "")) == "CT"
    if attrs.rescale_slope is not None or attrs.rescale_intercept is not None:
        rtype = attrs.rescale_type or ("HU" if is_ct else "")
        modality = Rescale(
            attrs.rescale_slope if attrs.rescale_slope is not None else 1.0,
            attrs.rescale_intercept if attrs.rescale_intercept is not None else 0.0,
            rtype,
        )
        if mlut:
            notes.append("both Rescale and a Modality LUT Sequence are present: Rescale used")
    elif mlut:
        modality = parse_lut(mlut[0], "Modality", geometry.signed)
    else:
        modality = Rescale(type="HU" if is_ct else "")
    padding = _padding(ds, geometry)
    srange = stored_range(stored, padding)

    choices: list[Voi] = []
    explanations = attrs.window_explanations
    if len(attrs.window_centers) != len(attrs.window_widths):
        notes.append(
            f"{len(attrs.window_centers)} Window Center value(s) but "
            f"{len(attrs.window_widths)} Window Width value(s): extra values ignored"
        )
    for i, (c, w) in enumerate(zip(attrs.window_centers, attrs.window_widths, strict=False)):
        expl = explanations[i] if i < len(explanations) else ""
        try:
            choices.append(Window(c, w, attrs.voi_function, expl, "file"))
        except ImageError as exc:
            notes.append(f"window {i + 1} of the file ignored: {exc}")
    for i, item in enumerate((ds.get("VOILUTSequence") if _VOI_LUT in ds else None) or ()):
        try:
            choices.append(parse_lut(item, "VOI", geometry.signed or srange[0] < 0))
        except ImageError as exc:
            notes.append(f"VOI LUT {i + 1} of the file ignored: {exc}")
    invert, presentation = _presentation(ds, geometry.photometric, notes)
    pipe = FramePipeline(
        geometry=geometry,
        photometric=photometric,
        modality=modality,
        voi=None,
        voi_choices=tuple(choices),
        invert=invert,
        presentation=presentation,
        padding=padding,
        stored_range=srange,
        decoder=decoder,
        frame_index=index,
        notes=tuple(notes),
    )
    return pipe.with_voi(choices[0] if choices else range_window(pipe))


def range_window(pipe: FramePipeline) -> Window:
    """The full range of the frame's modality values, mapped exactly onto black..white."""
    lo, hi = pipe.modality_range
    width = max(hi - lo, 1e-6)
    return Window(lo + width / 2, width, "LINEAR_EXACT", "full range", "range")
