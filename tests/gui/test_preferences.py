"""Preferences and the first-start welcome: every setting has a widget, bad values are
refused with the rule next to the field, a busy port is named, the saved settings are
used (the local SCP restarts on a new AE title/port)."""

from __future__ import annotations

import dataclasses
import json
import socket

import pytest

from pacsadmin.core.settings import Settings, Timeouts, load_settings
from pacsadmin.gui.dialogs.preferences import HIDDEN, PreferencesDialog
from pacsadmin.gui.dialogs.welcome import WelcomeDialog


def _busy_port():
    s = socket.socket()
    s.bind(("", 0))
    s.listen(1)
    return s, s.getsockname()[1]


def test_every_setting_has_an_editor(qtbot):
    dlg = PreferencesDialog(Settings())
    qtbot.addWidget(dlg)
    keys = set(dlg.editors)
    for f in dataclasses.fields(Settings):
        if f.name in HIDDEN:
            continue
        if f.name == "timeouts":
            for t in dataclasses.fields(Timeouts):
                assert f"timeouts.{t.name}" in keys
        else:
            assert f.name in keys, f"setting {f.name} has no widget in Preferences"
    # and reading the untouched form gives the same settings back
    assert dlg.collect() == Settings()


def test_bad_values_are_refused_with_the_rule(qtbot):
    dlg = PreferencesDialog(Settings())
    qtbot.addWidget(dlg)
    dlg.editors["local_ae_title"].setText("BAD\\AE")
    dlg.accept()
    assert dlg.result() != PreferencesDialog.DialogCode.Accepted
    assert dlg.result_settings() is None
    assert "AE title" in dlg.message.text() or "backslash" in dlg.message.text().lower()
    dlg.editors["local_ae_title"].setText("GOODAE")
    dlg.editors["max_pdu"].setValue(100)  # neither 0 nor >= 4096
    dlg.accept()
    assert dlg.result_settings() is None
    assert "Max PDU" in dlg.message.text()
    dlg.editors["max_pdu"].setValue(0)
    dlg.accept()
    assert dlg.result_settings() == dataclasses.replace(Settings(), local_ae_title="GOODAE")


def test_restore_defaults(qtbot):
    dlg = PreferencesDialog(dataclasses.replace(Settings(), scp_port=4242, archive_fsync=True))
    qtbot.addWidget(dlg)
    dlg.restore_defaults()
    assert dlg.collect() == Settings()


def test_busy_port_is_named_in_the_app(pacs_app, qtbot):
    sock, port = _busy_port()
    try:
        pacs_app.prefs.open()
        dlg = pacs_app.prefs.dialog
        assert isinstance(dlg, PreferencesDialog)
        dlg.editors["scp_port"].setValue(port)
        qtbot.waitUntil(lambda: "in use by another program" in dlg.port_status.text(), timeout=5000)
        dlg.reject()
    finally:
        sock.close()


def test_saved_settings_are_used_and_the_scp_follows(pacs_app, qtbot):
    app = pacs_app
    app.prefs.open()
    dlg = app.prefs.dialog
    dlg.editors["local_ae_title"].setText("NEWAE")
    dlg.editors["timeouts.connect"].setValue(7.5)
    with qtbot.waitSignal(app.prefs.applied, timeout=5000):
        dlg.accept()
    assert app.settings.local_ae_title == "NEWAE"
    assert app.local.ae_title == "NEWAE"
    assert app.node_actions.local is app.local and app.echoes.local is app.local
    assert app.scp.ae_title == "NEWAE"
    saved = json.loads(app.paths.settings_file.read_text())
    assert saved["local_ae_title"] == "NEWAE" and saved["timeouts"]["connect"] == 7.5
    assert load_settings(app.paths.settings_file) == app.settings


def test_welcome_checks_the_ae_title_and_port(qtbot):
    sock, port = _busy_port()
    answers: list[int] = []

    def check(p, on_answer):
        answers.append(p)
        on_answer("Port in use by another program" if p == port else "")

    try:
        dlg = WelcomeDialog("PACSADMIN", port, "/tmp/archive", port_check=check)
        qtbot.addWidget(dlg)
        ok = dlg.buttons.button(dlg.buttons.StandardButton.Ok)
        qtbot.waitUntil(lambda: port in answers, timeout=3000)
        assert not ok.isEnabled() and "in use" in dlg.port_status.text()
        dlg.port_box.setValue(port + 1 if port < 65535 else port - 1)
        qtbot.waitUntil(ok.isEnabled, timeout=3000)
        dlg.ae.setText("")
        assert not ok.isEnabled()
        assert dlg.ae_status.text()
        dlg.ae.setText("MYWS")
        assert ok.isEnabled()
        assert dlg.ae_title() == "MYWS"
    finally:
        sock.close()


@pytest.mark.parametrize("accept", [True, False])
def test_first_run_shows_the_welcome_once_and_saves(qtbot, tmp_path, monkeypatch, accept):
    from pacsadmin.core.paths import AppPaths
    from pacsadmin.gui.app import PacsAdminApp

    monkeypatch.setenv("PACSADMIN_HOME", str(tmp_path / "home"))
    paths = AppPaths.resolve().ensure()
    assert not paths.settings_file.exists()
    app = PacsAdminApp(paths, first_run=True)
    app.errors.dialogs_enabled = False
    qtbot.addWidget(app.window)
    try:
        qtbot.waitUntil(lambda: isinstance(app.prefs.dialog, WelcomeDialog), timeout=3000)
        dlg = app.prefs.dialog
        dlg.ae.setText("FIRSTRUN")
        assert dlg.demo.isEnabled() and dlg.demo.isChecked()  # offered, and on by default
        dlg.demo.setChecked(False)
        ok = dlg.buttons.button(dlg.buttons.StandardButton.Ok)
        qtbot.waitUntil(ok.isEnabled, timeout=5000)
        with qtbot.waitSignal(app.prefs.applied, timeout=5000):
            dlg.accept() if accept else dlg.reject()
        assert paths.settings_file.exists()  # so it is not shown again
        want = "FIRSTRUN" if accept else "PACSADMIN"
        assert load_settings(paths.settings_file).local_ae_title == want
    finally:
        app.window.close()
        assert app.shutdown()


def test_the_welcome_starts_the_demo_pacs_once_the_settings_are_saved(qtbot, tmp_path, monkeypatch):
    from pacsadmin.core.paths import AppPaths
    from pacsadmin.gui.app import PacsAdminApp
    from tests.peers import free_port

    monkeypatch.setenv("PACSADMIN_HOME", str(tmp_path / "home"))
    paths = AppPaths.resolve().ensure()
    app = PacsAdminApp(paths, first_run=True)
    app.errors.dialogs_enabled = False
    qtbot.addWidget(app.window)
    app.demo.process.port = free_port()
    try:
        qtbot.waitUntil(lambda: isinstance(app.prefs.dialog, WelcomeDialog), timeout=3000)
        dlg = app.prefs.dialog
        ok = dlg.buttons.button(dlg.buttons.StandardButton.Ok)
        qtbot.waitUntil(ok.isEnabled, timeout=5000)
        with qtbot.waitSignal(app.demo.process.listening, timeout=120_000):
            dlg.accept()
        assert paths.settings_file.exists()
        qtbot.waitUntil(
            lambda: "Demo PACS" in [n.name for n in app.node_model.nodes()], timeout=30_000
        )
    finally:
        app.window.close()
        assert app.shutdown()
