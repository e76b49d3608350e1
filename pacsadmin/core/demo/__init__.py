"""The demo PACS: a second DICOM node on this computer, with generated studies.

``pacsadmin serve --demo`` (or the window's "Start demo PACS") runs the app's own Q/R SCP
as the AE title ``DEMOPACS`` over an archive of its own (``<data dir>/demo/``, apart from
the user's archive).  Its studies are generated at the first start
(:mod:`~pacsadmin.core.demo.generate`); while it runs it is the node "Demo PACS" of the
user's node directory (:mod:`~pacsadmin.core.demo.registry`).
"""

from __future__ import annotations

DEMO_AE_TITLE = "DEMOPACS"
DEMO_PORT = 11113  # the local SCP's default is 11112
DEMO_NODE_NAME = "Demo PACS"
DEMO_TAG = "demo"  # the tag of the node the demo registers (and the only one it touches)


def demo_port(local_port: int) -> int:
    """The demo's default port: 11113, or 11114 when the local SCP uses 11113."""
    return DEMO_PORT if local_port != DEMO_PORT else DEMO_PORT + 1
