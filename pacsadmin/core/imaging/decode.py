"""One frame's stored values, decoded safely.

Native (uncompressed, and deflated: pydicom inflates those when reading) frames are sliced
from Pixel Data in this process: no native code runs.  Grayscale and palette frames of 8 to
64 bits take :func:`native_array` (``np.frombuffer`` on Pixel Data once the geometry has been
checked: a read-only view with no copy when Bits Stored equals Bits Allocated in little
endian); everything else (1-bit, RGB/YBR, 8-bit big endian) goes through pydicom.
Encapsulated frames are cut out of Pixel Data here (only that frame's bytes cross the process
boundary) and decoded by pydicom's plugins (pylibjpeg: libjpeg, openjpeg, rle) in a worker
process with a time limit (:mod:`pacsadmin.core.imaging.worker`).

Values stay as stored integers (uint8/int8/uint16/int16/...): no float copy.  YBR color is
converted to RGB by pydicom; Bits Stored < Bits Allocated is masked (or sign-extended) here
or by pydicom's decoders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pacsadmin.core.imaging.codecs import find_decoder, ts_name
from pacsadmin.core.imaging.codestream import check_frame
from pacsadmin.core.imaging.errors import ImageError, per_file
from pacsadmin.core.imaging.geometry import Geometry, read_geometry
from pacsadmin.core.imaging.loader import FILE_ERRORS
from pacsadmin.core.imaging.worker import DecoderProcessPool, default_pool

_PIXEL_KEYWORDS = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "PlanarConfiguration",
)


@dataclass(frozen=True)
class DecodedFrame:
    """``array``: (rows, columns) or (rows, columns, 3) stored values of one frame."""

    array: Any
    photometric: str  # after decoding: YBR_* becomes RGB
    decoder: str


def _decode_request(request: dict[str, Any]) -> tuple[Any, str]:
    """Runs in the worker: decode one encapsulated frame. Returns (array, photometric)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.pixels.decoders.base import get_decoder

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = request["ts"]
    for key, value in request["attrs"].items():
        setattr(ds, key, value)
    ds.NumberOfFrames = 1
    ds.PixelData = encapsulate([request["frame"]])
    ds["PixelData"].VR = "OB"
    try:
        arr, meta = get_decoder(request["ts"]).as_array(ds, index=0)
    except Exception as exc:  # the decoder's boundary (in the worker): any failure is this frame's
        raise ImageError(
            f"the {ts_name(request['ts'])} frame could not be decoded: {exc}", kind="decode"
        ) from None
    return arr, str(
        meta.get(
            "photometric_interpretation", request["attrs"].get("PhotometricInterpretation", "")
        )
    )


def _check_index(geo: Geometry, index: int) -> None:
    if not 0 <= index < geo.frames:
        raise ImageError(
            f"frame {index + 1} does not exist: the image has {geo.frames} frame(s)", kind="frame"
        )


def _check_shape(arr: Any, geo: Geometry) -> None:
    want = (geo.rows, geo.columns) + ((3,) if geo.samples == 3 else ())
    if tuple(arr.shape) != want:
        raise ImageError(
            f"inconsistent image geometry: the decoded frame is {tuple(arr.shape)}, the header "
            f"says {want}",
            kind="geometry",
        )


_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_PIXEL_DATA = 0x7FE00010
_FAST_PHOTOMETRIC = ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR")
NATIVE_DECODER = "native (numpy, no codec)"


def native_array(data: Any, geo: Geometry, index: int) -> np.ndarray | None:
    """Frame ``index`` of native Pixel Data ``data`` as stored integers, or None when the
    fast path does not apply (then pydicom decodes).

    The same values, dtype and shape as pydicom's ``pixel_array`` gives for that frame: bits
    above Bits Stored are masked (unsigned) or sign-extended (signed), big endian becomes
    native.  The result may be a read-only view on ``data``.  ``geo`` must have been checked
    against ``data`` (:func:`~pacsadmin.core.imaging.geometry.read_geometry`); the length is
    checked again here with Python integers before anything is viewed.
    """
    bits = geo.bits_allocated
    little = geo.transfer_syntax != _BIG_ENDIAN
    if (
        geo.encapsulated
        or geo.samples != 1
        or geo.photometric not in _FAST_PHOTOMETRIC
        or bits not in (8, 16, 32, 64)
        or (bits == 8 and not little)  # 8-bit big endian may be byte-swapped OW: pydicom
        or not 0 <= index < geo.frames
    ):
        return None
    size = bits // 8
    count = geo.rows * geo.columns
    start = index * count * size
    if start + count * size > len(data):
        return None  # pydicom raises its own error
    kind = "i" if geo.signed else "u"
    dtype = f"{'<' if little else '>'}{kind}{size}"
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=start)
    if not little:
        arr = arr.astype(f"={kind}{size}")
    shift = bits - geo.bits_stored
    if shift > 0:  # as pydicom: shift left, then back (arithmetic for signed types)
        arr = np.left_shift(arr, shift)
        np.right_shift(arr, shift, out=arr)
    return arr.reshape(geo.rows, geo.columns)


