"""The composition root: builds the core services, the bridge, models and widgets, and
wires every action in plain sight (the shape of Mu's ``app.py``).

Slots are named ``_on_<source>_<signal>``.  Nothing here touches the network on the GUI
thread: echoes run in the :class:`JobRunner`, and their events come back through the one
:class:`JobBridge`.
"""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QObject, Qt, QTimer, Slot
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QTabWidget

from pacsadmin import __version__
from pacsadmin.core.audit import AuditLog
from pacsadmin.core.demo import demo_port
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.scp_events import Association, AssociationClosed
from pacsadmin.core.errors import PacsAdminError
from pacsadmin.core.jobs import (
    JobFinished,
    JobLog,
    JobProgress,
    JobRunner,
    JobStarted,
    JobSubmitted,
)
from pacsadmin.core.logs import setup_logging
from pacsadmin.core.nodes import DicomNode, NodeDirectory
from pacsadmin.core.paths import AppPaths
from pacsadmin.core.secrets import SecretStore
from pacsadmin.core.settings import Settings, load_settings
from pacsadmin.gui.controllers.archive import ArchiveController
from pacsadmin.gui.controllers.demo import DemoController
from pacsadmin.gui.controllers.echo import EchoController
from pacsadmin.gui.controllers.editing import EditingController
from pacsadmin.gui.controllers.nodes import NodeActions
from pacsadmin.gui.controllers.preferences import PreferencesController
from pacsadmin.gui.controllers.query import QueryController
from pacsadmin.gui.controllers.retrieve import RetrieveController
from pacsadmin.gui.controllers.scp import ScpProcess, describe_event
from pacsadmin.gui.controllers.send import SendController
from pacsadmin.gui.errors import ActivityLog, ErrorPresenter
from pacsadmin.gui.gc_guard import GuiGarbageCollector
from pacsadmin.gui.help import install_help
from pacsadmin.gui.icons import app_icon
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.main_window import MainWindow
from pacsadmin.gui.models.archive_model import ArchiveTreeModel
from pacsadmin.gui.models.audit_model import AuditModel
from pacsadmin.gui.models.jobs_model import JobsModel
from pacsadmin.gui.models.node_model import COL_NAME, NodeTableModel
from pacsadmin.gui.models.retrieve_list import RetrieveListModel
from pacsadmin.gui.text import plain_tooltip
from pacsadmin.gui.viewer import ViewerWidget
from pacsadmin.gui.widgets.archive_browser import ArchiveBrowser
from pacsadmin.gui.widgets.audit_view import AuditView
from pacsadmin.gui.widgets.doctor_panel import DoctorPanel
from pacsadmin.gui.widgets.jobs_panel import JobsPanel
from pacsadmin.gui.widgets.node_browser import NodeBrowser
from pacsadmin.gui.widgets.query_panel import QueryPanel
from pacsadmin.gui.widgets.received_view import (
    AssocRow,
    ReceivedModel,
    ReceivedView,
    transcript_text,
)
from pacsadmin.gui.widgets.retrieve_panel import RetrievePanel

log = logging.getLogger("pacsadmin.gui")


