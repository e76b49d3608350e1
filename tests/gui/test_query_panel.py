"""The Query panel against real peers: 10,000 matches streamed with the GUI thread
responsive, cancel (a real C-CANCEL), drill-down and Back, archive marks, CSV export,
copy, the retrieve request, recent queries, the cap banner and the day-by-day split
(Orthanc with a limit on answers), and bad input said before any traffic.

Peers: the app's own Q/R SCP (``pacsadmin serve``, its own process) over a 10,000-study
index, a slow pynetdicom SCP that records the C-CANCEL, Orthanc with LimitFindResults.
"""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from pacsadmin.core.dimse.find_form import QueryForm
from pacsadmin.core.dimse.retrieve_model import Item
from tests.bigarchive import build_index
from tests.gui.query_peers import SlowFindScp, start_big_serve, study_uid
from tests.peers import PeerUnavailable

N = 10_000
LOCAL = 50  # the app's own archive holds studies 1..50 of the peer's (study 1 only in part)
MAX_GAP_MS = 50.0
ATTEMPTS = 3
WAIT = 60_000


@pytest.fixture(scope="module")
def big_peer(tmp_path_factory):
    peer = start_big_serve(tmp_path_factory.mktemp("bigserve") / "home", N)
    yield peer
    peer.stop()


@pytest.fixture
def app(qtbot):
    """The app, its archive holding the peer's studies 1..50 (one image each)."""
    from pacsadmin.core.paths import AppPaths
    from pacsadmin.gui.app import PacsAdminApp

    paths = AppPaths.resolve().ensure()
    build_index(paths.archive_dir, LOCAL)
    a = PacsAdminApp(paths)
    a.errors.dialogs_enabled = False
    qtbot.addWidget(a.window)
    a.window.show()
    a.central_tabs.setCurrentWidget(a.query_panel)
    yield a
    a.window.close()
    assert a.shutdown(), "jobs did not stop"


def _search(qtbot, app, form: QueryForm, *, marks: bool = True) -> None:
    ctrl, panel = app.query, app.query_panel
    done, marked = ctrl.finished, ctrl.marked
    panel.form.set_form(form)
    qtbot.mouseClick(panel.form.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctrl.finished > done, timeout=WAIT)
    if marks:
        qtbot.waitUntil(lambda: ctrl.marked > marked, timeout=WAIT)


def _column(panel, keyword: str) -> int:
    return 1 + [c.keyword for c in panel.model.columns].index(keyword)


def _cells(panel, keyword: str) -> list[str]:
    col = _column(panel, keyword)
    return [panel.proxy.index(r, col).data() for r in range(panel.proxy.rowCount())]


# ------------------------------------------------------------------ streaming
def test_10000_matches_stream_in_with_the_gui_responsive(qtbot, heartbeat, app, big_peer):
    """The heartbeat's longest gap while 10,000 responses arrive, are shown, and their
    archive marks are read; up to three runs in the same window (a loaded two-core
    machine sometimes deschedules the whole process), passing when one stays under
    50 ms.  The rows are checked each time."""
    panel = app.query_panel
    gaps = []
    for attempt in range(1, ATTEMPTS + 1):
        heartbeat.max_gap_ms = 0.0
        heartbeat.start()
        _search(qtbot, app, QueryForm(node=big_peer.target))
        qtbot.wait(60)  # the repaint after the last batch is part of it
        heartbeat.stop()
        gaps.append(round(heartbeat.max_gap_ms, 1))
        print(f"query of {N} studies, run {attempt}: longest GUI-thread gap {gaps[-1]} ms, "
              f"{heartbeat.ticks} ticks; {panel.count_label.text()}")  # fmt: skip
        assert panel.model.rowCount() == N
        assert f"{N} match(es) in" in panel.status()
        assert panel.count_label.text() == "10,000 matches"
        uids = {panel.model.row_at(r).uid for r in range(N)}
        assert uids == {study_uid(s) for s in range(1, N + 1)}
        if gaps[-1] < MAX_GAP_MS:
            break
    assert min(gaps) < MAX_GAP_MS, f"GUI thread stalled in every run: {gaps} ms"


