"""Reading an image file: every failure becomes an :class:`ImageError` (docs/safety.md rule 3)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pacsadmin.core.damaged import DAMAGE_ERRORS
from pacsadmin.core.imaging.errors import ImageError, per_file
from pacsadmin.core.imaging.frames import FrameAttrs
from pacsadmin.core.imaging.geometry import Geometry, read_geometry

#: Exceptions a damaged or hostile file can raise inside pydicom, for the narrow ``except``
#: clauses that give a precise message; the entry points' boundary (``per_file``) catches the
#: rest (pydicom's own BytesLengthException among them).
FILE_ERRORS = DAMAGE_ERRORS

_EXECUTABLE_MAGIC = {b"MZ": "a Windows executable (MZ)", b"\x7fELF": "an ELF executable"}


@dataclass
class LoadedImage:
    """A dataset with checked geometry; ``notes`` are things worth telling the user."""

    path: str
    ds: Any
    geometry: Geometry
    notes: list[str] = field(default_factory=list)
    attrs: FrameAttrs | None = None  # frame 0's, when already read (the viewer's scan)


def preamble_note(path: str | os.PathLike[str], preamble: bytes | None = None) -> str | None:
    """Flag a preamble with an executable header (docs/safety.md rule 6, CVE-2019-11687).

    ``preamble``: the 128 bytes pydicom read (``ds.preamble``), so the file is not opened
    again; without it the file's first bytes are read.
    """
    if isinstance(preamble, bytes) and len(preamble) == 128:
        head = preamble[:4]
    else:
        try:
            with open(path, "rb") as fh:
                head = fh.read(4)
        except OSError:
            return None
    for magic, what in _EXECUTABLE_MAGIC.items():
        if head.startswith(magic):
            return f"the file's 128-byte preamble starts like {what} (a PE/DICOM polyglot?)"
    return None


def check_deflated(path: str | os.PathLike[str]) -> None:
    """Before pydicom reads ``path``: a Deflated file is inflated as a bounded stream first
    (pydicom inflates it whole, in memory: a deflate bomb opened from a CD or a share would
    exhaust memory).  ImageError when it is refused; nothing for any other file."""
    from pacsadmin.core.deflate import DeflateError, check

    try:
        check(path)
    except DeflateError as exc:
        raise ImageError(f"this file is refused: {exc}", kind="not-dicom") from None
    except OSError:
        pass  # the read that follows says what is wrong with the file


@per_file
def read_dataset(path: str | os.PathLike[str], *, pixels: bool = True) -> tuple[Any, list[str]]:
    """``dcmread`` with every failure turned into an ImageError with a readable message.

    Files without File Meta Information (ACR-NEMA style) are accepted when they parse and
    hold image attributes; a note says so.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    notes: list[str] = []
    name = os.fspath(path)
    check_deflated(name)
    try:
        try:
            ds = pydicom.dcmread(name, stop_before_pixels=not pixels)
        except InvalidDicomError:
            ds = pydicom.dcmread(name, stop_before_pixels=not pixels, force=True)
            if "SOPClassUID" not in ds and "Rows" not in ds:
                raise ImageError(
                    "this is not a DICOM file (no 'DICM' marker and no DICOM attributes)",
                    kind="not-dicom",
                ) from None
            notes.append("the file has no DICOM File Meta Information (an old ACR-NEMA file?)")
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"file not found: {name}", kind="io") from None
    except IsADirectoryError:
        raise ImageError(f"this is a folder, not a file: {name}", kind="io") from None
    except PermissionError:
        raise ImageError(f"no permission to read {name}", kind="io") from None
    except OSError as exc:
        if exc.errno is None:  # pydicom's "No tag to read at file position": damage
            raise
        raise ImageError(f"cannot read {name}: {exc.strerror or exc}", kind="io") from None
    # anything else a damaged file raises: the per_file boundary says what it means
    note = preamble_note(name, getattr(ds, "preamble", None))
    if note:
        notes.append(note)
    return ds, notes


@per_file
def load_image(path: str | os.PathLike[str]) -> LoadedImage:
    """Read ``path`` and check its pixel geometry before anything is decoded."""
    ds, notes = read_dataset(path)
    geometry = read_geometry(ds)
    if geometry.excess_bytes:
        notes.append(
            f"Pixel Data is {geometry.excess_bytes} bytes longer than {geometry.describe()} needs"
        )
    return LoadedImage(os.fspath(path), ds, geometry, notes)
