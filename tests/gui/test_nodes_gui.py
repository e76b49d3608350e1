"""The node dialog and the node browser, against a real DCMTK storescp."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from pacsadmin.core.nodes import DicomNode
from pacsadmin.gui.models.node_model import COL_STATUS
from pacsadmin.gui.widgets.lights import Light, light_icon

WAIT = 30_000  # ms: generous, other test runs share the two cores


def fill(dlg, **values: str) -> None:
    widgets = {
        "name": dlg.name_edit,
        "ae_title": dlg.ae_edit,
        "host": dlg.host_edit,
        "port": dlg.port_edit,
        "tags": dlg.tags_edit,
        "calling_ae_title": dlg.calling_edit,
    }
    for key, value in values.items():
        if key == "site":
            dlg.site_combo.setEditText(value)
        else:
            widgets[key].setText(value)
            widgets[key].textEdited.emit(value)


def status_icon_key(app, name: str) -> int:
    row = app.node_model.row_of(name)
    icon = app.node_model.index(row, COL_STATUS).data(Qt.ItemDataRole.DecorationRole)
    return icon.cacheKey()


def test_add_node_through_dialog_then_echo_turns_light_green(qtbot, pacs_app, storescp):
    app = pacs_app
    dlg = app.node_actions.open_dialog(None, "add")
    fill(
        dlg,
        name="Main PACS",
        ae_title=storescp.aet,
        host="127.0.0.1",
        port=str(storescp.port),
        site="Hospital A",
        tags="radiology, research",
    )
    with qtbot.waitSignal(dlg.accepted, timeout=WAIT):
        dlg.ok_button.click()
    node = app.nodes.get("Main PACS")
    assert node.port == storescp.port and node.site == "Hospital A"
    assert node.tags == ("radiology", "research")
    saved = json.loads(app.paths.nodes_file.read_text())
    assert [n["name"] for n in saved["nodes"]] == ["Main PACS"]
    assert app.node_model.rowCount() == 1
    assert app.node_browser.current_node().name == "Main PACS"  # selected after saving
    assert status_icon_key(app, "Main PACS") == light_icon(Light.UNKNOWN).cacheKey()

    app.act_echo.trigger()
    qtbot.waitUntil(lambda: app.node_model.status("Main PACS").ok is not None, timeout=WAIT)
    st = app.node_model.status("Main PACS")
    assert st.ok is True, st.summary
    assert st.latency_ms is not None and st.latency_ms > 0
    assert status_icon_key(app, "Main PACS") == light_icon(Light.OK).cacheKey()
    cell = app.node_model.index(app.node_model.row_of("Main PACS"), COL_STATUS).data()
    assert "ms" in cell and "just now" in cell
    # the doctor panel shows the run with its transcript
    qtbot.waitUntil(lambda: app.doctor_panel.result is not None, timeout=WAIT)
    transcript = app.doctor_panel.transcript_view.toPlainText()
    for expected in ("A-ASSOCIATE-RQ", "A-ASSOCIATE-AC", "C-ECHO-RQ", "C-ECHO-RSP", "A-RELEASE"):
        assert expected in transcript
    assert app.doctor_panel.steps_table.rowCount() == 6
    assert "succeeded" in app.doctor_panel.summary_label.text()
    # the audit log has it, and the audit view shows it
    entries = app.audit.entries(action="echo")
    assert entries and entries[0].node == "Main PACS" and entries[0].outcome == "success"
    qtbot.waitUntil(lambda: app.audit_model.rowCount() >= 1, timeout=WAIT)


def test_bad_input_is_refused_next_to_the_field_and_nothing_saved(qtbot, pacs_app):
    app = pacs_app
    dlg = app.node_actions.open_dialog(None, "add")
    fill(dlg, name="Bad", ae_title="A" * 17, host="127.0.0.1", port="70000")
    # live: both messages already shown while typing
    assert "17 characters" in dlg.errors["ae_title"].text()
    assert "between 1 and 65535" in dlg.errors["port"].text()
    dlg.ok_button.click()
    qtbot.wait(50)
    assert dlg.isVisible(), "the dialog must stay open"
    assert dlg.errors["port"].isVisible()
    assert dlg.errors["port"].textFormat() == Qt.TextFormat.PlainText
    # next to the field: the message sits in the same cell of the form as its input
    assert dlg.errors["port"].parent() is dlg.port_edit.parent()
    assert dlg.errors["ae_title"].parent() is dlg.ae_edit.parent()

    fill(dlg, ae_title="GOOD_AE")  # fix one: the other is still refused
    assert not dlg.errors["ae_title"].text()
    dlg.ok_button.click()
    qtbot.wait(50)
    assert dlg.isVisible()
    assert "70000" in dlg.errors["port"].text()
    assert len(app.nodes) == 0
    assert not app.paths.nodes_file.exists()
    assert app.node_model.rowCount() == 0

    fill(dlg, port="104")
    with qtbot.waitSignal(dlg.accepted, timeout=WAIT):
        dlg.ok_button.click()
    assert app.nodes.get("Bad").port == 104


def test_duplicate_name_is_shown_under_the_name(qtbot, pacs_app):
    app = pacs_app
    app.nodes.add(DicomNode("PACS", "AE1", "127.0.0.1", 104))
    app.node_actions.reload()
    dlg = app.node_actions.open_dialog(None, "add")
    fill(dlg, name="pacs", ae_title="AE2", host="127.0.0.1", port="105")
    dlg.ok_button.click()  # saved in the background: the answer comes back
    qtbot.waitUntil(lambda: "already exists" in dlg.errors["name"].text(), timeout=WAIT)
    assert dlg.isVisible() and dlg.ok_button.isEnabled()
    assert app.nodes.get("PACS").ae_title == "AE1"


def test_test_button_echoes_the_unsaved_node_in_the_background(
    qtbot, pacs_app, storescp, silent_listener
):
    app = pacs_app
    dlg = app.node_actions.open_dialog(None, "add")
    fill(dlg, name="Hung", ae_title="HUNG", host="127.0.0.1", port=str(silent_listener.port))
    dlg.timeout_edits["acse"].setText("1.5")
    dlg.test_button.click()  # returns at once: the echo runs in the runner
    assert not dlg.test_button.isEnabled()
    assert "Testing" in dlg.test_result_text()
    qtbot.waitUntil(lambda: dlg.test_button.isEnabled(), timeout=WAIT)
    assert "A-ASSOCIATE failed" in dlg.test_result_text()
    assert "1.5 s" in dlg.test_result_text()

    fill(dlg, ae_title=storescp.aet, port=str(storescp.port))
    dlg.test_button.click()
    qtbot.waitUntil(lambda: dlg.test_button.isEnabled(), timeout=WAIT)
    assert "succeeded" in dlg.test_result_text()
    assert len(app.nodes) == 0  # testing never saves
    dlg.reject()


def test_edit_duplicate_delete(qtbot, pacs_app):
    app = pacs_app
    app.nodes.add(DicomNode("PACS", "AE1", "127.0.0.1", 104, site="A"))
    app.node_actions.reload()
    app.node_browser.select_node("PACS")
    app.act_duplicate.trigger()
    dlg = app.node_actions.dialog
    assert dlg.name_edit.text() == "PACS (copy)"
    with qtbot.waitSignal(dlg.accepted, timeout=WAIT):
        dlg.ok_button.click()
    assert {n.name for n in app.nodes.list()} == {"PACS", "PACS (copy)"}

    app.node_browser.select_node("PACS")
    app.act_edit.trigger()
    dlg = app.node_actions.dialog
    fill(dlg, ae_title="NEWAE")
    with qtbot.waitSignal(dlg.accepted, timeout=WAIT):
        dlg.ok_button.click()
    assert app.nodes.get("PACS").ae_title == "NEWAE"

    app.node_browser.select_node("PACS (copy)")
    app.act_delete.trigger()  # confirm() answers yes in tests; removed in the background
    qtbot.waitUntil(lambda: app.node_model.rowCount() == 1, timeout=WAIT)
    assert [n.name for n in app.nodes.list()] == ["PACS"]


def test_filter_and_grouping_by_site(qtbot, pacs_app):
    app = pacs_app
    for name, site in (("b-node", "Zeta"), ("a-node", "Alpha"), ("c-node", "Alpha")):
        app.nodes.add(DicomNode(name, "AE", "127.0.0.1", 104, site=site))
    app.node_actions.reload()
    proxy = app.node_browser.proxy

    def names() -> list[str]:
        return [proxy.index(r, 1).data() for r in range(proxy.rowCount())]

    app.node_browser.view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    assert names() == ["c-node", "a-node", "b-node"]  # sites stay grouped, A before Z
    app.node_browser.filter_edit.setText("zeta")
    assert names() == ["b-node"]
    app.node_browser.filter_edit.setText("")
    app.node_browser.group_check.setChecked(False)
    assert names() == ["c-node", "b-node", "a-node"]


def test_import_export_json_and_csv(qtbot, pacs_app, tmp_path):
    app = pacs_app
    app.nodes.add(DicomNode("One", "AE1", "127.0.0.1", 104, site="S"))
    app.nodes.add(DicomNode("Two", "AE2", "127.0.0.2", 105))
    app.node_actions.reload()
    for ext in ("json", "csv"):
        path = tmp_path / f"nodes.{ext}"
        app.node_actions.export_nodes(str(path))  # written in the background
        qtbot.waitUntil(lambda p=path: p.exists(), timeout=WAIT)
        assert "AE2" in path.read_text()
    app.nodes.remove("One")
    app.nodes.remove("Two")
    app.node_actions.reload()
    app.node_actions.import_nodes(str(tmp_path / "nodes.csv"))
    qtbot.waitUntil(lambda: app.node_model.rowCount() == 2, timeout=WAIT)
    assert {n.name for n in app.nodes.list()} == {"One", "Two"}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    app.node_actions.import_nodes(str(bad))
    qtbot.waitUntil(lambda: any("bad.json" in p[0] for p in app.errors.presented), timeout=WAIT)
    assert "not valid JSON" in app.errors.presented[-1][0]
    assert app.errors.presented[-1][2] is True  # a user action that failed: a dialog


def test_passphrase_not_stored_says_why(qtbot, pacs_app):
    from pacsadmin.core.errors import SecretStoreUnavailable

    class NoKeyring:
        def get(self, key):
            raise SecretStoreUnavailable("no keyring")

        def set(self, key, value):
            raise SecretStoreUnavailable("No secure OS keyring is available (test)")

        def delete(self, key):
            raise SecretStoreUnavailable("no keyring")

        def describe(self):
            return "none"

    app = pacs_app
    app.secrets.backend = NoKeyring()
    dlg = app.node_actions.open_dialog(None, "add")
    fill(dlg, name="TLS node", ae_title="TLSAE", host="127.0.0.1", port="2762")
    dlg.tls_check.setChecked(True)
    dlg.cert_edit.setText("/tmp/cert.pem")
    dlg.key_edit.setText("/tmp/key.pem")
    dlg.pass_edit.setText("s3cret-passphrase")
    dlg.ok_button.click()
    qtbot.waitUntil(lambda: dlg.saved_label.isVisible(), timeout=WAIT)
    assert dlg.isVisible()  # stays open to say it clearly
    assert "not stored: No secure OS keyring" in dlg.saved_label.text()
    assert app.nodes.get("TLS node").tls.enabled
    assert "s3cret" not in app.paths.nodes_file.read_text()
    with qtbot.waitSignal(dlg.accepted, timeout=WAIT):
        dlg.ok_button.click()
    assert any("not stored" in p[0] for p in app.errors.presented)


@pytest.mark.parametrize("evil", ["<b>bold</b>", "<img src=x>", "<script>x</script>"])
def test_peer_and_file_text_is_plain(qtbot, pacs_app, evil):
    from pacsadmin.gui.models.node_model import COL_NAME

    app = pacs_app
    app.nodes.add(DicomNode("n" + evil, "AE", "127.0.0.1", 104, description=evil))
    app.node_actions.reload()
    tip = app.node_model.index(0, COL_NAME).data(Qt.ItemDataRole.ToolTipRole)
    assert "&lt;" in tip and evil not in tip  # escaped: shown literally
    app.doctor_panel._set_banner(Light.FAILED, evil, evil, "")
    assert app.doctor_panel.summary_label.textFormat() == Qt.TextFormat.PlainText
    assert app.doctor_panel.summary_label.text() == evil