def test_the_archive_marks_say_all_some_none(qtbot, app, big_peer):
    panel = app.query_panel
    _search(qtbot, app, QueryForm(node=big_peer.target, patient_id="PID00000*"))
    rows = {panel.model.row_at(r).uid: panel.model.mark_of(panel.model.row_at(r))
            for r in range(panel.model.rowCount())}  # fmt: skip
    assert rows, panel.status()
    for uid, mark in rows.items():
        s = int(uid.rsplit(".", 1)[1])
        want = "some" if s == 1 else "all" if s <= LOCAL else "none"
        assert mark == want, (s, mark)
    assert {"all", "some", "none"} <= set(rows.values())
    # what a view's delegate gets for a row without a mark after one with a mark: its
    # span is reused, so a role the model leaves unanswered must be cleared, not kept
    from PySide6.QtCore import QModelRoleData, QModelRoleDataSpan

    rd = QModelRoleData(int(Qt.ItemDataRole.DecorationRole))
    marked = [r for r in range(panel.proxy.rowCount()) if panel.proxy.row_at(r).uid == study_uid(2)]
    plain = [r for r in range(panel.proxy.rowCount()) if panel.proxy.index(r, 0).data() == ""]
    panel.proxy.multiData(panel.proxy.index(marked[0], 0), QModelRoleDataSpan(rd))
    assert rd.data() is not None  # the light of "all"
    panel.proxy.multiData(panel.proxy.index(plain[0], 0), QModelRoleDataSpan(rd))
    assert rd.data() is None
    some = next(
        r for r in range(panel.model.rowCount()) if panel.model.row_at(r).uid == study_uid(1)
    )
    assert panel.model.index(some, 0).data() == "some"


def test_drill_down_study_series_instances_and_back(qtbot, app, big_peer):
    panel, ctrl = app.query_panel, app.query
    _search(qtbot, app, QueryForm(node=big_peer.target, accession="ACC00000007"))
    assert panel.model.rowCount() == 1
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.table.visualRect(panel.proxy.index(0, 1)).center())  # fmt: skip
    assert panel.drill_button.text() == "Series" and panel.drill_button.isEnabled()
    done = ctrl.finished
    panel.table.doubleClicked.emit(panel.proxy.index(0, 1))
    qtbot.waitUntil(lambda: ctrl.finished > done, timeout=WAIT)
    assert _cells(panel, "SeriesInstanceUID") == [f"{study_uid(7)}.1"]
    assert "SERIES level under " + study_uid(7) in panel.title.text()
    panel.table.selectRow(0)
    assert panel.drill_button.text() == "Instances"
    done = ctrl.finished
    qtbot.mouseClick(panel.drill_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctrl.finished > done, timeout=WAIT)
    assert _cells(panel, "SOPInstanceUID") == [f"{study_uid(7)}.1.1"]
    assert not panel.drill_button.isEnabled()
    qtbot.waitUntil(lambda: panel.model.mark_of(panel.model.row_at(0)) == "all", timeout=WAIT)
    panel.back()
    panel.back()
    assert panel.model.rowCount() == 1 and panel.model.row_at(0).uid == study_uid(7)
    assert "STUDY level" in panel.title.text() and not panel.back_button.isEnabled()


