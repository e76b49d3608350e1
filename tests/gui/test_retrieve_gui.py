"""Retrieve in the window, against Orthanc and DCMTK dcmqrscp on 127.0.0.1: the panel's
accounting (expected == completed == received), the decoded outcomes, cancel from the
retrieve panel and from the Jobs panel, "Retry missing", the per-node queue, the window's
local SCP as the receiver, and the Doctor's return-path test."""

from __future__ import annotations

import json
import os
import signal

import pytest

from pacsadmin.core.dimse.retrieve_model import Item
from pacsadmin.core.jobs import JobState
from pacsadmin.core.nodes import DicomNode
from pacsadmin.core.settings import Settings, Timeouts
from tests.integration.retrieve.conftest import (  # noqa: F401 - fixtures
    AET,
    BIG,
    big_study,
    children,
    dataset,
    dcmqrscp_qr,
    orthanc_qr,
    ports,
    store_into,
    third_party,
)

WAIT = 60_000
_loaded_big: set[int] = set()


@pytest.fixture(params=["orthanc", "dcmqrscp"])
def qr(request):
    return request.getfixturevalue(f"{request.param}_qr")


@pytest.fixture
def qr_big(qr, big_study):  # noqa: F811
    if id(qr) not in _loaded_big:
        store_into(qr, big_study[2])
        _loaded_big.add(id(qr))
    return qr


@pytest.fixture
def make_app(qtbot, ports):  # noqa: F811
    """The whole window with our AE title on the module's local port; the SCP process
    only when asked (``scp=True``: it runs on that port)."""
    from pacsadmin.core.paths import AppPaths
    from pacsadmin.gui.app import PacsAdminApp

    made = []

    def build(*, ae: str = AET, scp: bool = False, **kw):
        paths = AppPaths.resolve().ensure()
        settings = Settings(
            local_ae_title=ae,
            scp_port=ports["local"],
            timeouts=Timeouts(connect=5, acse=30, dimse=20, network=30),
            scp_autostart=scp,
            scp_worker_processes=1,
            **kw,
        )
        paths.settings_file.write_text(json.dumps(settings.to_json()))
        app = PacsAdminApp(paths, start_scp=scp)
        app.errors.dialogs_enabled = False
        qtbot.addWidget(app.window)
        app.window.show()
        made.append(app)
        return app

    yield build
    for app in made:
        app.window.close()
        assert app.shutdown(), "jobs did not stop"
        assert not app.runner.active(), f"jobs left: {app.runner.active()}"


def add_node(qtbot, app, node: DicomNode) -> DicomNode:
    app.nodes.add(node)
    app.node_actions.reload()
    qtbot.waitUntil(lambda: app.node_model.row_of(node.name) >= 0, timeout=10_000)
    return app.nodes.get(node.name)


def wait_done(qtbot, app, key: int, timeout: int = WAIT):
    row = app.retrieve_model.get(key)
    qtbot.waitUntil(lambda: row.finished, timeout=timeout)
    return row


def report_text(app) -> str:
    rep = app.retrieve_panel.report
    return "\n".join(
        [rep.sentence.text(), rep.advice.text()] + [v.text() for v in rep.values.values()]
    )