def _pixel_bytes(ds: Any) -> Any:
    """Pixel Data's bytes without pydicom's element conversion."""
    elem = ds.get_item(_PIXEL_DATA) if hasattr(ds, "get_item") else None
    value = getattr(elem, "value", None)
    return value if isinstance(value, bytes | bytearray | memoryview) else ds.PixelData


def encapsulated_frame(ds: Any, geo: Geometry, index: int) -> bytes:
    """The bytes of frame ``index`` (0-based) of encapsulated Pixel Data."""
    from pydicom.encaps import get_frame

    ext = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        ext = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    try:
        return bytes(
            get_frame(ds.PixelData, index, extended_offsets=ext, number_of_frames=geo.frames)
        )
    except FILE_ERRORS as exc:
        raise ImageError(
            f"frame {index + 1} cannot be found in the compressed pixel data: {exc}",
            kind="truncated",
        ) from None


@per_file
def decode_frame(
    ds: Any,
    index: int = 0,
    *,
    geometry: Geometry | None = None,
    pool: DecoderProcessPool | None = None,
    timeout: float | None = None,
    isolate: bool = True,
) -> DecodedFrame:
    """Decode frame ``index`` (0-based) of ``ds``.

    Parameters
    ----------
    ds : pydicom.Dataset
        With Pixel Data.
    geometry : Geometry, optional
        From :func:`read_geometry`; checked here when not given.
    pool : DecoderProcessPool, optional
        Where compressed frames are decoded (default: the process-wide pool).
    isolate : bool
        False decodes compressed frames in this process (tests, benchmarks only).

    Raises
    ------
    ImageError
        For a missing codec ("this image uses JPEG 2000 (1.2.840.10008.1.2.4.91); no decoder
        is installed"), bad geometry, a frame that does not exist, a decoder failure, crash or
        time-out.
    """
    geo = geometry if geometry is not None else read_geometry(ds)
    _check_index(geo, index)
    ts = geo.transfer_syntax
    if not geo.encapsulated:
        try:
            arr = native_array(_pixel_bytes(ds), geo, index)
        except FILE_ERRORS as exc:
            raise ImageError(f"the pixel data could not be read: {exc}", kind="decode") from None
        if arr is not None:
            _check_shape(arr, geo)
            return DecodedFrame(arr, geo.photometric, NATIVE_DECODER)
        from pydicom.pixels.decoders.base import get_decoder

        try:
            arr, meta = get_decoder(ts).as_array(ds, index=index)
        except FILE_ERRORS as exc:
            raise ImageError(
                f"the {ts_name(ts)} pixel data could not be read: {exc}", kind="decode"
            ) from None
        _check_shape(arr, geo)
        photometric = str(meta.get("photometric_interpretation", geo.photometric))
        return DecodedFrame(arr, photometric, "native (pydicom, no codec)")
    plugin = find_decoder(ts)
    frame = encapsulated_frame(ds, geo, index)
    check_frame(frame, geo)  # before the decoder allocates Rows x Columns for it
    request = {
        "ts": ts,
        "attrs": {k: ds.get(k) for k in _PIXEL_KEYWORDS if ds.get(k) is not None},
        "frame": frame,
    }
    if isolate:
        arr, photometric = (pool or default_pool()).run(_decode_request, request, timeout=timeout)
        where = "worker process"
    else:
        arr, photometric = _decode_request(request)
        where = "in process"
    _check_shape(arr, geo)
    return DecodedFrame(arr, photometric, f"pydicom + {plugin} plugin ({where})")
