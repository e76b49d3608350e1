"""The archive in the GUI: import, the browser tree, search, delete, open in viewer, and
the local SCP process with its Received dock (DCMTK storescu as the sender)."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid
from PySide6.QtCore import QItemSelectionModel, Qt

from pacsadmin.core.archive import Archive
from pacsadmin.core.dimse.scp_events import PORT_IN_USE
from pacsadmin.gui.models.archive_model import COL_IMAGES, NODE_ROLE
from pacsadmin.gui.widgets.received_view import state_text

WAIT = 60_000  # a loaded 2-core machine: generous, the waits end as soon as the state is right


def _write(
    folder, name, *, patient, pid, study, series, modality, n, desc, acc="", date="", number=1
):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        ds = pydicom.Dataset()
        ds.file_meta = FileMetaDataset()
        cls = CTImageStorage if modality == "CT" else MRImageStorage
        ds.file_meta.MediaStorageSOPClassUID = cls
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = cls
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.Modality, ds.PatientName, ds.PatientID = modality, patient, pid
        ds.AccessionNumber, ds.StudyDate, ds.StudyDescription = acc, date, "Study " + desc
        ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber = desc, number, i + 1
        ds.ImagePositionPatient = [0, 0, float(i)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [1, 1]
        ds.Rows = ds.Columns = 16
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.full((16, 16), 100 * i, np.uint16).tobytes()
        p = folder / f"{name}{i}.dcm"
        ds.save_as(p, enforce_file_format=True)
        paths.append(p)
    return paths


def make_studies(root):
    """Two patients, three studies, four series, 12 images; one non-DICOM file."""
    s1, s2, s3 = generate_uid(), generate_uid(), generate_uid()
    _write(root / "a", "a", patient="DOE^JANE", pid="P1", study=s1, series=generate_uid(),
           modality="CT", n=3, desc="HEAD", acc="ACC1", date="20240101")  # fmt: skip
    _write(root / "a", "b", patient="DOE^JANE", pid="P1", study=s1, series=generate_uid(),
           modality="CT", n=2, desc="NECK", acc="ACC1", date="20240101")  # fmt: skip
    _write(root / "b", "c", patient="DOE^JANE", pid="P1", study=s2, series=generate_uid(),
           modality="MR", n=4, desc="KNEE", acc="ACC2", date="20240305")  # fmt: skip
    _write(root / "c", "d", patient="<b>ROE</b>^RICK", pid="P2", study=s3, series=generate_uid(),
           modality="CT", n=3, desc="CHEST", acc="ACC3", date="20231212")  # fmt: skip
    (root / "notes.txt").write_text("not a DICOM file\n")
    return s1, s2, s3


def _rows(app):
    return [(n.level, n.name) for n in app.archive_browser.visible_rows()]


def _loaded(app, before):
    return app.archive.loads > before and not app.archive.loading()


def _import(app, qtbot, paths):
    loads = app.archive.loads
    with qtbot.waitSignal(app.archive.changed, timeout=WAIT):
        app.archive.import_paths([str(p) for p in paths])
    qtbot.waitUntil(lambda: _loaded(app, loads), timeout=WAIT)


def _search(app, qtbot, text):
    """Type ``text`` into the search box and wait for its query's answer (debounced)."""
    loads = app.archive.loads
    app.archive_browser.search.setText(text)
    qtbot.waitUntil(lambda: _loaded(app, loads), timeout=WAIT)
    if text:  # a narrow search expands its studies: wait for their series
        qtbot.waitUntil(lambda: all(n.fetched for n in app.archive_model.studies()), timeout=WAIT)


def _study(app, **kw):
    return next(
        n for n in app.archive_model.studies() if all(getattr(n, k) == v for k, v in kw.items())
    )


