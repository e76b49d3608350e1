"""Echo all: many nodes at once, in a process of its own.

Each association in pynetdicom runs two threads (the association and its DUL reactor,
which polls every 0.2 ms in an echo for a precise round trip).  Twenty echoes at once in
the window's process were 40-odd threads taking the GIL from the GUI thread: a sampler
of the GUI thread's stack found it idle in Qt's event loop during 35-80 ms heartbeat
gaps, waiting for the GIL to run its next slot, not doing work.  So the window runs
Echo all as ``pacsadmin echo-all --events --nodes-stdin`` (the local SCP runs in a
process of its own for the same reason) and reads its typed events
(:mod:`pacsadmin.core.dimse.echo_events`) on one worker thread that sleeps in ``read``.

* :func:`echo_many` runs in that process: the echoes, bounded by ``concurrency``, each
  result audited and emitted as soon as it is known.
* :func:`echo_all_in_process` runs in the caller's process (a job's worker thread):
  starts the process, hands it the nodes on stdin, reports each result as a partial of
  the job, and cancels with SIGTERM.  The process also cancels when its stdin closes:
  a window that crashed or was killed leaves no echo process behind.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pacsadmin.core.appfiles import self_command
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.echo import audit_echo, echo
from pacsadmin.core.dimse.echo_events import (
    SCHEMA_VERSION,
    EchoEvent,
    EchoNodeResult,
    EchoRunEnded,
    EchoRunFailed,
    EchoRunStarted,
    Unreadable,
    Unsupported,
    parse_line,
)
from pacsadmin.core.dimse.echo_result import EchoSeries
from pacsadmin.core.jobs import CancelToken, JobContext, null_context
from pacsadmin.core.nodes import DicomNode

log = logging.getLogger("pacsadmin.echo_all")

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])
# the echo process yields the CPU to the window on a busy machine (a niceness of 10
# weighs about a tenth of a normal process); its echoes are short and few
ECHO_PROCESS_NICE = 10


# ------------------------------------------------------------------ in the echo process
def echo_many(
    local: LocalAE,
    nodes: Sequence[DicomNode],
    emit: Callable[[EchoEvent], None],
    *,
    concurrency: int,
    token: CancelToken,
    passphrase: Callable[[DicomNode], str | None] = lambda node: None,
    audit: Any = None,
    timeout: float | None = None,
) -> EchoRunEnded:
    """Echo every node once, ``concurrency`` at a time; emits ``started``, one ``result``
    per node in the order they finish, and returns the ``ended`` event (not emitted:
    the caller emits it, after anything of its own)."""
    workers = max(1, min(concurrency, len(nodes)))
    emit(EchoRunStarted(len(nodes), workers))
    done = 0
    lock = threading.Lock()

    def one(index: int, node: DicomNode) -> None:
        nonlocal done
        if token.cancelled:
            return
        ctx = JobContext(index, token, lambda ev: None)
        series = echo(local, node, passphrase=passphrase(node), ctx=ctx, timeout=timeout)
        if audit is not None and series.results:
            try:
                audit_echo(audit, series, "echo")
            except Exception:  # an audit failure is logged, the result still counts
                log.exception("cannot audit the echo of %s", node.name)
        with lock:
            done += 1
            emit(EchoNodeResult(index, node.name, series))

    with ThreadPoolExecutor(workers, thread_name_prefix="echo") as pool:
        try:
            for f in [pool.submit(one, i, n) for i, n in enumerate(nodes)]:
                f.result()
        except BaseException:  # Ctrl-C: end the echoes under way now, not at their timeout
            token.cancel()
            raise
    return EchoRunEnded(done, len(nodes), token.cancelled)


class NodeListError(ValueError):
    """The node list on the echo process's stdin cannot be read."""


