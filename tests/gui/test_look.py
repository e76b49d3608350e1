"""The look: empty states that say what to do, a failed job's bar that shows failure, the
Help menu (shortcuts read from the actions, the About box's versions), icons that follow
the palette."""

from __future__ import annotations

import platform
import time

import numpy
import pydicom
import pynetdicom
import pyqtgraph
import PySide6
from PySide6.QtCore import QPoint, Qt, qVersion
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QPlainTextEdit

from pacsadmin import __version__
from pacsadmin.core.jobs import JobFinished, JobStarted, JobState, JobSubmitted
from pacsadmin.core.nodes import DicomNode
from pacsadmin.gui.icons import set_icon
from pacsadmin.gui.models.jobs_model import COL_PROGRESS, OUTCOME_ROLE, JobsModel
from pacsadmin.gui.models.node_model import NodeTableModel
from pacsadmin.gui.widgets.jobs_panel import JobsPanel
from pacsadmin.gui.widgets.node_browser import NodeBrowser

WAIT = 30_000


# ------------------------------------------------------------------ empty states
def test_no_nodes_says_add_or_import_and_the_buttons_act(qtbot):
    model = NodeTableModel()
    add, imp, export = QAction("Add"), QAction("Import..."), QAction("Export...")
    browser = NodeBrowser(
        model,
        empty_actions=[(add, "Add a node..."), (imp, "Import a list...")],
        needs_nodes=[export],
    )
    qtbot.addWidget(browser)
    browser.show()
    assert browser.is_empty_shown()
    assert browser.empty.title_label.text() == "No nodes yet"
    assert "Add a node, or import a list" in browser.empty.text_label.text()
    labels = [b.text() for b in browser.empty.buttons]
    assert labels == ["Add a node...", "Import a list..."]
    assert not export.isEnabled()  # nothing to export yet
    with qtbot.waitSignal(add.triggered, timeout=1000):
        browser.empty.buttons[0].click()
    with qtbot.waitSignal(imp.triggered, timeout=1000):
        browser.empty.buttons[1].click()
    add.setEnabled(False)  # a button follows its action
    assert not browser.empty.buttons[0].isEnabled()

    model.set_nodes([DicomNode("PACS", "PACS", "127.0.0.1", 104)])
    assert not browser.is_empty_shown() and browser.pages.currentWidget() is browser.view
    assert export.isEnabled()
    browser.filter_edit.setText("no such node")
    assert browser.is_empty_shown()
    assert "no such node" in browser.empty.text_label.text()
    browser.empty.buttons[0].click()  # "Clear the filter"
    assert browser.filter_edit.text() == "" and not browser.is_empty_shown()


def test_the_app_starts_with_empty_states_and_disabled_actions(qtbot, pacs_app, tmp_path):
    app = pacs_app
    assert app.node_browser.is_empty_shown()
    for a in (app.act_export, app.act_echo_all, app.act_echo, app.act_edit, app.act_doctor):
        assert not a.isEnabled(), a.text()
    assert app.act_add.isEnabled() and app.act_import.isEnabled()
    v = app.viewer
    assert v.stack.currentWidget() is v.placeholder
    assert v.placeholder.title_label.text() == "Open a series from the archive or drop files here"
    assert [b.text() for b in v.placeholder.buttons] == ["Open images...", "Open folder..."]
    app.nodes.add(DicomNode("PACS", "PACS", "127.0.0.1", 104))
    app.node_actions.reload()
    assert not app.node_browser.is_empty_shown()
    assert app.act_export.isEnabled() and app.act_echo_all.isEnabled()
    # a series opened: the placeholder gives way to the image
    from tests.gui.viewer.helpers import ct_series

    ct_series(tmp_path, n=1)
    app.open_in_viewer([str(tmp_path)])
    qtbot.waitUntil(lambda: v.stack.currentWidget() is v.canvas, timeout=WAIT)


# ------------------------------------------------------------------ failed progress bar
def _red_pixels(img: QImage) -> int:
    n = 0
    for y in range(0, img.height(), 2):
        for x in range(0, img.width(), 2):
            c = img.pixelColor(x, y)
            if c.red() > 150 and c.green() < 110 and c.blue() < 110:
                n += 1
    return n


def _bar_image(panel: JobsPanel, row: int) -> QImage:
    rect = panel.view.visualRect(panel.model.index(row, COL_PROGRESS))
    return panel.view.viewport().grab(rect).toImage()


def test_a_failed_job_bar_is_red_and_says_failed(qtbot):
    model = JobsModel()
    panel = JobsPanel(model)
    qtbot.addWidget(panel)
    panel.resize(900, 200)
    panel.show()
    now = time.monotonic()
    for job_id in (1, 2):
        model.add(JobSubmitted(job_id, f"job {job_id}", "PACS", now))
        model.started(JobStarted(job_id, now))
    model.finished(JobFinished(1, JobState.SUCCEEDED, None, "", 0.5, "Done.", True))
    model.finished(JobFinished(2, JobState.FAILED, None, "Boom.", 0.5))
    rows = {model.job(r).job_id: r for r in range(model.rowCount())}
    assert model.index(rows[2], COL_PROGRESS).data(OUTCOME_ROLE) == "failed"
    assert model.index(rows[1], COL_PROGRESS).data(OUTCOME_ROLE) == "done"
    qtbot.waitExposed(panel)
    failed, done = _bar_image(panel, rows[2]), _bar_image(panel, rows[1])
    assert _red_pixels(failed) > 20  # red hatching and border
    assert _red_pixels(done) == 0  # the plain full bar of a success


