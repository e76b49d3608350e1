"""``pacsadmin echo-all``: C-ECHO many nodes at once (every node in the directory, or the
ones named), a line per node as each finishes; ``--events``: the typed JSON lines the
window reads (one process per Echo all, so its threads never compete with the GUI's)."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any


def _concurrency(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= v <= 64:
        raise argparse.ArgumentTypeError("must be between 1 and 64")
    return v


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < v <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return v


def register(sub: Any) -> None:
    h = "C-ECHO many nodes at once (all in the directory, or the ones named); exit 0 all ok"
    p = sub.add_parser("echo-all", help=h, description=h)
    p.add_argument("targets", nargs="*", metavar="TARGET", help="node names or AET@HOST:PORT")
    p.add_argument(
        "--concurrency",
        type=_concurrency,
        metavar="N",
        help="echoes at once (default: settings worker_count)",
    )
    p.add_argument(
        "--timeout",
        "-t",
        type=_seconds,
        metavar="S",
        help="cap every timeout (connect, association, DIMSE) at S seconds",
    )
    p.add_argument(
        "--events",
        action="store_true",
        help="print one JSON line per event (started, result, ended, failed) on stdout",
    )
    # the window's channel: the nodes as one JSON line on stdin, then stdin stays open
    # until the window cancels (closes it, or writes "cancel")
    p.add_argument("--nodes-stdin", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run_echo_all)


def run_echo_all(args: argparse.Namespace, ctx: Any) -> int:
    import signal

    from pacsadmin.core.dimse.echo_all import (
        NodeListError,
        cancel_then_exit,
        cancel_when_stdin_closes,
        echo_many,
        read_nodes_line,
    )
    from pacsadmin.core.dimse.echo_events import (
        EchoEvent,
        EchoNodeResult,
        EchoRunFailed,
        to_json_line,
    )
    from pacsadmin.core.jobs import CancelToken
    from pacsadmin.core.secrets import tls_passphrase_key

    lock = threading.Lock()
    failures = 0

    def emit(ev: EchoEvent) -> None:
        nonlocal failures
        with lock:
            if isinstance(ev, EchoNodeResult) and not ev.series.ok:
                failures += 1
            if args.events:
                print(to_json_line(ev), flush=True)
            elif isinstance(ev, EchoNodeResult) and ev.series.results:
                r = ev.series.results[-1]
                print(f"{ev.node}: {'ok' if r.ok else 'FAILED'}: {r.summary}", flush=True)

    token = CancelToken()
    try:
        if args.nodes_stdin:
            nodes = read_nodes_line(sys.stdin)
            cancel_when_stdin_closes(sys.stdin, token)
        elif args.targets:
            nodes = [ctx.resolve_target(t) for t in args.targets]
        else:
            nodes = ctx.nodes.list()
    except NodeListError as exc:
        emit(EchoRunFailed(str(exc)))
        print(f"pacsadmin echo-all: {exc}", file=sys.stderr)
        return 2
    if not nodes:
        message = "No nodes to echo: add nodes to the directory, or name them."
        emit(EchoRunFailed(message))
        print(message, file=sys.stderr)
        return 1

    def passphrase(node: Any) -> str | None:
        if not node.tls.enabled or not node.tls.client_key:
            return None
        value = ctx.secrets.get(tls_passphrase_key(node.name))
        return None if value is None else str(value)

    # The window's cancel is SIGTERM.  The handler only sets an Event: it runs in the main
    # thread between two bytecodes, possibly while that thread holds the token's lock
    # (registering an echo's cancel callback), so cancelling from the handler itself could
    # deadlock; a watcher thread does the cancel and the forced exit.
    stop_requested = threading.Event()

    def watch_for_stop() -> None:
        stop_requested.wait()
        cancel_then_exit(token)

    threading.Thread(target=watch_for_stop, name="echo-sigterm", daemon=True).start()

    def on_signal(signum: int, frame: Any) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    try:
        ended = echo_many(
            ctx.local,
            nodes,
            emit,
            concurrency=args.concurrency or ctx.settings.worker_count,
            token=token,
            passphrase=passphrase,
            audit=ctx.audit,
            timeout=args.timeout,
        )
    except KeyboardInterrupt:
        token.cancel()
        raise
    emit(ended)
    if not args.events:
        print(f"{ended.done}/{ended.total} echoed" + (" (cancelled)" if ended.cancelled else ""))
    return 0 if ended.done == ended.total and not ended.cancelled and not failures else 1
