"""Color frames to 8-bit RGB: RGB (planar or interleaved: pydicom interleaves), YBR (decoded
to RGB by pydicom) and PALETTE COLOR with its descriptors checked (PS3.3 C.7.6.3.1.5/6).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pacsadmin.core.imaging.errors import ImageError

_CHANNELS = ("Red", "Green", "Blue")


def check_palette(ds: Any, bits_allocated: int) -> list[str]:
    """Check the three palette descriptors against their data; return notes.

    Raises ImageError when a table is missing, its descriptor is malformed, the three
    descriptors disagree, or the data length does not match the entry count.
    """
    notes: list[str] = []
    descs = []
    for ch in _CHANNELS:
        desc = ds.get(f"{ch}PaletteColorLookupTableDescriptor")
        if desc is None or len(desc) != 3:
            raise ImageError(
                f"PALETTE COLOR: the {ch} Palette Color LUT Descriptor is missing or malformed",
                kind="lut",
            )
        entries, first, bits = (int(v) for v in desc)
        entries = entries or 65536
        if bits not in (8, 16):
            raise ImageError(
                f"PALETTE COLOR: the {ch} descriptor gives {bits} bits (8 or 16 allowed)",
                kind="lut",
            )
        descs.append((entries, first, bits))
        segmented = f"Segmented{ch}PaletteColorLookupTableData" in ds
        data = ds.get(f"{ch}PaletteColorLookupTableData")
        if data is None and not segmented:
            raise ImageError(f"PALETTE COLOR: the {ch} LUT Data is missing", kind="lut")
        if data is not None:
            nbytes = len(data)
            ok = nbytes in (entries * 2, entries * 2 + 1) or (bits == 8 and nbytes == entries)
            if not ok:
                raise ImageError(
                    f"PALETTE COLOR: the {ch} descriptor says {entries} entries of {bits} bits, "
                    f"the LUT Data holds {nbytes} bytes",
                    kind="lut",
                )
    if len(set(descs)) != 1:
        raise ImageError(f"PALETTE COLOR: the three descriptors differ: {descs}", kind="lut")
    entries, first, _ = descs[0]
    if (1 << bits_allocated) > entries + first and bits_allocated <= 16:
        notes.append(
            f"the palette covers stored values {first}..{first + entries - 1}; others are "
            "clamped to its ends"
        )
    return notes


def palette_to_rgb8(ds: Any, stored: np.ndarray) -> np.ndarray:
    from pydicom.pixels.processing import apply_color_lut  # defined there (no re-export)

    try:
        rgb = apply_color_lut(stored, ds)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ImageError(
            f"PALETTE COLOR: the palette cannot be applied: {exc}", kind="lut"
        ) from None
    return to_rgb8(rgb, 16 if rgb.dtype.itemsize > 1 else 8)


def to_rgb8(rgb: np.ndarray, bits_stored: int) -> np.ndarray:
    """Scale RGB samples of ``bits_stored`` bits to 8 bits (the top 8 bits)."""
    if rgb.dtype == np.uint8 and bits_stored <= 8:
        return np.ascontiguousarray(rgb)
    shift = max(0, bits_stored - 8)
    return np.ascontiguousarray(
        np.clip(
            # numpy's stubs: astype() of a conditional dtype is an array of `generic`, no >>
            rgb.astype(np.uint64 if rgb.dtype.itemsize > 2 else np.uint32) >> shift,  # type: ignore[operator]
            0,
            255,
        )
    ).astype(np.uint8)