# ---------------------------------------------------------------------------- accounting
@pytest.mark.parametrize("method", ["C-MOVE", "C-GET"])
def test_a_retrieve_shows_its_accounting(qtbot, make_app, qr, dataset, method):  # noqa: F811
    app = make_app()
    node = add_node(qtbot, app, qr.node("PACS", retrieve_method=method))
    st = dataset[0][0]  # DOE^JOHN: 2 series x 2 instances
    key = app.retrieve.request(node, [Item("STUDY", st.uid)])
    row = app.retrieve_model.get(key)
    assert row.state in ("queued", "running") and row.method == method
    wait_done(qtbot, app, key)
    r = row.result
    assert row.state == "done", r.summary
    assert r.expected == r.completed == r.received == len(st.instances) == 4
    assert row.received == 4 and row.received_text() == "4 of 4" and r.missing == ()
    assert row.what.startswith("DOE, JOHN")  # learnt by the C-FIND that counts
    if method == "C-MOVE":  # nothing listened on our port: a receiver was started
        assert r.receiver is not None and r.receiver.started
        assert "a receiver is started" in row.note
    app.retrieve_panel.select(key)
    rep = app.retrieve_panel.report
    assert rep.values["expected"].text() == "4 (IMAGE-level C-FIND)"
    assert rep.values["received"].text() == "4 new in the archive"
    assert rep.values["missing"].text() == "none"
    assert rep.sentence.text().startswith(f"{method}: Completed")
    # the Jobs panel has the job, done, with its one line
    jobs = app.jobs_model
    jr = next(jobs.job(i) for i in range(jobs.rowCount()) if jobs.job(i).job_id == key)
    assert jr.state is JobState.SUCCEEDED and jr.result.startswith("4/4 in the archive")
    # Open in viewer and Show in archive read the index on the io lane
    opened: list[list[str]] = []
    app.archive.open_paths = opened.append
    assert app.retrieve_panel.open_button.isEnabled()
    app.retrieve_panel.open_button.click()
    qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
    assert len(opened[0]) == 4 and all(os.path.exists(p) for p in opened[0])
    app.retrieve_panel.show_button.click()
    qtbot.waitUntil(lambda: app.archive_browser.search_text() != "", timeout=10_000)
    assert app.archive_browser.search_text() == "PID1 20240105 ACC1"
    assert app.audit.entries(action=method.lower()[2:])[0].outcome == "success"


def test_the_window_scp_receives_the_move_when_it_runs(qtbot, make_app, dcmqrscp_qr, dataset):  # noqa: F811
    app = make_app(scp=True)
    qtbot.waitUntil(lambda: app.scp.state == "listening", timeout=30_000)
    node = add_node(qtbot, app, dcmqrscp_qr.node("PACS"))
    st = dataset[0][1]  # 3 instances
    key = app.retrieve.request(node, [Item("STUDY", st.uid)])
    row = wait_done(qtbot, app, key)
    assert "the window's local SCP" in row.note
    r = row.result
    assert row.state == "done", r.summary
    assert r.receiver is not None and not r.receiver.started  # serve received them
    assert r.expected == r.received == 3


# ---------------------------------------------------------------------------- decoded outcomes
def test_a_move_to_an_unknown_destination_is_explained(qtbot, make_app, qr, dataset):  # noqa: F811
    app = make_app()
    node = add_node(qtbot, app, qr.node("PACS"))
    key = app.retrieve.request(node, [Item("STUDY", dataset[0][2].uid)], "NOBODY")
    row = wait_done(qtbot, app, key)
    assert row.state == "failed" and row.dest_label == "NOBODY" and not row.to_archive
    app.retrieve_panel.select(key)
    text = report_text(app)
    if qr.kind == "dcmqrscp":
        assert row.result.status == 0xA801
        assert "does not know the destination AE title NOBODY" in text
        assert "Register NOBODY at the PACS with its host and port" in text
    else:
        assert "Unknown destination is likely" in text and "0xC000" in text
    assert "not counted" in app.retrieve_panel.report.values["received"].text()


def test_0xA801_says_what_to_register_at_the_pacs(qtbot, make_app, dcmqrscp_qr, dataset, ports):  # noqa: F811
    app = make_app(ae="STRANGER")  # dcmqrscp does not know this AE title as a destination
    node = add_node(qtbot, app, dcmqrscp_qr.node("PACS"))
    key = app.retrieve.request(node, [Item("STUDY", dataset[0][2].uid)])
    row = wait_done(qtbot, app, key)
    assert row.result.status == 0xA801 and row.state == "failed"
    app.retrieve_panel.select(key)
    advice = app.retrieve_panel.report.advice.text()
    assert "AE title STRANGER" in advice and "address 127.0.0.1" in advice
    assert f"port {ports['local']}" in advice


def test_a_move_to_a_third_party_node(qtbot, make_app, qr, dataset, third_party):  # noqa: F811
    app = make_app()
    node = add_node(qtbot, app, qr.node("PACS"))
    add_node(qtbot, app, DicomNode("Workstation", third_party.aet, "127.0.0.1", third_party.port))
    key = app.retrieve.request(node, [Item("STUDY", dataset[0][1].uid)], third_party.aet)
    row = wait_done(qtbot, app, key)
    assert row.state == "done", row.result.summary
    assert row.dest_label == f"Workstation ({third_party.aet})" and row.result.completed == 3
    assert row.received_text() == "not counted"


