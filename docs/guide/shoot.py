"""The user guide's screenshots, made against the demo PACS so they never go stale:

    QT_QPA_PLATFORM=offscreen python docs/guide/shoot.py [OUTDIR]   # default docs/guide/img

It starts the window offscreen on a temporary home (its local SCP on a free port), starts
the demo PACS from the Tools menu's action, and walks through the guide: the Doctor with
the return-path test, a query, a retrieve with its accounting, a send, the correction of
the demo's mislabeled study, and the QC series in the viewer.  Each picture is
``QWidget.grab()`` of the window or of the dialog.  About a minute on a quiet machine.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
SIZE = (1440, 900)


def loop(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    ev = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), ev.quit)
    ev.exec()


def wait_until(cond, timeout: float = 60.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        loop(0.05)
    raise SystemExit(f"shoot.py: timed out waiting for {what or cond}")


def save(widget, out: pathlib.Path, name: str) -> None:  # type: ignore[no-untyped-def]
    loop(0.4)
    path = out / f"{name}.png"
    widget.grab().save(str(path))
    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main(out: pathlib.Path) -> None:
    sys.path.insert(0, str(ROOT))
    home = pathlib.Path(tempfile.mkdtemp(prefix="pacsadmin-guide-"))
    os.environ["PACSADMIN_HOME"] = str(home)
    from PySide6.QtWidgets import QApplication

    from pacsadmin.core.demo import DEMO_NODE_NAME
    from pacsadmin.core.dimse.find_form import QueryForm
    from pacsadmin.core.paths import AppPaths
    from pacsadmin.core.secrets import SecretStore, SessionSecrets
    from pacsadmin.gui.app import PacsAdminApp
    from tests.peers import free_port

    qapp = QApplication.instance() or QApplication([])
    out.mkdir(parents=True, exist_ok=True)
    paths = AppPaths.resolve().ensure()
    paths.settings_file.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "local_ae_title": "ADMIN_WS",
                "scp_port": free_port(),
                "scp_autostart": True,
                "scp_worker_processes": 1,
            }
        )
    )
    app = PacsAdminApp(paths, secrets=SecretStore(SessionSecrets()), start_scp=True)
    app.errors.dialogs_enabled = False
    app.editing.confirm = lambda title, text: True
    w = app.window
    try:
        w.resize(*SIZE)
        w.show()
        wait_until(lambda: app.scp.state == "listening", what="the local SCP")
        # ---- the demo PACS, from the Tools menu
        app.act_demo.trigger()
        wait_until(lambda: app.node_model.row_of(DEMO_NODE_NAME) >= 0, 120, "the demo PACS")
        wait_until(lambda: app.demo.process.state == "listening", 120, "the demo listening")
        demo = app.nodes.get(DEMO_NODE_NAME)

        # ---- 1. the Connectivity Doctor, with the return-path test
        app.node_browser.select_node(DEMO_NODE_NAME)
        app.central_tabs.setCurrentWidget(app.doctor_panel)
        doctor = app.doctor_panel
        doctor.return_path_check.setChecked(True)
        doctor.set_target(DEMO_NODE_NAME)
        doctor.run_button.click()
        loop(0.5)
        wait_until(lambda: doctor.run_button.isEnabled() and doctor.return_path is not None,
                   120, "the Doctor")  # fmt: skip
        save(w, out, "doctor")

        # ---- 2. a query: every study of the demo PACS
        app.central_tabs.setCurrentWidget(app.query_panel)
        ctrl, panel = app.query, app.query_panel
        done = ctrl.finished
        panel.form.set_form(QueryForm(node=DEMO_NODE_NAME))
        panel.form.search_button.click()
        wait_until(lambda: ctrl.finished > done, what="the query")
        loop(1.0)
        save(w, out, "query")

        # ---- 3. retrieve the CT study and the mislabeled one: the accounting
        want = {"DEMO-0001", "DEMO-0020", "DEMO-0005"}
        col = 1 + [c.keyword for c in panel.model.columns].index("PatientID")
        panel.table.clearSelection()
        sel = panel.table.selectionModel()
        for r in range(panel.proxy.rowCount()):
            if panel.proxy.index(r, col).data() in want:
                sel.select(
                    panel.proxy.index(r, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows
                )
        panel.retrieve_button.click()
        wait_until(lambda: len(app.retrieve_model.rows()) >= 1, what="the retrieves")
        wait_until(lambda: all(r.finished for r in app.retrieve_model.rows()), 180, "retrieves")
        rows = app.retrieve_model.rows()
        app.retrieve_panel.select(rows[-1].key)
        app.window.docks["retrieve"].show()
        app.window.docks["retrieve"].raise_()
        loop(1.0)
        save(w, out, "retrieve")

        # ---- 4. send the CT study back to the demo PACS: the per-file results
        arch = app.archive.handle.get()  # read here, in a script: no window waits on it
        ct = [s for s in arch.studies() if s["patient_id"] == "DEMO-0001"]
        files = [
            str(arch.path_of(rel)) for _, rel in arch.instance_paths("study", [ct[0]["study_uid"]])
        ]
        from pacsadmin.gui.dialogs.send_dialog import SendChoice

        app.sends.choose = lambda request: SendChoice(demo, decompress_if_needed=True)  # no dialog
        run = app.sends.send_paths(demo, files[:40])
        if run is not None:
            wait_until(lambda: run.result is not None, 120, "the send")
            results = app.sends.show(run.job_id)
            if results is not None:
                results.resize(1100, 640)
                save(results, out, "send")
                results.close()

        # ---- 5. correct the mislabeled study (Deo^Jnae -> Doe^Jane), the preview
        wrong = [s for s in arch.studies() if s["patient_id"] == "DEMO-0020"]
        app.editing.open_correction(study_uids=[wrong[0]["study_uid"]])
        wait_until(lambda: app.editing.dialog is not None, what="the correction dialog")
        dlg = app.editing.dialog
        dlg.edits["PatientName"].setText("Doe^Jane")
        dlg.edits["PatientID"].setText("DEMO-0002")
        dlg.keep_uids.setChecked(True)
        dlg.all_studies.setChecked(False)
        dlg.preview_btn.click()
        wait_until(lambda: dlg.diff.topLevelItemCount() > 0, what="the preview")
        dlg.resize(1200, 820)
        save(dlg, out, "correction")
        dlg.close()

        # ---- 6. the QC series in the viewer (a missing slice, a duplicate)
        qc = [s for s in arch.studies() if s["patient_id"] == "DEMO-0005"]
        if qc:
            paths_qc = [
                str(arch.path_of(rel))
                for _, rel in arch.instance_paths("study", [qc[0]["study_uid"]])
            ]
            app.open_in_viewer(paths_qc)
            wait_until(lambda: app.viewer.current_frame() is not None, 60, "the viewer")
            app.viewer.qc_tabs.setCurrentIndex(0)
            loop(2.0)
            save(w, out, "viewer-qc")
    finally:
        for widget in QApplication.topLevelWidgets():
            if widget is not w:
                widget.close()
        w.close()
        app.shutdown()
        qapp.processEvents()


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "guide" / "img")
