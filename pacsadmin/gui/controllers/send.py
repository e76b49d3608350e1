"""The send tool in the window: "Send to…" on archive selections, files and folders
dropped onto a node, "Send files…"; each send a job on the ``dimse`` lane (the node's
limit applies) running :func:`pacsadmin.core.dimse.send.send`, its rows and progress
coming back through :class:`JobBridge` (``on_partials``, ``on_progress``); the archive's
files are looked up on the ``io`` lane first.  The GUI thread never waits: the keyring,
the index and the files are all read by the jobs.

The choice for a file whose compressed transfer syntax the node refuses (decompress to
Explicit VR Little Endian and send again, or list it as failed) is made in the Send dialog,
before the send starts.  Each send keeps its per-file results for its window
(:class:`~pacsadmin.gui.widgets.send_results.SendResultsDialog`), opened from the Jobs
panel; "Resend failed only" sends the files that failed or were not sent again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.send import resend_failed, send
from pacsadmin.core.dimse.send_result import SendResult
from pacsadmin.core.jobs import Job, JobContext, JobFinished, JobProgress, JobState
from pacsadmin.core.node_service import passphrase_for
from pacsadmin.core.nodes import DicomNode
from pacsadmin.core.secrets import SecretStore
from pacsadmin.gui.controllers.archive import ArchiveHandle
from pacsadmin.gui.dialogs.send_dialog import SendChoice, SendRequest, ask_send
from pacsadmin.gui.errors import ErrorPresenter
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.models.archive_model import TreeNode
from pacsadmin.gui.models.send_results_model import SendResultsModel
from pacsadmin.gui.widgets.send_results import SendResultsDialog

MAX_KEPT = 50  # finished sends whose results stay available in the Jobs panel


def summarize(result: Any) -> tuple[str, bool | None]:
    if isinstance(result, SendResult):
        return result.summarize()
    return "", None


@dataclass
class SendRun:
    """One send (or resend) and what the window shows of it."""

    job_id: int
    node: DicomNode
    what: str
    decompress: bool
    model: SendResultsModel
    job: Job[Any] | None = None
    result: SendResult | None = None
    state: JobState = JobState.QUEUED
    error: str = ""
    last_progress: JobProgress | None = None
    dialog: SendResultsDialog | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state.finished

    def options_text(self) -> str:
        how = (
            "decompressed to Explicit VR Little Endian and sent again"
            if self.decompress
            else "listed as failed"
        )
        return f"{self.what} · files whose compressed syntax is refused are {how}"


class SendController(QObject):
    """Sends of the window (GUI thread)."""

    sendFinished = Signal(object)  # SendRun
    sendStarted = Signal(object)  # SendRun

    def __init__(
        self,
        *,
        local: LocalAE,
        nodes: Callable[[], list[DicomNode]],
        secrets: SecretStore,
        bridge: JobBridge,
        archive: ArchiveHandle,
        errors: ErrorPresenter,
        show_job: Callable[[int], None] | None = None,
        parent_widget: QWidget | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.local, self.nodes, self.secrets = local, nodes, secrets
        self.bridge, self.archive, self.errors = bridge, archive, errors
        self.show_job = show_job
        self.parent_widget = parent_widget
        # the Send dialog; tests replace it (a modal dialog would wait for a click)
        self.choose: Callable[[SendRequest], SendChoice | None] = self._ask
        self.runs: dict[int, SendRun] = {}
        self._closed = False

    def _ask(self, request: SendRequest) -> SendChoice | None:
        return ask_send(request, self.parent_widget)

    def close(self) -> None:
        self._closed = True
        for run in self.runs.values():
            if run.dialog is not None:
                run.dialog.close()

    # ------------------------------------------------------------------ entry points
    def send_archive_nodes(self, rows: list[TreeNode]) -> int:
        """ "Send to…" on archive rows (studies, series): choose, then look the files up on
        the io lane, then send.  The lookup's job id (0 when nothing was started)."""
        rows = [r for r in rows if r.level in ("study", "series")]
        if not rows or self._closed:
            return 0
        images = sum(r.images for r in rows if r.level == "study" or r.parent not in rows)
        what = f"{len(rows)} archive row(s): " + ", ".join(
            f"{r.level} {r.description or r.name}".strip() for r in rows[:3]
        )
        what += (", …" if len(rows) > 3 else "") + f" ({images} images)"
        choice = self.choose(SendRequest(what, tuple(self.nodes())))
        if choice is None:
            return 0
        h = self.archive
        groups: dict[str, list[str]] = {}
        for r in rows:
            groups.setdefault(r.level, []).append(r.uid)

        def paths(ctx: JobContext) -> list[str]:
            a = h.get()
            out: dict[str, None] = {}
            for level, uids in groups.items():
                for _, rel in a.instance_paths(level, uids):
                    out[str(a.path_of(rel))] = None
            return list(out)

        def found(ev: JobFinished) -> None:
            if ev.state is JobState.FAILED:
                self.errors.present(f"Cannot read the archive index: {ev.error}", user_action=True)
            elif ev.state is JobState.SUCCEEDED:
                if ev.result:
                    self.start(choice, ev.result, what)
                else:
                    self.errors.present("Nothing to send: the selection has no files.")

        job = self.bridge.submit(
            paths, name="Send: archive files", lane="io", quiet=True, on_done=found
        )
        return job.id

    def send_paths(self, node: DicomNode | None, paths: list[str]) -> SendRun | None:
        """Files or folders (dropped onto ``node``, or picked): confirm and send."""
        if not paths or self._closed:
            return None
        what = paths[0] if len(paths) == 1 else f"{len(paths)} files or folders"
        choice = self.choose(SendRequest(what, tuple(self.nodes()), node))
        if choice is None:
            return None
        return self.start(choice, paths, what)

    def resend_failed(self, run: SendRun) -> SendRun | None:
        """The files of ``run`` that failed or were not sent, to the same node."""
        if run.result is None or not run.result.resendable or self._closed:
            return None
        previous = run.result
        secrets = self.secrets
        n = len(previous.resendable)
        what = f"{n} file(s) that failed or were not sent"

        def fn(ctx: JobContext) -> SendResult:
            return resend_failed(
                previous, ctx=ctx, passphrase=passphrase_for(secrets, previous.node)
            )

        return self._submit(previous.node, previous.decompress_if_needed, what, fn, "Resend failed")

    def start(self, choice: SendChoice, paths: list[str], what: str) -> SendRun:
        node, decompress, local, secrets = (
            choice.node,
            choice.decompress_if_needed,
            self.local,
            self.secrets,
        )

        def fn(ctx: JobContext) -> SendResult:
            return send(
                local,
                node,
                paths,
                ctx=ctx,
                decompress_if_needed=decompress,
                passphrase=passphrase_for(secrets, node),
            )

        return self._submit(node, decompress, what, fn, "Send")

    def _submit(
        self,
        node: DicomNode,
        decompress: bool,
        what: str,
        fn: Callable[[JobContext], Any],
        verb: str,
    ) -> SendRun:
        model = SendResultsModel(self)
        run = SendRun(0, node, what, decompress, model)

        def progress(ev: JobProgress) -> None:
            run.last_progress = ev
            if run.dialog is not None:
                run.dialog.set_progress(ev)

        job = self.bridge.submit(
            fn,
            name=f"{verb} to {node.name}: {what}",
            node=node.name,
            lane="dimse",
            summarize=summarize,
            on_done=lambda ev: self._done(run, ev),
            on_partials=model.add,
            on_progress=progress,
        )
        run.job_id, run.job = job.id, job
        self.runs[job.id] = run
        self._forget_old()
        self.errors.info(
            f"{verb} to {node.name} started: the Jobs panel shows its progress; "
            "double-click it for the per-file results."
        )
        if self.show_job is not None:
            self.show_job(job.id)
        self.sendStarted.emit(run)
        return run

    def _forget_old(self) -> None:
        done = [k for k, r in self.runs.items() if r.finished and r.dialog is None]
        for k in done[: max(0, len(self.runs) - MAX_KEPT)]:
            self.runs.pop(k, None)

    def _done(self, run: SendRun, ev: JobFinished) -> None:
        run.state, run.error = ev.state, ev.error
        run.job = None
        if isinstance(ev.result, SendResult):
            run.result = ev.result
            if len(run.model.results()) != len(ev.result.files):  # partials dropped: the truth
                run.model.set_results(list(ev.result.files))
        if run.dialog is not None:
            run.dialog.set_finished(run.result, run.error)
        if ev.state is JobState.FAILED:
            self.errors.present(f"Send to {run.node.name} failed: {ev.error}", user_action=True)
        elif run.result is not None and not run.result.ok:
            self.errors.info(
                f"Send to {run.node.name}: {run.result.summary} Double-click the job in the "
                "Jobs panel for the per-file results.",
                timeout_ms=15000,
            )
        self.sendFinished.emit(run)

    # ------------------------------------------------------------------ the results window
    def has_results(self, job_id: int) -> bool:
        return job_id in self.runs

    def show(self, job_id: int) -> SendResultsDialog | None:
        """Open (or raise) the results window of a send; None when the job is not one."""
        run = self.runs.get(job_id)
        if run is None:
            return None
        if run.dialog is None:
            dlg = SendResultsDialog(
                f"Send to {run.node.name} — results",
                f"Send to {run.node.name}   ({run.node.address})",
                run.model,
                self.parent_widget,
            )
            dlg.set_options(run.options_text())
            if run.last_progress is not None:
                dlg.set_progress(run.last_progress)
            if run.finished:
                dlg.set_finished(run.result, run.error)
            dlg.cancelRequested.connect(lambda: self._cancel(run))
            dlg.resendRequested.connect(lambda: self._on_resend(run))
            dlg.finished.connect(lambda _: self._dialog_closed(run))
            run.dialog = dlg
        run.dialog.show()
        run.dialog.raise_()
        run.dialog.activateWindow()
        return run.dialog

    def _cancel(self, run: SendRun) -> None:
        if run.job is not None:
            run.job.cancel()
            if run.dialog is not None:
                run.dialog.rate.setText("Cancelling: the file being sent may finish first…")

    def _on_resend(self, run: SendRun) -> None:
        new = self.resend_failed(run)
        if new is not None:
            self.show(new.job_id)

    @Slot()
    def _dialog_closed(self, run: SendRun) -> None:
        if run.dialog is not None:
            run.dialog.deleteLater()
            run.dialog = None