def test_csv_export_copy_and_the_retrieve_request(qtbot, app, big_peer, tmp_path):
    panel = app.query_panel
    _search(qtbot, app, QueryForm(node=big_peer.target, patient_id="PID000000*"))
    n = panel.model.rowCount()
    assert n > 1
    path = tmp_path / "out.csv"
    job = app.query.export_csv(str(path))
    qtbot.waitUntil(lambda: job.future.done() and path.exists(), timeout=WAIT)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert len(rows) == n
    assert {"PatientName", "StudyDate", "StudyInstanceUID", "Local", "Unreadable"} <= set(rows[0])
    by_uid = {r["StudyInstanceUID"]: r for r in rows}
    assert by_uid[study_uid(1)]["Local"] == "some" and by_uid[study_uid(2)]["Local"] == "all"
    assert all(r["StudyDate"].isdigit() and len(r["StudyDate"]) == 8 for r in rows)  # raw DA

    # sort by patient ID, select two rows, copy them, ask for a retrieve and a move
    panel.table.horizontalHeader().setSortIndicator(_column(panel, "PatientID"),
                                                    Qt.SortOrder.DescendingOrder)  # fmt: skip
    ids = _cells(panel, "PatientID")
    assert ids == sorted(ids, reverse=True)
    panel.table.selectRow(0)
    panel.table.selectionModel().select(
        panel.proxy.index(1, 0),
        panel.table.selectionModel().SelectionFlag.Select
        | panel.table.selectionModel().SelectionFlag.Rows,
    )
    panel.copy_selection()
    lines = QGuiApplication.clipboard().text().splitlines()
    assert len(lines) == 3 and lines[0].split("\t")[:3] == ["Local", "Patient name", "Patient ID"]
    assert ids[0] in lines[1]
    got = []
    panel.retrieveRequested.connect(lambda node, items, dest: got.append((node, items, dest)))
    qtbot.mouseClick(panel.retrieve_button, Qt.MouseButton.LeftButton)
    node, items, dest = got[-1]
    assert node.ae_title == big_peer.aet and dest is None
    assert all(isinstance(i, Item) and i.level == "STUDY" for i in items) and len(items) == 2
    uids = {panel.proxy.row_at(r).uid for r in (0, 1)}
    assert {i.study for i in items} == uids
    from pacsadmin.core.nodes import DicomNode

    ws = DicomNode("WS", "WS1", "127.0.0.1", 104).validated()
    app.node_model.set_nodes([big_peer.node("BIG"), ws])
    panel._on_move_menu_about_to_show()
    to_ws = next(a for a in panel.move_menu.actions() if a.data() == "WS1")
    panel.move_menu.triggered.emit(to_ws)
    assert got[-1][2] == "WS1" and got[-1][1] == items


def test_recent_queries_are_kept_and_rerun(qtbot, app, big_peer):
    from pacsadmin.core.settings import load_settings

    panel = app.query_panel
    form = QueryForm(node=big_peer.target, patient_id="PID0000001")
    _search(qtbot, app, form)
    qtbot.waitUntil(lambda: panel.form.recent_button.isEnabled(), timeout=WAIT)
    saved = load_settings(app.paths.settings_file).recent_queries
    assert QueryForm.from_json(saved[0]) == form
    panel.form.clear()
    assert panel.form.form_value().patient_id == ""
    done = app.query.finished
    panel.form.recent_menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: app.query.finished > done, timeout=WAIT)
    assert panel.form.form_value() == form
    assert _cells(panel, "PatientID") and set(_cells(panel, "PatientID")) == {"PID0000001"}


# ------------------------------------------------------------------ cancel
def test_cancel_from_the_panel_sends_a_c_cancel_and_keeps_the_rows(qtbot, app):
    peer = SlowFindScp()
    try:
        panel, ctrl = app.query_panel, app.query
        panel.form.set_form(QueryForm(node=peer.target))
        qtbot.mouseClick(panel.form.search_button, Qt.MouseButton.LeftButton)
        assert panel.form.cancel_button.isEnabled() and not panel.form.search_button.isEnabled()
        qtbot.waitUntil(lambda: panel.model.rowCount() >= 20, timeout=WAIT)
        assert "Querying" in panel.status()
        done = ctrl.finished
        qtbot.mouseClick(panel.form.cancel_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: ctrl.finished > done, timeout=WAIT)
        kept = panel.model.rowCount()
        assert 20 <= kept < 1000
        assert panel.status().startswith(f"Cancelled: {kept} match(es) kept")
        assert "cancelled" in panel.status().lower() and "peer confirmed" in panel.status()
        assert peer.received["cancel_for"] == peer.received["find_msg_id"]
        assert not panel.form.cancel_button.isEnabled() and panel.form.search_button.isEnabled()
        assert [panel.model.row_at(r).match.get("PatientID") for r in range(3)] == [
            "S00000", "S00001", "S00002"
        ]  # fmt: skip
    finally:
        peer.close()


