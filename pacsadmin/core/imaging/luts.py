"""The grayscale transforms of PS3.3 C.11 as numpy functions on whole arrays.

* :class:`Rescale` and :class:`LookupTable` (Modality LUT Sequence, VOI LUT Sequence):
  C.11.1, C.11.2;
* :func:`window` with the LINEAR, LINEAR_EXACT and SIGMOID functions of C.11.2.1.2;
* :func:`parse_lut` checks a LUT Descriptor against its LUT Data (C.11.1.1.1).

Window outputs are in ``[ymin, ymax]`` (default 0..1); the pipeline turns them into bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from pacsadmin.core.imaging.errors import ImageError

WINDOW_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


@dataclass(frozen=True)
class Rescale:
    """Modality values = stored * slope + intercept (PS3.3 C.11.1.1.2)."""

    slope: float = 1.0
    intercept: float = 0.0
    type: str = ""  # Rescale Type (HU, US, OD...)

    @property
    def identity(self) -> bool:
        return self.slope == 1.0 and self.intercept == 0.0

    def apply(self, x: Any) -> np.ndarray:
        if self.identity:
            return np.asarray(x, dtype=np.float64)
        return np.asarray(x, dtype=np.float64) * self.slope + self.intercept

    def describe(self) -> str:
        unit = f" ({self.type})" if self.type else ""
        if self.identity:
            return f"none: modality values = stored values{unit}"
        sign = "-" if self.intercept < 0 else "+"
        return f"Rescale: stored x {self.slope:g} {sign} {abs(self.intercept):g}{unit}"


@dataclass(frozen=True)
class LookupTable:
    """A Modality or VOI LUT: values below ``first`` map to entry 0, above to the last."""

    first: int
    bits: int
    data: np.ndarray
    explanation: str = ""
    kind: str = "VOI"  # "VOI" or "Modality"

    def __hash__(self) -> int:
        return hash((self.first, self.bits, len(self.data), self.explanation, self.kind))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, LookupTable)
            and (self.first, self.bits, self.explanation, self.kind)
            == (other.first, other.bits, other.explanation, other.kind)
            and np.array_equal(self.data, other.data)
        )

    @property
    def out_max(self) -> int:
        return (1 << self.bits) - 1

    def apply(self, x: Any) -> np.ndarray:
        idx = np.asarray(x, dtype=np.float64) - self.first
        idx = np.clip(np.floor(idx), 0, len(self.data) - 1).astype(np.intp)
        return cast(np.ndarray, self.data[idx])

    def describe(self) -> str:
        name = f" '{self.explanation}'" if self.explanation else ""
        return (
            f"{self.kind} LUT{name}: {len(self.data)} entries from {self.first}, "
            f"{self.bits}-bit output"
        )


@dataclass(frozen=True)
class Window:
    """Window Center/Width with its VOI LUT Function (PS3.3 C.11.2.1.2)."""

    center: float
    width: float
    function: str = "LINEAR"
    explanation: str = ""
    source: str = "file"  # file, preset, user, auto, range

    def __post_init__(self) -> None:
        check_window(self.center, self.width, self.function)

    def describe(self) -> str:
        name = f" '{self.explanation}'" if self.explanation else ""
        return (
            f"Window{name}: center {self.center:g}, width {self.width:g}, {self.function} "
            f"({self.source})"
        )

    @property
    def low(self) -> float:
        return self.center - self.width / 2

    @property
    def high(self) -> float:
        return self.center + self.width / 2


def check_window(center: float, width: float, function: str = "LINEAR") -> None:
    """Raise ImageError unless the pair is valid for ``function`` (C.11.2.1.2)."""
    if function not in WINDOW_FUNCTIONS:
        raise ImageError(
            f"VOI LUT Function {function!r} is not LINEAR, LINEAR_EXACT or SIGMOID", kind="lut"
        )
    if not (np.isfinite(center) and np.isfinite(width)):
        raise ImageError(f"window {center}/{width} is not a number", kind="lut")
    if function == "LINEAR" and width < 1:
        raise ImageError(f"Window Width {width:g} is below 1 (LINEAR needs >= 1)", kind="lut")
    if width <= 0:
        raise ImageError(f"Window Width {width:g} must be above 0 for {function}", kind="lut")


def window(
    x: Any,
    center: float,
    width: float,
    function: str = "LINEAR",
    ymin: float = 0.0,
    ymax: float = 1.0,
) -> np.ndarray:
    """Apply a window to modality values ``x`` (PS3.3 C.11.2.1.2.1 and C.11.2.1.3.1/2).

    LINEAR: ``x <= c - 0.5 - (w-1)/2`` -> ymin; ``x > c - 0.5 + (w-1)/2`` -> ymax; else
    ``((x - (c - 0.5)) / (w-1) + 0.5) * (ymax - ymin) + ymin``.
    LINEAR_EXACT: ``x <= c - w/2`` -> ymin; ``x > c + w/2`` -> ymax; else
    ``((x - c) / w + 0.5) * (ymax - ymin) + ymin``.
    SIGMOID: ``(ymax - ymin) / (1 + exp(-4 (x - c) / w)) + ymin``.
    """
    check_window(center, width, function)
    x = np.asarray(x, dtype=np.float64)
    y: np.ndarray
    if function == "SIGMOID":
        with np.errstate(over="ignore"):
            y = 1.0 / (1.0 + np.exp(-4.0 * (x - center) / width))
    elif function == "LINEAR_EXACT":
        y = np.clip((x - center) / width + 0.5, 0.0, 1.0)
    elif width == 1:  # LINEAR with w=1 is a step at c - 0.5
        y = (x > center - 0.5).astype(np.float64)
    else:
        y = np.clip((x - (center - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)
    if ymin == 0.0 and ymax == 1.0:
        return y
    return y * (ymax - ymin) + ymin


def _as_int(value: Any) -> int:
    return int(value)


def parse_lut(item: Any, kind: str, signed_input: bool = False) -> LookupTable:
    """A LookupTable from a Modality/VOI LUT Sequence item, checked against its data.

    The descriptor is (entries, first mapped value, bits); 0 entries means 65536; the first
    mapped value is signed when the input values are (PS3.3 C.11.1.1.1, C.11.2.1.1).
    """
    desc = item.get("LUTDescriptor")
    if desc is None or len(desc) != 3:
        raise ImageError(f"{kind} LUT Descriptor is missing or does not have 3 values", kind="lut")
    entries, first, bits = (_as_int(v) for v in desc)
    entries = entries or 65536
    if signed_input and first >= 32768:
        first -= 65536
    if not 8 <= bits <= 16:
        raise ImageError(f"{kind} LUT Descriptor gives {bits} bits (8 to 16 allowed)", kind="lut")
    raw = item.get("LUTData")
    if raw is None:
        raise ImageError(f"{kind} LUT has no LUT Data", kind="lut")
    if isinstance(raw, bytes | bytearray):
        if len(raw) == 2 * entries:
            data = np.frombuffer(raw, dtype="<u2").astype(np.int64)
        elif len(raw) == entries and bits == 8:
            data = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
        else:
            raise ImageError(
                f"{kind} LUT Descriptor says {entries} entries, LUT Data holds {len(raw)} bytes",
                kind="lut",
            )
    else:
        values = [raw] if isinstance(raw, int) else list(raw)
        data = np.asarray(values, dtype=np.int64)
    if len(data) != entries:
        raise ImageError(
            f"{kind} LUT Descriptor says {entries} entries, LUT Data holds {len(data)}",
            kind="lut",
        )
    top = int(data.max()) if len(data) else 0
    if top > (1 << bits) - 1:  # descriptor understates the depth: trust the data
        bits = max(bits, top.bit_length())
    explanation = str(item.get("LUTExplanation", "") or "")
    return LookupTable(first, bits, data, explanation, kind)
