"""Element values as text and back: the file's character set and byte order.

Text that the file's Specific Character Set (0008,0005) cannot hold is refused with
:class:`UnencodableText`, never written as "?" (pydicom's default replaces it and warns);
the caller may instead upgrade the file to ISO_IR 192 (UTF-8, ``session.py``).
"""

from __future__ import annotations

import struct
import warnings
from typing import TYPE_CHECKING

from pacsadmin.core.errors import PacsAdminError

if TYPE_CHECKING:
    from pacsadmin.core.editing.model import DicomFile, Node

TEXT_VRS = frozenset(
    [
        "AE",
        "AS",
        "CS",
        "DA",
        "DS",
        "DT",
        "IS",
        "LO",
        "LT",
        "PN",
        "SH",
        "ST",
        "TM",
        "UC",
        "UI",
        "UR",
        "UT",
    ]
)  # values that are text
CHARSET_VRS = frozenset(
    ["LO", "LT", "PN", "SH", "ST", "UC", "UT"]
)  # text in the Specific Character Set
SINGLE_VALUE_VRS = frozenset(["LT", "ST", "UT", "UR"])  # a backslash is just a character here
NUMERIC = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d", "SV": "q", "UV": "Q"}
CHARSET_TAG = 0x00080005
MAX_SHOWN = 256  # characters of a value shown before it is elided


class UnencodableText(PacsAdminError):
    def __init__(self, element: str, text: str, charset: str) -> None:
        terms = charset.split("\\") if charset else []
        bad = "".join(dict.fromkeys(c for c in text if not _fits(c, terms)))[:10]
        super().__init__(
            f"{element}: the file's character set ({charset or 'ISO_IR 6, ASCII'}) cannot "
            f"hold {bad!r}; nothing was written (allow the upgrade to ISO_IR 192, UTF-8, "
            "to store it)"
        )
        self.element = element


def _fits(c: str, terms: list[str]) -> bool:
    encs = python_encodings(terms)
    for enc in encs:
        try:
            c.encode(enc)
            return True
        except (UnicodeError, LookupError):
            pass
    return False


def charset_of(df: DicomFile) -> list[str]:
    """The terms of the data set's Specific Character Set ([] when absent: ASCII)."""
    for n in df.elements:
        if n.tag == CHARSET_TAG:
            raw = df.body[n.value_start : n.end].decode("ascii", "replace")
            return [t.strip(" \x00") for t in raw.split("\\")]
        if n.tag > CHARSET_TAG:
            break
    return []


def python_encodings(terms: list[str]) -> list[str]:
    from pydicom.charset import convert_encodings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(convert_encodings([t or "ISO_IR 6" for t in terms] or ["ISO_IR 6"]))


def decode_text(raw: bytes, vr: str, terms: list[str]) -> str:
    if vr in CHARSET_VRS and terms and any(terms):
        from pydicom.charset import decode_bytes

        delims = {0x5C, 0x3D, 0x5E} if vr == "PN" else {0x5C}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                text = decode_bytes(raw, python_encodings(terms), delims)
            except Exception:
                text = raw.decode("latin-1")
    else:
        text = raw.decode("latin-1" if vr in CHARSET_VRS else "ascii", "replace")
    return text.rstrip("\x00 ") if vr != "UT" else text.rstrip("\x00")


def encode_text(vr: str, text: str, terms: list[str], element: str = "") -> bytes:
    """``text`` in the character set ``terms``, padded to an even length.  Raises
    :class:`UnencodableText` for a character the set cannot hold."""
    if vr in CHARSET_VRS:
        encs = python_encodings(terms)
        if len(encs) == 1:
            try:
                raw = text.encode(encs[0])
            except (UnicodeError, LookupError):
                raise UnencodableText(element, text, "\\".join(terms)) from None
        else:  # ISO 2022 code extensions: pydicom's encoder, then prove the round trip
            from pydicom.charset import encode_string

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    raw = encode_string(text, encs)
                except Exception:
                    raise UnencodableText(element, text, "\\".join(terms)) from None
            if decode_text(raw, vr, terms) != text.rstrip(" "):
                raise UnencodableText(element, text, "\\".join(terms))
    else:
        try:
            raw = text.encode("ascii")
        except UnicodeError:
            raise UnencodableText(element, text, "") from None
    if len(raw) % 2:
        raw += b"\x00" if vr == "UI" else b" "
    return raw


def encode_value(vr: str, text: str, terms: list[str], little: bool, element: str = "") -> bytes:
    """The bytes of a value given as text (numbers separated by backslashes for binary
    numeric VRs, AT as gggg,eeee pairs)."""
    if vr in NUMERIC:
        parts = [p for p in text.split("\\") if p.strip()] if text.strip() else []
        fmt = ("<" if little else ">") + NUMERIC[vr]
        out = b""
        for p in parts:
            v: float | int = float(p) if vr in ("FL", "FD") else int(p, 0)
            out += struct.pack(fmt, v)
        return out
    if vr == "AT":
        fmt = "<HH" if little else ">HH"
        out = b""
        for p in text.split("\\") if text.strip() else []:
            g, _, el = p.strip("() ").partition(",")
            out += struct.pack(fmt, int(g, 16), int(el, 16))
        return out
    if vr in TEXT_VRS:
        return encode_text(vr, text, terms, element)
    raise PacsAdminError(f"{element}: values of VR {vr} cannot be entered as text")


def decode_value(raw: bytes, vr: str, terms: list[str], little: bool) -> str:
    """A value as text: strings decoded, numbers listed, binary as its size."""
    if vr in TEXT_VRS:
        return decode_text(raw, vr, terms)
    if vr in NUMERIC:
        size = struct.calcsize("<" + NUMERIC[vr])
        n = len(raw) // size
        if n * size != len(raw) or n > 64:
            return f"<{len(raw)} bytes>"
        vals = struct.unpack(("<" if little else ">") + NUMERIC[vr] * n, raw)
        return "\\".join(f"{v:g}" if isinstance(v, float) else str(v) for v in vals)
    if vr == "AT" and len(raw) % 4 == 0 and len(raw) <= 256:
        pairs = struct.unpack(("<" if little else ">") + "HH" * (len(raw) // 4), raw)
        return "\\".join(f"({pairs[i]:04X},{pairs[i + 1]:04X})" for i in range(0, len(pairs), 2))
    return f"<{len(raw)} bytes>"


def node_value(df: DicomFile, node: Node, buf: bytes, terms: list[str] | None = None) -> str:
    if node.items is not None:
        return f"<{len(node.items)} item{'s' if len(node.items) != 1 else ''}>"
    if node.fragments:
        return f"<encapsulated, {node.end - node.value_start} bytes>"
    t = df.charset if terms is None else terms
    return decode_value(buf[node.value_start : node.end], node.vr, t, node.little)


def shown(text: str, limit: int = MAX_SHOWN) -> str:
    """Plain text for a cell: control characters escaped, elided past ``limit``."""
    s = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def value_multiplicity(text: str, vr: str) -> int:
    if vr in SINGLE_VALUE_VRS or vr in ("OB", "OW", "UN", "SQ"):
        return 1 if text else 0
    return len(text.split("\\")) if text != "" else 0
