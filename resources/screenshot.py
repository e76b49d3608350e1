"""Regenerate resources/screenshot-main.png (the README's picture) with real peers on
127.0.0.1: a DCMTK storescp, a closed port and a listener that never answers.

    xvfb-run -a -s "-screen 0 1600x1000x24" \\
        python resources/screenshot.py resources/screenshot-main.png
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile


def loop(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    ev = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), ev.quit)
    ev.exec()


def main(out: str) -> None:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # tests.peers
    os.environ["PACSADMIN_HOME"] = tempfile.mkdtemp()
    from PySide6.QtWidgets import QApplication

    from pacsadmin.core.nodes import DicomNode, NodeTimeouts
    from pacsadmin.core.paths import AppPaths
    from pacsadmin.core.secrets import SecretStore, SessionSecrets
    from pacsadmin.gui.app import PacsAdminApp
    from tests.gui.conftest import SilentListener, closed_port
    from tests.peers import start_storescp

    qapp = QApplication.instance() or QApplication([])
    peer = start_storescp(pathlib.Path(tempfile.mkdtemp()))
    hung = SilentListener()
    try:
        app = PacsAdminApp(AppPaths.resolve(), secrets=SecretStore(SessionSecrets()))
        up, down = ("127.0.0.1", peer.port), ("127.0.0.1", closed_port())
        nodes = [
            ("Main PACS", peer.aet, up, "St. Mary's", "archive", None),
            ("CT Scanner 2", peer.aet, up, "St. Mary's", "modality", None),
            ("MR Suite", "MR_SUITE", down, "St. Mary's", "modality", None),
            ("Router", "ROUTER01", ("127.0.0.1", hung.port), "St. Mary's", "router", 2),
            ("Teleradiology", "TELERAD", up, "Northside Clinic", "remote", None),
            ("Ultrasound 1", "US1", up, "Northside Clinic", "modality", None),
            ("Research PACS", "RESEARCH", ("127.0.0.1", hung.port), "University", "research", 60),
            ("Viewer Lab", "VLAB", up, "University", "", None),
        ]
        for name, aet, (host, port), site, tag, acse in nodes:
            app.nodes.add(
                DicomNode(
                    name,
                    aet,
                    host,
                    port,
                    site=site,
                    tags=(tag,) if tag else (),
                    timeouts=NodeTimeouts(acse=acse),
                )
            )
        app.node_actions.reload()
        w = app.window
        w.resize(1500, 900)
        w.show()
        loop(0.5)
        skip = ("Viewer Lab", "Research PACS")
        app.echoes.echo_all([n for n in app.nodes.list() if n.name not in skip])
        loop(3.5)
        app.echoes.submit(app.nodes.get("Research PACS"), "echo_all")  # left running
        app.node_browser.select_node("Main PACS")
        app.act_doctor.trigger()
        loop(1.5)
        app.doctor_panel.tabs.setCurrentIndex(0)
        loop(0.8)
        w.grab().save(out)
        print("saved", out, os.path.getsize(out))
        w.close()
    finally:
        hung.close()
        peer.stop()
    del qapp


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "screenshot-main.png")
