"""Retrieve in the window: C-MOVE / C-GET jobs, their queue, their accounting.

:meth:`RetrieveController.request` is the one entry point (the query panel's
``retrieveRequested(node, items, dest_ae_or_None)`` and the node browser's "Retrieve by
UID…" both call it).  Each retrieve is one job on the ``dimse`` lane counted against a
slot of its own per node (``retrieve:<node>``, the settings' ``retrieve_per_node_limit``):
beyond the limit a retrieve waits, "queued" in the Jobs panel and here, and a query or an
echo of the same node never waits behind retrieves.  The job first asks the PACS what the
selection holds (its ``Expected`` comes back as a partial, so the panel shows the count
before the first instance), then runs the core's ``move`` or ``get``; the pending
responses come back as ``RetrieveProgress`` partials, with the count the archive's index
actually holds.  Cancel is the job's token: a C-CANCEL, then an abort after a grace
period (``core/dimse/retrieve_run.py``).  Nothing here touches the network, SQLite or a
file on the GUI thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QDialog, QWidget

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.retrieve_model import (
    Expected,
    Item,
    RetrieveProgress,
    RetrieveResult,
)
from pacsadmin.core.dimse.scp import ScpConfig  # at start-up, not in the first request
from pacsadmin.core.jobs import JobContext, JobFinished, JobProgress, JobState
from pacsadmin.core.nodes import DicomNode, NodeDirectory
from pacsadmin.core.secrets import SecretStore
from pacsadmin.core.settings import Settings
from pacsadmin.gui.controllers.retrieve_job import RetrieveSpec, describe_retrieve, run_retrieve
from pacsadmin.gui.errors import ErrorPresenter
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.models.retrieve_list import (
    FAILED,
    RUNNING,
    RetrieveListModel,
    RetrieveRow,
    describe_items,
    final_state,
)
from pacsadmin.gui.widgets.retrieve_panel import RetrievePanel


class RetrieveController(QObject):
    """Retrieves of the window (GUI thread); the panel shows them."""

    finished = Signal()  # a retrieve ended (the audit log and perhaps the archive grew)

    def __init__(
        self,
        *,
        local: LocalAE,
        settings: Settings,
        nodes: NodeDirectory,
        secrets: SecretStore,
        audit: AuditLog,
        bridge: JobBridge,
        archive: Any,  # ArchiveController: its handle, refresh, open paths
        panel: RetrievePanel,
        errors: ErrorPresenter,
        scp_listening: Callable[[], bool],
        show_in_archive: Callable[[str], None],
        node_list: Callable[[], list[DicomNode]],
        parent_widget: QWidget | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.local, self.settings, self.nodes = local, settings, nodes
        self.secrets, self.audit, self.bridge = secrets, audit, bridge
        self.archive, self.panel, self.errors = archive, panel, errors
        self.model: RetrieveListModel = panel.model
        self.scp_listening, self.show_in_archive = scp_listening, show_in_archive
        self.node_list, self.parent_widget = node_list, parent_widget
        self._closed = False
        panel.cancelRequested.connect(self._on_panel_cancel_requested)
        panel.retryRequested.connect(self._on_panel_retry_requested)
        panel.openRequested.connect(self._on_panel_open_requested)
        panel.showRequested.connect(self._on_panel_show_requested)
        panel.moveToRequested.connect(self._on_panel_move_to_requested)

    # ------------------------------------------------------------------ requests
    def request(
        self,
        node: DicomNode,
        items: list[Item] | tuple[Item, ...],
        dest_ae: str | None = None,
        *,
        label: str = "",
        previous: RetrieveResult | None = None,
    ) -> int:
        """Retrieve ``items`` from ``node``: into this computer's archive (``dest_ae``
        None or our AE title: C-MOVE to us or C-GET, per the node's retrieve setting), or
        a C-MOVE to another node's AE title (third party).  Returns the retrieve's key
        (its job id), 0 when nothing was submitted."""
        items = tuple(items)
        if self._closed or not items:
            return 0
        to_archive = dest_ae is None or dest_ae.strip() == self.local.ae_title
        method = "C-GET" if to_archive and node.retrieve_method == "C-GET" else "C-MOVE"
        dest = self.local.ae_title if to_archive else str(dest_ae).strip()
        if method == "C-GET":
            dest_label, note = (
                "this computer",
                "C-GET: the instances come over the same association",
            )
        elif to_archive:
            dest_label = "this computer"
            note = (
                f"C-MOVE to {dest}: the window's local SCP (port {self.local.port}) receives"
                if self.scp_listening()
                else f"C-MOVE to {dest}: the local SCP is not running, so a receiver is "
                f"started on port {self.local.port} for this retrieve"
            )
        else:
            named = next((n.name for n in self.node_list() if n.ae_title == dest), "")
            dest_label = f"{named} ({dest})" if named and named != dest else dest
            note = f"C-MOVE to {dest}: the PACS sends to it directly (third party)"
        spec = RetrieveSpec(
            local=self.local,
            node=node,
            items=items,
            method=method,
            dest_ae=None if to_archive else dest,
            to_archive=to_archive,
            archive=self.archive.handle,
            nodes=self.nodes,
            secrets=self.secrets,
            audit=self.audit,
            scp_config=ScpConfig.from_settings(self.settings),
            previous=previous,
        )
        what = label or describe_items(items)
        row = RetrieveRow(
            key=0,
            node=node,
            items=items,
            method=method,
            dest_ae=dest if method == "C-MOVE" else "",
            dest_label=dest_label,
            to_archive=to_archive,
            what=what,
            note=note,
        )

        def progress(ev: JobProgress) -> None:
            if row.state != RUNNING:
                row.state, row.started = RUNNING, time.monotonic()
            row.message = ev.message
            self.model.changed(row.key)

        def partials(batch: list[Any]) -> None:
            for p in batch:
                if isinstance(p, Expected):
                    row.expected, row.expected_how = p.count, p.how or p.problem
                    if p.label and not label:
                        row.what = p.label
                elif isinstance(p, RetrieveProgress):
                    row.progress = p
            self.model.changed(row.key)

        def done(ev: JobFinished) -> None:
            row.elapsed = ev.elapsed if row.started is not None else 0.0
            if isinstance(ev.result, RetrieveResult):
                row.result = ev.result
                row.state = final_state(ev.result)
                row.message = ev.result.sentence
            elif ev.state is JobState.CANCELLED:
                row.state, row.message = "cancelled", ev.error or "Cancelled."
            else:
                row.state, row.message = FAILED, f"The retrieve could not run: {ev.error}"
            self.model.changed(row.key)
            self._tell(row)
            self.finished.emit()

        kind = "Retry missing" if previous is not None else ("Get" if method == "C-GET" else "Move")
        job = self.bridge.submit(
            lambda ctx: run_retrieve(spec, ctx),
            name=f"{kind} {describe_items(items)} from {node.name}",
            node=node.name,
            lane="dimse",
            summarize=describe_retrieve,
            on_progress=progress,
            on_partials=partials,
            on_done=done,
            slot=f"retrieve:{node.name}",
            slot_limit=self.settings.retrieve_per_node_limit,
        )
        row.key, row.job = job.id, job
        self.model.add(row)
        if to_archive and method == "C-MOVE" and not self.scp_listening():
            self.errors.info(
                f"The local SCP is not running: a receiver on port {self.local.port} is "
                f"started for the retrieve from {node.name}."
            )
        return job.id

    def retry_missing(self, key: int) -> int:
        row = self.model.get(key)
        if row is None or row.result is None or not row.result.missing_items:
            return 0
        return self.request(
            row.node,
            row.items,
            None if row.to_archive else row.dest_ae,
            label=row.what,
            previous=row.result,
        )

    def cancel(self, key: int) -> None:
        row = self.model.get(key)
        if row is not None and row.job is not None and not row.finished:
            row.job.cancel()

    def close(self) -> None:
        self._closed = True
        self.panel.stop()

    # ------------------------------------------------------------------ results
    def _tell(self, row: RetrieveRow) -> None:
        r = row.result
        if r is None:
            self.errors.present(f"Retrieve from {row.node.name}: {row.message}")
            return
        head = f"Retrieve from {row.node.name}: "
        if r.received is not None and r.expected is not None and not r.cancelled:
            text = head + f"{r.received} of {r.expected} instance(s) in the archive"
        else:
            text = head + r.sentence.rstrip(".")
        if r.ok:
            self.errors.info(text + ".", timeout_ms=15000)
        else:
            self.errors.activity.add(
                "retrieve", f"{head}{r.sentence}" + (f" {r.advice}" if r.advice else "")
            )
            self.errors.info(f"{text} ({row.state}: see the Retrieve dock).", timeout_ms=15000)
        if row.to_archive and (r.received or 0) > r.already_had:
            self.archive.refresh_soon()

    def _received_paths(self, row: RetrieveRow) -> Callable[[JobContext], list[str]]:
        handle = self.archive.handle
        r = row.result
        got = (
            [i.instance for i in r.instances if i.instance not in set(r.missing)]
            if r is not None and r.instances
            else []
        )
        items = row.items

        def run(ctx: JobContext) -> list[str]:
            a = handle.get()
            found = a.instance_paths("instance", got) if got else []
            if not found:
                for level in ("STUDY", "SERIES", "IMAGE"):
                    uids = [i.uid for i in items if i.level == level]
                    name = {"STUDY": "study", "SERIES": "series", "IMAGE": "instance"}[level]
                    found += a.instance_paths(name, uids) if uids else []
            return [str(a.path_of(rel)) for _, rel in found]

        return run

    # ------------------------------------------------------------------ panel slots
    @Slot(int)
    def _on_panel_cancel_requested(self, key: int) -> None:
        self.cancel(key)

    @Slot(int)
    def _on_panel_retry_requested(self, key: int) -> None:
        self.retry_missing(key)

    @Slot(int)
    def _on_panel_open_requested(self, key: int) -> None:
        row = self.model.get(key)
        if row is None:
            return

        def done(ev: JobFinished) -> None:
            if ev.state is JobState.FAILED:
                self.errors.present(f"Cannot open from the archive: {ev.error}", user_action=True)
            elif ev.state is JobState.SUCCEEDED:
                if ev.result:
                    self.archive.open_paths(ev.result)
                else:
                    self.errors.info("Nothing of this retrieve is in the archive.")

        self.bridge.submit(
            self._received_paths(row),
            name="Retrieve: open in viewer",
            lane="io",
            quiet=True,
            on_done=done,
        )

    @Slot(int)
    def _on_panel_show_requested(self, key: int) -> None:
        row = self.model.get(key)
        if row is None:
            return
        r = row.result
        study = next((i.study for i in (r.instances if r else ()) if i.study), "") or next(
            (i.study for i in row.items if i.study), ""
        )
        handle = self.archive.handle

        def run(ctx: JobContext) -> str:
            con = handle.get().reader()
            hit = con.execute(
                "SELECT p.patient_id, st.study_date, st.accession FROM studies st JOIN "
                "patients p ON st.patient_pk = p.pk WHERE st.study_uid = ?",
                (study,),
            ).fetchone()
            return " ".join(str(v) for v in hit if v) if hit else ""

        def done(ev: JobFinished) -> None:
            if ev.state is JobState.SUCCEEDED and ev.result:
                self.show_in_archive(ev.result)
            elif ev.state is JobState.FAILED:
                self.errors.present(f"Cannot read the archive index: {ev.error}")
            else:
                self.errors.info("The study of this retrieve is not in the archive.")

        self.bridge.submit(
            run, name="Retrieve: show in archive", lane="io", quiet=True, on_done=done
        )

    @Slot(int)
    def _on_panel_move_to_requested(self, key: int) -> None:
        row = self.model.get(key)
        if row is None:
            return
        dest = self.choose_destination(row.node, row.what)
        if dest is not None:
            self.request(row.node, row.items, dest.ae_title, label=row.what)

    # ------------------------------------------------------------------ dialogs
    def choose_destination(self, source: DicomNode, what: str) -> DicomNode | None:
        """The "Move to…" dialog: a node of the directory, or None."""
        from pacsadmin.gui.dialogs.retrieve_dialogs import MoveToDialog

        dlg = MoveToDialog(source, self.node_list(), what, self.parent_widget)
        return dlg.chosen() if dlg.exec() == QDialog.DialogCode.Accepted else None

    def request_by_uid(self, node: DicomNode | None) -> int:
        """The "Retrieve by UID…" dialog for ``node``; the retrieve's key, 0 if none."""
        from pacsadmin.gui.dialogs.retrieve_dialogs import RetrieveByUidDialog

        if node is None:
            return 0
        dlg = RetrieveByUidDialog(node, self.node_list(), self.local.ae_title, self.parent_widget)
        if dlg.exec() != QDialog.DialogCode.Accepted or not dlg.items():
            return 0
        key = self.request(node, dlg.items(), dlg.dest_ae())
        self.panel.select(key)
        return key
