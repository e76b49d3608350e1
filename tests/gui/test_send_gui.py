"""The send tool in the window, against DCMTK storescp: Send to… on archive rows, files
dropped onto a node, a compressed file the peer refuses (both choices), Resend failed
only; the per-file results window opened from the Jobs panel."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from pacsadmin.core.dimse.send_result import FileState
from pacsadmin.core.jobs import JobState
from pacsadmin.core.nodes import DicomNode
from pacsadmin.gui.dialogs.send_dialog import SendChoice, SendDialog, SendRequest
from pacsadmin.gui.models.send_results_model import COL_ACCEPTED, COL_MEANING, COL_STATE
from tests.integration.send.conftest import fresh_copy, make_series, received
from tests.peers import PeerUnavailable, free_port, start_storescp

WAIT = 60_000
EXPLICIT_LE = "1.2.840.10008.1.2.1"
RLE = "1.2.840.10008.1.2.5"


def add_node(app, name: str, port: int, aet: str = "STORESCP") -> DicomNode:
    node = app.nodes.add(DicomNode(name, aet, "127.0.0.1", port))
    app.node_actions.reload()
    return node


def choose(app, *, decompress: bool, asked: list | None = None):
    """The Send dialog's answer: the node it offers first (or the one dropped onto)."""

    def answer(req: SendRequest):
        if asked is not None:
            asked.append(req)
        node = req.node or req.nodes[0]
        return SendChoice(node, decompress)

    app.sends.choose = answer


def finish(qtbot, app, trigger):
    with qtbot.waitSignal(app.sends.sendFinished, timeout=WAIT) as sig:
        trigger()
    run = sig.args[0]
    assert run.state is JobState.SUCCEEDED, run.error
    return run


def open_results(qtbot, app, run):
    """The results window, from the Jobs panel: select the job's row and click Results…"""
    panel = app.jobs_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() > 0, timeout=WAIT)
    panel.select_job(run.job_id)
    qtbot.waitUntil(panel.details_button.isEnabled, timeout=WAIT)
    panel.details_button.click()
    dlg = run.dialog
    assert dlg is not None and dlg.isVisible()
    return dlg


def test_send_from_the_archive_browser(qtbot, pacs_app, storescp, tmp_path):
    app = pacs_app
    files = make_series(tmp_path / "series", 6)
    with qtbot.waitSignal(app.archive.changed, timeout=WAIT):
        app.archive.import_paths([str(tmp_path / "series")])
    qtbot.waitUntil(lambda: len(app.archive_model.studies()) == 1, timeout=WAIT)
    add_node(app, "Consultant", storescp.port)
    asked: list = []
    choose(app, decompress=False, asked=asked)
    tree = app.archive_browser.tree
    tree.selectionModel().select(
        app.archive_model.index_of(app.archive_model.studies()[0]),
        tree.selectionModel().SelectionFlag.ClearAndSelect
        | tree.selectionModel().SelectionFlag.Rows,
    )
    assert app.archive_browser.btn_send.isEnabled()
    run = finish(qtbot, app, app.archive_browser.btn_send.click)
    assert "(6 images)" in asked[0].what
    assert run.result.ok and len(run.result.stored) == 6
    got = received(storescp)
    assert len(got) == 6
    from pydicom import dcmread

    sent = {str(dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files}
    assert set(got) == sent
    dlg = open_results(qtbot, app, run)
    assert dlg.model.rowCount() == 6
    assert "6 stored" in dlg.counts.text()
    assert not dlg.resend_button.isEnabled()


def _drag_to(view, pos: QPoint, paths: list[Path]) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    vp = view.viewport()
    action = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos, action, mime, buttons, mods)
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(pos, action, mime, buttons, mods)
    QApplication.sendEvent(vp, move)
    assert move.isAccepted()
    drop = QDropEvent(pos.toPointF(), action, mime, buttons, mods)
    QApplication.sendEvent(vp, drop)
    return drop


