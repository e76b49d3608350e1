"""The composition root: builds the core services, the bridge, models and widgets, and
wires every action in plain sight (the shape of Mu's ``app.py``).

Slots are named ``_on_<source>_<signal>``.  Nothing here touches the network on the GUI
thread: echoes run in the :class:`JobRunner`, and their events come back through the one
:class:`JobBridge`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Slot
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from pacsadmin import __version__
from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.echo import EchoSeries, Step, audit_echo, diagnose, echo
from pacsadmin.core.errors import PacsAdminError, ValidationError
from pacsadmin.core.jobs import (
    JobContext,
    JobFinished,
    JobLog,
    JobProgress,
    JobRunner,
    JobStarted,
    JobState,
    JobSubmitted,
)
from pacsadmin.core.logs import setup_logging
from pacsadmin.core.nodes import DicomNode, NodeDirectory, format_for_path, parse_target
from pacsadmin.core.paths import AppPaths
from pacsadmin.core.secrets import SecretStore, tls_passphrase_key
from pacsadmin.core.settings import Settings, load_settings
from pacsadmin.gui.dialogs.node_dialog import NodeDialog
from pacsadmin.gui.errors import ActivityLog, ErrorPresenter
from pacsadmin.gui.gc_guard import GuiGarbageCollector
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.main_window import MainWindow
from pacsadmin.gui.models.audit_model import AuditModel
from pacsadmin.gui.models.jobs_model import JobsModel
from pacsadmin.gui.models.node_model import NodeStatus, NodeTableModel
from pacsadmin.gui.widgets.audit_view import AuditView
from pacsadmin.gui.widgets.doctor_panel import DoctorPanel
from pacsadmin.gui.widgets.jobs_panel import JobsPanel
from pacsadmin.gui.widgets.node_browser import NodeBrowser

log = logging.getLogger("pacsadmin.gui")


@dataclass(frozen=True)
class _Tracked:
    kind: str  # "echo" (single, shown in the doctor), "echo_all", "doctor"
    node: str | None  # the directory node whose light this job sets


def _status_from_series(series: EchoSeries) -> NodeStatus:
    last = series.results[-1]
    lat = series.latency()
    return NodeStatus(
        ok=series.ok,
        latency_ms=lat["median"] if lat else None,
        when=time.time(),
        summary=last.summary,
    )


def _warm_up_dicom() -> None:
    """Import pynetdicom and load pydicom's UID dictionary now, at start-up, and not in
    the first echo's worker thread, where the big module loads hold the GIL for tens of ms
    at a time and stall the GUI."""
    from pydicom.uid import UID

    from pacsadmin.core.logs import quiet_pynetdicom

    quiet_pynetdicom()  # imports pynetdicom
    import pynetdicom  # noqa: F401

    _ = UID("1.2.840.10008.1.1").name


class PacsAdminApp(QObject):
    """Owns the services and the window for one session."""

    def __init__(
        self,
        paths: AppPaths,
        *,
        secrets: SecretStore | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__()
        # Echo-all runs many worker and pynetdicom threads; with Python's default 5 ms
        # switch interval the GUI thread queued behind them for 30-40 ms at a time
        # (measured); at 1 ms it gets the GIL back quickly.  Throughput is unchanged
        # (NOTES.md: the switch interval has no measurable effect on transfers).
        sys.setswitchinterval(0.001)
        _warm_up_dicom()
        self.paths = paths.ensure()
        startup_problems: list[str] = []
        if settings is None:
            try:
                settings = load_settings(self.paths.settings_file)
            except PacsAdminError as exc:
                startup_problems.append(f"{exc} Using the default settings.")
                settings = Settings()
        self.settings = settings
        self.local = LocalAE.from_settings(settings)
        self.nodes = NodeDirectory(self.paths.nodes_file)  # unreadable: run_gui says so
        self.audit = AuditLog(self.paths.audit_db)
        self.secrets = secrets or SecretStore()
        self.runner = JobRunner(
            workers=settings.worker_count, per_node_limit=settings.per_node_limit
        )
        self.bridge = JobBridge(self)
        self.gc_guard = GuiGarbageCollector(self)
        self.gc_guard.start()
        self.bridge.attach(self.runner)
        self._tracked: dict[int, _Tracked] = {}
        self._doctor_job: int | None = None
        self._closed = False
        self.node_dialog: NodeDialog | None = None
        self.confirm = self._confirm  # tests replace it (no modal box offscreen)

        # ---- models
        self.node_model = NodeTableModel(self)
        self.jobs_model = JobsModel(self)
        self.audit_model = AuditModel(self)

        # ---- window, actions, widgets
        self.window = w = MainWindow(self.paths.home / "gui.ini")
        self.act_add = w.make_action("Add", "add", "Add a node", "Ctrl+N")
        self.act_edit = w.make_action("Edit", "edit", "Edit the selected node", "Ctrl+E")
        self.act_duplicate = w.make_action("Duplicate", "duplicate", "Duplicate the selected node")
        self.act_delete = w.make_action("Delete", "delete", "Delete the selected nodes", "Del")
        self.act_import = w.make_action("Import...", "import", "Import nodes from JSON or CSV")
        self.act_export = w.make_action("Export...", "export", "Export nodes to JSON or CSV")
        self.act_echo = w.make_action("Echo", "echo", "C-ECHO the selected nodes", "Ctrl+Return")
        self.act_doctor = w.make_action(
            "Doctor", "doctor", "Diagnose the selected node step by step", "Ctrl+D"
        )
        self.act_echo_all = w.make_action(
            "Echo all", "echo-all", "C-ECHO every node (concurrent, bounded)", "Ctrl+Shift+Return"
        )
        self.act_quit = w.make_action("Quit", "app", "Quit pacsadmin", "Ctrl+Q")
        node_actions = [
            self.act_add,
            self.act_edit,
            self.act_duplicate,
            self.act_delete,
            None,
            self.act_echo,
            self.act_doctor,
        ]
        self.node_browser = NodeBrowser(self.node_model, [a for a in node_actions if a])
        self.doctor_panel = DoctorPanel()
        self.jobs_panel = JobsPanel(self.jobs_model)
        self.audit_view = AuditView(self.audit_model)
        self.activity = ActivityLog()
        w.build(
            central=self.doctor_panel,
            nodes=self.node_browser,
            jobs=self.jobs_panel,
            activity=self.activity,
            audit=self.audit_view,
            toolbar_actions=[
                self.act_add,
                self.act_edit,
                self.act_duplicate,
                self.act_delete,
                None,
                self.act_import,
                self.act_export,
                None,
                self.act_echo,
                self.act_doctor,
                self.act_echo_all,
            ],
            menus={
                "&File": [self.act_import, self.act_export, None, self.act_quit],
                "&Nodes": [
                    *node_actions,
                    self.act_echo_all,
                ],
            },
        )
        self.errors = ErrorPresenter(w.statusBar(), self.activity, w, self.bridge)
        w.on_close = self.shutdown
        w.local_label.setText(
            f"  Local AE {self.local.ae_title} · SCP port {self.local.port} · "
            f"pacsadmin {__version__}  "
        )

        # ---- wiring: bridge -> models and panels
        self.bridge.jobSubmitted.connect(self._on_bridge_job_submitted)
        self.bridge.jobStarted.connect(self._on_bridge_job_started)
        self.bridge.jobProgress.connect(self._on_bridge_job_progress)
        self.bridge.jobPartials.connect(self._on_bridge_job_partials)
        self.bridge.jobLog.connect(self._on_bridge_job_log)
        self.bridge.jobFinished.connect(self._on_bridge_job_finished)
        # actions
        self.act_add.triggered.connect(self._on_add_triggered)
        self.act_edit.triggered.connect(self._on_edit_triggered)
        self.act_duplicate.triggered.connect(self._on_duplicate_triggered)
        self.act_delete.triggered.connect(self._on_delete_triggered)
        self.act_import.triggered.connect(self._on_import_triggered)
        self.act_export.triggered.connect(self._on_export_triggered)
        self.act_echo.triggered.connect(self._on_echo_triggered)
        self.act_doctor.triggered.connect(self._on_doctor_triggered)
        self.act_echo_all.triggered.connect(self._on_echo_all_triggered)
        self.act_quit.triggered.connect(w.close)
        # widgets
        self.node_browser.nodeActivated.connect(self._on_node_browser_node_activated)
        self.node_browser.selectionChanged.connect(self._on_node_browser_selection_changed)
        self.doctor_panel.runRequested.connect(self._on_doctor_panel_run_requested)
        self.doctor_panel.cancelRequested.connect(self._on_doctor_panel_cancel_requested)
        self.doctor_panel.transcriptExported.connect(self._on_doctor_panel_transcript_exported)
        self.doctor_panel.exportFailed.connect(self._on_doctor_panel_export_failed)
        self.jobs_panel.cancelRequested.connect(self._on_jobs_panel_cancel_requested)
        self.audit_view.refreshRequested.connect(self._on_audit_view_refresh_requested)
        # timers: "3 min ago" moves on; the audit view reloads once per burst of jobs
        self._clock = QTimer(self)
        self._clock.setInterval(30_000)
        self._clock.timeout.connect(self._on_clock_timeout)
        self._clock.start()
        self._audit_timer = QTimer(self)
        self._audit_timer.setSingleShot(True)
        self._audit_timer.setInterval(400)
        self._audit_timer.timeout.connect(self._on_audit_view_refresh_requested)
        self._echo_queue: deque[DicomNode] = deque()
        self._echo_feeder = QTimer(self)
        self._echo_feeder.setInterval(0)
        self._echo_feeder.timeout.connect(self._on_echo_feeder_timeout)

        # ---- initial state
        self._reload_nodes()
        self._load_statuses()
        self._on_audit_view_refresh_requested()
        self._on_node_browser_selection_changed()
        self._update_jobs_label()
        w.restore_geometry()
        self.errors.install_hooks()
        self.errors.info(
            f"{len(self.nodes)} node(s) loaded from {self.paths.nodes_file}; "
            f"secrets: {self.secrets.backend.describe()}."
        )
        for problem in startup_problems:
            self.errors.present(problem)

    # ------------------------------------------------------------------ helpers
    def _reload_nodes(self) -> None:
        nodes = self.nodes.list()
        self.node_model.set_nodes(nodes)
        self.doctor_panel.set_node_names([n.name for n in nodes])

    def _load_statuses(self) -> None:
        latest = self.audit.last_per_node("echo")
        for name, e in self.audit.last_per_node("doctor").items():
            if name not in latest or e.ts > latest[name].ts:
                latest[name] = e
        for name, e in latest.items():
            lat = (e.details.get("latency_ms") or {}).get("median")
            if lat is None and e.outcome == "success":
                lat = e.details.get("total_ms")
            self.node_model.set_status(
                name, NodeStatus(e.outcome == "success", lat, e.ts, e.summary)
            )

    def _echo_job(self, node: DicomNode, *, count: int = 1, mode: str = "echo") -> Any:
        local, audit, secrets = self.local, self.audit, self.secrets
        action = "doctor" if mode == "survey" else "echo"

        def run(ctx: JobContext) -> EchoSeries:
            passphrase = None
            if node.tls.enabled and node.tls.client_key:
                passphrase = secrets.get(tls_passphrase_key(node.name))
            series = echo(local, node, count=count, mode=mode, passphrase=passphrase, ctx=ctx)
            audit_echo(audit, series, action)
            return series

        return run

    def submit_echo(self, node: DicomNode, kind: str, *, count: int = 1, mode: str = "echo") -> int:
        in_directory = self.node_model.row_of(node.name) >= 0
        lane = "dimse" if kind == "echo_all" else "priority"
        label = {"echo": "Echo", "echo_all": "Echo", "doctor": "Doctor"}[kind]
        job = self.runner.submit(
            self._echo_job(node, count=count, mode=mode),
            name=f"{label} {node.name}" + (f" ×{count}" if count > 1 else ""),
            node=node.name,
            lane=lane,
        )
        self._tracked[job.id] = _Tracked(kind, node.name if in_directory else None)
        old = self.node_model.status(node.name)
        if in_directory and not old.running:
            self.node_model.set_status(node.name, replace(old, running=True))
        if kind in ("echo", "doctor"):
            self._doctor_job = job.id
            self.doctor_panel.set_target(node.name)
            self.doctor_panel.begin(node.address, count)
        return job.id

    def echo_all(self, nodes: list[DicomNode] | None = None) -> None:
        """Echo every node (or ``nodes``) concurrently, bounded by the runner's pool and
        per-node limit.  The jobs are handed to the runner a few per event-loop turn: each
        submit may start a worker thread, and twenty at once kept the GUI busy for ~40 ms."""
        nodes = self.nodes.list() if nodes is None else nodes
        if not nodes:
            return
        self.errors.info(f"Echoing {len(nodes)} node(s)...")
        self.node_model.set_statuses(
            {n.name: replace(self.node_model.status(n.name), running=True) for n in nodes}
        )
        self._echo_queue.extend(nodes)
        if not self._echo_feeder.isActive():
            self._echo_feeder.start()

    @Slot()
    def _on_echo_feeder_timeout(self) -> None:
        for _ in range(2):
            if not self._echo_queue or self._closed:
                break
            self.submit_echo(self._echo_queue.popleft(), "echo_all")
        if not self._echo_queue:
            self._echo_feeder.stop()

    def _update_jobs_label(self) -> None:
        n = self.jobs_model.running_count()
        self.window.jobs_label.setText(f"  {n} job(s) running  " if n else "  idle  ")

    def _confirm(self, title: str, text: str) -> bool:
        box = QMessageBox(self.window)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(title)
        box.setText(text)
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    # ------------------------------------------------------------------ node dialog
    def open_node_dialog(self, node: DicomNode | None, mode: str) -> NodeDialog:
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
            parent=self.window,
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(self._on_node_dialog_accepted)
        self.node_dialog = dlg
        dlg.open()
        return dlg

    @Slot()
    def _on_node_dialog_accepted(self) -> None:
        dlg = self.node_dialog
        self._reload_nodes()
        if dlg is not None and dlg.saved_node is not None:
            self.node_browser.select_node(dlg.saved_node.name)
            self.errors.info(f"Saved node {dlg.saved_node.name} ({dlg.saved_node.address}).")
            if dlg.secret_warning:
                self.errors.present(f"Key passphrase not stored: {dlg.secret_warning}")

    # ------------------------------------------------------------------ action slots
    @Slot()
    def _on_add_triggered(self) -> None:
        self.open_node_dialog(None, "add")

    @Slot()
    def _on_edit_triggered(self) -> None:
        node = self.node_browser.current_node()
        if node is not None:
            self.open_node_dialog(node, "edit")

    @Slot()
    def _on_duplicate_triggered(self) -> None:
        node = self.node_browser.current_node()
        if node is not None:
            self.open_node_dialog(
                replace(node, name=self.nodes.unique_name(node.name)), "duplicate"
            )

    @Slot()
    def _on_delete_triggered(self) -> None:
        nodes = self.node_browser.selected_nodes()
        if not nodes:
            return
        names = ", ".join(n.name for n in nodes[:5]) + (" ..." if len(nodes) > 5 else "")
        if not self.confirm("Delete nodes", f"Delete {len(nodes)} node(s)?\n\n{names}"):
            return
        for n in nodes:
            self.nodes.remove(n.name)
            self.secrets.delete(tls_passphrase_key(n.name))
        self._reload_nodes()
        self.errors.info(f"Deleted {len(nodes)} node(s): {names}")

    @Slot()
    def _on_import_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Import nodes", "", "Node lists (*.json *.csv);;JSON (*.json);;CSV (*.csv)"
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
        self._reload_nodes()
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
    def _on_export_triggered(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Export nodes", "nodes.json", "JSON (*.json);;CSV (*.csv)"
        )
        if path:
            self.export_nodes(path)

    def export_nodes(self, path: str) -> None:
        from pacsadmin.core.fileio import atomic_write_text

        selected = self.node_browser.selected_nodes()
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

    @Slot()
    def _on_echo_triggered(self) -> None:
        nodes = self.node_browser.selected_nodes()
        if len(nodes) == 1:
            self.submit_echo(nodes[0], "echo")
        if len(nodes) > 1:
            self.echo_all(nodes)

    @Slot()
    def _on_doctor_triggered(self) -> None:
        node = self.node_browser.current_node()
        if node is not None:
            self.submit_echo(node, "doctor", mode="survey")

    @Slot()
    def _on_echo_all_triggered(self) -> None:
        self.echo_all()

    # ------------------------------------------------------------------ widget slots
    @Slot(object)
    def _on_node_browser_node_activated(self, node: DicomNode) -> None:
        self.submit_echo(node, "doctor", mode="survey")

    @Slot()
    def _on_node_browser_selection_changed(self) -> None:
        n = len(self.node_browser.selected_nodes())
        for a in (self.act_edit, self.act_duplicate, self.act_doctor):
            a.setEnabled(n == 1)
        for a in (self.act_delete, self.act_echo):
            a.setEnabled(n >= 1)
        node = self.node_browser.current_node()
        if node is not None and self._doctor_job is None:
            self.doctor_panel.set_target(node.name)

    @Slot(str, int, bool)
    def _on_doctor_panel_run_requested(self, target: str, count: int, survey: bool) -> None:
        node = self.nodes.find(target)
        if node is None:
            try:
                node = parse_target(target)
            except ValidationError as exc:
                self.doctor_panel.show_failure(f"{target!r}: {exc}")
                return
        if node is None:
            self.doctor_panel.show_failure(
                f"{target!r} is neither a node in the directory nor AET@HOST:PORT."
            )
            return
        self.submit_echo(node, "doctor", count=count, mode="survey" if survey else "echo")

    @Slot()
    def _on_doctor_panel_cancel_requested(self) -> None:
        if self._doctor_job is not None:
            self.runner.cancel(self._doctor_job)

    @Slot(str)
    def _on_doctor_panel_transcript_exported(self, path: str) -> None:
        self.errors.info(f"Transcript saved to {path} (patient names and IDs redacted).")

    @Slot(str)
    def _on_doctor_panel_export_failed(self, message: str) -> None:
        self.errors.present(message, user_action=True)

    @Slot(list)
    def _on_jobs_panel_cancel_requested(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.runner.cancel(job_id)

    @Slot()
    def _on_audit_view_refresh_requested(self) -> None:
        try:
            self.audit_model.set_entries(self.audit.entries(limit=1000))
        except Exception as exc:  # sqlite errors: tell, do not crash
            self.errors.present(f"Cannot read the audit log: {exc}")

    @Slot()
    def _on_clock_timeout(self) -> None:
        self.node_model.refresh_times()
        self.runner.forget_finished(keep=500)  # results live in the models, not forever here

    # ------------------------------------------------------------------ bridge slots
    @Slot(object)
    def _on_bridge_job_submitted(self, ev: JobSubmitted) -> None:
        self.jobs_model.add(ev)
        self._update_jobs_label()

    @Slot(object)
    def _on_bridge_job_started(self, ev: JobStarted) -> None:
        self.jobs_model.started(ev)

    @Slot(object)
    def _on_bridge_job_progress(self, ev: JobProgress) -> None:
        self.jobs_model.progress(ev)
        if ev.job_id == self._doctor_job:
            self.doctor_panel.set_progress(ev.done, ev.total)

    @Slot(int, list)
    def _on_bridge_job_partials(self, job_id: int, items: list[Any]) -> None:
        if job_id == self._doctor_job:
            for item in items:
                if isinstance(item, Step):
                    self.doctor_panel.add_step(item)

    @Slot(object)
    def _on_bridge_job_log(self, ev: JobLog) -> None:
        self.activity.add("job", f"[{ev.job_id}] {ev.message}")

    @Slot(object)
    def _on_bridge_job_finished(self, ev: JobFinished) -> None:
        series = ev.result if isinstance(ev.result, EchoSeries) else None
        text = ""
        ok: bool | None = None
        if series is not None and series.results:
            ok = series.ok
            text = series.results[-1].summary
            if len(series.results) > 1:
                lat = series.latency()
                text = f"{series.succeeded}/{len(series.results)} ok" + (
                    f", median {lat['median']:.1f} ms" if lat else ""
                )
        self.jobs_model.finished(ev, text, ok)
        self._update_jobs_label()
        tracked = self._tracked.pop(ev.job_id, None)
        if tracked is None:
            return
        if tracked.node is not None:
            if series is not None and series.results:
                self.node_model.set_status(tracked.node, _status_from_series(series))
            else:
                old = self.node_model.status(tracked.node)
                self.node_model.set_status(tracked.node, replace(old, running=False))
        if ev.job_id == self._doctor_job:
            self._doctor_job = None
            if series is not None:
                self.doctor_panel.show_series(series)
            else:
                self.doctor_panel.show_failure(ev.error or "The run did not complete.")
        if ev.state is JobState.FAILED:
            self.errors.present(
                f"{'Echo' if tracked.kind != 'doctor' else 'Doctor'} failed: {ev.error}",
                user_action=tracked.kind != "echo_all",
            )
        elif series is not None and series.results and tracked.kind == "echo_all":
            self.activity.add("echo", series.results[-1].summary)
        self._audit_timer.start()

    # ------------------------------------------------------------------ shutdown
    def shutdown(self, timeout: float = 5.0) -> bool:
        """Cancel every job, stop the runner; True when every worker ended in time."""
        if self._closed:
            return True
        self._closed = True
        self._echo_feeder.stop()
        self._echo_queue.clear()
        self._clock.stop()
        self._audit_timer.stop()
        self.runner.cancel_all()
        ok = self.runner.shutdown(timeout=timeout)
        if not ok:
            log.warning("some jobs did not stop within %.1f s", timeout)
        self.bridge.close()
        self.errors.uninstall_hooks()
        self.gc_guard.stop()
        return ok


def run_gui(config_dir: str | None = None) -> int:
    """Open the main window; return the exit code."""
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("pacsadmin")
    qapp.setApplicationVersion(__version__)
    qapp.setOrganizationName("pacsadmin")
    try:
        paths = AppPaths.resolve(config_dir).ensure()
        setup_logging(paths.logs_dir)
        app = PacsAdminApp(paths)
    except (PacsAdminError, OSError) as exc:
        box = QMessageBox(QMessageBox.Icon.Critical, "pacsadmin", str(exc))
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()
        return 1
    app.window.show()
    rc = qapp.exec()
    app.shutdown()
    return int(rc)
