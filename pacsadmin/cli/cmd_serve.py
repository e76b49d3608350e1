"""``pacsadmin serve``: the local storage + Q/R SCP over the archive, until Ctrl-C.

With ``scp_worker_processes`` > 1 (default: cores minus one) the command starts that many
worker processes sharing the port (SO_REUSEPORT; the kernel spreads associations over
them), each with its own index writer; SQLite's lock keeps the index consistent.
"""

from __future__ import annotations

import argparse
from typing import Any

from pacsadmin.cli.argtypes import port


def register(sub: Any) -> None:
    h = "run the local DICOM node (C-ECHO, C-STORE into the archive, C-FIND/C-MOVE/C-GET)"
    p = sub.add_parser("serve", help=h, description=h + "; runs until Ctrl-C")
    p.add_argument("--aet", metavar="AET", help="AE title (default: settings local_ae_title)")
    p.add_argument("--port", type=port, metavar="N", help="port (default: settings scp_port)")
    p.add_argument(
        "--bind", default="", metavar="ADDR", help="listen on ADDR only (default: all addresses)"
    )
    p.add_argument(
        "--whitelist",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="accept only calling AE titles of nodes in the directory (default: settings)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes sharing the port (default: settings; 0 = cores minus one)",
    )
    p.add_argument(
        "--events",
        action="store_true",
        help="print one JSON line per association event on stdout (open, progress at most "
        "twice a second, close; no patient data): the channel a GUI reads",
    )
    p.add_argument("--worker-child", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run_serve)


def _config(args: argparse.Namespace, ctx: Any, *, reuse_port: bool) -> Any:
    from pacsadmin.cli.main import UsageError
    from pacsadmin.core.dimse.scp import ScpConfig
    from pacsadmin.core.errors import ValidationError
    from pacsadmin.core.nodes import validate_ae_title

    kw: dict[str, Any] = {"bind": args.bind, "reuse_port": reuse_port}
    cfg = ScpConfig.from_settings(ctx.settings, **kw)
    from dataclasses import replace

    if args.aet:
        try:
            cfg = replace(cfg, ae_title=validate_ae_title(args.aet, field="aet"))
        except ValidationError as exc:
            raise UsageError(str(exc)) from None
    if args.port:
        cfg = replace(cfg, port=args.port)
    if args.whitelist is not None:
        cfg = replace(cfg, whitelist=args.whitelist)
    return cfg


def _console_log(worker: bool = False) -> None:
    import logging

    from pacsadmin.core.logs import RedactingFilter

    h = logging.StreamHandler()
    fmt = "%(asctime)s [%(process)d] %(message)s" if worker else "%(asctime)s %(message)s"
    h.setFormatter(logging.Formatter(fmt, "%H:%M:%S"))
    h.addFilter(RedactingFilter())
    lg = logging.getLogger("pacsadmin.scp")
    lg.setLevel(logging.INFO)
    lg.addHandler(h)
    lg.propagate = True
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)


class _EventPrinter:
    """JSON lines on stdout for a watching GUI: open, progress (throttled), close."""

    FIELDS = [
        "id",
        "calling_ae",
        "called_ae",
        "address",
        "port",
        "stored",
        "duplicates",
        "failed",
        "bytes",
        "finds",
        "moves",
        "gets",
        "started",
        "ended",
        "aborted",
        "rejected",
        "errors",
        "transcript_file",
    ]

    def __init__(self) -> None:
        import os
        import threading

        self._lock = threading.Lock()
        self._last: dict[int, float] = {}
        self.pid = os.getpid()

    def emit(self, kind: str, **data: Any) -> None:
        import json
        import sys

        line = json.dumps({"event": kind, "pid": self.pid, **data}, default=str)
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def __call__(self, kind: str, rec: Any) -> None:
        import time

        now = time.monotonic()
        if kind == "store":
            if now - self._last.get(rec.id, 0.0) < 0.5:
                return
            kind = "progress"
        self._last[rec.id] = now
        if kind == "close":
            self._last.pop(rec.id, None)
        self.emit(kind, **{f: getattr(rec, f) for f in self.FIELDS})


