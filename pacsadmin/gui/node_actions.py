"""Node directory actions: add, edit, duplicate, delete, import, export.

The composition root connects the window's actions to these slots; dialogs open with
``open()`` (never a nested event loop) and save through the core's NodeDirectory and
SecretStore.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.echo import diagnose
from pacsadmin.core.errors import PacsAdminError
from pacsadmin.core.jobs import JobContext, JobRunner
from pacsadmin.core.nodes import DicomNode, NodeDirectory, format_for_path
from pacsadmin.core.secrets import SecretStore, tls_passphrase_key
from pacsadmin.gui.dialogs.confirm import ask
from pacsadmin.gui.dialogs.node_dialog import NodeDialog
from pacsadmin.gui.errors import ErrorPresenter
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.models.node_model import NodeTableModel
from pacsadmin.gui.widgets.doctor_panel import DoctorPanel
from pacsadmin.gui.widgets.node_browser import NodeBrowser


class NodeActions(QObject):
    def __init__(
        self,
        *,
        nodes: NodeDirectory,
        secrets: SecretStore,
        local: LocalAE,
        runner: JobRunner,
        bridge: JobBridge,
        model: NodeTableModel,
        browser: NodeBrowser,
        doctor_panel: DoctorPanel,
        errors: ErrorPresenter,
        parent_widget: QWidget,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.nodes, self.secrets, self.local = nodes, secrets, local
        self.runner, self.bridge = runner, bridge
        self.model, self.browser, self.doctor_panel = model, browser, doctor_panel
        self.errors, self.parent_widget = errors, parent_widget
        self.dialog: NodeDialog | None = None
        # asks yes/no; tests replace it (a modal box would wait for a click offscreen)
        self.confirm: Callable[[str, str], bool] = self.ask

    def reload(self) -> None:
        nodes = self.nodes.list()
        self.model.set_nodes(nodes)
        self.doctor_panel.set_node_names([n.name for n in nodes])

    def ask(self, title: str, text: str) -> bool:
        return ask(self.parent_widget, title, text)

    def open_dialog(self, node: DicomNode | None, mode: str) -> NodeDialog:
        """mode: add / edit / duplicate.  Non-blocking (``open()``)."""
        old_name = node.name if (node is not None and mode == "edit") else None

        def save(new: DicomNode, passphrase: str | None) -> str | None:
            if old_name is None:
                self.nodes.add(new)
            else:
                self.nodes.update(old_name, new)
            reason = None
            if passphrase:
                reason = self.secrets.set(tls_passphrase_key(new.name), passphrase)
            elif old_name and old_name.casefold() != new.name.casefold():
                kept = self.secrets.get(tls_passphrase_key(old_name))
                if kept:
                    reason = self.secrets.set(tls_passphrase_key(new.name), kept)
                    self.secrets.delete(tls_passphrase_key(old_name))
            return reason

        local, secrets = self.local, self.secrets  # worker code gets no QObject

        def test(n: DicomNode, passphrase: str | None, ctx: JobContext) -> Any:
            if passphrase is None and old_name and n.tls.client_key:
                passphrase = secrets.get(tls_passphrase_key(old_name))
            return diagnose(local, n, mode="echo", passphrase=passphrase, ctx=ctx)

        title = {"add": "Add node", "edit": "Edit node", "duplicate": "Duplicate node"}[mode]
        dlg = NodeDialog(
            runner=self.runner,
            bridge=self.bridge,
            test_fn=test,
            save_fn=save,
            node=node,
            title=title,
            sites=[n.site for n in self.nodes.list()],
            keyring_name=self.secrets.backend.describe(),
            parent=self.parent_widget,
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(self._on_dialog_accepted)
        self.dialog = dlg
        dlg.open()
        return dlg

    @Slot()
    def _on_dialog_accepted(self) -> None:
        dlg = self.dialog
        self.reload()
        if dlg is not None and dlg.saved_node is not None:
            self.browser.select_node(dlg.saved_node.name)
            self.errors.info(f"Saved node {dlg.saved_node.name} ({dlg.saved_node.address}).")
            if dlg.secret_warning:
                self.errors.present(f"Key passphrase not stored: {dlg.secret_warning}")

    @Slot()
    def add(self) -> None:
        self.open_dialog(None, "add")

    @Slot()
    def edit(self) -> None:
        node = self.browser.current_node()
        if node is not None:
            self.open_dialog(node, "edit")

    @Slot()
    def duplicate(self) -> None:
        node = self.browser.current_node()
        if node is not None:
            self.open_dialog(replace(node, name=self.nodes.unique_name(node.name)), "duplicate")

    @Slot()
    def delete(self) -> None:
        nodes = self.browser.selected_nodes()
        if not nodes:
            return
        names = ", ".join(n.name for n in nodes[:5]) + (" ..." if len(nodes) > 5 else "")
        if not self.confirm("Delete nodes", f"Delete {len(nodes)} node(s)?\n\n{names}"):
            return
        for n in nodes:
            self.nodes.remove(n.name)
            self.secrets.delete(tls_passphrase_key(n.name))
        self.reload()
        self.errors.info(f"Deleted {len(nodes)} node(s): {names}")

    @Slot()
    def import_with_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.parent_widget,
            "Import nodes",
            "",
            "Node lists (*.json *.csv);;JSON (*.json);;CSV (*.csv)",
        )
        if path:
            self.import_nodes(path)

    def import_nodes(self, path: str, *, replace_existing: bool = False) -> None:
        try:
            fmt = format_for_path(path)
            text = Path(path).read_text(encoding="utf-8-sig")
            report = self.nodes.import_text(text, fmt, replace_existing=replace_existing)
        except (PacsAdminError, OSError, UnicodeDecodeError) as exc:
            self.errors.present(f"Cannot import {path}: {exc}", user_action=True)
            return
        self.reload()
        msg = (
            f"Imported from {Path(path).name}: {len(report.added)} added, "
            f"{len(report.replaced)} replaced, {len(report.skipped)} skipped (name exists), "
            f"{len(report.errors)} error(s)."
        )
        if report.errors:
            self.errors.present(msg, "\n".join(report.errors), user_action=True)
        else:
            self.errors.info(msg)

    @Slot()
    def export_with_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.parent_widget, "Export nodes", "nodes.json", "JSON (*.json);;CSV (*.csv)"
        )
        if path:
            self.export_nodes(path)

    def export_nodes(self, path: str) -> None:
        from pacsadmin.core.fileio import atomic_write_text

        selected = self.browser.selected_nodes()
        nodes = selected if len(selected) > 1 else None
        try:
            fmt = format_for_path(path)
            text = self.nodes.export_json(nodes) if fmt == "json" else self.nodes.export_csv(nodes)
            atomic_write_text(Path(path), text, mode=0o600)
        except (PacsAdminError, OSError) as exc:
            self.errors.present(f"Cannot export to {path}: {exc}", user_action=True)
            return
        count = len(nodes) if nodes else len(self.nodes)
        self.errors.info(f"Exported {count} node(s) to {path}.")