def test_an_undecodable_match_is_a_row_marked_unreadable(qtbot, app):
    peer = SlowFindScp(bad_every=3, count=9, delay=0)
    try:
        panel = app.query_panel
        _search(qtbot, app, QueryForm(node=peer.target, charset=""))
        assert panel.model.rowCount() == 9
        assert "9 match(es) in" in panel.status() and "3 unreadable" in panel.status()
        bad = [r for r in range(9) if panel.model.row_at(r).match.unreadable]
        assert bad == [2, 5, 8]
        name = panel.model.index(2, _column(panel, "PatientName"))
        assert not panel.model.index(0, 1).data(Qt.ItemDataRole.DecorationRole)
        assert panel.model.index(2, 1).data(Qt.ItemDataRole.DecorationRole) is not None
        assert "Unreadable: bytes that" in name.data(Qt.ItemDataRole.ToolTipRole)
        assert name.data() == "MÜLLER, Bad"  # read as far as it could be (as Latin-1)
    finally:
        peer.close()


def test_a_worklist_query_from_the_panel(qtbot, app, tmp_path):
    """Scheduled date range, modality and station AE against DCMTK wlmscpfs; a worklist
    row has no archive mark, no level below it and nothing to retrieve."""
    from tests.integration.find.test_find_worklist import ITEMS, _write_wl
    from tests.peers import start_wlmscpfs

    try:
        peer = start_wlmscpfs(tmp_path / "wlm", extra_args=["-csk"])
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    try:
        for i, item in enumerate(ITEMS):
            _write_wl(peer.storage[0], i, *item)
        panel = app.query_panel
        form = QueryForm(node=peer.target, model="worklist", modality="CT",
                         date_preset="custom", date_from="20240101", date_to="20240131")  # fmt: skip
        panel.form.set_form(form)
        assert panel.form.station_ae.isVisible() and not panel.form.level_combo.isVisible()
        assert panel.form.date_label.text() == "Scheduled date"
        _search(qtbot, app, form, marks=False)
        assert _cells(panel, "PatientName") == ["DOE, JOHN"]
        assert _cells(panel, "ScheduledStationAETitle") == ["CT01"]
        assert _cells(panel, "ScheduledProcedureStepStartDate") == ["2024-01-05"]
        _search(qtbot, app, QueryForm(node=peer.target, model="worklist", station_ae="CT02"),
                marks=False)  # fmt: skip
        assert _cells(panel, "PatientName") == ["MÜLLER, Jürgen"]
        panel.table.selectRow(0)
        assert not panel.drill_button.isEnabled() and not panel.retrieve_button.isEnabled()
        assert panel.model.index(0, 0).data() == ""
    finally:
        peer.stop()


# ------------------------------------------------------------------ caps and the split
@pytest.fixture
def capped(tmp_path):
    from tests.capped_peer import start_capped_orthanc

    try:
        peer, studies = start_capped_orthanc(tmp_path / "capped")
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    yield peer, studies
    peer.stop()