def test_import_shows_the_tree_search_filters_and_errors_are_listed(pacs_app, qtbot, tmp_path):
    app = pacs_app
    src = tmp_path / "src"
    make_studies(src)
    _import(app, qtbot, [src])
    browser, model = app.archive_browser, app.archive_model
    t = model.totals
    assert (t.studies, t.patients, t.series, t.images) == (3, 2, 4, 12)
    assert len(model.studies()) == 3
    jane = [n for n in model.studies() if n.patient_id == "P1"]
    assert {n.name for n in jane} == {"DOE, JANE"}
    assert sorted(n.modality for n in jane) == ["CT", "MR"]
    ct = _study(app, accession="ACC1")
    assert (ct.date, ct.series, ct.images, ct.description) == ("2024-01-01", 2, 5, "Study HEAD")
    # the HTML-looking name is shown as the characters it is
    rick = _study(app, patient_id="P2")
    assert model.data(model.index_of(rick)) == "<b>ROE</b>, RICK"
    assert "12 images" in browser.summary.text()
    assert browser.summary.textFormat() == Qt.TextFormat.PlainText
    # the non-DICOM file is listed with its reason; the rest imported
    log = app.activity.toPlainText()
    assert "notes.txt" in log and "not a DICOM file" in log
    assert "12 imported" in app.window.statusBar().currentMessage()
    # search: a series description finds its study (shown with its series)
    _search(app, qtbot, "knee")
    rows = _rows(app)
    assert ("series", "#1 KNEE") in rows
    assert [r for r in rows if r[0] == "study"] == [("study", "DOE, JANE")]
    assert not any(r[1].endswith("HEAD") for r in rows)
    assert "Matching 'knee': 1 studies" in browser.summary.text()
    _search(app, qtbot, "p2")
    rows = _rows(app)
    assert [r for r in rows if r[0] == "study"] == [("study", "<b>ROE</b>, RICK")]
    assert ("series", "#1 CHEST") in rows
    _search(app, qtbot, "")
    assert len(model.studies()) == 3
    # sort by images, descending: a new query ordered by SQLite; ACC1 (5 images) first
    loads = app.archive.loads
    browser.tree.sortByColumn(COL_IMAGES, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: _loaded(app, loads), timeout=WAIT)
    assert [n.images for n in model.studies()] == [5, 4, 3]
    assert model.index(0, 0).data(NODE_ROLE).accession == "ACC1"


def test_typing_is_one_query_and_a_stale_answer_is_dropped(pacs_app, qtbot, tmp_path):
    app = pacs_app
    src = tmp_path / "src"
    make_studies(src)
    _import(app, qtbot, [src])
    asked: list[str] = []
    app.bridge.jobSubmitted.connect(
        lambda ev: asked.append(ev.name) if ev.name == "Archive: load index" else None
    )
    loads = app.archive.loads
    for text in ("k", "kn", "kne", "knee"):  # faster than the 200 ms pause
        app.archive_browser.search.setText(text)
    qtbot.waitUntil(lambda: _loaded(app, loads), timeout=WAIT)
    assert asked == ["Archive: load index"]
    assert [n.accession for n in app.archive_model.studies()] == ["ACC2"]
    # Return searches at once (no pause to wait for), once
    loads = app.archive.loads
    app.archive_browser.search.setText("p2")
    qtbot.keyClick(app.archive_browser.search, Qt.Key.Key_Return)
    assert app.archive.loading()  # asked at once: the pause's timer is stopped
    assert not app.archive_browser._search_timer.isActive()
    qtbot.waitUntil(lambda: _loaded(app, loads), timeout=WAIT)
    assert [n.patient_id for n in app.archive_model.studies()] == ["P2"]
    qtbot.wait(300)
    assert asked == ["Archive: load index"] * 2
    # two queries in a row: only the second one's answer is shown
    shown: list[list[str]] = []
    app.archive_model.modelReset.connect(
        lambda: shown.append([n.patient_id for n in app.archive_model.studies()])
    )
    loads = app.archive.loads
    app.archive_browser.search.setText("p2")
    app.archive.refresh()
    app.archive_browser.search.setText("knee")
    app.archive.refresh()
    qtbot.waitUntil(lambda: _loaded(app, loads), timeout=WAIT)
    qtbot.wait(300)  # the search box's own timer: one more query of "knee"
    qtbot.waitUntil(lambda: not app.archive.loading(), timeout=WAIT)
    assert shown and all(pids == ["P1"] for pids in shown), shown