# ---------------------------------------------------------------------------- cancel, retry
@pytest.mark.parametrize("where", ["retrieve panel", "jobs panel"])
def test_cancel_from_the_gui(qtbot, make_app, qr_big, big_study, where):  # noqa: F811
    app = make_app()
    node = add_node(qtbot, app, qr_big.node("PACS"))
    key = app.retrieve.request(node, [Item("STUDY", big_study[0])])
    row = app.retrieve_model.get(key)
    qtbot.waitUntil(lambda: row.progress is not None or row.finished, timeout=WAIT)
    if where == "retrieve panel":
        app.retrieve_panel.select(key)
        assert app.retrieve_panel.cancel_button.isEnabled()
        app.retrieve_panel.cancel_button.click()
    else:
        app.jobs_panel.select_job(key)
        assert app.jobs_panel.cancel_button.isEnabled()
        app.jobs_panel.cancel_button.click()
    wait_done(qtbot, app, key)
    r = row.result
    assert row.state == "cancelled" and r.cancelled and not r.ok, r.summary
    assert r.cancel_msg_id == r.msg_id  # a C-CANCEL naming the C-MOVE-RQ was sent
    assert r.received is not None and r.received < BIG
    assert len(r.missing) == BIG - r.received
    assert app.retrieve_panel.retry_button.isEnabled()


def test_retry_missing_asks_only_for_what_is_missing(qtbot, make_app, qr_big, big_study):  # noqa: F811
    """The peer dies in the middle of the move (dcmqrscp: its child serving the move is
    killed; Orthanc: the move is cancelled), then "Retry missing" asks for the rest."""
    app = make_app()
    node = add_node(qtbot, app, qr_big.node("PACS"))
    key = app.retrieve.request(node, [Item("STUDY", big_study[0])])
    row = app.retrieve_model.get(key)
    qtbot.waitUntil(
        lambda: (row.progress and row.progress.completed >= 3) or row.finished, timeout=WAIT
    )
    if qr_big.kind == "dcmqrscp":
        for pid in children(qr_big.pid):
            os.kill(pid, signal.SIGKILL)
    else:
        row.job.cancel()
    wait_done(qtbot, app, key)
    first = row.result
    assert not first.ok and 0 < len(first.missing) < BIG, first.summary
    app.retrieve_panel.select(key)
    rep = app.retrieve_panel.report
    assert rep.missing_list.toPlainText().split("\n") == list(first.missing)
    assert rep.values["missing"].text() == f"{len(first.missing)}, listed below"
    assert row.received_text() == f"{first.received} of {BIG}"
    if shots := os.environ.get("PACSADMIN_SHOTS"):  # the README's picture of the panel
        from PySide6.QtCore import Qt

        app.window.docks["retrieve"].raise_()
        app.window.resizeDocks([app.window.docks["retrieve"]], [330], Qt.Orientation.Vertical)
        qtbot.wait(200)
        app.window.grab().save(os.path.join(shots, f"screenshot-retrieve-{qr_big.kind}.png"))
    assert app.retrieve_panel.retry_button.isEnabled()
    app.retrieve_panel.retry_button.click()
    qtbot.waitUntil(lambda: app.retrieve_model.rowCount() == 2, timeout=5000)
    retry = app.retrieve_model.row(0)
    assert retry.key != key and retry.method == first.method
    wait_done(qtbot, app, retry.key)
    r2 = retry.result
    assert retry.state == "done", r2.summary
    missing = len(first.missing)
    assert r2.expected == missing and r2.received == missing and r2.missing == ()
    # only those were asked for: the PACS sent exactly the missing ones (a late arrival
    # of the first move may already be here: counted, not asked twice)
    assert r2.completed == missing
    from pacsadmin.core.dimse.retrieve_account import present

    got, _ = present(app.archive.handle.get(), big_study[1], 0)
    assert len(got) == BIG


