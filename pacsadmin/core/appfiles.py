"""The running pacsadmin itself: the command line that starts it again, and its resources.

Installed from a wheel (``pip install .``, ``pipx``) or run from a checkout, pacsadmin
starts its helper processes (``serve`` for the local SCP and the demo PACS, ``echo-all``,
``serve``'s worker processes) as ``python -m pacsadmin``.  Built by PyInstaller
(packaging/), there is no Python to give ``-m`` to: ``sys.executable`` is the app's own
program, which takes the CLI's arguments directly.

The files the code loads at run time (the window's icon, the .desktop entry) live in the
package, ``pacsadmin/resources/``, so a wheel and the PyInstaller build carry them; the
``resources/`` folder at the top of the repository holds only the README's screenshots.
"""

from __future__ import annotations

import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def frozen() -> bool:
    """True in a PyInstaller build."""
    return bool(getattr(sys, "frozen", False))


def self_command() -> list[str]:
    """The start of a command line that runs this pacsadmin again (add the CLI's
    arguments): ``[python, "-m", "pacsadmin"]``, or ``[the app's program]`` when frozen."""
    if frozen():
        return [sys.executable]
    return [sys.executable, "-m", "pacsadmin"]


def resource(*parts: str) -> Path:
    """A file under ``pacsadmin/resources/`` (``resource("icons", "pacsadmin.svg")``)."""
    return RESOURCES.joinpath(*parts)
