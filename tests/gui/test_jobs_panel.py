"""The Jobs panel: a running job is listed with its progress, Cancel stops it; closing the
window with jobs running stops them and leaves no thread behind (see conftest)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt

from pacsadmin.core.jobs import JobState
from pacsadmin.core.nodes import DicomNode, NodeTimeouts
from pacsadmin.gui.models.jobs_model import COL_ELAPSED, COL_JOB, COL_STATE, PROGRESS_ROLE

WAIT = 30_000


def _row_of_running(app) -> int:
    m = app.jobs_model
    return next((r for r in range(m.rowCount()) if m.job(r).state is JobState.RUNNING), -1)


def test_running_job_is_listed_and_cancel_stops_it(qtbot, pacs_app, storescp):
    app = pacs_app
    app.nodes.add(DicomNode("PACS", storescp.aet, "127.0.0.1", storescp.port))
    app.node_actions.reload()
    panel = app.doctor_panel
    panel.set_target("PACS")
    panel.count_spin.setValue(1000)  # long enough to be seen running
    panel.survey_check.setChecked(False)
    panel.run_button.click()
    qtbot.waitUntil(lambda: _row_of_running(app) >= 0, timeout=WAIT)
    row = _row_of_running(app)
    m = app.jobs_model
    assert m.index(row, COL_JOB).data() == "Doctor PACS ×1000"
    assert m.index(row, COL_STATE).data() == "running"
    qtbot.waitUntil(lambda: m.job(row).done >= 2, timeout=WAIT)  # progress moves
    done, total = m.index(row, 3).data(PROGRESS_ROLE)
    assert total == 1000 and 2 <= done < 1000
    qtbot.wait(600)  # the panel's ticker updates the elapsed time of running jobs
    assert m.index(row, COL_ELAPSED).data()
    assert not panel.run_button.isEnabled()

    jobs = app.jobs_panel
    jobs.select_job(m.job(row).job_id)
    assert jobs.cancel_button.isEnabled()
    t0 = time.monotonic()
    jobs.cancel_button.click()
    qtbot.waitUntil(lambda: m.job(row).state.finished, timeout=WAIT)
    took = time.monotonic() - t0
    # normally well under a second; generous for a loaded machine, and the message says
    # what the job was doing if it ever is slow
    assert took < 15, f"cancel took {took:.1f} s: {m.job(row)} / {panel.summary_label.text()}"
    assert m.job(row).state is JobState.CANCELLED
    assert m.index(row, COL_STATE).data() == "cancelled"
    assert not jobs.cancel_button.isEnabled()
    # the doctor shows what ran before the cancel (or, when the cancel landed between two
    # steps of a run, that it was cancelled), and can run again
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=WAIT)
    if panel.series is not None:
        assert 2 <= len(panel.series.results) < 1000
        assert "runs succeeded" in panel.stats_label.text()
    else:
        assert "Cancelled" in panel.summary_label.text()
    assert not app.node_model.status("PACS").running


def test_cancel_while_the_peer_never_answers_the_association(qtbot, pacs_app, silent_listener):
    app = pacs_app
    slow = NodeTimeouts(connect=5, acse=120, dimse=120, network=120)
    app.nodes.add(DicomNode("Hung", "HUNG", "127.0.0.1", silent_listener.port, timeouts=slow))
    app.node_actions.reload()
    app.node_browser.select_node("Hung")
    app.act_echo.trigger()
    qtbot.waitUntil(lambda: _row_of_running(app) >= 0, timeout=WAIT)
    qtbot.waitUntil(lambda: len(silent_listener.accepted) == 1, timeout=WAIT)
    qtbot.wait(300)  # now waiting for the A-ASSOCIATE-AC that never comes
    row = _row_of_running(app)
    t0 = time.monotonic()
    app.doctor_panel.cancel_button.click()
    qtbot.waitUntil(lambda: app.jobs_model.job(row).state.finished, timeout=WAIT)
    assert time.monotonic() - t0 < 5  # not the 120 s ACSE timeout
    st = app.node_model.status("Hung")
    assert st.ok is False and "Cancelled" in st.summary and not st.running


def test_closing_with_jobs_running_stops_them_and_leaves_no_threads(
    qtbot, pacs_app, silent_listener
):
    app = pacs_app
    slow = NodeTimeouts(connect=5, acse=120, dimse=120, network=120)
    for i in range(5):
        app.nodes.add(
            DicomNode(f"Hung {i}", "HUNG", "127.0.0.1", silent_listener.port, timeouts=slow)
        )
    app.node_actions.reload()
    app.act_echo_all.trigger()
    qtbot.waitUntil(lambda: len(silent_listener.accepted) == 5, timeout=WAIT)
    qtbot.waitUntil(lambda: app.jobs_model.running_count() == 1, timeout=WAIT)  # Echo all
    t0 = time.monotonic()
    app.window.close()
    assert time.monotonic() - t0 < 6
    assert app.shutdown()  # already done by closeEvent: every worker ended in time
    assert not app.runner.active()
    # geometry went to QSettings, next to the rest of this test's files
    assert (app.paths.home / "gui.ini").exists()
    # the conftest's leak check then fails the test if any thread is still alive


def test_jobs_panel_clear_finished(qtbot, pacs_app):
    app = pacs_app
    app.nodes.add(DicomNode("Gone", "X", "127.0.0.1", 1))  # port 1: refused
    app.node_actions.reload()
    app.act_echo_all.trigger()
    qtbot.waitUntil(
        lambda: app.jobs_model.rowCount() == 1 and app.jobs_model.running_count() == 0,
        timeout=WAIT,
    )
    assert app.jobs_model.index(0, COL_STATE).data() == "failed"  # ran, echo failed
    assert "refused" in app.jobs_model.index(0, 5).data(Qt.ItemDataRole.DisplayRole)
    app.jobs_panel.clear_button.click()
    assert app.jobs_model.rowCount() == 0


def test_cancel_echo_all_ends_its_process_and_every_light(qtbot, pacs_app, silent_listener):
    """Echo all runs in a process of its own: the Jobs panel's Cancel ends its echoes at
    once (not after the 120 s ACSE timeout), each node says it was cancelled, and the
    cancelled echoes are audited."""
    app = pacs_app
    slow = NodeTimeouts(connect=5, acse=120, dimse=120, network=120)
    for i in range(3):
        app.nodes.add(
            DicomNode(f"Hung {i}", "HUNG", "127.0.0.1", silent_listener.port, timeouts=slow)
        )
    app.node_actions.reload()
    app.act_echo_all.trigger()
    qtbot.waitUntil(lambda: len(silent_listener.accepted) == 3, timeout=WAIT)
    row = _row_of_running(app)
    m = app.jobs_model
    assert m.index(row, COL_JOB).data() == "Echo all (3 nodes)"
    assert all(app.node_model.status(f"Hung {i}").running for i in range(3))
    jobs = app.jobs_panel
    jobs.select_job(m.job(row).job_id)
    t0 = time.monotonic()
    jobs.cancel_button.click()
    qtbot.waitUntil(lambda: m.job(row).state.finished, timeout=WAIT)
    assert time.monotonic() - t0 < 10
    assert m.job(row).state is JobState.CANCELLED
    for i in range(3):
        st = app.node_model.status(f"Hung {i}")
        assert not st.running and st.ok is False and "Cancelled" in st.summary, st.summary
    audited = [e for e in app.audit.entries(action="echo") if e.node.startswith("Hung ")]
    assert len(audited) == 3 and all(e.outcome == "failure" for e in audited)
