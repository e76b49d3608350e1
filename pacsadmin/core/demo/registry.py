"""Where the demo PACS lives, and its entries in the two node directories.

* Its own home, ``<data dir>/demo/`` (archive, node directory, audit log, logs): apart
  from the user's archive, so the demo studies never mix with real ones.
* In the user's node directory: the node "Demo PACS" (``DEMOPACS`` at 127.0.0.1 and the
  demo's port, tagged ``demo``), added or updated when the demo starts and removed when it
  stops.  Only a node tagged ``demo`` is ever changed or removed; a node of the user's
  that happens to be called "Demo PACS" is left alone (the demo takes another name).
* In the demo's own node directory: the user's local node ("This workstation", the local
  AE title and SCP port at 127.0.0.1), so a C-MOVE from the demo back to the window is
  accepted (a Q/R SCP moves only to destinations it knows).

A crash cannot remove the entry.  The demo holds an exclusive lock on ``demo/running.lock``
for its whole life (the kernel drops it however the process ends); :func:`remove_stale`
takes that lock to learn that no demo runs, and removes a leftover entry: the next
``serve --demo`` and the window's start do it.  Until then the entry's description says
that it answers only while the demo runs.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import replace
from pathlib import Path
from typing import IO

from pacsadmin.core.demo import DEMO_AE_TITLE, DEMO_NODE_NAME, DEMO_TAG
from pacsadmin.core.errors import NodeNotFound
from pacsadmin.core.nodes import DicomNode, NodeDirectory
from pacsadmin.core.paths import AppPaths

LOCAL_NODE_NAME = "This workstation"
DESCRIPTION = (
    "The built-in demo PACS on this computer, with generated studies. It answers only "
    "while it runs: 'Start demo PACS' in the window, or 'pacsadmin serve --demo'."
)


def demo_paths(user: AppPaths) -> AppPaths:
    """The demo's own home inside the user's data folder."""
    return AppPaths(user.home / "demo")


def _lock_file(demo_home: Path) -> Path:
    return demo_home / "running.lock"


def hold_running_lock(demo_home: Path) -> IO[bytes] | None:
    """The demo's life lock; None when another demo holds it.  Keep the file open."""
    demo_home.mkdir(parents=True, exist_ok=True)
    fh = open(_lock_file(demo_home), "a+b")  # noqa: SIM115 - held for the process life
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


def is_running(demo_home: Path) -> bool:
    """True when a demo process holds its lock now."""
    if not _lock_file(demo_home).exists():
        return False
    fh = hold_running_lock(demo_home)
    if fh is None:
        return True
    fh.close()
    return False


def _ours(node: DicomNode | None) -> bool:
    return node is not None and DEMO_TAG in node.tags and node.ae_title == DEMO_AE_TITLE


def find_entry(nodes: NodeDirectory) -> DicomNode | None:
    """The demo's node in the user's directory (the one tagged ``demo``), if any."""
    for node in nodes.list():
        if _ours(node):
            return node
    return None


def register(nodes: NodeDirectory, port: int) -> DicomNode:
    """Add the demo to the user's node directory, or point its entry at ``port``."""
    node = DicomNode(
        name=DEMO_NODE_NAME,
        ae_title=DEMO_AE_TITLE,
        host="127.0.0.1",
        port=port,
        description=DESCRIPTION,
        tags=(DEMO_TAG,),
    )
    old = find_entry(nodes)
    if old is not None:
        if (old.host, old.port, old.description) == (node.host, node.port, node.description):
            return old
        return nodes.update(
            old.name, replace(old, host=node.host, port=port, description=DESCRIPTION)
        )
    name = (
        DEMO_NODE_NAME if nodes.find(DEMO_NODE_NAME) is None else nodes.unique_name(DEMO_NODE_NAME)
    )
    return nodes.add(replace(node, name=name))


def unregister(nodes: NodeDirectory) -> DicomNode | None:
    """Remove the demo's entry from the user's node directory (None: there was none)."""
    old = find_entry(nodes)
    if old is None:
        return None
    with contextlib.suppress(NodeNotFound):
        return nodes.remove(old.name)
    return None


def remove_stale(user: AppPaths, nodes: NodeDirectory) -> bool:
    """Remove a demo entry left by a demo that ended without removing it (a crash, a
    kill -9); True when one was removed.  A running demo's entry is kept."""
    if find_entry(nodes) is None:
        return False
    home = demo_paths(user).home
    fh = hold_running_lock(home)
    if fh is None:  # a demo runs: its entry is current
        return False
    try:
        return unregister(nodes) is not None
    finally:
        fh.close()


def add_move_destination(demo_nodes: NodeDirectory, ae_title: str, port: int) -> DicomNode:
    """The user's local node in the demo's directory: the demo then accepts a C-MOVE to
    it (the window's retrieve and the return-path test)."""
    node = DicomNode(
        name=LOCAL_NODE_NAME,
        ae_title=ae_title,
        host="127.0.0.1",
        port=port,
        description="This computer's pacsadmin (the move destination of the demo PACS)",
    )
    old = demo_nodes.find(LOCAL_NODE_NAME)
    if old is None:
        return demo_nodes.add(node)
    if (old.ae_title, old.host, old.port) == (ae_title, "127.0.0.1", port):
        return old
    return demo_nodes.update(
        LOCAL_NODE_NAME, replace(old, ae_title=ae_title, host="127.0.0.1", port=port)
    )