def test_a_capped_answer_is_said_and_split_day_by_day(qtbot, app, capped):
    from tests.capped_peer import LIMIT

    peer, studies = capped
    panel, ctrl = app.query_panel, app.query
    form = QueryForm(node=peer.target, date_preset="custom", date_from="20240101",
                     date_to="20240103")  # fmt: skip
    _search(qtbot, app, form)
    assert panel.model.rowCount() == LIMIT
    assert panel.banner.isVisible() and "stopped at its limit" in panel.banner_text.text()
    assert panel.split_button.isVisible() and panel.split_button.isEnabled()
    done = ctrl.finished
    qtbot.mouseClick(panel.split_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctrl.finished > done, timeout=WAIT)
    assert panel.model.rowCount() == len(studies) == 210
    assert {panel.model.row_at(r).uid for r in range(210)} == set(studies)
    assert "Completed day by day: 3 day(s), 210 match(es)." in panel.status()
    assert not panel.banner.isVisible()
    assert "day by day" in panel.title.text()

    # without a date range there is nothing to split: the banner says what to do
    _search(qtbot, app, QueryForm(node=peer.target))
    assert panel.banner.isVisible() and not panel.split_button.isEnabled()
    assert "Set a date range" in panel.banner_text.text()


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("form", "words"),
    [
        (QueryForm(node="", patient_name="X"), "Pick a node"),
        (QueryForm(node="NOSUCH"), "neither a node in the directory nor AET@HOST:PORT"),
        (QueryForm(node="A@127.0.0.1:9", birth_date="1970-13-01"), "Birth date: '1970-13-01'"),
        (QueryForm(node="A@127.0.0.1:9", extra_keys="Bogus=1"), "'Bogus' is not a DICOM keyword"),
        (QueryForm(node="A@127.0.0.1:9", model="patient", level="PATIENT", accession="A1"),
         "choose the STUDY level"),
    ],
)  # fmt: skip
def test_bad_input_is_said_before_any_traffic(qtbot, app, form, words):
    panel = app.query_panel
    jobs_before = len(app.runner.active())
    finished = app.query.finished
    panel.form.set_form(form)
    qtbot.mouseClick(panel.form.search_button, Qt.MouseButton.LeftButton)
    assert words in panel.status()
    assert app.query.job is None and app.query.finished == finished
    assert len(app.runner.active()) == jobs_before
    assert not app.errors.presented  # the status line, no dialog


def test_a_failed_query_shows_its_diagnosis(qtbot, app):
    from tests.gui.conftest import closed_port

    _search(qtbot, app, QueryForm(node=f"NOBODY@127.0.0.1:{closed_port()}"), marks=False)
    status = app.query_panel.status()
    assert status.startswith("Query failed: ") and "What to do:" in status
    assert "Traceback" not in status and not app.errors.presented


def test_screenshot_of_streamed_results(qtbot, app, big_peer, tmp_path):
    """Not an assertion of looks: the picture a person checks.  With
    PACSADMIN_SCREENSHOTS=DIR the window is also saved there as screenshot-query.png
    (the README's)."""
    import os

    from pacsadmin.core.nodes import DicomNode

    for n in (
        big_peer.node("MainPACS", site="Radiology", description="the main archive"),
        DicomNode("CT-1", "CT1", "127.0.0.1", 104, site="Radiology").validated(),
        DicomNode("Workstation", "WS1", "127.0.0.1", 105, site="Reading").validated(),
    ):
        app.nodes.add(n)  # fmt: skip
    app.node_actions.reload()
    app.window.resize(1440, 900)
    app.window.resizeDocks([app.window.docks["nodes"]], [300], Qt.Orientation.Horizontal)
    _search(qtbot, app, QueryForm(node="MainPACS", patient_name="SMITH*", date_preset="custom",
                                  date_from="20200101", date_to="20261231"))  # fmt: skip
    qtbot.wait(100)
    panel = app.query_panel
    assert panel.model.rowCount() > 20
    panel.table.selectRow(0)
    out = tmp_path / "query-panel.png"
    assert panel.grab().save(str(out))
    window = app.window.grab()
    window.save(str(tmp_path / "query-window.png"))
    if os.environ.get("PACSADMIN_SCREENSHOTS"):
        window.save(os.path.join(os.environ["PACSADMIN_SCREENSHOTS"], "screenshot-query.png"))
    print(f"screenshot: {out}")
