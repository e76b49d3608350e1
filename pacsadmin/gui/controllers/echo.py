"""Echo, Doctor and Echo all: submits the core's ``echo`` as jobs and turns what each job
reports (its own callbacks, on the GUI thread) into status lights and Doctor panel
updates."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.echo import audit_echo, echo
from pacsadmin.core.dimse.echo_all import EchoAllSummary, echo_all_in_process
from pacsadmin.core.dimse.echo_events import EchoNodeResult
from pacsadmin.core.dimse.echo_result import EchoSeries, Step
from pacsadmin.core.dimse.return_path import ReturnPathResult
from pacsadmin.core.errors import ValidationError
from pacsadmin.core.jobs import Job, JobContext, JobFinished, JobProgress, JobState
from pacsadmin.core.node_service import passphrase_for
from pacsadmin.core.nodes import DicomNode, NodeDirectory, parse_target
from pacsadmin.core.secrets import SecretStore
from pacsadmin.gui.errors import ActivityLog, ErrorPresenter
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.models.node_model import NodeStatus, NodeTableModel
from pacsadmin.gui.widgets.doctor_panel import DoctorPanel

FLUSH_MS = 100  # Echo all: lights and log lines applied at most this often


def status_from_series(series: EchoSeries, when: float) -> NodeStatus:
    last = series.results[-1]
    lat = series.latency()
    return NodeStatus(series.ok, lat["median"] if lat else None, when, last.summary)


def describe_result(result: Any) -> tuple[str, bool | None]:
    """The Jobs panel's result text for a job's result, and whether it is good news."""
    if isinstance(result, EchoAllSummary):
        if result.total == 1 and result.results:  # one node: its own sentence
            (series,) = result.results.values()
            return describe_result(series)
        text = f"{result.succeeded}/{result.total} ok"
        if result.cancelled:
            text += f", cancelled after {len(result.results)}"
        return text, result.ok
    if not isinstance(result, EchoSeries) or not result.results:
        return "", None
    if len(result.results) == 1:
        return result.results[0].summary, result.ok
    lat = result.latency()
    text = f"{result.succeeded}/{len(result.results)} ok" + (
        f", median {lat['median']:.1f} ms" if lat else ""
    )
    return text, result.ok


@dataclass(frozen=True)
class ReturnPathStarted:
    """A Doctor job's partial: the echo is done, the return-path test begins."""

    wait: float


def echo_job(
    local: LocalAE,
    audit: AuditLog,
    secrets: SecretStore,
    node: DicomNode,
    *,
    count: int = 1,
    mode: str = "echo",
    return_path_archive: Any = None,
) -> Any:
    """The worker's function: plain values only, never a QObject.  With
    ``return_path_archive`` (an ArchiveHandle), a Doctor run whose echo succeeded also
    runs the return-path test (a C-MOVE of one object back to this computer) and reports
    its :class:`ReturnPathResult` as a partial."""
    action = "doctor" if mode == "survey" else "echo"

    def run(ctx: JobContext) -> EchoSeries:
        passphrase = passphrase_for(secrets, node)
        series = echo(local, node, count=count, mode=mode, passphrase=passphrase, ctx=ctx)
        audit_echo(audit, series, action)
        if return_path_archive is not None and series.ok and not ctx.cancelled:
            from pacsadmin.core.dimse.return_path import WAIT, return_path

            ctx.report(ReturnPathStarted(WAIT))
            rp = return_path(
                local, node, archive=return_path_archive.get(), ctx=ctx, passphrase=passphrase
            )
            ctx.report(rp)
            audit.record(
                "doctor",
                "success" if rp.ok else "failure",
                node=node.name,
                target=node.address,
                summary=f"return path: {rp.verdict}: {rp.sentence}"[:500],
                details={"verdict": rp.verdict, "status": rp.status, "from": "window"},
            )
        return series

    return run