def test_drop_files_and_a_folder_onto_a_node(qtbot, pacs_app, storescp, tmp_path):
    app = pacs_app
    node = add_node(app, "Workstation", storescp.port)
    qtbot.waitUntil(lambda: app.node_browser.proxy.rowCount() == 1, timeout=WAIT)
    folder = tmp_path / "cd"
    make_series(folder / "sub", 3)
    (folder / "README.txt").write_text("not DICOM\n")
    single = fresh_copy("CT_small.dcm", tmp_path / "one" / "ct.dcm")
    asked: list = []
    choose(app, decompress=False, asked=asked)
    view = app.node_browser.view
    pos = view.visualRect(app.node_browser.proxy.index(0, 1)).center()
    # beside the rows: refused
    below = QPoint(pos.x(), view.viewport().height() - 2)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(single))])
    ev = QDragMoveEvent(
        below, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(view.viewport(), ev)
    assert not ev.isAccepted()
    run = finish(qtbot, app, lambda: _drag_to(view, pos, [folder, single]))
    assert asked[0].node == node
    res = run.result
    assert len(res.stored) == 4
    skipped = [f for f in res.files if f.state is FileState.SKIPPED]
    assert len(skipped) == 1 and skipped[0].path.endswith("README.txt")
    assert skipped[0].meaning  # the reason
    assert len(received(storescp)) == 4
    dlg = open_results(qtbot, app, run)
    assert "1 skipped" in dlg.counts.text()


@pytest.mark.parametrize("decompress", [False, True], ids=["fail-loudly", "decompress"])
def test_a_refused_compressed_file_follows_the_choice(
    qtbot, pacs_app, storescp, tmp_path, decompress
):
    """storescp (no +xa) accepts only uncompressed syntaxes: the RLE file is refused."""
    app = pacs_app
    add_node(app, "Uncompressed only", storescp.port)
    ct = fresh_copy("CT_small.dcm", tmp_path / "in" / "ct.dcm")
    rle = fresh_copy("MR_small_RLE.dcm", tmp_path / "in" / "rle.dcm")
    choose(app, decompress=decompress)
    run = finish(qtbot, app, lambda: app.sends.send_paths(None, [str(ct), str(rle)]))
    rows = {Path(f.path).name: f for f in run.result.files}
    assert rows["ct.dcm"].ok
    r = rows["rle.dcm"]
    assert r.transfer_syntax == RLE
    if decompress:
        assert r.ok and r.decompressed and r.accepted_syntax == EXPLICIT_LE
        assert len(received(storescp)) == 2
    else:
        assert r.state is FileState.FAILED and not r.accepted_syntax
        assert "refused" in r.meaning.lower() or "not accepted" in r.meaning.lower()
        assert len(received(storescp)) == 1
    dlg = open_results(qtbot, app, run)
    m = dlg.model
    row = next(i for i in range(m.rowCount()) if m.result(i).path.endswith("rle.dcm"))
    state = m.index(row, COL_STATE).data()
    assert state == ("Stored" if decompress else "Failed")
    if decompress:
        assert "decompressed" in m.index(row, COL_ACCEPTED).data()
    else:
        assert m.index(row, COL_MEANING).data()
        assert dlg.resend_button.isEnabled()


def test_resend_failed_only(qtbot, pacs_app, tmp_path):
    app = pacs_app
    port = free_port()
    add_node(app, "Down for now", port)
    files = make_series(tmp_path / "in", 3)
    (tmp_path / "in" / "junk.bin").write_bytes(b"\x00" * 300)
    choose(app, decompress=False)
    first = finish(qtbot, app, lambda: app.sends.send_paths(None, [str(tmp_path / "in")]))
    assert not first.result.ok
    assert len(first.result.resendable) == 3  # the junk file is skipped, not resendable
    dlg = open_results(qtbot, app, first)
    assert dlg.resend_button.isEnabled()
    try:
        peer = start_storescp(tmp_path / "peer", port=port)
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    try:
        second = finish(qtbot, app, dlg.resend_button.click)
        assert second.result.ok and len(second.result.files) == 3
        assert {Path(f.path).name for f in second.result.files} == {f.name for f in files}
        assert len(received(peer)) == 3
        assert second.dialog is not None  # its own results window opened
        assert second.dialog.model.rowCount() == 3
    finally:
        peer.stop()


def test_the_send_dialog_offers_both_choices(qtbot):
    node = DicomNode("PACS", "AE1", "127.0.0.1", 104)
    dlg = SendDialog(SendRequest("3 files", (node,)))
    qtbot.addWidget(dlg)
    assert dlg.choice() == SendChoice(node, False)  # failing loudly is the default
    dlg.opt_decompress.setChecked(True)
    assert dlg.choice() == SendChoice(node, True)


def test_progress_rate_and_cancel_from_the_results_window(qtbot, pacs_app, storescp, tmp_path):
    app = pacs_app
    add_node(app, "Consultant", storescp.port)
    make_series(tmp_path / "many", 400, rows=128, columns=128)
    choose(app, decompress=False)
    with qtbot.waitSignal(app.sends.sendStarted, timeout=WAIT) as sig:
        app.sends.send_paths(None, [str(tmp_path / "many")])
    run = sig.args[0]
    dlg = app.sends.show(run.job_id)
    qtbot.waitUntil(lambda: dlg.bar.value() >= 5, timeout=WAIT)
    assert "files/s" in dlg.rate.text() and "left" in dlg.rate.text()
    assert dlg.cancel_button.isEnabled()
    with qtbot.waitSignal(app.sends.sendFinished, timeout=WAIT):
        dlg.cancel_button.click()
    res = run.result
    assert res is not None and res.cancelled
    not_sent = [f for f in res.files if f.state is FileState.NOT_SENT]
    assert not_sent and all("cancelled" in f.meaning for f in not_sent)
    assert len(received(storescp)) == len(res.stored) < 400
    assert not dlg.cancel_button.isEnabled() and dlg.resend_button.isEnabled()
