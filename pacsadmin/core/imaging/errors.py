"""Errors of the imaging pipeline: each message is a sentence an administrator can act on."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from pacsadmin.core import damaged
from pacsadmin.core.errors import PacsAdminError

P = ParamSpec("P")
R = TypeVar("R")


class ImageError(PacsAdminError):
    """An image cannot be read, decoded or displayed.

    ``kind`` is a short machine-readable reason (``"geometry"``, ``"codec"``, ``"truncated"``,
    ``"no-pixels"``, ``"not-dicom"``, ``"damaged"``, ``"io"``, ``"timeout"``, ``"crash"``,
    ``"decode"``, ``"lut"``, ``"frame"``) so a viewer can choose an icon; ``str(exc)`` is the
    message.
    """

    def __init__(self, message: str, *, kind: str = "decode") -> None:
        super().__init__(damaged.one_line(message, 600))  # one line, wherever it is shown
        self.kind = kind


def image_error(exc: BaseException) -> ImageError:
    """Any exception of reading or decoding one file, as the ImageError a viewer shows."""
    if isinstance(exc, ImageError):
        return exc
    kind = "io" if isinstance(exc, OSError) and exc.errno is not None else "damaged"
    if type(exc).__name__ == "InvalidDicomError":
        kind = "not-dicom"
    return ImageError(damaged.reason(exc), kind=kind)


def per_file(fn: Callable[P, R]) -> Callable[P, R]:
    """The file boundary of an imaging entry point: whatever a damaged file makes ``fn``
    raise comes out as an :class:`ImageError` (the caller shows it for that file and goes
    on); ``BaseException`` (Ctrl-C, exit) passes."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ImageError:
            raise
        except Exception as exc:
            raise image_error(exc) from exc

    return wrapper