class EchoController(QObject):
    """Runs echoes and Doctor runs; each job's progress, steps and result come back to
    the callbacks given with it (``JobBridge.submit``)."""

    echoFinished = Signal()  # an echo, Doctor run or Echo all ended (the audit log grew)

    def __init__(
        self,
        *,
        local: LocalAE,
        nodes: NodeDirectory,
        audit: AuditLog,
        secrets: SecretStore,
        bridge: JobBridge,
        model: NodeTableModel,
        doctor_panel: DoctorPanel,
        activity: ActivityLog,
        errors: ErrorPresenter,
        config_dir: Path,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.local, self.nodes, self.audit, self.secrets = local, nodes, audit, secrets
        self.bridge, self.model, self.doctor_panel = bridge, model, doctor_panel
        self.activity, self.errors = activity, errors
        self.doctor_job: Job[Any] | None = None  # the run shown in the Doctor panel
        self.config_dir = config_dir
        self.archive_handle: Any = None  # the archive, for the Doctor's return-path test
        # Echo-all results, applied at most every FLUSH_MS (200 nodes answer within a
        # second: one update each kept the GUI thread busy re-sorting the table and the log)
        self._pending: dict[str, NodeStatus] = {}
        self._pending_lines: list[str] = []
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._closed = False

    # ------------------------------------------------------------------ start-up
    def load_statuses(self) -> None:
        """The lights as the audit log left them (this app's or the CLI's echoes), read
        on the io lane (SQLite is never read on the GUI thread)."""
        audit = self.audit

        def read(ctx: JobContext) -> dict[str, NodeStatus]:
            latest = audit.last_per_node("echo")
            for name, e in audit.last_per_node("doctor").items():
                if name not in latest or e.ts > latest[name].ts:
                    latest[name] = e
            statuses = {}
            for name, e in latest.items():
                lat = (e.details.get("latency_ms") or {}).get("median")
                if lat is None and e.outcome == "success":
                    lat = e.details.get("total_ms")
                statuses[name] = NodeStatus(e.outcome == "success", lat, e.ts, e.summary)
            return statuses

        def done(ev: JobFinished) -> None:
            if isinstance(ev.result, dict):  # a light set since (an echo already) wins
                fresh = self.model.status
                old = {
                    n: s
                    for n, s in ev.result.items()
                    if fresh(n).when is None and not fresh(n).running
                }
                self.model.set_statuses(old)
            elif ev.error:
                self.errors.present(f"Cannot read the last echoes from the audit log: {ev.error}")

        self.bridge.submit(read, name="Audit: last echoes", lane="io", quiet=True, on_done=done)

    # ------------------------------------------------------------------ one node
    def submit(self, node: DicomNode, kind: str, *, count: int = 1, mode: str = "echo") -> int:
        """kind: "echo" or "doctor": one node, in this process (two pynetdicom threads),
        shown in the Doctor panel, on the priority lane.  Many nodes: :meth:`echo_all`."""
        light = node.name if self.model.row_of(node.name) >= 0 else None
        label = {"echo": "Echo", "doctor": "Doctor"}[kind]
        job: Job[Any] | None = None
        rp_archive = (
            self.archive_handle
            if kind == "doctor" and self.doctor_panel.wants_return_path()
            else None
        )
        tested: list[ReturnPathResult] = []

        def progress(ev: JobProgress) -> None:
            if job is self.doctor_job:
                self.doctor_panel.set_progress(ev.done, ev.total)

        def partials(items: list[Any]) -> None:
            if job is self.doctor_job:
                for item in items:
                    if isinstance(item, Step):
                        self.doctor_panel.add_step(item)
                    elif isinstance(item, ReturnPathStarted):
                        self.doctor_panel.return_path_running(item.wait)
                    elif isinstance(item, ReturnPathResult):
                        tested.append(item)
                        self.doctor_panel.show_return_path(item)

        def done(ev: JobFinished) -> None:
            series = ev.result if isinstance(ev.result, EchoSeries) else None
            if light is not None:
                if series is not None and series.results:
                    self.model.set_status(light, status_from_series(series, time.time()))
                else:
                    self.model.set_status(light, replace(self.model.status(light), running=False))
            if job is self.doctor_job:
                self.doctor_job = None
                if series is not None:
                    self.doctor_panel.show_series(series)
                else:
                    self.doctor_panel.show_failure(ev.error or "The run did not complete.")
                if rp_archive is not None and not tested:
                    self.doctor_panel.return_path_skipped(
                        "Cancelled."
                        if ev.state is JobState.CANCELLED
                        else "Not tested: the echo failed (the PACS must answer first)."
                    )
            if ev.state is JobState.FAILED:
                self.errors.present(f"{label} failed: {ev.error}", user_action=True)
            self.echoFinished.emit()

        job = self.bridge.submit(
            echo_job(
                self.local,
                self.audit,
                self.secrets,
                node,
                count=count,
                mode=mode,
                return_path_archive=rp_archive,
            ),
            name=f"{label} {node.name}" + (f" ×{count}" if count > 1 else ""),
            node=node.name,
            lane="priority",
            summarize=describe_result,
            on_progress=progress,
            on_partials=partials,
            on_done=done,
        )
        old = self.model.status(node.name)
        if light is not None and not old.running:
            self.model.set_status(light, replace(old, running=True))
        self.doctor_job = job  # a single-node run is shown in the Doctor panel
        self.doctor_panel.set_target(node.name)
        self.doctor_panel.begin(node.address, count, return_path=rp_archive is not None)
        return job.id

    def run_target(self, target: str, count: int, survey: bool) -> None:
        """The Doctor panel's Run: a node name, or an ad-hoc AET@HOST:PORT."""
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
        self.submit(node, "doctor", count=count, mode="survey" if survey else "echo")

    def cancel_doctor(self) -> None:
        if self.doctor_job is not None:
            self.doctor_job.cancel()

    # ------------------------------------------------------------------ many nodes
    def echo_all(self, nodes: list[DicomNode] | None = None) -> int | None:
        """Echo every node (or ``nodes``) as one job whose network work runs in a
        ``pacsadmin echo-all`` process (see :mod:`pacsadmin.core.dimse.echo_all`: forty
        pynetdicom threads in this process stalled the GUI thread for 50-110 ms on the
        GIL).  Each node's light changes as its result arrives; the job's cancel ends
        the process's echoes."""
        nodes = self.nodes.list() if nodes is None else nodes
        if not nodes or self._closed:
            return None
        self.errors.info(f"Echoing {len(nodes)} node(s)...")
        # the directory name of each requested node, by request index (None: not in it)
        names = [n.name if self.model.row_of(n.name) >= 0 else None for n in nodes]
        self.model.set_statuses(
            {n: replace(self.model.status(n), running=True) for n in names if n is not None}
        )

        def partials(items: list[Any]) -> None:
            now = time.time()
            for item in items:
                if not isinstance(item, EchoNodeResult) or not item.series.results:
                    continue
                name = names[item.index] if 0 <= item.index < len(names) else None
                if name is not None:
                    self._pending[name] = status_from_series(item.series, now)
                self._pending_lines.append(item.series.results[-1].summary)
            if (self._pending or self._pending_lines) and not self._flush_timer.isActive():
                self._flush_timer.start()

        def done(ev: JobFinished) -> None:
            self._flush()  # lights still "running" had no result (cancelled, failed)
            stale = {
                n: replace(self.model.status(n), running=False)
                for n in names
                if n is not None and self.model.status(n).running
            }
            if stale:
                self.model.set_statuses(stale)
            if ev.state is JobState.FAILED:
                self.errors.present(f"Echo failed: {ev.error}")
            self.echoFinished.emit()

        home, batch = self.config_dir, list(nodes)
        job = self.bridge.submit(
            lambda ctx: echo_all_in_process(home, batch, ctx),
            name=f"Echo all ({len(batch)} node{'s' if len(batch) != 1 else ''})",
            lane="priority",
            summarize=describe_result,
            on_partials=partials,
            on_done=done,
        )
        return job.id

    @Slot()
    def _flush(self) -> None:
        """Echo-all results that arrived since the last flush: one model update (the
        sorted node table re-sorts once, not per node) and one append to the log."""
        self._flush_timer.stop()
        if self._pending:
            pending, self._pending = self._pending, {}
            self.model.set_statuses(pending)
        if self._pending_lines:
            lines, self._pending_lines = self._pending_lines, []
            self.activity.add_many("echo", lines)

    def close(self) -> None:
        self._closed = True
        self._flush_timer.stop()
