"""The Connectivity Doctor panel, the start-up status lights and ``run_gui``."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from pacsadmin.core.nodes import DicomNode
from tests.gui.conftest import closed_port

WAIT = 30_000


def run_doctor(qtbot, app, target: str, count: int = 1, survey: bool = False) -> None:
    panel = app.doctor_panel
    panel.set_target(target)
    panel.count_spin.setValue(count)
    panel.survey_check.setChecked(survey)
    panel.run_button.click()
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=WAIT)


def test_ad_hoc_target_repeated_with_min_median_max(qtbot, pacs_app, storescp, tmp_path):
    app = pacs_app
    panel = app.doctor_panel
    run_doctor(qtbot, app, f"{storescp.aet}@127.0.0.1:{storescp.port}", count=3)
    assert panel.series is not None and len(panel.series.results) == 3
    stats = panel.stats_label.text()
    assert stats.startswith("3 of 3 runs succeeded") and "min " in stats
    assert "median" in stats and "max" in stats
    assert "succeeded" in panel.summary_label.text()
    assert panel.steps_table.rowCount() == 6
    assert panel.contexts_table.rowCount() == 1  # echo mode: Verification only
    assert panel.contexts_table.item(0, 2).text() == "accepted"
    # export and copy give the redacted transcript text of the shown run
    out = tmp_path / "ticket.txt"
    panel.export_transcript(str(out))
    text = out.read_text()
    assert text == panel.result.transcript_text()
    assert "A-ASSOCIATE-RQ" in text and f"{storescp.aet}@127.0.0.1" in text
    panel.copy_button.click()
    assert QGuiApplication.clipboard().text() == text
    # an ad-hoc target is audited under its address but sets no node light
    assert app.audit.entries(action="echo")[0].node == f"{storescp.aet}@127.0.0.1:{storescp.port}"
    assert app.node_model.rowCount() == 0


def test_survey_lists_the_presentation_contexts(qtbot, pacs_app, storescp):
    app = pacs_app
    app.nodes.add(DicomNode("PACS", storescp.aet, "127.0.0.1", storescp.port))
    app.node_actions.reload()
    run_doctor(qtbot, app, "PACS", survey=True)
    table = app.doctor_panel.contexts_table
    results = {table.item(r, 1).text(): table.item(r, 2).text() for r in range(table.rowCount())}
    assert table.rowCount() > 5
    assert results["Verification SOP Class"] == "accepted"
    assert any(v.startswith("rejected") for v in results.values())  # storescp: no Q/R
    assert app.audit.entries(action="doctor")[0].node == "PACS"


def test_a_failure_names_the_step_and_says_what_to_do(qtbot, pacs_app):
    app = pacs_app
    port = closed_port()
    run_doctor(qtbot, app, f"NOBODY@127.0.0.1:{port}")
    panel = app.doctor_panel
    assert panel.summary_label.text().startswith("TCP connect failed: Connection refused")
    assert "Check the port number" in panel.advice_label.text()
    statuses = [panel.steps_table.item(r, 1).text() for r in range(6)]
    assert statuses == ["ok", "failed", "skipped", "skipped", "skipped", "skipped"]


def test_unknown_target_is_explained(qtbot, pacs_app):
    app = pacs_app
    app.doctor_panel.set_target("no such node")
    app.doctor_panel.run_button.click()
    assert "neither a node in the directory nor AET@HOST:PORT" in (
        app.doctor_panel.summary_label.text()
    )
    assert app.jobs_model.rowCount() == 0


def test_status_lights_come_back_from_the_audit_log_at_start(qtbot, storescp):
    from pacsadmin.core.audit import AuditLog
    from pacsadmin.core.dimse.association import LocalAE
    from pacsadmin.core.dimse.echo import audit_echo, echo
    from pacsadmin.core.nodes import NodeDirectory
    from pacsadmin.core.paths import AppPaths
    from pacsadmin.gui.app import PacsAdminApp

    paths = AppPaths.resolve().ensure()
    nodes = NodeDirectory(paths.nodes_file)
    up = nodes.add(DicomNode("Up", storescp.aet, "127.0.0.1", storescp.port))
    down = nodes.add(DicomNode("Down", "X", "127.0.0.1", closed_port()))
    nodes.add(DicomNode("New", "X", "127.0.0.1", 104))
    audit = AuditLog(paths.audit_db)
    for node in (up, down):  # what the CLI (or an earlier session) did
        audit_echo(audit, echo(LocalAE(), node), "echo")

    app = PacsAdminApp(paths)
    qtbot.addWidget(app.window)
    try:  # read on the io lane, not on the GUI thread
        qtbot.waitUntil(lambda: app.node_model.status("Up").ok is not None, timeout=WAIT)
        up_st, down_st = app.node_model.status("Up"), app.node_model.status("Down")
        assert up_st.ok is True and up_st.latency_ms and up_st.when
        assert down_st.ok is False and "refused" in down_st.summary
        assert app.node_model.status("New").ok is None
        qtbot.waitUntil(lambda: app.audit_model.rowCount() == 2, timeout=WAIT)  # read on io lane
    finally:
        app.window.close()
    assert app.shutdown()


def test_run_gui_opens_the_window_and_returns_0_when_closed(qtbot, tmp_path):
    from pacsadmin.gui.app import run_gui
    from pacsadmin.gui.main_window import MainWindow

    seen: list[str] = []
    qapp = QApplication.instance()

    def close_main() -> None:
        for w in QApplication.topLevelWidgets():
            if isinstance(w, MainWindow) and w.isVisible():
                seen.append(w.statusBar().currentMessage() or w.windowTitle())
                w.close()

    def safety() -> None:  # never hang the suite
        seen.append("SAFETY")
        qapp.quit()

    QTimer.singleShot(800, close_main)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(safety)
    guard.start(20_000)
    rc = run_gui(config_dir=str(tmp_path / "home"))
    guard.stop()
    assert rc == 0
    assert seen and "SAFETY" not in seen
    assert (tmp_path / "home" / "gui.ini").exists()  # window geometry, QSettings only


def test_a_failed_run_does_not_keep_the_previous_runs_contexts(qtbot, pacs_app, storescp):
    app = pacs_app
    panel = app.doctor_panel
    run_doctor(qtbot, app, f"{storescp.aet}@127.0.0.1:{storescp.port}", survey=True)
    n = panel.contexts_table.rowCount()
    assert n > 5
    assert panel.tabs.tabText(0) == f"Presentation contexts ({n})"
    # a run that fails before the association: an empty table, and a tab that says so
    run_doctor(qtbot, app, f"NOBODY@127.0.0.1:{closed_port()}", survey=True)
    assert panel.summary_label.text().startswith("TCP connect failed")
    assert panel.contexts_table.rowCount() == 0
    assert panel.tabs.tabText(0) == "Presentation contexts (0)"
    # a run that cannot start at all (not a target) clears them too
    run_doctor(qtbot, app, f"{storescp.aet}@127.0.0.1:{storescp.port}", survey=True)
    assert panel.tabs.tabText(0) == f"Presentation contexts ({n})"
    panel.set_target("no such node")
    panel.run_button.click()
    assert "neither a node" in panel.summary_label.text()
    assert panel.contexts_table.rowCount() == 0
    assert panel.tabs.tabText(0) == "Presentation contexts"