def test_retrieves_beyond_the_per_node_limit_wait(qtbot, make_app, silent_listener):
    """Three retrieves to one node with a limit of 2: the third is queued (here and in
    the Jobs panel) until one of the first two ends; other work for that node is not."""
    app = make_app(retrieve_per_node_limit=2)
    node = add_node(qtbot, app, DicomNode("SILENT", "SILENT", "127.0.0.1", silent_listener.port))
    keys = [app.retrieve.request(node, [Item("STUDY", f"1.2.3.{i}")]) for i in range(3)]
    rows = [app.retrieve_model.get(k) for k in keys]
    qtbot.waitUntil(lambda: rows[0].state == rows[1].state == "running", timeout=10_000)
    qtbot.waitUntil(lambda: len(silent_listener.accepted) >= 2, timeout=10_000)
    assert rows[2].state == "queued" and app.runner.get(keys[2]).state is JobState.QUEUED
    jobs = app.jobs_model
    state = {jobs.job(i).job_id: jobs.index(i, 2).data() for i in range(jobs.rowCount())}
    assert state[keys[2]] == "queued" and state[keys[0]] == "running"
    # a query or echo of the same node does not wait behind the retrieves
    done = []
    app.bridge.submit(lambda ctx: 1, name="other", node="SILENT", lane="dimse", on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    # one ends: the third starts
    app.retrieve.cancel(keys[0])
    qtbot.waitUntil(lambda: rows[2].state == "running", timeout=10_000)
    assert rows[0].state == "cancelled" and rows[1].state == "running"
    for k in keys[1:]:
        app.retrieve.cancel(k)
    for k in keys:
        wait_done(qtbot, app, k)
    assert [r.state for r in rows] == ["cancelled"] * 3, [
        (r.state, r.message, r.result and (r.result.cancelled, str(r.result.outcome))) for r in rows
    ]


def test_retrieve_by_uid_dialog(qtbot, make_app):
    from pacsadmin.gui.dialogs.retrieve_dialogs import MoveToDialog, RetrieveByUidDialog

    a = DicomNode("A", "AE_A", "127.0.0.1", 104, retrieve_method="C-GET")
    b = DicomNode("B", "AE_B", "127.0.0.1", 105)
    dlg = RetrieveByUidDialog(a, [a, b], AET)
    qtbot.addWidget(dlg)
    ok = dlg.buttons.buttons()[0]
    assert not ok.isEnabled()  # nothing typed
    dlg.uid_edit.setPlainText("1.2.3 1.2.x")
    assert not ok.isEnabled() and "not a DICOM UID" in dlg.problem.text()
    dlg.uid_edit.setPlainText("1.2.3\n1.2.4, 1.2.3")
    dlg.level_combo.setCurrentIndex(1)
    assert ok.isEnabled()
    assert dlg.items() == (Item("SERIES", series="1.2.3"), Item("SERIES", series="1.2.4"))
    assert dlg.dest_ae() is None and "C-GET" in dlg.dest_combo.currentText()
    dlg.dest_combo.setCurrentIndex(1)
    assert dlg.dest_ae() == "AE_B"
    move = MoveToDialog(a, [a, b], "study x")
    qtbot.addWidget(move)
    assert move.list.count() == 1 and move.chosen() == b


# ---------------------------------------------------------------------------- Doctor
def _doctor(qtbot, app, name: str) -> None:
    panel = app.doctor_panel
    panel.return_path_check.setChecked(True)
    panel.set_target(name)
    panel.run_button.click()
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=WAIT)


def test_doctor_return_path_success(qtbot, make_app, qr):
    app = make_app()
    add_node(qtbot, app, qr.node("PACS"))
    _doctor(qtbot, app, "PACS")
    rp = app.doctor_panel.return_path
    assert rp is not None and rp.verdict == "ok", (rp and rp.sentence, rp and rp.advice)
    view = app.doctor_panel.rp_view
    assert view.isVisible()
    assert "opened an association back to this computer" in view.sentence.text()
    assert "ms after the C-MOVE request" in view.sentence.text()
    assert "inbound association from 127.0.0.1" in view.stats.text()
    assert app.audit.entries(action="doctor")[0].summary.startswith("return path: ok")


