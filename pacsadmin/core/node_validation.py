"""Validation of the values of a DICOM node, field by field.

Each function returns the normalised value or raises :class:`ValidationError` naming the
field, so a dialog can show the message next to its input.
"""

from __future__ import annotations

import re

from pacsadmin.core.errors import ValidationError


def validate_ae_title(value: object, field: str = "ae_title") -> str:
    """Return the AE title without its non-significant spaces, or raise.

    PS3.5 table 6.2-1: AE is 16 characters at most of the default character repertoire,
    excluding backslash and control characters; leading and trailing spaces are not
    significant, and a value of only spaces is not allowed.
    """
    if not isinstance(value, str):
        raise ValidationError(field, "The AE title must be text.")
    if len(value) > 16:
        raise ValidationError(
            field, f"The AE title has {len(value)} characters; at most 16 are allowed."
        )
    for ch in value:
        if ch == "\\":
            raise ValidationError(field, "The AE title may not contain a backslash (\\).")
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise ValidationError(
                field, f"The AE title may not contain control characters (found {ch!r})."
            )
        if ord(ch) > 0x7E:
            raise ValidationError(
                field,
                f"The AE title may only use plain ASCII letters, digits, spaces and "
                f"punctuation (found {ch!r}).",
            )
    stripped = value.strip(" ")
    if not stripped:
        raise ValidationError(field, "The AE title is empty (or only spaces).")
    return stripped


def validate_port(value: object, field: str = "port") -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(field, f"The port must be a whole number (got {value!r}).")
    if not 1 <= value <= 65535:
        raise ValidationError(field, f"The port must be between 1 and 65535 (got {value}).")
    return value


_HOST_RE = re.compile(r"^[A-Za-z0-9_.:\-%\[\]]+$")


def validate_host(value: object, field: str = "host") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "The host is empty: give a host name or an IP address.")
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    if len(value) > 253 or not _HOST_RE.match(value):
        raise ValidationError(
            field, f"{value!r} is not a host name or IP address (no spaces or slashes)."
        )
    return value


def validate_name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "The node needs a name.")
    value = value.strip()
    if len(value) > 64:
        raise ValidationError(field, "The name is longer than 64 characters.")
    if any(ord(c) < 0x20 for c in value):
        raise ValidationError(field, "The name may not contain control characters.")
    if "@" in value:
        raise ValidationError(
            field, "The name may not contain '@' (it would read as AET@HOST:PORT)."
        )
    return value


def opt_timeout(value: object, field: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(field, f"{value!r} is not a number of seconds.") from None
    if not 0 < v <= 3600:
        raise ValidationError(field, "A timeout must be between 0 and 3600 seconds.")
    return v
