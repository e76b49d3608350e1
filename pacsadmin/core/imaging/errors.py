"""Errors of the imaging pipeline: each message is a sentence an administrator can act on."""

from __future__ import annotations

from pacsadmin.core.errors import PacsAdminError


class ImageError(PacsAdminError):
    """An image cannot be read, decoded or displayed.

    ``kind`` is a short machine-readable reason (``"geometry"``, ``"codec"``, ``"truncated"``,
    ``"no-pixels"``, ``"not-dicom"``, ``"timeout"``, ``"crash"``, ``"decode"``, ``"lut"``,
    ``"frame"``) so a viewer can choose an icon; ``str(exc)`` is the message.
    """

    def __init__(self, message: str, *, kind: str = "decode") -> None:
        super().__init__(message)
        self.kind = kind
