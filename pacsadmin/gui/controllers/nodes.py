"""Node directory actions: add, edit, duplicate, delete, import, export, and keeping the
node browser in step with ``nodes.json`` when another process changes it.

The rules of a change (the stored passphrase follows a rename, a delete removes it, every
change is audited) are the core's :class:`~pacsadmin.core.node_service.NodeService`,
which the CLI uses too.  Its work (file lock, keyring, SQLite) runs on the priority lane,
never on the GUI thread, and not on the io lane either: that is the archive's one writer,
busy for minutes during an import.  The GUI thread only shows the outcome.  Dialogs open
with ``open()`` (never a nested event loop).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.echo import audit_echo, echo
from pacsadmin.core.dimse.echo_result import EchoSeries
from pacsadmin.core.errors import PacsAdminError
from pacsadmin.core.fileio import atomic_write_text
from pacsadmin.core.jobs import JobContext, JobFinished, JobRunner
from pacsadmin.core.node_exchange import export_csv, export_json, format_for_path
from pacsadmin.core.node_service import NodeService, passphrase_for
from pacsadmin.core.nodes import DicomNode, NodeDirectory
from pacsadmin.core.secrets import SecretStore
from pacsadmin.gui.controllers.echo import status_from_series
from pacsadmin.gui.dialogs.confirm import ask
from pacsadmin.gui.dialogs.node_dialog import NodeDialog
from pacsadmin.gui.errors import ErrorPresenter
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.models.node_model import NodeTableModel
from pacsadmin.gui.widgets.doctor_panel import DoctorPanel
from pacsadmin.gui.widgets.node_browser import NodeBrowser

# how often the window asks whether nodes.json changed (a stat, in a background job)
LANE = "priority"  # quick jobs; see the module's docstring
FILE_CHECK_MS = 2000


class NodeActions(QObject):
    audited = Signal()  # a node change or a Test went into the audit log

    def __init__(
        self,
        *,
        nodes: NodeDirectory,
        secrets: SecretStore,
        audit: AuditLog,
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
        self.nodes, self.secrets, self.audit, self.local = nodes, secrets, audit, local
        self.service = NodeService(nodes, secrets, audit, via="gui")
        self.runner, self.bridge = runner, bridge
        self.model, self.browser, self.doctor_panel = model, browser, doctor_panel
        self.errors, self.parent_widget = errors, parent_widget
        self.dialog: NodeDialog | None = None
        # asks yes/no; tests replace it (a modal box would wait for a click offscreen)
        self.confirm: Callable[[str, str], bool] = self.ask
        self._closed = False
        self._checking = False
        self._problem_shown = ""
        self._file_timer = QTimer(self)
        self._file_timer.setInterval(FILE_CHECK_MS)
        self._file_timer.timeout.connect(self.check_file)
        self._file_timer.start()
        parent_widget.installEventFilter(self)  # and when the window comes to the front

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.WindowActivate:
            self.check_file()
        return False

    def close(self) -> None:
        self._closed = True
        self._file_timer.stop()

    # ------------------------------------------------------------------ the browser
    def reload(self) -> None:
        """Show the directory as this process holds it (memory only, no file access)."""
        selected = [n.name for n in self.browser.selected_nodes()]
        nodes = self.nodes.list()
        self.model.set_nodes(nodes)
        self.doctor_panel.set_node_names([n.name for n in nodes])
        for name in selected[:1]:
            self.browser.select_node(name)
        self._show_problem()

    def _show_problem(self) -> None:
        """Say once that nodes.json is damaged (and once that it is readable again)."""
        problem = str(self.nodes.problem or "")
        if problem == self._problem_shown:
            return
        if problem:
            self.errors.present(problem, user_action=True)
        else:
            self.errors.info(f"The node directory {self.nodes.path} is readable again.")
        self._problem_shown = problem

    @Slot()
    def check_file(self) -> None:
        """Ask in the background whether another process changed nodes.json (the CLI, a
        second window); the browser follows when it did."""
        if self._checking or self._closed:
            return
        self._checking = True
        nodes = self.nodes
        self.bridge.submit(
            lambda ctx: nodes.reload_if_changed(),
            name="Nodes: check nodes.json",
            lane=LANE,
            quiet=True,
            on_done=self._on_file_checked,
        )

    def _on_file_checked(self, ev: JobFinished) -> None:
        self._checking = False
        if self._closed:
            return
        if ev.result is True:
            self.reload()
        elif ev.error:
            self.errors.present(f"Cannot check the node directory: {ev.error}")

    def ask(self, title: str, text: str) -> bool:
        return ask(self.parent_widget, title, text)

    def _run(
        self, fn: Callable[[JobContext], Any], name: str, on_done: Callable[[JobFinished], None]
    ) -> None:
        """A node change in the background (file lock, keyring, SQLite)."""
        self.bridge.submit(fn, name=name, lane=LANE, quiet=True, on_done=on_done)

    # ------------------------------------------------------------------ the dialog
    def open_dialog(self, node: DicomNode | None, mode: str) -> NodeDialog:
        """mode: add / edit / duplicate.  Non-blocking (``open()``)."""
        old_name = node.name if (node is not None and mode == "edit") else None
        service = self.service  # worker code gets no QObject

        def save(new: DicomNode, passphrase: str | None) -> str | None:
            if old_name is None:
                saved = service.add(new, passphrase)
            else:
                saved = service.update(old_name, new, passphrase)
            return saved.secret_problem

        local, secrets, audit = self.local, self.secrets, self.audit

        def test(n: DicomNode, passphrase: str | None, ctx: JobContext) -> EchoSeries:
            """A Test is an echo like any other: audited, and the node's light."""
            pw = passphrase_for(secrets, n, typed=passphrase, stored_as=old_name)
            series = echo(local, n, passphrase=pw, ctx=ctx)
            audit_echo(audit, series, "echo")
            return series

        title = {"add": "Add node", "edit": "Edit node", "duplicate": "Duplicate node"}[mode]
        dlg = NodeDialog(
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
        dlg.tested.connect(self._on_dialog_tested)
        self.dialog = dlg
        dlg.open()
        return dlg

    def _keep_test(self, node: DicomNode, series: EchoSeries) -> None:
        """The light of a directory node that was tested exactly as it is saved."""
        if series.results and self.nodes.find(node.name) == node:
            self.model.set_status(node.name, status_from_series(series, time.time()))

    @Slot(object, object)
    def _on_dialog_tested(self, node: DicomNode, series: EchoSeries) -> None:
        self._keep_test(node, series)
        self.audited.emit()

    @Slot()
    def _on_dialog_accepted(self) -> None:
        dlg = self.dialog
        self.reload()
        if dlg is None or dlg.saved_node is None:
            return
        self.audited.emit()
        self.browser.select_node(dlg.saved_node.name)
        if dlg.last_test is not None:  # tested, then saved as tested: keep it as its echo
            self._keep_test(*dlg.last_test)
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

    # ------------------------------------------------------------------ delete
    @Slot()
    def delete(self) -> None:
        nodes = self.browser.selected_nodes()
        if not nodes:
            return
        names = ", ".join(n.name for n in nodes[:5]) + (" ..." if len(nodes) > 5 else "")
        if not self.confirm("Delete nodes", f"Delete {len(nodes)} node(s)?\n\n{names}"):
            return
        service = self.service

        def remove(ctx: JobContext) -> int:
            for n in nodes:
                service.remove(n.name)
            return len(nodes)

        def done(ev: JobFinished) -> None:
            self.reload()
            self.audited.emit()
            if ev.error:
                self.errors.present(f"Cannot delete: {ev.error}", user_action=True)
            else:
                self.errors.info(f"Deleted {len(nodes)} node(s): {names}")

        self._run(remove, "Nodes: delete", done)

    # ------------------------------------------------------------------ import / export
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
        service = self.service

        def run(ctx: JobContext) -> Any:
            try:
                fmt = format_for_path(path)
                text = Path(path).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise PacsAdminError(str(exc)) from exc
            return service.import_text(
                text, fmt, replace_existing=replace_existing, source=Path(path).name
            )

        def done(ev: JobFinished) -> None:
            if ev.error or ev.result is None:
                self.errors.present(f"Cannot import {path}: {ev.error}", user_action=True)
                return
            report = ev.result
            self.reload()
            self.audited.emit()
            msg = (
                f"Imported from {Path(path).name}: {len(report.added)} added, "
                f"{len(report.replaced)} replaced, {len(report.skipped)} skipped "
                f"(name exists), {len(report.errors)} error(s)."
            )
            if report.errors:
                self.errors.present(msg, "\n".join(report.errors), user_action=True)
            else:
                self.errors.info(msg)

        self._run(run, f"Nodes: import {Path(path).name}", done)

    @Slot()
    def export_with_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.parent_widget, "Export nodes", "nodes.json", "JSON (*.json);;CSV (*.csv)"
        )
        if path:
            self.export_nodes(path)

    def export_nodes(self, path: str) -> None:
        selected = self.browser.selected_nodes()
        nodes = selected if len(selected) > 1 else self.nodes.list()

        def run(ctx: JobContext) -> int:
            fmt = format_for_path(path)
            text = export_json(nodes) if fmt == "json" else export_csv(nodes)
            try:
                atomic_write_text(Path(path), text, mode=0o600)
            except OSError as exc:
                raise PacsAdminError(str(exc)) from exc
            return len(nodes)

        def done(ev: JobFinished) -> None:
            if ev.error:
                self.errors.present(f"Cannot export to {path}: {ev.error}", user_action=True)
            else:
                self.errors.info(f"Exported {ev.result} node(s) to {path}.")

        self._run(run, "Nodes: export", done)