def _warm_up_dicom() -> None:
    """Import pynetdicom and load pydicom's UID dictionary now, at start-up, and not in
    the first echo's worker thread, where the big module loads hold the GIL for tens of ms
    at a time and stall the GUI."""
    from pydicom.uid import UID

    from pacsadmin.core.dimse.association import quiet_pynetdicom

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
        start_scp: bool = False,
        first_run: bool = False,
    ) -> None:
        """``start_scp``: start the local SCP process when the settings ask for it
        (``scp_autostart``); :func:`run_gui` passes True, tests choose."""
        super().__init__()
        startup_problems = self._build_services(paths, secrets, settings)
        self._build_models()
        self._build_window()
        self._build_controllers()
        self._wire()
        self._start(start_scp, startup_problems)
        if first_run:  # no settings file yet: the welcome (it saves one)
            QTimer.singleShot(0, lambda: self.prefs.welcome(self._start_demo_after_welcome))

    # ------------------------------------------------------------------ building
    def _build_services(
        self, paths: AppPaths, secrets: SecretStore | None, settings: Settings | None
    ) -> list[str]:
        """The core services of the session; returns the problems met, to tell once the
        window shows."""
        # Worker threads (a Doctor run's pynetdicom threads, decoding, the index) share the
        # GIL with the GUI thread; with Python's default 5 ms switch interval the GUI
        # thread queued behind many of them for 30-40 ms at a time (measured when Echo
        # all still ran here; it now has a process of its own); at 1 ms it gets the GIL
        # back quickly.  Transfers are not measurably slower (docs/notes.md).
        self._old_switch = sys.getswitchinterval()
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
        # damaged: the node actions say where, and nothing is written until it is fixed
        self.nodes = NodeDirectory(self.paths.nodes_file, damaged_ok=True)
        self.audit = AuditLog(self.paths.audit_db)
        self.secrets = secrets or SecretStore()
        self.runner = JobRunner(
            workers=settings.worker_count, per_node_limit=settings.per_node_limit
        )
        self.bridge = JobBridge(self)
        self.gc_guard = GuiGarbageCollector(self)
        self.gc_guard.start()
        self.bridge.attach(self.runner)
        self._closed = False
        return startup_problems

    def _build_models(self) -> None:
        self.node_model = NodeTableModel(self)
        self.jobs_model = JobsModel(self)
        self.audit_model = AuditModel(self)
        self.archive_model = ArchiveTreeModel(self)
        self.received_model = ReceivedModel(self)
        self.retrieve_model = RetrieveListModel(self)

    def _build_window(self) -> None:
        """The window, its actions and widgets, laid out (nothing connected yet)."""
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
        self.act_quit = w.make_action("Quit", "quit", "Quit pacsadmin", "Ctrl+Q")
        self.act_open_images = w.make_action(
            "Open images...",
            "open-images",
            "Open DICOM files or a DICOMDIR in the viewer",
            "Ctrl+O",
        )
        self.act_open_folder = w.make_action(
            "Open folder...",
            "open-folder",
            "Open a folder of DICOM files in the viewer",
            "Ctrl+Shift+O",
        )
        self.act_archive_import = w.make_action(
            "Import into archive...", "archive-import", "Copy DICOM files into the local archive"
        )
        self.act_archive_import_folder = w.make_action(
            "Import folder into archive...",
            "archive-import",
            "Copy every DICOM file under a folder into the local archive",
        )
        self.act_send_files = w.make_action(
            "Send files to node...", "export", "C-STORE DICOM files or folders to a node"
        )
        self.act_scp = w.make_action(
            "Local SCP running", "scp", "Run the local DICOM node (storage and Q/R SCP)"
        )
        self.act_scp.setCheckable(True)
        self.act_anonymize = w.make_action(
            "Anonymize...", "anonymize", "De-identify DICOM files into a new folder (PS3.15)"
        )
        self.act_edit_tags = w.make_action(
            "Edit tags of a file...", "tags", "Open a DICOM file in the tag editor", "Ctrl+T"
        )
        self.act_edit_many = w.make_action(
            "Edit tags of many files...", "tags", "A grid of a folder's files: set, delete, replace"
        )
        self.act_correct = w.make_action(
            "Correct files...", "correct", "Fix a mislabeled study from a folder of files"
        )
        self.act_undo_edit = w.make_action(
            "Undo last change",
            "undo",
            "Restore the files of the last tag edit or correction byte for byte",
            "Ctrl+Alt+Z",
        )
        self.act_preferences = w.make_action(
            "Preferences...", "settings", "Every setting, with its checks", "Ctrl+,"
        )

        self.act_retrieve_uid = w.make_action(
            "Retrieve by UID...",
            "retrieve",
            "Retrieve a study, series or instance of the selected node by its UID",
        )
        self.act_demo = w.make_action(
            "Start demo PACS", "demo", "Run a demo PACS on this computer, to try every feature"
        )
        node_actions = [
            self.act_add,
            self.act_edit,
            self.act_duplicate,
            self.act_delete,
            None,
            self.act_echo,
            self.act_doctor,
            None,
            self.act_retrieve_uid,
        ]
        self.node_browser = NodeBrowser(
            self.node_model,
            [a for a in node_actions if a],
            empty_actions=[
                (self.act_add, "Add a node..."),
                (self.act_import, "Import a list..."),
                (self.act_demo, "Start the demo PACS"),
            ],
            needs_nodes=[self.act_export, self.act_echo_all],
        )
        self.doctor_panel = DoctorPanel()
        self.viewer = ViewerWidget(
            runner=self.runner, bridge=self.bridge, presets_path=self.paths.home / "presets.json"
        )
        self.central_tabs = QTabWidget()
        self.central_tabs.setDocumentMode(True)
        self.central_tabs.addTab(self.doctor_panel, "Connectivity Doctor")
        self.central_tabs.addTab(self.viewer, "Viewer")
        self._build_query_panel()
        self.jobs_panel = JobsPanel(self.jobs_model)
        self.audit_view = AuditView(self.audit_model)
        self.activity = ActivityLog()
        self.archive_browser = ArchiveBrowser(self.archive_model)
        self.received_view = ReceivedView(self.received_model)
        self.retrieve_panel = RetrievePanel(self.retrieve_model)
        w.build(
            central=self.central_tabs,
            nodes=self.node_browser,
            jobs=self.jobs_panel,
            activity=self.activity,
            audit=self.audit_view,
            archive=self.archive_browser,
            received=self.received_view,
            retrieve=self.retrieve_panel,
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
                "&File": [
                    self.act_open_images,
                    self.act_open_folder,
                    None,
                    self.act_archive_import,
                    self.act_archive_import_folder,
                    self.act_send_files,
                    None,
                    self.act_anonymize,
                    None,
                    self.act_import,
                    self.act_export,
                    None,
                    self.act_quit,
                ],
                "&Nodes": [
                    *node_actions,
                    self.act_echo_all,
                    None,
                    self.act_query,
                ],
                "&Edit": [
                    self.act_edit_tags,
                    self.act_edit_many,
                    self.act_correct,
                    None,
                    self.act_undo_edit,
                ],
                "&Tools": [self.act_scp, self.act_demo, None, self.act_preferences],
            },
        )
        self.help = install_help(w, self.bridge)  # Help > Keyboard shortcuts, About
        self.viewer.placeholder.set_actions([self.act_open_images, self.act_open_folder])
        self.errors = ErrorPresenter(w.statusBar(), self.activity, w, self.bridge)

    def _build_query_panel(self) -> None:
        """The Query panel, a tab beside the Doctor; Nodes > Query opens it on a node."""
        self.query_panel = QueryPanel(self.node_model, COL_NAME)
        self.central_tabs.insertTab(1, self.query_panel, "Query")
        self.act_query = self.window.make_action(
            "Query", "query", "C-FIND the selected node in the Query panel", "Ctrl+F"
        )

    def _on_query_triggered(self) -> None:
        node = self.node_browser.current_node()
        if node is not None:
            self.query_panel.form.node_combo.setCurrentText(node.name)
        self.central_tabs.setCurrentWidget(self.query_panel)
        self.query_panel.form.focus_node()

    def _build_controllers(self) -> None:
        w, settings = self.window, self.settings
        self.node_actions = NodeActions(
            nodes=self.nodes,
            secrets=self.secrets,
            audit=self.audit,
            local=self.local,
            runner=self.runner,
            bridge=self.bridge,
            model=self.node_model,
            browser=self.node_browser,
            doctor_panel=self.doctor_panel,
            errors=self.errors,
            parent_widget=w,
            parent=self,
        )
        self.echoes = EchoController(
            local=self.local,
            nodes=self.nodes,
            audit=self.audit,
            secrets=self.secrets,
            bridge=self.bridge,
            model=self.node_model,
            doctor_panel=self.doctor_panel,
            activity=self.activity,
            errors=self.errors,
            config_dir=self.paths.home,
            parent=self,
        )
        self.archive = ArchiveController(
            root=self.paths.archive_dir,
            archive_kw={
                "duplicate_policy": settings.duplicate_policy,
                "fsync": settings.archive_fsync,
            },
            bridge=self.bridge,
            browser=self.archive_browser,
            errors=self.errors,
            open_paths=self.open_in_viewer,
            parent_widget=w,
            parent=self,
        )
        self.scp = ScpProcess(self.paths.home, self.local.ae_title, self.local.port, self)
        self.editing = EditingController(
            home=self.paths.home,
            archive_root=self.paths.archive_dir,
            archive=self.archive.handle.get,
            bridge=self.bridge,
            audit=self.audit,
            errors=self.errors,
            nodes=self.nodes,
            local=lambda: self.local,
            secrets=self.secrets,
            anonymize=lambda paths: self.open_anonymize(paths),
            parent_widget=w,
            parent=self,
        )
        self.prefs = PreferencesController(
            settings_file=self.paths.settings_file,
            archive_dir=self.paths.archive_dir,
            bridge=self.bridge,
            errors=self.errors,
            current=lambda: self.settings,
            own_port=lambda: self.scp.port if self.scp.running else None,
            parent_widget=w,
            secrets=self.secrets,
            parent=self,
        )

        self._build_send()
        self._build_demo()
        self.query = QueryController(
            local=self.local,
            secrets=self.secrets,
            audit=self.audit,
            settings_file=self.paths.settings_file,
            recent=settings.recent_queries,
            bridge=self.bridge,
            panel=self.query_panel,
            archive=self.archive.handle,
            nodes=self.node_model.nodes,
            errors=self.errors,
            parent=self,
        )
        w.on_close = self.shutdown
        self._show_scp_state()
        self._build_retrieve()

    def _build_retrieve(self) -> None:
        """Retrieve (C-MOVE, C-GET): its controller; the query panel's
        ``retrieveRequested(node, items, dest_ae)`` goes to ``self.retrieve.request``."""
        self.retrieve = RetrieveController(
            local=self.local,
            settings=self.settings,
            nodes=self.nodes,
            secrets=self.secrets,
            audit=self.audit,
            bridge=self.bridge,
            archive=self.archive,
            panel=self.retrieve_panel,
            errors=self.errors,
            scp_listening=lambda: self.scp.state == "listening",
            show_in_archive=self._show_in_archive,
            node_list=self.node_model.nodes,
            parent_widget=self.window,
            parent=self,
        )
        self.echoes.archive_handle = self.archive.handle  # the Doctor's return-path test

    def _show_in_archive(self, search: str) -> None:
        self.window.docks["archive"].show()
        self.window.docks["archive"].raise_()
        self.archive_browser.search.setText(search)

    def _build_send(self) -> None:
        """The send tool: Send to… on archive rows, files dropped onto a node, File > Send
        files; each send's per-file results open from the Jobs panel."""
        self.sends = SendController(
            local=self.local,
            nodes=self.node_model.nodes,
            secrets=self.secrets,
            bridge=self.bridge,
            archive=self.archive.handle,
            errors=self.errors,
            show_job=lambda job_id: self.window.docks["jobs"].raise_(),
            parent_widget=self.window,
            parent=self,
        )
        self.archive_browser.sendRequested.connect(self.sends.send_archive_nodes)
        self.node_browser.filesDropped.connect(self.sends.send_paths)
        self.jobs_panel.has_details = self.sends.has_results
        self.jobs_panel.detailsRequested.connect(self.sends.show)
        self.act_send_files.triggered.connect(self._on_send_files_triggered)

    @Slot()
    def _on_send_files_triggered(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self.window, "Send DICOM files", "", "DICOM (*.dcm *.DCM DICOMDIR *);;All files (*)"
        )
        if paths:
            self.sends.send_paths(self.node_browser.current_node(), paths)

    def _build_demo(self) -> None:
        """The demo PACS (its own process), started by ``act_demo``, stopped with the window."""
        self.demo = DemoController(
            paths=self.paths,
            local_port=self.local.port,
            nodes=self.nodes,
            action=self.act_demo,
            bridge=self.bridge,
            errors=self.errors,
            nodes_changed=self.node_actions.check_file,
            show_nodes=self.node_actions.reload,
            parent=self,
        )

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        """Every connection of the window, in plain sight."""
        self.bridge.jobSubmitted.connect(self._on_bridge_job_submitted)
        self.bridge.jobStarted.connect(self._on_bridge_job_started)
        self.bridge.jobProgress.connect(self._on_bridge_job_progress)
        self.bridge.jobLog.connect(self._on_bridge_job_log)
        self.bridge.jobFinished.connect(self._on_bridge_job_finished)
        # actions
        self.act_add.triggered.connect(self.node_actions.add)
        self.act_edit.triggered.connect(self.node_actions.edit)
        self.act_duplicate.triggered.connect(self.node_actions.duplicate)
        self.act_delete.triggered.connect(self.node_actions.delete)
        self.act_import.triggered.connect(self.node_actions.import_with_dialog)
        self.act_preferences.triggered.connect(self.prefs.open)
        self.act_anonymize.triggered.connect(lambda: self.open_anonymize([]))
        self.act_edit_tags.triggered.connect(self._on_edit_tags_triggered)
        self.act_correct.triggered.connect(self._on_correct_triggered)
        self.act_edit_many.triggered.connect(self._on_edit_many_triggered)
        self.act_undo_edit.triggered.connect(self.editing.undo_last)
        self.editing.changed.connect(self.archive.refresh_soon)
        self.viewer.tags_panel.editRequested.connect(self.editing.open_tags)
        self.query_panel.retrieveRequested.connect(self.retrieve.request)
        self.archive_browser.toolRequested.connect(self.editing.archive_tool)
        self.prefs.applied.connect(self._on_prefs_applied)
        self.act_export.triggered.connect(self.node_actions.export_with_dialog)
        self.act_echo.triggered.connect(self._on_echo_triggered)
        self.act_doctor.triggered.connect(self._on_doctor_triggered)
        self.act_echo_all.triggered.connect(self._on_echo_all_triggered)
        self.act_query.triggered.connect(self._on_query_triggered)
        self.act_quit.triggered.connect(self.window.close)
        self.act_open_images.triggered.connect(self._on_open_images_triggered)
        self.act_open_folder.triggered.connect(self._on_open_folder_triggered)
        self.act_archive_import.triggered.connect(self._on_archive_import_triggered)
        self.act_archive_import_folder.triggered.connect(self._on_archive_import_folder_triggered)
        self.act_scp.toggled.connect(self._on_scp_toggled)
        self.act_retrieve_uid.triggered.connect(self._on_retrieve_uid_triggered)
        # the SCP process (its stdout is read on the GUI thread: small JSON lines)
        self.scp.listening.connect(self._on_scp_listening)
        self.scp.failed.connect(self._on_scp_failed)
        self.scp.stopped.connect(self._on_scp_stopped)
        self.scp.server_event.connect(self._on_scp_event)
        # widgets
        self.node_browser.nodeActivated.connect(self._on_node_browser_node_activated)
        self.node_browser.selectionChanged.connect(self._on_node_browser_selection_changed)
        self.doctor_panel.runRequested.connect(self._on_doctor_panel_run_requested)
        self.doctor_panel.cancelRequested.connect(self._on_doctor_panel_cancel_requested)
        self.doctor_panel.transcriptExported.connect(self._on_doctor_panel_transcript_exported)
        self.doctor_panel.exportFailed.connect(self._on_doctor_panel_export_failed)
        self.jobs_panel.cancelRequested.connect(self._on_jobs_panel_cancel_requested)
        self.audit_view.refreshRequested.connect(self._on_audit_view_refresh_requested)
        self.received_view.transcriptWanted.connect(self._on_received_view_transcript_wanted)
        # timers: "3 min ago" moves on; the audit view reloads once per burst of jobs
        self._clock = QTimer(self)
        self._clock.setInterval(30_000)
        self._clock.timeout.connect(self._on_clock_timeout)
        self._rates = QTimer(self)  # the Received dock's live rates
        self._rates.setInterval(1000)
        self._rates.timeout.connect(self.received_model.refresh_times)
        self._rates.start()
        self._clock.start()
        self._audit_timer = QTimer(self)
        self._audit_timer.setSingleShot(True)
        self._audit_timer.setInterval(400)
        self._audit_timer.timeout.connect(self._on_audit_view_refresh_requested)
        self.node_actions.audited.connect(self._audit_timer.start)
        self.echoes.echoFinished.connect(self._audit_timer.start)  # reload once per burst
        self.retrieve.finished.connect(self._audit_timer.start)

    def _start(self, start_scp: bool, startup_problems: list[str]) -> None:
        """The initial state: lists loaded in the background, geometry, the local SCP."""
        self.node_actions.reload()
        self.echoes.load_statuses()
        self._on_audit_view_refresh_requested()
        self.archive.refresh()
        self.editing.recover()  # an edit batch a crash interrupted: rolled back
        self._on_node_browser_selection_changed()
        self._update_jobs_label()
        self.window.restore_geometry()
        self.errors.install_hooks()
        self.errors.info(
            f"{len(self.nodes)} node(s) loaded from {self.paths.nodes_file}; "
            f"secrets: {self.secrets.backend.describe()}."
        )
        for problem in startup_problems:
            self.errors.present(problem)
        self.demo.remove_stale_entry()
        if start_scp and self.settings.scp_autostart:
            self.act_scp.setChecked(True)  # -> _on_scp_toggled starts it

    # ------------------------------------------------------------------ helpers
    def _update_jobs_label(self) -> None:
        n = self.jobs_model.running_count()
        self.window.jobs_label.setText(f"  {n} job(s) running  " if n else "  idle  ")

    def _show_scp_state(self) -> None:
        """The state in a few words in the status bar (the whole sentence in its tooltip and
        in the Received dock); a failure's sentence is shown once, by errors.present."""
        label = self.window.local_label
        label.setText(f"  {self.scp.status} · pacsadmin {__version__}  ")
        label.setToolTip(plain_tooltip(self.scp.message))
        self.received_view.set_status(self.scp.message)

    # ------------------------------------------------------------------ SCP process slots
    @Slot(bool)
    def _on_scp_toggled(self, on: bool) -> None:
        # serve's start-up sweep removes only temp files of processes that are gone (their
        # names start with the writer's PID), so it may start while this window imports
        if on:
            self.scp.start()
        else:
            self.scp.stop()
        self._show_scp_state()

    @Slot(str, int)
    def _on_scp_listening(self, ae_title: str, port: int) -> None:
        self._show_scp_state()  # the status bar says it once; the activity log keeps it
        self.activity.add("info", self.scp.message)

    @Slot(str)
    def _on_scp_failed(self, message: str) -> None:
        self.act_scp.blockSignals(True)
        self.act_scp.setChecked(False)
        self.act_scp.blockSignals(False)
        self._show_scp_state()
        self.errors.present(message)
        if self.scp.died_silently:  # killed or crashed: serve could not audit its end
            audit = self.audit
            self.bridge.submit(
                lambda ctx: audit.record("serve", "failure", summary=message),
                name="Audit: SCP ended",
                lane="io",
                quiet=True,
            )

    @Slot()
    def _on_scp_stopped(self) -> None:
        self._show_scp_state()

    @Slot(object)
    def _on_scp_event(self, ev: object) -> None:
        if isinstance(ev, Association):
            self.received_model.apply(ev)
        if isinstance(ev, AssociationClosed):
            self.activity.add("scp", describe_event(ev))
            if ev.stored or ev.duplicates:
                self.archive.refresh_soon()

    @Slot()
    def _on_edit_tags_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Edit the tags of a DICOM file")
        if path:
            self.editing.open_tags(path)

    @Slot()
    def _on_edit_many_triggered(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "The folder of files to edit")
        if folder:
            self.editing.open_grid([folder])

    @Slot()
    def _on_correct_triggered(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "The folder of the study to correct")
        if folder:
            self.editing.open_correction(files=[folder])

    def _start_demo_after_welcome(self) -> None:
        """The welcome's "start the demo PACS": on the port next to the local SCP's, now
        that the settings (the demo's move destination) are saved."""
        if not self.demo.running:
            if self.demo.process.port == self.local.port:  # the welcome took its port
                self.demo.process.port = demo_port(self.local.port)
            self.demo.start()

    def open_anonymize(self, inputs: list[str]) -> None:
        from pacsadmin.gui.dialogs.anonymize_dialog import AnonymizeDialog

        dlg = AnonymizeDialog(inputs, bridge=self.bridge, audit=self.audit, parent=self.window)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.anonymize_dialog = dlg
        dlg.show()

    @Slot(object, object)
    def _on_prefs_applied(self, new: Settings, old: Settings) -> None:
        """Use the saved settings: every holder of the old local AE gets the new one, and
        the local SCP restarts on a new AE title or port (settings the runner read at
        start-up wait for the next start: the controller says so)."""
        self.settings = new
        old_local, self.local = self.local, LocalAE.from_settings(new)
        for obj in list(vars(self).values()):
            if getattr(obj, "local", None) is old_local:
                obj.local = self.local
        scp = self.scp
        if (scp.ae_title, scp.port) != (self.local.ae_title, self.local.port):
            was_running = scp.running
            if was_running:
                scp.stop()
            scp.ae_title, scp.port = self.local.ae_title, self.local.port
            scp.status = scp.message = f"SCP {scp.ae_title}:{scp.port} not running"
            if was_running:
                scp.start()
            self._show_scp_state()

    # ------------------------------------------------------------------ action slots
    @Slot()
    def _on_open_images_triggered(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self.window, "Open DICOM images", "", "DICOM (*.dcm *.DCM DICOMDIR *);;All files (*)"
        )
        if paths:
            self.open_in_viewer(paths)

    @Slot()
    def _on_open_folder_triggered(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open a folder of DICOM files")
        if folder:
            self.open_in_viewer([folder])

    @Slot()
    def _on_archive_import_triggered(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self.window, "Import into archive", "", "DICOM (*.dcm *.DCM DICOMDIR *);;All files (*)"
        )
        if paths:
            self.archive.import_paths(paths)

    @Slot()
    def _on_archive_import_folder_triggered(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Import a folder into archive")
        if folder:
            self.archive.import_paths([folder])

    def open_in_viewer(self, paths: list[str]) -> None:
        self.central_tabs.setCurrentWidget(self.viewer)
        self.viewer.open_paths(paths)

    @Slot()
    def _on_echo_triggered(self) -> None:
        nodes = self.node_browser.selected_nodes()
        if len(nodes) == 1:
            self.echoes.submit(nodes[0], "echo")
        elif nodes:
            self.echoes.echo_all(nodes)

    @Slot()
    def _on_doctor_triggered(self) -> None:
        node = self.node_browser.current_node()
        if node is not None:
            self.central_tabs.setCurrentWidget(self.doctor_panel)
            self.echoes.submit(node, "doctor", mode="survey")

    @Slot()
    def _on_echo_all_triggered(self) -> None:
        self.echoes.echo_all()

    @Slot()
    def _on_retrieve_uid_triggered(self) -> None:
        if self.retrieve.request_by_uid(self.node_browser.current_node()):
            self.window.docks["retrieve"].raise_()

    # ------------------------------------------------------------------ widget slots
    @Slot(object)
    def _on_node_browser_node_activated(self, node: DicomNode) -> None:
        self.central_tabs.setCurrentWidget(self.doctor_panel)
        self.echoes.submit(node, "doctor", mode="survey")

    @Slot()
    def _on_node_browser_selection_changed(self) -> None:
        n = len(self.node_browser.selected_nodes())
        for a in (self.act_edit, self.act_duplicate, self.act_doctor, self.act_retrieve_uid):
            a.setEnabled(n == 1)
        for a in (self.act_delete, self.act_echo):
            a.setEnabled(n >= 1)
        node = self.node_browser.current_node()
        if node is not None and self.echoes.doctor_job is None:
            self.doctor_panel.set_target(node.name)

    @Slot(str, int, bool)
    def _on_doctor_panel_run_requested(self, target: str, count: int, survey: bool) -> None:
        self.echoes.run_target(target, count, survey)

    @Slot()
    def _on_doctor_panel_cancel_requested(self) -> None:
        self.echoes.cancel_doctor()

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
        """Read the audit log on the io lane (SQLite is never read on the GUI thread)."""
        if self._closed:
            return
        audit = self.audit
        self.bridge.submit(
            lambda ctx: audit.entries(limit=1000),
            name="Audit log: reload",
            lane="io",
            quiet=True,
            on_done=self._on_audit_reloaded,
        )

    def _on_audit_reloaded(self, ev: JobFinished) -> None:
        if ev.error:  # sqlite errors: tell, do not crash
            self.errors.present(f"Cannot read the audit log: {ev.error}")
        elif isinstance(ev.result, list):
            self.audit_model.set_entries(ev.result)

    @Slot(object)
    def _on_received_view_transcript_wanted(self, row: AssocRow) -> None:
        """Read an SCP association's transcript file on the io lane."""
        if self._closed:
            return

        def show(ev: JobFinished) -> None:
            text = ev.result if isinstance(ev.result, str) else f"Cannot read it: {ev.error}"
            self.received_view.show_transcript(row.key, row.transcript_file, text)

        self.bridge.submit(
            lambda ctx: transcript_text(row),
            name="Received: transcript",
            lane="io",
            quiet=True,
            on_done=show,
        )

    @Slot()
    def _on_clock_timeout(self) -> None:
        self.node_model.refresh_times()
        self.runner.forget_finished(keep=500)  # results live in the models, not forever here

    # ------------------------------------------------------------------ bridge slots
    @Slot(object)
    def _on_bridge_job_submitted(self, ev: JobSubmitted) -> None:
        if ev.quiet:  # housekeeping (reloading the archive tree, the audit log)
            return
        self.jobs_model.add(ev)
        self._update_jobs_label()

    @Slot(object)
    def _on_bridge_job_started(self, ev: JobStarted) -> None:
        self.jobs_model.started(ev)

    @Slot(object)
    def _on_bridge_job_progress(self, ev: JobProgress) -> None:
        self.jobs_model.progress(ev)

    @Slot(object)
    def _on_bridge_job_log(self, ev: JobLog) -> None:
        self.activity.add("job", f"[{ev.job_id}] {ev.message}")

    @Slot(object)
    def _on_bridge_job_finished(self, ev: JobFinished) -> None:
        self.jobs_model.finished(ev)
        self._update_jobs_label()

    # ------------------------------------------------------------------ shutdown
    def shutdown(self, timeout: float = 5.0) -> bool:
        """Cancel every job, stop the runner; True when every worker ended in time."""
        if self._closed:
            return True
        self._closed = True
        self.echoes.close()
        self.sends.close()

        self.retrieve.close()
        self.query.close()
        self.node_actions.close()
        self.viewer.close()  # stops cine, cancels its decode jobs
        self._clock.stop()
        self._rates.stop()
        self._audit_timer.stop()
        self.scp.stop()
        self.demo.close()
        self.runner.cancel_all()
        ok = self.runner.shutdown(timeout=timeout)
        if not ok:
            log.warning("some jobs did not stop within %.1f s", timeout)
        self.archive.close()
        self.bridge.close()
        self.errors.uninstall_hooks()
        self.gc_guard.stop()
        sys.setswitchinterval(self._old_switch)
        return ok


def run_gui(config_dir: str | None = None) -> int:
    """Open the main window; return the exit code."""
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("pacsadmin")
    qapp.setApplicationVersion(__version__)
    qapp.setOrganizationName("pacsadmin")
    qapp.setWindowIcon(app_icon())
    qapp.setDesktopFileName("pacsadmin")  # the .desktop entry: its icon on Wayland docks
    try:
        paths = AppPaths.resolve(config_dir).ensure()
        setup_logging(paths.logs_dir)
        first_run = not paths.settings_file.exists()
        app = PacsAdminApp(paths, start_scp=True, first_run=first_run)
    except (PacsAdminError, OSError) as exc:
        box = QMessageBox(QMessageBox.Icon.Critical, "pacsadmin", str(exc))
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()
        return 1
    app.window.show()
    _close_on_signals(app)
    rc = qapp.exec()
    app.shutdown()
    return int(rc)


def _close_on_signals(app: PacsAdminApp) -> None:
    """Ctrl+C or SIGTERM in the terminal closes the window the normal way (jobs cancelled,
    geometry saved).  Python runs signal handlers only between bytecodes, so a timer wakes
    the interpreter now and then while Qt's event loop waits in C++."""
    import signal

    def handler(signum: int, frame: object) -> None:
        app.window.close()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread, or not supported
            return
    wake = QTimer(app)
    wake.setInterval(250)
    wake.timeout.connect(lambda: None)  # GUI thread only
    wake.start()
