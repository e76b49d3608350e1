"""The command sets the storage SCP's fast receive (``scp_fast.py``) reads and writes as
bytes (PS3.7 E, Implicit VR Little Endian), each equal to what pynetdicom decodes or
encodes (tests/unit/test_pdu.py compares them)."""

from __future__ import annotations

import struct

from pacsadmin.core.dimse.pdu import command, element

VERIFICATION = "1.2.840.10008.1.1"
C_STORE_RQ, C_STORE_RSP, C_ECHO_RQ, C_ECHO_RSP = 0x0001, 0x8001, 0x0030, 0x8030
NO_DATA_SET = 0x0101  # Command Data Set Type: no data set follows


def uid_value(value: int | bytes | None) -> str:
    """A UI value as pydicom decodes it (trailing NULs and spaces off); "" when pydicom
    would make something else of it (several values, non-ASCII)."""
    if not isinstance(value, bytes):
        return ""
    text = value.decode("latin-1").rstrip("\0 ")
    return text if text.isascii() and "\\" not in text else ""


def _lo(tag: int, text: str) -> bytes:
    data = text[:64].encode("ascii", "replace")
    if len(data) % 2:
        data += b" "
    return struct.pack("<HHI", 0, tag, len(data)) + data


def store_rsp(sop_class: str, message_id: int, status: int, inst: str, comment: str = "") -> bytes:
    """The C-STORE-RSP command set, as pynetdicom encodes it (tests compare the bytes)."""
    elements = [
        element(0x00000002, None, sop_class.encode("ascii")),
        element(0x00000100, "H", C_STORE_RSP),
        element(0x00000120, "H", message_id),
        element(0x00000800, "H", NO_DATA_SET),
        element(0x00000900, "H", status),
    ]
    if comment:
        elements.append(_lo(0x0902, comment))
    elements.append(element(0x00001000, None, inst.encode("ascii")))
    return command(elements)


def echo_rsp(message_id: int) -> bytes:
    """The C-ECHO-RSP command set (Success), as pynetdicom encodes it."""
    return command(
        [
            element(0x00000002, None, VERIFICATION.encode("ascii")),
            element(0x00000100, "H", C_ECHO_RSP),
            element(0x00000120, "H", message_id),
            element(0x00000800, "H", NO_DATA_SET),
            element(0x00000900, "H", 0),
        ]
    )
