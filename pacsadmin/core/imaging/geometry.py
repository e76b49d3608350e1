"""Image geometry, checked against the bytes present before anything is decoded or reshaped.

docs/safety.md rule 2: Rows x Columns x Frames x Samples x BitsAllocated/8 is computed with Python
integers and compared with the length of Pixel Data, so a file that lies about its size gives
"inconsistent image geometry", never a crash or a giant allocation.  Encapsulated (compressed)
pixel data cannot be compared byte for byte; there the decoded frame size is capped and the
item structure is checked (PS3.5 A.4).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from pacsadmin.core.imaging.errors import ImageError, per_file
from pacsadmin.core.imaging.fastattrs import fast_get

#: Largest decoded frame accepted (bytes). 1 GiB is ~16x a 3328x4096x3 16-bit frame.
MAX_FRAME_BYTES = 1 << 30
#: Largest number of frames accepted in one object.
MAX_FRAMES = 100_000
_PIXEL_DATA = 0x7FE00010

_ENCAPSULATED_PREFIXES = ("1.2.840.10008.1.2.4.", "1.2.840.10008.1.2.5")
_NATIVE = {
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
}


def is_encapsulated(transfer_syntax: str) -> bool:
    """True for transfer syntaxes whose Pixel Data is encapsulated (PS3.5 A.4)."""
    if transfer_syntax in _NATIVE:
        return False
    # unknown private or future syntaxes: treat like encapsulated unless clearly native
    return transfer_syntax.startswith(_ENCAPSULATED_PREFIXES) or transfer_syntax not in _NATIVE


@dataclass(frozen=True)
class Geometry:
    """Pixel module attributes (PS3.3 C.7.6.3) as plain Python values."""

    rows: int
    columns: int
    frames: int
    samples: int
    bits_allocated: int
    bits_stored: int
    high_bit: int
    signed: bool
    photometric: str
    planar_configuration: int
    transfer_syntax: str
    encapsulated: bool
    pixel_bytes: int  # length of Pixel Data as present in the dataset
    fragments: int = 0  # encapsulated: items after the Basic Offset Table

    @property
    def native_frame_bytes(self) -> int:
        """Bytes one native frame occupies (YBR_FULL_422 holds 2 values per pixel)."""
        values = self.rows * self.columns * self.samples
        if self.photometric == "YBR_FULL_422":
            values = self.rows * self.columns * 2
        if self.bits_allocated == 1:
            return (values + 7) // 8  # frames are not padded to a byte boundary; see total
        return values * (self.bits_allocated // 8)

    @property
    def native_total_bytes(self) -> int:
        if self.bits_allocated == 1:
            return (self.rows * self.columns * self.samples * self.frames + 7) // 8
        return self.native_frame_bytes * self.frames

    @property
    def decoded_frame_bytes(self) -> int:
        return self.rows * self.columns * self.samples * max(1, self.bits_allocated // 8)

    @property
    def excess_bytes(self) -> int:
        """Native only: bytes present beyond the expected length (one pad byte is normal)."""
        if self.encapsulated:
            return 0
        return max(0, self.pixel_bytes - self.native_total_bytes - (self.native_total_bytes & 1))

    def describe(self) -> str:
        fr = "1 frame" if self.frames == 1 else f"{self.frames} frames"
        smp = "1 sample" if self.samples == 1 else f"{self.samples} samples"
        return (
            f"Rows {self.rows} x Columns {self.columns} x {fr} x {smp} x "
            f"{self.bits_allocated} bits allocated"
        )


def _int(ds: Any, keyword: str, default: int | None = None) -> int:
    try:
        value = fast_get(ds, keyword)
    except (ValueError, TypeError, KeyError, OverflowError):
        raise ImageError(
            f"inconsistent image geometry: {keyword} cannot be read", kind="geometry"
        ) from None
    if value is None or value == "":
        if default is None:
            raise ImageError(f"inconsistent image geometry: {keyword} is missing", kind="geometry")
        return default
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise ImageError(
            f"inconsistent image geometry: {keyword} is {value!r}, not a whole number",
            kind="geometry",
        ) from None


def count_fragments(data: bytes) -> int:
    """Items after the Basic Offset Table in encapsulated Pixel Data; checks every length.

    Raises ImageError when an item header is malformed or an item runs past the end.
    """
    n = len(data)
    pos = 0
    items = 0
    while pos + 8 <= n:
        group, elem, length = struct.unpack_from("<HHI", data, pos)
        pos += 8
        if (group, elem) == (0xFFFE, 0xE0DD):  # sequence delimiter
            break
        if (group, elem) != (0xFFFE, 0xE000):
            raise ImageError(
                f"the compressed pixel data is damaged: item tag ({group:04X},{elem:04X}) at "
                f"byte {pos - 8}, expected (FFFE,E000)",
                kind="truncated",
            )
        if length > n - pos:
            raise ImageError(
                f"the compressed pixel data is truncated: an item declares {length} bytes, "
                f"{n - pos} remain",
                kind="truncated",
            )
        pos += length
        items += 1
    if items == 0:
        raise ImageError("the compressed pixel data holds no items", kind="truncated")
    return items - 1  # the first item is the Basic Offset Table


@per_file
def read_geometry(ds: Any, *, pixel_length: int | None = None) -> Geometry:
    """Read and check the geometry of ``ds`` (a pydicom Dataset) against its Pixel Data.

    ``pixel_length`` checks a header read with Pixel Data deferred: the length stands in for
    the data (encapsulated item structure is then not checked).

    Raises
    ------
    ImageError
        ``kind="no-pixels"`` when there is no Pixel Data; ``kind="geometry"`` when the
        attributes are missing, out of range or do not match the bytes present.
    """
    if _PIXEL_DATA not in ds:
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise ImageError(
                "this object holds floating-point pixel data, which the viewer does not show",
                kind="no-pixels",
            )
        sop = str(ds.get("Modality", "") or "")
        what = f" (a {sop} object)" if sop else ""
        raise ImageError(f"this object has no pixel data{what}: nothing to show", kind="no-pixels")
    meta = getattr(ds, "file_meta", None)
    ts = str(getattr(meta, "TransferSyntaxUID", "") or "") if meta is not None else ""
    if not ts:
        ts = "1.2.840.10008.1.2.1" if not ds.is_implicit_VR else "1.2.840.10008.1.2"
        if ds.is_little_endian is False:
            ts = "1.2.840.10008.1.2.2"
    rows = _int(ds, "Rows")
    cols = _int(ds, "Columns")
    frames = _int(ds, "NumberOfFrames", 1)
    samples = _int(ds, "SamplesPerPixel", 1)
    bits_alloc = _int(ds, "BitsAllocated")
    bits_stored = _int(ds, "BitsStored", bits_alloc)
    high_bit = _int(ds, "HighBit", bits_stored - 1)
    pixrep = _int(ds, "PixelRepresentation", 0)
    planar = _int(ds, "PlanarConfiguration", 0)
    photometric = str(fast_get(ds, "PhotometricInterpretation", "") or "").strip().upper()

    problems = []
    if not 1 <= rows <= 65535 or not 1 <= cols <= 65535:
        problems.append(f"Rows {rows} x Columns {cols} is out of range (1 to 65535)")
    if not 1 <= frames <= MAX_FRAMES:
        problems.append(f"Number of Frames {frames} is out of range (1 to {MAX_FRAMES})")
    if samples not in (1, 3):
        problems.append(f"Samples per Pixel {samples} is not 1 or 3")
    if bits_alloc not in (1, 8, 16, 32, 64):
        problems.append(f"Bits Allocated {bits_alloc} is not 1, 8, 16, 32 or 64")
    elif not 1 <= bits_stored <= bits_alloc:
        problems.append(f"Bits Stored {bits_stored} is not between 1 and Bits Allocated")
    if pixrep not in (0, 1):
        problems.append(f"Pixel Representation {pixrep} is not 0 or 1")
    if not photometric:
        problems.append("Photometric Interpretation is missing")
    elif samples == 3 and photometric.startswith(("MONOCHROME", "PALETTE")):
        problems.append(f"{photometric} with 3 samples per pixel")
    elif samples == 1 and photometric.startswith(("RGB", "YBR")):
        problems.append(f"{photometric} with 1 sample per pixel")
    if problems:
        raise ImageError("inconsistent image geometry: " + "; ".join(problems), kind="geometry")

    encapsulated = is_encapsulated(ts)
    data = ds.PixelData if pixel_length is None else None
    pixel_bytes = pixel_length if pixel_length is not None else len(data or b"")
    geo = Geometry(
        rows=rows,
        columns=cols,
        frames=frames,
        samples=samples,
        bits_allocated=bits_alloc,
        bits_stored=bits_stored,
        high_bit=high_bit,
        signed=pixrep == 1,
        photometric=photometric,
        planar_configuration=planar,
        transfer_syntax=ts,
        encapsulated=encapsulated,
        pixel_bytes=pixel_bytes,
    )
    if geo.decoded_frame_bytes > MAX_FRAME_BYTES:
        raise ImageError(
            f"inconsistent image geometry: {geo.describe()} is "
            f"{geo.decoded_frame_bytes / 2**20:.0f} MiB per frame, over the "
            f"{MAX_FRAME_BYTES >> 20} MiB limit",
            kind="geometry",
        )
    if not encapsulated:
        need = geo.native_total_bytes
        if pixel_bytes < need:
            raise ImageError(
                f"inconsistent image geometry: {geo.describe()} needs {need} bytes of pixel "
                f"data, the file holds {pixel_bytes} (the file is truncated, or Rows, Columns, "
                "Number of Frames or Bits Allocated is wrong)",
                kind="geometry",
            )
        return geo
    if data is None:
        return geo
    fragments = count_fragments(data)
    if frames > 1 and fragments < frames:
        raise ImageError(
            f"inconsistent image geometry: Number of Frames is {frames} but the compressed "
            f"pixel data holds only {fragments} fragments",
            kind="geometry",
        )
    return Geometry(**{**geo.__dict__, "fragments": fragments})
