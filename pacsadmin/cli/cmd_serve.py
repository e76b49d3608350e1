"""``pacsadmin serve``: the local storage + Q/R SCP over the archive, until Ctrl-C.

With ``scp_worker_processes`` > 1 (default: cores minus one) the command starts that many
worker processes sharing the port (SO_REUSEPORT; the kernel spreads associations over
them), each with its own index writer; SQLite's lock keeps the index consistent.
"""

from __future__ import annotations

import argparse
from typing import Any

from pacsadmin.cli import serve_security
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
        help="print one JSON line per event on stdout (listening, failed with a reason, open, "
        "progress at most twice a second, close, stopped; each with a schema version 'v'; "
        "no patient data): the channel the window reads",
    )
    p.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one ends (its end of stdin closes, or "
        "it goes away): how the window starts it",
    )
    serve_security.register(p)
    p.add_argument(
        "--fast-receive",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read C-STORE data sets from the socket straight into the archive (default); "
        "--no-fast-receive: pynetdicom's own receive for every message (slower; a fallback)",
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="run the demo PACS instead (AE title DEMOPACS, port 11113 unless --port, on "
        "127.0.0.1 unless --bind, its own archive of generated studies, the node 'Demo PACS' "
        "of the directory while it runs)",
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
    if args.deadline is not None:
        cfg = replace(cfg, association_deadline=args.deadline)
    if not args.fast_receive:
        cfg = replace(cfg, fast_receive=False)
    return serve_security.tls_config(args, ctx, cfg)


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


def _audit(ctx: Any, outcome: str, target: str, summary: str) -> None:
    """An audit record of the SCP starting or stopping; a failing audit log does not stop
    the SCP (it is said in the log)."""
    try:
        ctx.audit.record("serve", outcome, target=target, summary=summary)
    except Exception as exc:  # the audit database unwritable, say
        import logging

        logging.getLogger("pacsadmin.scp").warning(
            "serve: cannot write the audit log: %s", type(exc).__name__
        )


def _not_started(
    ctx: Any | None, events: Any, target: str, reason: str, message: str, *, code: int = 1
) -> int:
    """A start-up failure: a ``failed`` event (``--events``), stderr, and the audit log
    (``ctx``; None in a worker process, whose parent audits)."""
    import sys

    from pacsadmin.core.dimse.scp_events import Failed

    if events is not None:
        events.emit(Failed(events.pid, reason, message))
    print(f"pacsadmin serve: not started: {message}", file=sys.stderr, flush=True)
    if ctx is not None:
        _audit(ctx, "failed", target, f"SCP not started: {message}")
    return code


def run_serve(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.cli.main import EXIT_USAGE, UsageError
    from pacsadmin.cli.serve_support import EventPrinter
    from pacsadmin.core.dimse import scp_events

    if args.tls_passphrase_stdin:
        return serve_security.store_passphrase(ctx, _audit)
    if args.demo:
        from pacsadmin.cli.serve_demo import run_demo

        return run_demo(args, ctx)
    events = EventPrinter() if args.events else None
    target = f"{args.aet or ctx.settings.local_ae_title}:{args.port or ctx.settings.scp_port}"
    workers = args.workers if args.workers is not None else ctx.settings.scp_worker_processes
    if workers < 0 or workers > 64:
        return _not_started(
            ctx, events, target, scp_events.BAD_ARGUMENT,
            "--workers must be between 0 and 64", code=EXIT_USAGE,
        )  # fmt: skip
    if workers == 0:
        from dataclasses import replace

        workers = replace(ctx.settings, scp_worker_processes=0).effective_scp_workers
    try:
        cfg = _config(args, ctx, reuse_port=args.worker_child or workers > 1)
    except UsageError as exc:
        return _not_started(ctx, events, target, scp_events.BAD_AE_TITLE, str(exc), code=EXIT_USAGE)
    if not args.worker_child:  # a worker's parent has checked (and said why)
        bad_tls = serve_security.check_tls(cfg, ctx)
        if bad_tls is not None:
            return _not_started(ctx, events, target, *bad_tls)
    if workers > 1 and not args.worker_child:
        return _run_parent(args, ctx, cfg, workers, events)
    return _run_single(args, ctx, cfg, events)


def _run_single(args: argparse.Namespace, ctx: Any, cfg: Any, events: Any) -> int:
    """One process serving (alone, or as one worker of ``_run_parent``)."""
    import logging
    import sqlite3

    from pacsadmin.cli.serve_support import ParentWatch, stop_on_signals
    from pacsadmin.core.archive import Archive
    from pacsadmin.core.archive.archive import serve_lock
    from pacsadmin.core.dimse import scp_events
    from pacsadmin.core.dimse.scp import LocalScp
    from pacsadmin.core.dimse.scp_events import Listening, Stopped
    from pacsadmin.core.dimse.scp_tls import ScpTlsError
    from pacsadmin.core.errors import PacsAdminError

    _console_log(args.worker_child)
    log = logging.getLogger("pacsadmin.scp")
    stop = stop_on_signals()
    watch = ParentWatch(stop) if args.exit_with_parent else None
    target = f"{cfg.ae_title}:{cfg.port}"
    audit_ctx = None if args.worker_child else ctx  # a worker's parent audits

    def not_started(reason: str, message: str) -> int:
        return _not_started(audit_ctx, events, target, reason, message)

    root = ctx.paths.archive_dir
    try:
        lock = None if args.worker_child else serve_lock(root)
        archive = Archive(
            root,
            duplicate_policy=ctx.settings.duplicate_policy,
            fsync=ctx.settings.archive_fsync,
            # the one SCP of this archive clears every leftover; workers leave it to the parent
            sweep=False if args.worker_child else ("all" if lock is not None else True),
        )
    except (OSError, sqlite3.Error, PacsAdminError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return not_started(
            scp_events.ARCHIVE_UNUSABLE, f"the archive folder {root} cannot be used: {why}"
        )
    try:
        try:
            scp = LocalScp(
                archive,
                cfg,
                nodes=ctx.nodes,
                listener=events,
                transcript_dir=ctx.paths.logs_dir / "scp-transcripts",
                tls_passphrase=serve_security.tls_passphrase(ctx) if cfg.tls is not None else None,
                audit=ctx.audit,
            ).start()
        except OSError as exc:
            return not_started(*scp_events.listen_failure(exc, cfg.port, cfg.bind))
        except ScpTlsError as exc:  # the key changed since the check, say
            return not_started(scp_events.TLS_UNUSABLE, str(exc))
        except PacsAdminError as exc:  # a damaged node directory, say
            return not_started(scp_events.BAD_CONFIG, str(exc))
        except Exception as exc:
            log.exception("serve: cannot start")
            return not_started(scp_events.INTERNAL, f"cannot start: {type(exc).__name__}")
        target = f"{cfg.ae_title}:{scp.port}"
        if events is not None:
            events.emit(Listening(events.pid, cfg.ae_title, scp.port, cfg.bind))
        if audit_ctx is not None:
            _audit(ctx, "started", target, "SCP started")
        if not args.worker_child and events is None:
            print(
                f"pacsadmin: {cfg.ae_title} listening on port {scp.port}, archive "
                f"{archive.root}; Ctrl-C to stop",
                flush=True,
            )
        try:
            while not stop.wait(0.5):
                if watch is not None and watch.poll():
                    break
        finally:
            scp.stop()  # stops listening and aborts open associations (their temp files go)
    finally:
        archive.close()  # every received file is indexed before the process ends
    if events is not None:
        events.emit(Stopped(events.pid, stop.reason, stop.message))
    if audit_ctx is not None:
        _audit(ctx, "stopped", target, f"SCP stopped: {stop.message or 'no reason given'}")
    return 0


def _run_parent(args: argparse.Namespace, ctx: Any, cfg: Any, workers: int, events: Any) -> int:
    """Sweep the archive's temp folder once, then run ``workers`` children on one port.

    Each child writes its own events (``--events``) on the shared stdout; the parent writes
    a ``failed`` event only when it cannot start them.  The children stop with the parent
    (``--exit-with-parent``, their stdin a pipe from it)."""
    import sqlite3
    import subprocess
    import sys

    from pacsadmin.cli.serve_support import ParentWatch, stop_on_signals
    from pacsadmin.core.archive import Archive
    from pacsadmin.core.archive.archive import serve_lock
    from pacsadmin.core.dimse import scp_events
    from pacsadmin.core.errors import PacsAdminError

    target = f"{cfg.ae_title}:{cfg.port}"
    root = ctx.paths.archive_dir
    try:
        lock = serve_lock(root)  # held until the workers stop
        # creates the index; clears every leftover temp file when no other SCP uses it
        Archive(root, sweep="all" if lock is not None else True).close()
    except (OSError, sqlite3.Error, PacsAdminError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return _not_started(
            ctx, events, target, scp_events.ARCHIVE_UNUSABLE,
            f"the archive folder {root} cannot be used: {why}",
        )  # fmt: skip
    from pacsadmin.core.appfiles import self_command

    cmd = [*self_command(), "--config-dir", str(ctx.paths.home), "serve"]
    cmd += ["--worker-child", "--exit-with-parent", "--aet", cfg.ae_title]
    cmd += ["--port", str(cfg.port)]
    if args.bind:
        cmd += ["--bind", args.bind]
    if args.whitelist is not None:
        cmd.append("--whitelist" if args.whitelist else "--no-whitelist")
    cmd += ["--deadline", str(cfg.association_deadline)]
    if cfg.tls is None:
        cmd.append("--no-tls")
    else:
        cmd += ["--tls", "--tls-cert", cfg.tls.cert, "--tls-key", cfg.tls.key]
        cmd += ["--tls-client-ca", cfg.tls.client_ca]
    if not args.fast_receive:
        cmd.append("--no-fast-receive")
    if args.events:
        cmd.append("--events")
    stop = stop_on_signals()
    watch = ParentWatch(stop) if args.exit_with_parent else None
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE) for _ in range(workers)]
    print(
        f"pacsadmin: {cfg.ae_title} listening on port {cfg.port} with {workers} worker "
        f"processes, archive {root}; Ctrl-C to stop",
        file=sys.stderr if args.events else sys.stdout,
        flush=True,
    )
    _audit(ctx, "started", target, f"SCP started ({workers} worker processes)")
    rc = 0
    try:
        while not stop.wait(0.5):
            if watch is not None and watch.poll():
                break
            if any(p.poll() is not None for p in procs):
                if stop.wait(0.5):  # Ctrl-C reached the workers first: a clean stop
                    break
                rc = 1
                stop.set(scp_events.STOP_WORKER_FAILED, "a worker process stopped")
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
            if p.stdin is not None:
                p.stdin.close()
    _audit(ctx, "stopped", target, f"SCP stopped: {stop.message or 'no reason given'}")
    return rc