def _select(app, qtbot, node):
    browser, model = app.archive_browser, app.archive_model
    if node.parent is not None and node.parent.level == "study":
        browser.tree.expand(model.index_of(node.parent))
    idx = model.index_of(node)
    browser.tree.selectionModel().select(
        idx,
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    return idx


def _series(app, qtbot, study):
    app.archive_browser.tree.expand(app.archive_model.index_of(study))
    qtbot.waitUntil(lambda: study.fetched, timeout=WAIT)
    return study.children


def test_delete_removes_files_and_rows(pacs_app, qtbot, tmp_path):
    app = pacs_app
    src = tmp_path / "src"
    s1, s2, s3 = make_studies(src)
    _import(app, qtbot, [src])
    data = app.paths.archive_dir / "data"
    assert len(list(data.rglob("*.dcm"))) == 12
    asked = []
    app.archive.confirm = lambda title, text: asked.append(text) or True
    _select(app, qtbot, _study(app, uid=s1))
    loads = app.archive.loads
    with qtbot.waitSignal(app.archive.changed, timeout=WAIT):
        app.archive_browser.btn_delete.click()
    qtbot.waitUntil(lambda: _loaded(app, loads), timeout=WAIT)
    assert asked and "5 images" in asked[0]
    assert len(list(data.rglob("*.dcm"))) == 7
    t = app.archive_model.totals
    assert (t.studies, t.series, t.images) == (2, 2, 7)
    with Archive(app.paths.archive_dir, sweep=False) as a:
        uids = {s["study_uid"] for s in a.studies()}
        assert uids == {s2, s3}
        assert a.verify().ok
    # one series of a study; "No" deletes nothing
    app.archive.confirm = lambda title, text: False
    (knee,) = _series(app, qtbot, _study(app, uid=s2))
    _select(app, qtbot, knee)
    app.archive_browser.btn_delete.click()
    assert len(list(data.rglob("*.dcm"))) == 7
    app.archive.confirm = lambda title, text: asked.append(text) or True
    _select(app, qtbot, knee)
    with qtbot.waitSignal(app.archive.changed, timeout=WAIT):
        app.archive_browser.btn_delete.click()
    assert "4 images" in asked[-1]
    assert len(list(data.rglob("*.dcm"))) == 3


def test_double_click_opens_the_series_in_the_viewer(pacs_app, qtbot, tmp_path):
    app = pacs_app
    src = tmp_path / "src"
    make_studies(src)
    _import(app, qtbot, [src])
    (knee,) = _series(app, qtbot, _study(app, accession="ACC2"))
    assert knee.name == "#1 KNEE" and knee.images == 4
    idx = _select(app, qtbot, knee)
    app.archive_browser.tree.doubleClicked.emit(idx)
    qtbot.waitUntil(lambda: app.viewer.count() == 4, timeout=WAIT)
    assert app.central_tabs.currentWidget() is app.viewer


# ---------------------------------------------------------------------- the SCP process
def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_scp_process_receives_from_storescu(scp_app, qtbot, tmp_path):
    from tests.peers import PeerUnavailable, find_program, free_port, peer_env

    try:
        storescu = find_program("storescu")
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    study = generate_uid()
    files = _write(tmp_path / "send", "s", patient="SENT^BY^DCMTK", pid="S1", study=study,
                   series=generate_uid(), modality="CT", n=3, desc="SENT")  # fmt: skip
    port = free_port()
    app = scp_app(port)
    assert app.act_scp.isChecked()
    qtbot.waitUntil(lambda: app.scp.state == "listening", timeout=WAIT)
    assert f"SCP PACSADMIN:{port} listening" in app.window.local_label.text()
    # said once: in the permanent label, not again as a status bar message
    assert "listening" not in app.window.statusBar().currentMessage()
    pid = app.scp.pid()
    assert pid > 0
    cmd = [storescu, "-aet", "SENDER", "-aec", "PACSADMIN", "127.0.0.1", str(port)]
    proc = subprocess.run(
        [*cmd, *map(str, files)], env=peer_env(), capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    model = app.received_model
    qtbot.waitUntil(
        lambda: any(r.images == 3 and state_text(r).startswith("done") for r in model.rows),
        timeout=WAIT,
    )
    row = next(r for r in model.rows if r.images == 3)
    assert row.calling_ae == "SENDER" and row.address.startswith("127.0.0.1")
    assert model.index(model.rows.index(row), 3).data() == "3"
    # its transcript, as in the Connectivity Doctor: selected, shown below the table
    view = app.received_view
    view.table.setCurrentIndex(model.index(model.rows.index(row), 0))
    qtbot.waitUntil(lambda: "Reading" not in view.transcript.toPlainText()[:40], timeout=WAIT)
    text = view.transcript.toPlainText()
    assert row.transcript_file and text.startswith(row.transcript_file)
    for expected in ("A-ASSOCIATE-RQ", "calling AE 'SENDER'", "C-STORE-RQ", "C-STORE-RSP"):
        assert expected in text, expected
    assert "SENT^BY^DCMTK" not in text and "S1" not in text.split()  # no patient data
    # the browser reloads (debounced) and shows the received study
    qtbot.waitUntil(lambda: any(s.uid == study for s in app.archive_model.studies()), timeout=WAIT)
    assert "SENDER" in app.activity.toPlainText()
    # closing the app stops the SCP process
    app.window.close()
    assert app.shutdown()
    assert not app.scp.running
    qtbot.waitUntil(lambda: _gone(pid), timeout=WAIT)


def test_received_errors_column_counts_each_failed_store_once(scp_app, qtbot, tmp_path):
    """storescu sends three files; the SCP refuses the one it cannot index (no Study
    Instance UID: 0xC210).  The row says 2 images and 1 error, the tooltip says why; the
    SCP's start and stop (from the window) are in the audit log."""
    from pacsadmin.core.audit import AuditLog
    from pacsadmin.gui.widgets.received_view import COL_ERRORS, COL_IMAGES
    from tests.peers import PeerUnavailable, find_program, free_port, peer_env

    try:
        storescu = find_program("storescu")
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    send = tmp_path / "send"
    files = _write(send, "ok", patient="ERR^COL", pid="E1", study=generate_uid(),
                   series=generate_uid(), modality="CT", n=3, desc="ERR")  # fmt: skip
    bad = pydicom.dcmread(files[1])
    del bad.StudyInstanceUID  # DICOM, but nothing the archive can file it under
    bad.save_as(files[1], enforce_file_format=True)
    app = scp_app(free_port())
    assert "--exit-with-parent" in app.scp.proc.arguments()  # a crashed window frees the port
    qtbot.waitUntil(lambda: app.scp.state == "listening", timeout=WAIT)
    cmd = [storescu, "-v", "--no-halt", "-aet", "ERRSENDER", "-aec", "PACSADMIN"]
    cmd += ["127.0.0.1", str(app.scp.port)]
    proc = subprocess.run(
        [*cmd, *map(str, files)], env=peer_env(), capture_output=True, timeout=120
    )
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    assert "Error: CannotUnderstand" in out, (proc.returncode, out)  # 0xC210
    model = app.received_model
    qtbot.waitUntil(
        lambda: any(r.calling_ae == "ERRSENDER" and state_text(r) == "done" for r in model.rows),
        timeout=WAIT,
    )
    i, row = next((i, r) for i, r in enumerate(model.rows) if r.calling_ae == "ERRSENDER")
    assert (row.stored, row.failed, row.errors) == (2, 1, ("cannot understand: NotIndexable",))
    assert model.index(i, COL_IMAGES).data() == "2"
    assert model.index(i, COL_ERRORS).data() == "1"  # was "2": failed + len(errors)
    assert "NotIndexable" in model.index(i, COL_ERRORS).data(Qt.ItemDataRole.ToolTipRole)
    assert "1 failed" in app.activity.toPlainText()
    app.act_scp.setChecked(False)  # the user stops the SCP
    assert app.scp.state == "stopped" and not app.scp.running
    assert f"SCP PACSADMIN:{app.scp.port} stopped" in app.window.local_label.text()
    entries = AuditLog(app.paths.audit_db).entries(action="serve")
    assert [(e.outcome, e.summary) for e in entries] == [
        ("stopped", "SCP stopped: on SIGTERM"),
        ("started", "SCP started"),
    ]


def test_an_scp_killed_from_outside_is_reported_and_audited_by_the_window(scp_app, qtbot):
    """serve audits its own start and stop; killed with SIGKILL it cannot, so the window
    says so and writes the audit record."""
    import os
    import signal

    from pacsadmin.core.audit import AuditLog
    from tests.peers import free_port

    app = scp_app(free_port())
    qtbot.waitUntil(lambda: app.scp.state == "listening", timeout=WAIT)
    os.kill(int(app.scp.proc.processId()), signal.SIGKILL)
    qtbot.waitUntil(lambda: app.scp.state == "failed", timeout=WAIT)
    assert "stopped unexpectedly" in app.scp.message
    assert not app.act_scp.isChecked()
    audit = AuditLog(app.paths.audit_db)

    def failures():
        return [e for e in audit.entries(action="serve") if e.outcome == "failure"]

    qtbot.waitUntil(lambda: bool(failures()), timeout=WAIT)
    assert len(failures()) == 1 and "stopped unexpectedly" in failures()[0].summary


def test_scp_port_in_use_is_a_clear_message(scp_app, qtbot):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        s.listen(1)
        port = s.getsockname()[1]
        app = scp_app(port)
        qtbot.waitUntil(lambda: app.scp.state == "failed", timeout=WAIT)
    # serve said why in a failed event (the window no longer reads its stderr)
    assert app.scp.failure is not None and app.scp.failure.reason == PORT_IN_USE
    message = app.scp.message
    assert f"port {port} is already in use" in message and message.endswith("settings)")
    assert not app.act_scp.isChecked()
    assert [m for m, _, _ in app.errors.presented if "already in use" in m] == [message]
    # the sentence is shown once, whole: in the status bar's message area; the permanent
    # label says the state in a few words (the sentence in its tooltip)
    bar, label = app.window.statusBar(), app.window.local_label
    assert bar.currentMessage() == message
    assert "already in use" not in label.text() and "not running" in label.text()
    assert "already in use" in label.toolTip()
    assert app.received_view.status.text() == message
    app.window.resize(1440, 900)
    qtbot.waitUntil(lambda: label.isVisible() and label.x() > 0, timeout=WAIT)
    width = bar.fontMetrics().horizontalAdvance(message)
    assert width < app.window.jobs_label.x(), "the message would be cut off"


def test_an_import_during_the_scp_start_loses_no_file(scp_app, qtbot, tmp_path):
    """serve sweeps the archive's temp folder as it starts, but only the temp files of
    processes that are gone (their names start with the writer's PID): an import running
    in the window meanwhile loses none of its files."""
    from tests.peers import free_port

    src = tmp_path / "src"
    make_studies(src)
    app = scp_app(free_port())
    assert app.scp.state == "starting"
    with qtbot.waitSignal(app.archive.changed, timeout=WAIT):
        assert app.archive.import_paths([str(src)]) > 0  # runs at once
    qtbot.waitUntil(lambda: app.scp.state == "listening", timeout=WAIT)
    assert "Import into archive: 12 imported" in app.activity.toPlainText()
    assert "FileNotFoundError" not in app.activity.toPlainText()


def test_import_shows_progress_in_the_jobs_panel_and_cancels(pacs_app, qtbot, tmp_path):
    from pacsadmin.core.jobs import JobProgress
    from pacsadmin.gui.models.jobs_model import COL_JOB

    app = pacs_app
    src = tmp_path / "many"
    _write(src, "m", patient="MANY^FILES", pid="M1", study=generate_uid(),
           series=generate_uid(), modality="CT", n=240, desc="MANY")  # fmt: skip
    seen: list[JobProgress] = []
    app.bridge.jobProgress.connect(seen.append)
    job_id = app.archive.import_paths([str(src)])
    assert job_id > 0
    row = lambda: next(  # noqa: E731
        (r for r in range(app.jobs_model.rowCount())
         if app.jobs_model.index(r, COL_JOB).data().startswith("Import into archive")),
        None,
    )  # fmt: skip
    qtbot.waitUntil(lambda: row() is not None, timeout=WAIT)
    with qtbot.waitSignal(app.archive.changed, timeout=WAIT):
        qtbot.waitUntil(lambda: any(p.job_id == job_id for p in seen), timeout=WAIT)
        app.jobs_panel.cancelRequested.emit([job_id])  # the panel's Cancel button
    msg = app.window.statusBar().currentMessage()
    # a cancel can land after the last file on a fast machine: then all were imported
    assert "(cancelled)" in msg or "240 imported" in msg, msg
    with Archive(app.paths.archive_dir, sweep=False) as a:
        rep = a.verify()
        assert rep.ok and rep.temp_files == 0
        n = a.counts()["instances"]
    assert n == 240 or "(cancelled)" in msg
    qtbot.waitUntil(lambda: app.archive_model.totals.images == n, timeout=WAIT)


def test_received_transcript_pane_says_why_there_is_none(tmp_path):
    from dataclasses import replace

    from pacsadmin.core.dimse.scp_events import AssociationClosed, AssociationOpened
    from pacsadmin.gui.widgets.received_view import transcript_text

    open_row = AssociationOpened(1, 1, started=1.0)
    assert transcript_text(open_row).startswith("Still open")
    closed = AssociationClosed(1, 2, started=1.0, ended=2.0)
    assert "No transcript was written" in transcript_text(closed)
    closed = replace(closed, transcript_file=str(tmp_path / "gone.txt"))  # removed by hand
    assert transcript_text(closed).startswith("The transcript cannot be read: No such file")


def test_opening_the_archive_tab_never_changes_the_window_size(pacs_app, qtbot, tmp_path):
    """The summary line grows with the archive and the search; it once raised the dock's
    minimum width, and with it the window's (1440 -> 1575 px at 10,000 studies)."""
    app = pacs_app
    src = tmp_path / "src"
    make_studies(src)
    _import(app, qtbot, [src])
    w = app.window
    qtbot.waitUntil(lambda: w.isVisible(), timeout=WAIT)
    w.docks["nodes"].raise_()
    qtbot.wait(100)
    before = w.size()
    loads = app.archive.loads
    app.archive_browser.search.setText("a-search-longer-than-any-window " * 8)
    qtbot.waitUntil(lambda: _loaded(app, loads), timeout=WAIT)
    assert "Matching 'a-search-longer" in app.archive_browser.summary.text()
    w.docks["archive"].raise_()
    qtbot.wait(200)
    assert w.docks["archive"].isVisible()
    assert w.size() == before
    assert w.minimumSizeHint().width() <= before.width()
    # the whole summary is in its tooltip
    assert "a-search-longer-than-any-window" in app.archive_browser.summary.toolTip()


def test_correct_an_archive_study_from_the_browser(pacs_app, qtbot, tmp_path):
    """Correct study… on an archive row: applied through the archive (the browser and the
    index show the new name at once, verify stays clean), then undone."""
    from pacsadmin.gui.editing.correction_dialog import CorrectionDialog

    app = pacs_app
    src = tmp_path / "src"
    s1, _, _ = make_studies(src)
    _import(app, qtbot, [src])
    _select(app, qtbot, _study(app, uid=s1))
    app.archive_browser._tool("correct")
    qtbot.waitUntil(lambda: isinstance(app.editing.dialog, CorrectionDialog), timeout=WAIT)
    dlg = app.editing.dialog
    dlg.edits["PatientName"].setText("CORRECTED^NAME")
    dlg.new_uids.setChecked(True)
    dlg.preview_btn.click()
    qtbot.waitUntil(lambda: dlg.diff.topLevelItemCount() == 5, timeout=WAIT)
    with qtbot.waitSignal(app.editing.changed, timeout=WAIT):
        dlg.apply_btn.click()
    assert "Applied: 5 file(s)" in dlg.status.text()
    with Archive(app.paths.archive_dir, sweep=False) as a:
        names = {s["study_uid"]: s["patient_name"] for s in a.studies()}
        assert "CORRECTED^NAME" in names.values()
        assert s1 not in names  # new UIDs: the index knows the study by its new UID
        assert a.verify().ok
    with qtbot.waitSignal(app.editing.changed, timeout=WAIT):
        dlg.undo_btn.click()
    with Archive(app.paths.archive_dir, sweep=False) as a:
        assert s1 in {s["study_uid"] for s in a.studies()}
        assert a.verify().ok
    dlg.close()