def read_nodes_line(stream: IO[str]) -> list[DicomNode]:
    """The first line the window writes: ``{"v": 1, "nodes": [node, ...]}``."""
    line = stream.readline()
    try:
        d = json.loads(line)
        if not isinstance(d, dict) or d.get("v") != SCHEMA_VERSION:
            raise ValueError(f"expected schema version {SCHEMA_VERSION}")
        return [DicomNode.from_json(n) for n in d["nodes"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise NodeListError(f"the node list on stdin is not valid: {exc}") from None


CANCEL_GRACE = 3.0  # seconds the echo process gives its echoes to end after a cancel


def cancel_then_exit(token: CancelToken, grace: float = CANCEL_GRACE) -> None:
    """Cancel the echoes (each closes its socket and reports "Cancelled"), and end the
    process after ``grace`` seconds whatever they do: an association whose reactor did
    not notice its socket closing would otherwise wait for its ACSE timeout (minutes)."""
    timer = threading.Timer(grace, os._exit, args=(1,))  # first: whatever cancel() does
    timer.daemon = True
    timer.start()
    token.cancel()


def cancel_when_stdin_closes(stream: IO[str], token: CancelToken) -> threading.Thread:
    """Cancel on a ``cancel`` line or end of file (the parent closed it, or is gone)."""

    def watch() -> None:
        try:
            for line in stream:
                if line.strip() == "cancel":
                    break
        except (OSError, ValueError):
            pass
        cancel_then_exit(token)

    th = threading.Thread(target=watch, name="echo-stdin", daemon=True)
    th.start()
    return th


# ------------------------------------------------------------------ in the caller's process
@dataclass(frozen=True)
class EchoAllSummary:
    """What an Echo-all job returns: every node's series (by request index)."""

    total: int
    results: dict[int, EchoSeries] = field(default_factory=dict)
    cancelled: bool = False

    @property
    def succeeded(self) -> int:
        return sum(s.ok for s in self.results.values())

    @property
    def ok(self) -> bool:
        return self.total > 0 and self.succeeded == self.total


class EchoProcessError(RuntimeError):
    """The echo process could not start or ended without its ``ended`` event."""


def echo_process_command(config_dir: Path) -> list[str]:
    return [
        *self_command(),  # python -m pacsadmin, or the packaged app's own program
        "--config-dir",
        str(config_dir),
        "echo-all",
        "--events",
        "--nodes-stdin",
    ]


def _lower_priority(pid: int) -> None:
    """Right after the start, before its interpreter has loaded much: the process's
    imports and echoes then never take a core from the window on a busy machine."""
    setpriority = getattr(os, "setpriority", None)  # not on Windows
    if setpriority is None:
        return
    try:
        setpriority(os.PRIO_PROCESS, pid, ECHO_PROCESS_NICE)
    except OSError:
        pass


def echo_all_in_process(
    config_dir: Path,
    nodes: Sequence[DicomNode],
    ctx: JobContext | None = None,
    *,
    command: list[str] | None = None,
) -> EchoAllSummary:
    """Echo ``nodes`` in a ``pacsadmin echo-all`` process; each result is reported as a
    partial (:class:`EchoNodeResult`) and as progress, on this (worker) thread."""
    ctx = ctx or null_context()
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = _PACKAGE_PARENT + (os.pathsep + path if path else "")
    env["PYTHONUNBUFFERED"] = "1"
    results: dict[int, EchoSeries] = {}
    ended: EchoRunEnded | None = None
    failed: str | None = None
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            command or echo_process_command(config_dir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        _lower_priority(proc.pid)
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin

        def close_stdin() -> None:
            try:
                stdin.close()
            except (OSError, ValueError):
                pass

        def stop() -> None:
            """The cancel, on the canceller's (GUI) thread: SIGTERM, which never blocks
            (closing stdin could wait for a write of the node list in progress); the
            process cancels its echoes, reports them and ends."""
            try:
                proc.terminate()
            except OSError:
                pass
            # and its stdin's end: a thread of its own reads it, so the cancel arrives even
            # when the signal handler does not get to run in its main thread
            close_stdin()
            # it ends itself CANCEL_GRACE s after the signal; should it not (stuck before
            # it could act on it), it is killed, so the job always ends
            killer = threading.Timer(CANCEL_GRACE + 5.0, _kill_if_running, args=(proc,))
            killer.daemon = True
            killer.start()

        unhook = ctx.token.on_cancel(stop)
        try:
            try:
                payload = {"v": SCHEMA_VERSION, "nodes": [n.to_json() for n in nodes]}
                stdin.write(json.dumps(payload) + "\n")
                stdin.flush()
            except (OSError, ValueError):
                pass  # it ended early (its stderr says why) or we were cancelled
            ctx.progress(0, len(nodes))
            for line in proc.stdout:
                if not line.strip():
                    continue
                ev = parse_line(line)
                if isinstance(ev, Unreadable):
                    log.warning("echo process: %s: %s", ev.why, ev.line)
                elif isinstance(ev, Unsupported):
                    failed = failed or ev.message
                elif isinstance(ev, EchoNodeResult):
                    results[ev.index] = ev.series
                    ctx.report(ev)
                    summary = ev.series.results[-1].summary if ev.series.results else ""
                    ctx.progress(len(results), len(nodes), summary)
                elif isinstance(ev, EchoRunEnded):
                    ended = ev
                elif isinstance(ev, EchoRunFailed):
                    failed = ev.message
            code = _wait(proc)
        finally:
            unhook()
            close_stdin()
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        if ctx.cancelled:  # whatever it said after that (a cancel before it read the nodes)
            pass
        elif failed is not None:
            raise EchoProcessError(failed)
        elif ended is None:
            err.seek(0)
            tail = err.read()[-2000:].decode("utf-8", "replace").strip().splitlines()
            raise EchoProcessError(
                f"the echo process ended without finishing (exit code {code})"
                + (f": {tail[-1]}" if tail else "")
            )
    return EchoAllSummary(
        len(nodes), results, cancelled=ctx.cancelled or bool(ended and ended.cancelled)
    )


def _kill_if_running(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        log.warning("echo process %s did not end after its cancel: killed", proc.pid)
        try:
            proc.kill()
        except OSError:
            pass


def _wait(proc: subprocess.Popen[str]) -> int:
    """Its stdout is at end of file: it is ending.  Terminate, then kill, if it hangs."""
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            return proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(5)
