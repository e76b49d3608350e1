"""Open a frame and render it to 8 bits: the one path shared by ``pacsadmin render`` and the
viewer.

>>> frame = open_frame("ct.dcm", 0)            # doctest: +SKIP
>>> image = render_frame(frame)                 # uint8 (rows, columns) or (rows, columns, 3)
>>> frame.pipeline.describe().text()            # what the inspector shows
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from pacsadmin.core.imaging.color import check_palette, palette_to_rgb8, to_rgb8
from pacsadmin.core.imaging.decode import decode_frame
from pacsadmin.core.imaging.errors import ImageError, per_file
from pacsadmin.core.imaging.loader import FILE_ERRORS, LoadedImage, load_image
from pacsadmin.core.imaging.pipeline import FramePipeline, Voi, build_pipeline
from pacsadmin.core.imaging.worker import DecoderProcessPool


@dataclass(frozen=True)
class Frame:
    """One decoded frame: stored values, the pipeline to show it, and its source."""

    image: LoadedImage
    index: int  # 0-based
    stored: np.ndarray  # stored integers; RGB for color
    pipeline: FramePipeline
    rgb8: np.ndarray | None = None  # color frames, ready to show

    def with_voi(self, voi: Voi) -> Frame:
        return dataclasses.replace(self, pipeline=self.pipeline.with_voi(voi))


@per_file
def open_frame(
    source: str | os.PathLike[str] | LoadedImage,
    index: int = 0,
    *,
    pool: DecoderProcessPool | None = None,
    isolate: bool = True,
    timeout: float | None = None,
) -> Frame:
    """Read (if needed), check, decode frame ``index`` (0-based) and build its pipeline.

    Raises ImageError for every failure: not DICOM, no pixel data, bad geometry, missing
    codec, decoder failure or time-out, bad LUTs.
    """
    image = source if isinstance(source, LoadedImage) else load_image(source)
    ds, geo = image.ds, image.geometry
    decoded = decode_frame(ds, index, geometry=geo, pool=pool, isolate=isolate, timeout=timeout)
    try:
        pipe = build_pipeline(
            ds,
            geo,
            decoded.array,
            decoded.photometric,
            decoded.decoder,
            index,
            attrs=image.attrs if index == 0 else None,
        )
        notes = list(pipe.notes) + image.notes
        rgb8 = None
        if decoded.photometric == "PALETTE COLOR":
            notes += check_palette(ds, geo.bits_allocated)
            rgb8 = palette_to_rgb8(ds, decoded.array)
        elif decoded.array.ndim == 3:
            rgb8 = to_rgb8(decoded.array, geo.bits_stored)
            if not decoded.photometric.startswith("RGB"):
                notes.append(f"{decoded.photometric} color is shown without conversion")
    except ImageError:
        raise
    except FILE_ERRORS as exc:
        raise ImageError(
            f"the image attributes are inconsistent ({type(exc).__name__}: {exc})", kind="lut"
        ) from None
    pipe = dataclasses.replace(pipe, notes=tuple(notes))
    return Frame(image, index, decoded.array, pipe, rgb8)


@per_file
def render_frame(frame: Frame, voi: Voi | None = None) -> np.ndarray:
    """The full-resolution 8-bit image: gray (rows, columns) or RGB (rows, columns, 3)."""
    if frame.rgb8 is not None:
        return frame.rgb8
    pipe = frame.pipeline if voi is None else frame.pipeline.with_voi(voi)
    return pipe.to_uint8(frame.stored)


def probe(frame: Frame, row: int, col: int) -> dict[str, Any]:
    """Stored and modality value at (row, col) (0-based), for the viewer's pixel probe."""
    if not (0 <= row < frame.stored.shape[0] and 0 <= col < frame.stored.shape[1]):
        raise ImageError(f"pixel ({row}, {col}) is outside the image", kind="frame")
    value = frame.stored[row, col]
    if frame.pipeline.is_color:
        return {"row": row, "col": col, "stored": tuple(int(v) for v in np.atleast_1d(value))}
    modality = float(frame.pipeline.modality_values(np.array([value]))[0])
    return {"row": row, "col": col, "stored": int(value), "modality": modality}
