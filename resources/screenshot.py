"""Screenshots of every panel, at 1440x900, with real peers on 127.0.0.1 (a DCMTK storescp,
a closed port, a listener that never answers; DCMTK storescu sends to the local SCP):

    screenshot-empty.png      a first start: no nodes, the viewer's placeholder
    screenshot-main.png       nodes after Echo all, a Doctor result, the Jobs dock (README)
    screenshot-jobs.png       the Jobs dock with a failed and a cancelled job
    screenshot-archive.png    the Archive dock and the Received dock (README)
    screenshot-audit.png      the Audit log dock
    screenshot-viewer.png     a CT series in the Viewer, the pipeline and QC panels (README)
    screenshot-shortcuts.png  Help > Keyboard shortcuts
    screenshot-about.png      Help > About

    QT_QPA_PLATFORM=offscreen python resources/screenshot.py [OUTDIR]   # default resources/

Offscreen, each is ``QWidget.grab()`` of the window (or the dialog).  The README uses
main, archive and viewer; the others are for looking at (resources/.gitignore).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
SIZE = (1440, 900)


def loop(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    ev = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), ev.quit)
    ev.exec()


def wait_until(cond, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        loop(0.05)
    return False


def make_ct_series(folder: pathlib.Path, n: int = 12) -> None:
    """pydicom's CT_small as a series, one slice missing and one with burned-in
    annotation, so the series QC panel has findings."""
    import numpy as np
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    src = dcmread(get_testdata_file("CT_small.dcm"))
    base = src.pixel_array.astype(np.int32)
    series = generate_uid()
    for i in range(n):
        if i == 6:  # a missing slice: the QC panel reports the gap
            continue
        ds = src.copy()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesInstanceUID = series
        ds.SeriesDescription = "HEAD 2.5"
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [-32.0, -32.0, 2.5 * i]
        ds.SliceThickness = 2.5
        ds.PatientName = "Demo^Quality^C"
        ds.PatientID = "QC-0001"
        ds.BurnedInAnnotation = "YES" if i == 2 else "NO"
        shift = int(40 * np.sin(i / 3))
        ds.PixelData = np.clip(base + shift, -32768, 32767).astype(np.int16).tobytes()
        ds.save_as(folder / f"ct{i:03d}.dcm")


class Shots:
    def __init__(self, out: pathlib.Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)

    def save(self, widget, name: str) -> None:  # type: ignore[no-untyped-def]
        loop(0.4)
        path = self.out / f"screenshot-{name}.png"
        widget.grab().save(str(path))
        print("saved", path, path.stat().st_size)


def main(out: pathlib.Path) -> None:
    sys.path.insert(0, str(ROOT))  # tests.peers, tests.gui
    home = pathlib.Path(tempfile.mkdtemp())
    os.environ["PACSADMIN_HOME"] = str(home)
    from PySide6.QtWidgets import QApplication

    from pacsadmin.core.nodes import DicomNode, NodeTimeouts
    from pacsadmin.core.paths import AppPaths
    from pacsadmin.core.secrets import SecretStore, SessionSecrets
    from pacsadmin.gui.app import PacsAdminApp
    from tests.gui.conftest import SilentListener, closed_port
    from tests.gui.test_archive_gui import _write, make_studies
    from tests.peers import find_program, free_port, peer_env, start_storescp

    qapp = QApplication.instance() or QApplication([])
    shots = Shots(out)
    work = pathlib.Path(tempfile.mkdtemp())
    peer = start_storescp(work / "storescp")
    hung = SilentListener()
    scp_port = free_port()
    paths = AppPaths.resolve().ensure()
    paths.settings_file.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "scp_port": scp_port,
                "scp_autostart": True,
                "scp_worker_processes": 1,
            }
        )
    )
    app = PacsAdminApp(paths, secrets=SecretStore(SessionSecrets()), start_scp=True)
    app.errors.dialogs_enabled = False
    w = app.window
    try:
        w.resize(*SIZE)
        w.show()
        loop(1.0)
        # ---- a first start: nothing yet
        app.central_tabs.setCurrentWidget(app.viewer)
        shots.save(w, "empty")
        app.central_tabs.setCurrentWidget(app.doctor_panel)

        # ---- nodes, Echo all, a Doctor run
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
        skip = ("Viewer Lab", "Research PACS")
        app.echoes.echo_all([n for n in app.nodes.list() if n.name not in skip])
        loop(3.5)
        app.echoes.echo_all([app.nodes.get("Research PACS")])  # left running
        app.node_browser.select_node("Main PACS")
        app.act_doctor.trigger()
        loop(1.5)
        app.doctor_panel.tabs.setCurrentIndex(0)
        w.docks["jobs"].raise_()
        shots.save(w, "main")

        # ---- Jobs: a failed Doctor run (the peer refuses), a cancelled one
        app.node_browser.select_node("MR Suite")
        app.act_doctor.trigger()
        loop(1.5)
        app.doctor_panel.set_target("Research PACS")
        app.doctor_panel.run_button.click()
        loop(0.8)
        app.doctor_panel.cancel_button.click()
        loop(1.0)
        w.docks["jobs"].raise_()
        shots.save(w, "jobs")

        # ---- the archive: an import, then storescu sends to the local SCP
        src = work / "studies"
        make_studies(src)
        (src / "notes.txt").unlink()
        app.archive.import_paths([str(src)])
        wait_until(lambda: app.scp.state == "listening")
        storescu = find_program("storescu")
        from pydicom.uid import generate_uid

        for i, (patient, n) in enumerate((("Sent^By^Dcmtk", 5), ("Roe^Richard", 2))):
            files = _write(work / f"send{i}", "s", patient=patient, pid=f"S{i}",
                           study=generate_uid(), series=generate_uid(), modality="CT", n=n,
                           desc="SENT", acc=f"R{i}", date="20240612")  # fmt: skip
            cmd = [storescu, "-aet", f"MODALITY{i + 1}", "-aec", app.local.ae_title]
            subprocess.run(
                [*cmd, "127.0.0.1", str(scp_port), *map(str, files)],
                env=peer_env(),
                capture_output=True,
                timeout=120,
                check=False,
            )
        wait_until(lambda: len(app.received_model.rows) >= 2)
        loop(2.0)  # the archive tree reloads after the SCP stored
        w.docks["archive"].raise_()
        w.docks["received"].raise_()
        app.received_view.table.selectRow(0)
        tree = app.archive_browser.tree
        tree.expandToDepth(1)
        shots.save(w, "archive")

        # ---- the audit log
        w.docks["audit"].raise_()
        loop(0.8)
        shots.save(w, "audit")
        w.docks["nodes"].raise_()
        w.docks["jobs"].raise_()

        # ---- the viewer, the lists narrowed as one does to read images
        from PySide6.QtCore import Qt

        w.resizeDocks([w.docks["nodes"]], [380], Qt.Orientation.Horizontal)
        ct = work / "ct"
        ct.mkdir()
        make_ct_series(ct)
        app.open_in_viewer([str(ct)])
        wait_until(lambda: app.viewer.count() > 0, 20)
        loop(2.0)
        app.viewer.set_index(4)
        loop(1.0)
        shots.save(w, "viewer")

        # ---- Help (absent before the Help menu existed)
        help_menu = getattr(app, "help", None)
        if help_menu is not None:
            dlg = help_menu.show_shortcuts()
            shots.save(dlg, "shortcuts")
            dlg.close()
            about = help_menu.show_about()
            wait_until(lambda: "pydicom" in about.versions(), 10)
            shots.save(about, "about")
            about.close()
    finally:
        w.close()
        app.shutdown()
        hung.close()
        peer.stop()
    del qapp


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "resources")
