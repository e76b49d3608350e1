"""Transfer syntaxes: short names and which decoder handles each (PS3.5 Section 10, A.4)."""

from __future__ import annotations

from pacsadmin.core.imaging.errors import ImageError

NAMES = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
    "1.2.840.10008.1.2.4.51": "JPEG Extended",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.4.92": "JPEG 2000 Part 2 Lossless",
    "1.2.840.10008.1.2.4.93": "JPEG 2000 Part 2",
    "1.2.840.10008.1.2.4.100": "MPEG2",
    "1.2.840.10008.1.2.4.102": "MPEG-4",
    "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
    "1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
    "1.2.840.10008.1.2.4.112": "JPEG XL",
    "1.2.840.10008.1.2.4.201": "HTJ2K Lossless",
    "1.2.840.10008.1.2.4.202": "HTJ2K Lossless RPCL",
    "1.2.840.10008.1.2.4.203": "HTJ2K",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}


def ts_name(uid: str) -> str:
    """``"JPEG 2000 (1.2.840.10008.1.2.4.91)"``; unknown UIDs are named by pydicom or as is."""
    name = NAMES.get(uid)
    if name is None:
        try:
            from pydicom.uid import UID

            name = UID(uid).name
        except Exception:  # pragma: no cover - pydicom always names a string
            name = ""
        if not name or name == uid:
            name = "an unknown transfer syntax"
    return f"{name} ({uid})"


def find_decoder(uid: str) -> str:
    """Return the name of the pydicom plugin that will decode ``uid``, else raise ImageError.

    The message says which syntax the image uses and that no decoder is installed, as an
    administrator needs to read it ("this image uses JPEG 2000 (1.2.840.10008.1.2.4.91); no
    decoder is installed").
    """
    from pydicom.pixels.decoders.base import get_decoder

    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise ImageError(
            f"this image uses {ts_name(uid)}; no decoder is installed (pydicom has none for it)",
            kind="codec",
        ) from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies)
        hint = f" (install one of: {missing})" if missing else ""
        raise ImageError(
            f"this image uses {ts_name(uid)}; no decoder is installed{hint}", kind="codec"
        )
    return str(decoder.available_plugins[0])
