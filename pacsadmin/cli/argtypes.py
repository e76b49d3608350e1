"""argparse value types shared by the subcommands: each refuses a bad value with a
sentence that names the rule, and argparse turns it into a usage error (exit 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def int_range(lo: int, hi: int, what: str = "a whole number") -> Callable[[str], int]:
    """A whole number from ``lo`` to ``hi``; ``what`` names it in the message."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}")
        return v

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def seconds(hi: float = 3600) -> Callable[[str], float]:
    """A number of seconds, more than 0 and at most ``hi``."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not 0 < v <= hi:
            raise argparse.ArgumentTypeError(f"must be more than 0 and at most {hi:g} seconds")
        return v

    parse.__name__ = "seconds"
    return parse


port = int_range(1, 65535, "a port number")


def key_value(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (a query key and its value) or a bare ``KEY`` (return it, any value)."""
    key, _sep, value = text.partition("=")
    if not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (a keyword or tag number)")
    return key.strip(), value


key_value.__name__ = "KEY=VALUE"


def uid(text: str) -> str:
    """A DICOM UID (PS3.5 9.1): digits in dot-separated parts, at most 64 characters."""
    v = text.strip()
    parts = v.split(".")
    if (
        not v
        or len(v) > 64
        or not all(p.isdigit() and p.isascii() for p in parts)
        or any(len(p) > 1 and p[0] == "0" for p in parts)
    ):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a DICOM UID (digits and dots, at most 64 characters)"
        )
    return v


uid.__name__ = "UID"