def _stop_event() -> Any:
    import signal
    import threading

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def run_serve(args: argparse.Namespace, ctx: Any) -> int:
    import sys

    from pacsadmin.cli.main import UsageError
    from pacsadmin.core.archive import Archive
    from pacsadmin.core.archive.archive import serve_lock

    workers = args.workers if args.workers is not None else ctx.settings.scp_worker_processes
    if workers < 0 or workers > 64:
        raise UsageError("--workers must be between 0 and 64")
    if workers == 0:
        from dataclasses import replace

        workers = replace(ctx.settings, scp_worker_processes=0).effective_scp_workers
    if workers > 1 and not args.worker_child:
        return _run_parent(args, ctx, workers)

    _console_log(args.worker_child)
    stop = _stop_event()
    from pacsadmin.core.dimse.scp import LocalScp

    cfg = _config(args, ctx, reuse_port=args.worker_child)
    lock = None if args.worker_child else serve_lock(ctx.paths.archive_dir)
    archive = Archive(
        ctx.paths.archive_dir,
        duplicate_policy=ctx.settings.duplicate_policy,
        fsync=ctx.settings.archive_fsync,
        # the one SCP of this archive clears every leftover; workers leave it to the parent
        sweep=False if args.worker_child else ("all" if lock is not None else True),
    )
    try:
        try:
            events = _EventPrinter() if args.events else None
            scp = LocalScp(
                archive,
                cfg,
                nodes=ctx.nodes,
                listener=events,
                transcript_dir=ctx.paths.logs_dir / "scp-transcripts",
            ).start()
        except OSError as exc:
            print(
                f"pacsadmin serve: cannot listen on port {cfg.port}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
        if events is not None:
            events.emit("listening", ae_title=cfg.ae_title, port=scp.port)
        if not args.worker_child:
            ctx.audit.record(
                "serve", "started", target=f"{cfg.ae_title}:{scp.port}", summary="SCP started"
            )
        if not args.worker_child and events is None:
            print(
                f"pacsadmin: {cfg.ae_title} listening on port {scp.port}, archive "
                f"{archive.root}; Ctrl-C to stop",
                flush=True,
            )
        try:
            while not stop.wait(0.5):
                pass
        finally:
            scp.stop()
    finally:
        archive.close()
    return 0


def _run_parent(args: argparse.Namespace, ctx: Any, workers: int) -> int:
    """Sweep the archive's temp folder once, then run ``workers`` children on one port."""
    import subprocess
    import sys

    from pacsadmin.core.archive import Archive
    from pacsadmin.core.archive.archive import serve_lock

    lock = serve_lock(ctx.paths.archive_dir)  # held until the workers stop
    # creates the index; clears every leftover temp file when no other SCP uses the archive
    Archive(ctx.paths.archive_dir, sweep="all" if lock is not None else True).close()
    cfg = _config(args, ctx, reuse_port=True)
    cmd = [sys.executable, "-m", "pacsadmin", "--config-dir", str(ctx.paths.home), "serve"]
    cmd += ["--worker-child", "--aet", cfg.ae_title, "--port", str(cfg.port)]
    if args.bind:
        cmd += ["--bind", args.bind]
    if args.whitelist is not None:
        cmd.append("--whitelist" if args.whitelist else "--no-whitelist")
    if args.events:
        cmd.append("--events")
    stop = _stop_event()
    procs = [subprocess.Popen(cmd) for _ in range(workers)]
    print(
        f"pacsadmin: {cfg.ae_title} listening on port {cfg.port} with {workers} worker "
        f"processes, archive {ctx.paths.archive_dir}; Ctrl-C to stop",
        file=sys.stderr if args.events else sys.stdout,
        flush=True,
    )
    rc = 0
    try:
        while not stop.wait(0.5):
            if any(p.poll() is not None for p in procs):
                if stop.wait(0.5):  # Ctrl-C reached the workers first: a clean stop
                    break
                rc = 1
                print("pacsadmin serve: a worker process stopped; stopping", file=sys.stderr)
                break
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    return rc