def test_an_echo_that_ran_and_failed_shows_a_failed_bar(qtbot, pacs_app):
    app = pacs_app
    app.nodes.add(DicomNode("Gone", "X", "127.0.0.1", 1))  # port 1: refused
    app.node_actions.reload()
    app.act_echo_all.trigger()
    m = app.jobs_model
    qtbot.waitUntil(lambda: m.rowCount() == 1 and m.running_count() == 0, timeout=WAIT)
    assert m.job(0).state is JobState.SUCCEEDED and m.job(0).ok is False
    assert m.index(0, COL_PROGRESS).data(OUTCOME_ROLE) == "failed"
    app.window.docks["jobs"].raise_()
    qtbot.waitExposed(app.jobs_panel)
    assert _red_pixels(_bar_image(app.jobs_panel, 0)) > 20


# ------------------------------------------------------------------ Help
def test_shortcuts_dialog_lists_the_real_shortcuts(qtbot, pacs_app):
    app = pacs_app
    dlg = app.help.show_shortcuts()
    qtbot.addWidget(dlg)
    rows = dlg.rows()
    by_action = {text: key for key, text, _ in rows}
    native = QKeySequence.SequenceFormat.NativeText
    assert by_action["Add"] == QKeySequence("Ctrl+N").toString(native)
    assert by_action["Quit"] == QKeySequence("Ctrl+Q").toString(native)
    assert by_action["Keyboard shortcuts"] == QKeySequence("Ctrl+/").toString(native)
    # every action of the window that has a shortcut is listed, and nothing else
    with_keys = {id(a) for a in app.window.findChildren(QAction) if not a.shortcut().isEmpty()}
    assert len(rows) == len(with_keys)
    assert all(key and "(conflict)" not in key for key, _, _ in rows)
    # built from the actions: a changed shortcut shows at the next opening
    app.act_duplicate.setShortcut(QKeySequence("Ctrl+Shift+D"))
    dlg2 = app.help.show_shortcuts()
    qtbot.addWidget(dlg2)
    again = {text: key for key, text, _ in dlg2.rows()}
    assert again["Duplicate"] == QKeySequence("Ctrl+Shift+D").toString(native)
    assert len(dlg2.rows()) == len(rows) + 1


def test_about_box_shows_the_versions_as_selectable_text(qtbot, pacs_app):
    from importlib.metadata import version

    dlg = pacs_app.help.show_about()
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: "pydicom" in dlg.versions(), timeout=WAIT)  # read on the io lane
    text = dlg.versions()
    lines = {
        line.split("  ")[0].strip(): line.split("  ", 1)[1].strip() for line in text.splitlines()
    }
    assert lines["pacsadmin"] == __version__
    assert lines["Python"].startswith(platform.python_version())
    assert lines["Qt"] == qVersion()
    assert lines["PySide6"] == PySide6.__version__
    assert lines["pydicom"] == pydicom.__version__
    assert lines["pynetdicom"] == pynetdicom.__version__
    assert lines["numpy"] == numpy.__version__
    assert lines["pyqtgraph"] == pyqtgraph.__version__
    assert lines["pylibjpeg-libjpeg (JPEG, JPEG-LS)"] == version("pylibjpeg-libjpeg")
    assert "GDCM" in lines  # its version, or "not installed"
    assert isinstance(dlg.text, QPlainTextEdit) and dlg.text.isReadOnly()
    flags = dlg.text.textInteractionFlags()
    assert flags & Qt.TextInteractionFlag.TextSelectableByMouse


# ------------------------------------------------------------------ icons
def _ink(action: QAction) -> QColor:
    """The colour of the icon's most opaque pixel."""
    img = action.icon().pixmap(32, 32).toImage()
    best, color = -1, QColor()
    for y in range(img.height()):
        for x in range(img.width()):
            c = img.pixelColor(QPoint(x, y))
            if c.alpha() > best:
                best, color = c.alpha(), c
    return color


def test_icons_follow_the_palette(qtbot):
    qapp = QApplication.instance()
    old = qapp.palette()
    a = QAction("Echo")
    set_icon(a, "echo")
    try:
        light = QPalette(old)
        light.setColor(QPalette.ColorRole.WindowText, QColor(20, 20, 20))
        qapp.setPalette(light)
        qtbot.waitUntil(lambda: _ink(a).lightness() < 60, timeout=2000)
        dark = QPalette(old)
        dark.setColor(QPalette.ColorRole.WindowText, QColor(235, 235, 235))
        dark.setColor(QPalette.ColorRole.Window, QColor(30, 30, 30))
        qapp.setPalette(dark)
        qtbot.waitUntil(lambda: _ink(a).lightness() > 200, timeout=2000)
    finally:
        qapp.setPalette(old)