def test_doctor_return_path_pacs_lacks_our_ae(qtbot, make_app, qr, ports):  # noqa: F811
    app = make_app(ae="STRANGER")
    add_node(qtbot, app, qr.node("PACS"))
    _doctor(qtbot, app, "PACS")
    rp = app.doctor_panel.return_path
    assert rp is not None, app.doctor_panel.rp_view.sentence.text()  # the echo answered
    assert rp.verdict == "unknown_ae", (rp.sentence, rp.advice)
    view = app.doctor_panel.rp_view
    assert "STRANGER" in view.sentence.text()
    assert (
        "AE title STRANGER" in view.advice.text() and f"port {ports['local']}" in view.advice.text()
    )


def test_doctor_return_path_through_the_window_scp(qtbot, make_app, dcmqrscp_qr):  # noqa: F811
    """The window's SCP listens on our port: the object lands through it, and the time
    comes from the index (when the object was stored after the C-MOVE request)."""
    app = make_app(scp=True)
    qtbot.waitUntil(lambda: app.scp.state == "listening", timeout=30_000)
    add_node(qtbot, app, dcmqrscp_qr.node("PACS"))
    _doctor(qtbot, app, "PACS")
    rp = app.doctor_panel.return_path
    assert rp is not None and rp.verdict == "ok", (rp and rp.sentence, rp and rp.advice)
    assert rp.receiver is not None and not rp.receiver.started
    assert "through the local SCP already running, stored" in rp.sentence
    assert "ms after the C-MOVE request" in app.doctor_panel.rp_view.sentence.text()


def test_retrieve_by_uid_from_the_node_browser(qtbot, make_app, dcmqrscp_qr, dataset, monkeypatch):  # noqa: F811
    """Nodes > Retrieve by UID... on the selected node: the dialog's study UID is
    retrieved into the archive (the dialog answered here: a modal box waits offscreen)."""
    from PySide6.QtWidgets import QDialog

    from pacsadmin.gui.dialogs.retrieve_dialogs import RetrieveByUidDialog

    app = make_app()
    add_node(qtbot, app, dcmqrscp_qr.node("PACS"))
    app.node_browser.select_node("PACS")
    assert app.act_retrieve_uid.isEnabled()
    st = dataset[0][3]  # one instance, a Latin-1 name

    def answer(dlg):
        dlg.uid_edit.setPlainText(st.uid)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(RetrieveByUidDialog, "exec", answer)
    app.act_retrieve_uid.trigger()
    qtbot.waitUntil(lambda: app.retrieve_model.rowCount() == 1, timeout=5000)
    row = wait_done(qtbot, app, app.retrieve_model.row(0).key)
    assert row.state == "done" and row.result.received == row.result.expected == 1
    assert row.what.startswith("MÜLLER, Jürgen")


def test_query_then_retrieve_here_from_the_query_panel(qtbot, make_app, dcmqrscp_qr, dataset):  # noqa: F811
    """The whole path an admin takes: a C-FIND in the Query panel, select a row,
    Retrieve here; the retrieve panel's accounting says everything arrived."""
    from PySide6.QtCore import Qt

    from pacsadmin.core.dimse.find_form import QueryForm

    app = make_app()
    node = add_node(qtbot, app, dcmqrscp_qr.node("PACS"))
    app.central_tabs.setCurrentWidget(app.query_panel)
    panel, ctrl = app.query_panel, app.query
    done = ctrl.finished
    panel.form.set_form(QueryForm(node=node.name, patient_id="PID1"))
    qtbot.mouseClick(panel.form.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctrl.finished > done, timeout=WAIT)
    assert panel.model.rowCount() == 1
    panel.table.selectRow(0)
    assert not app.retrieve_model.rows()
    qtbot.mouseClick(panel.retrieve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(app.retrieve_model.rows()) == 1, timeout=WAIT)
    row = wait_done(qtbot, app, app.retrieve_model.rows()[0].key)
    r = row.result
    st = dataset[0][0]
    assert r.expected == r.completed == r.received == len(st.instances) == 4, r.summary
