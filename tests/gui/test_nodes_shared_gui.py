"""The window's node directory: shared with other processes, damaged files shown and left
alone, changes audited with their secrets moved, and a node dialog's Test kept as the
node's last echo (against a real DCMTK storescp)."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from pacsadmin.core.nodes import DicomNode
from pacsadmin.core.secrets import tls_passphrase_key
from pacsadmin.gui.models.node_model import COL_STATUS, NodeStatus
from pacsadmin.gui.widgets.lights import Light, light_icon
from tests.gui.conftest import closed_port
from tests.gui.test_nodes_gui import WAIT, fill
from tests.peers import app_cli

DAMAGED = b'{\n  "schema_version": 1,\n  "nodes": [\n    {"name": "A",, "ae_title": "A"}\n  ]\n}\n'


def light_of(app, name: str) -> int:
    row = app.node_model.row_of(name)
    icon = app.node_model.index(row, COL_STATUS).data(Qt.ItemDataRole.DecorationRole)
    return icon.cacheKey()


def test_a_test_in_the_dialog_is_audited_and_kept_as_the_nodes_last_echo(qtbot, pacs_app, storescp):
    app = pacs_app
    # a new node: Test, then Save as tested -> its light is the Test's answer
    dlg = app.node_actions.open_dialog(None, "add")
    fill(dlg, name="Main", ae_title=storescp.aet, host="127.0.0.1", port=str(storescp.port))
    dlg.test_button.click()
    qtbot.waitUntil(lambda: dlg.test_button.isEnabled(), timeout=WAIT)
    assert "succeeded" in dlg.test_result_text()
    audited = app.audit.entries(action="echo")
    assert [(e.node, e.outcome) for e in audited] == [("Main", "success")]
    assert audited[0].target == f"{storescp.aet}@127.0.0.1:{storescp.port}"
    with qtbot.waitSignal(dlg.accepted, timeout=WAIT):
        dlg.ok_button.click()
    st = app.node_model.status("Main")
    assert st.ok is True and st.latency_ms is not None, st
    assert light_of(app, "Main") == light_icon(Light.OK).cacheKey()
    # the audit view shows the Test and the add
    qtbot.waitUntil(lambda: app.audit_model.rowCount() >= 2, timeout=WAIT)

    # editing: a Test of the node as saved sets its light at once ...
    app.node_model.set_status("Main", NodeStatus(None))
    app.node_browser.select_node("Main")
    app.act_edit.trigger()
    dlg = app.node_actions.dialog
    dlg.test_button.click()
    qtbot.waitUntil(lambda: app.node_model.status("Main").ok is True, timeout=WAIT)
    # ... a Test of settings not saved is audited but leaves the light alone
    fill(dlg, port=str(closed_port()))
    dlg.test_button.click()
    qtbot.waitUntil(lambda: dlg.test_button.isEnabled(), timeout=WAIT)
    assert "succeeded" not in dlg.test_result_text()
    assert app.node_model.status("Main").ok is True
    assert [e.outcome for e in app.audit.entries(action="echo")] == [
        "failure",
        "success",
        "success",
    ]
    dlg.reject()


def test_gui_changes_are_audited_and_the_passphrase_follows_the_node(
    qtbot, pacs_app, memory_keyring, tmp_path
):
    app = pacs_app
    dlg = app.node_actions.open_dialog(None, "add")
    fill(dlg, name="T", ae_title="TLSAE", host="127.0.0.1", port="2762")
    dlg.tls_check.setChecked(True)
    dlg.cert_edit.setText("/tmp/cert.pem")
    dlg.key_edit.setText("/tmp/key.pem")
    dlg.pass_edit.setText("pass-CANARY")
    with qtbot.waitSignal(dlg.accepted, timeout=WAIT):
        dlg.ok_button.click()
    assert memory_keyring.store == {("pacsadmin", tls_passphrase_key("T")): "pass-CANARY"}

    app.node_browser.select_node("T")
    app.act_edit.trigger()
    dlg = app.node_actions.dialog
    fill(dlg, name="T2")
    with qtbot.waitSignal(dlg.accepted, timeout=WAIT):
        dlg.ok_button.click()
    assert memory_keyring.store == {("pacsadmin", tls_passphrase_key("T2")): "pass-CANARY"}

    app.node_browser.select_node("T2")
    app.act_delete.trigger()
    qtbot.waitUntil(lambda: app.node_model.rowCount() == 0, timeout=WAIT)
    assert memory_keyring.store == {}

    f = tmp_path / "list.csv"
    f.write_text("name,ae_title,host,port\nI1,AE,127.0.0.1,104\n")
    app.node_actions.import_nodes(str(f))
    qtbot.waitUntil(lambda: app.node_model.rowCount() == 1, timeout=WAIT)

    entries = list(reversed(app.audit.entries()))
    assert [(e.action, e.node) for e in entries] == [
        ("node-add", "T"),
        ("node-edit", "T2"),
        ("node-remove", "T2"),
        ("node-import", None),
    ]
    assert all(e.details["via"] == "gui" for e in entries)
    assert entries[1].details["renamed_from"] == "T"
    assert entries[3].details["added"] == ["I1"]
    assert "pass-CANARY" not in json.dumps([e.to_json() for e in entries])
    qtbot.waitUntil(lambda: app.audit_model.rowCount() == 4, timeout=WAIT)


def test_the_browser_follows_the_cli_and_the_windows_save_keeps_its_node(qtbot, pacs_app):
    app = pacs_app
    app.nodes.add(DicomNode("Win", "W", "127.0.0.1", 104))
    app.node_actions.reload()
    done = app_cli(app.paths.home, "nodes", "add", "Cli", "--ae", "C", "--host", "h", "--port", "5")
    assert done.returncode == 0, done.stderr
    # the 2 s background check finds it without being asked
    qtbot.waitUntil(lambda: app.node_model.row_of("Cli") >= 0, timeout=WAIT)
    done = app_cli(
        app.paths.home, "nodes", "add", "Cli2", "--ae", "C", "--host", "h", "--port", "6"
    )
    assert done.returncode == 0, done.stderr
    # the window saves before its next check: the CLI's node survives
    dlg = app.node_actions.open_dialog(None, "add")
    fill(dlg, name="Win2", ae_title="W2", host="127.0.0.1", port="105")
    with qtbot.waitSignal(dlg.accepted, timeout=WAIT):
        dlg.ok_button.click()
    saved = json.loads(app.paths.nodes_file.read_text())
    assert {n["name"] for n in saved["nodes"]} == {"Win", "Cli", "Cli2", "Win2"}
    assert app.node_model.rowCount() == 4


def test_a_damaged_nodes_file_is_shown_at_start_and_never_overwritten(qtbot, pacs_home):
    from pacsadmin.core.paths import AppPaths
    from pacsadmin.gui.app import PacsAdminApp

    paths = AppPaths.resolve().ensure()
    paths.nodes_file.write_bytes(DAMAGED)
    app = PacsAdminApp(paths)
    try:
        app.errors.dialogs_enabled = False
        app.node_actions.confirm = lambda title, text: True
        qtbot.addWidget(app.window)
        app.window.show()
        shown = [p for p in app.errors.presented if "damaged" in p[0]]
        assert len(shown) == 1 and "line 4, column 18" in shown[0][0]
        assert shown[0][2] is True  # a message box, not only the status bar
        assert app.node_model.rowCount() == 0

        dlg = app.node_actions.open_dialog(None, "add")
        fill(dlg, name="New", ae_title="N", host="127.0.0.1", port="104")
        dlg.ok_button.click()
        qtbot.waitUntil(lambda: dlg.general_error.isVisible(), timeout=WAIT)
        assert "line 4, column 18" in dlg.general_error.text()
        assert dlg.isVisible()
        assert paths.nodes_file.read_bytes() == DAMAGED
        dlg.reject()

        # fixed in an editor: the window notices, and saving works again
        paths.nodes_file.write_text(
            json.dumps({"nodes": [DicomNode("Fixed", "F", "127.0.0.1", 104).to_json()]})
        )
        qtbot.waitUntil(lambda: app.node_model.row_of("Fixed") >= 0, timeout=WAIT)
        assert app.nodes.problem is None
        app.nodes.add(DicomNode("After", "A", "127.0.0.1", 105))
        assert "After" in paths.nodes_file.read_text()
    finally:
        app.window.close()
        assert app.shutdown()
