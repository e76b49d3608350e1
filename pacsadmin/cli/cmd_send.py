"""``pacsadmin send TARGET PATH...``: C-STORE files, folders and DICOMDIRs to a node.

Exit 0 when every file was stored, 1 when any was not (each such file is named on
stderr, with the reason), 2 for usage errors (an unknown node, a bad AET@HOST:PORT),
130 on Ctrl-C (the file being sent may finish; the rest is reported as not sent).
Progress goes to stderr, the per-file table (or ``--json``) to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from pacsadmin.cli.argtypes import seconds

_seconds = seconds(3600)
PROGRESS_EVERY = 1.0  # s between progress lines


def register(sub: Any) -> None:
    helptext = (
        "send DICOM files, folders or DICOMDIRs to a node (C-STORE); "
        "exit 0 all stored, 1 any failed, 2 usage"
    )
    p = sub.add_parser("send", help=helptext, description=helptext)
    p.add_argument("target", metavar="TARGET", help="node name or AET@HOST:PORT")
    p.add_argument(
        "paths", metavar="PATH", nargs="+", help="files, folders (recursive) or DICOMDIRs"
    )
    p.add_argument(
        "--decompress-if-needed",
        action="store_true",
        help="when the peer refuses a file's compressed transfer syntax, send it "
        "decompressed (Explicit VR Little Endian); without it such files fail",
    )
    p.add_argument(
        "--timeout",
        "-t",
        type=_seconds,
        metavar="S",
        help="cap every timeout (connect, association, DIMSE) at S seconds",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(func=run_send)


def _run(args: argparse.Namespace, ctx: Any, node: Any) -> tuple[Any, bool]:
    """Send on a worker thread so Ctrl-C cancels between files (and closes the connection
    after the grace period when a file hangs)."""
    from pacsadmin.cli.cancellable import run_cancellable
    from pacsadmin.core.dimse.send import send
    from pacsadmin.core.jobs import JobProgress
    from pacsadmin.core.node_service import passphrase_for

    last = [0.0]

    def on_event(e: Any) -> None:
        if args.quiet or not isinstance(e, JobProgress):
            return
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY or e.done == e.total:
            last[0] = now
            print(e.message, file=sys.stderr, flush=True)

    passphrase = passphrase_for(ctx.secrets, node)
    return run_cancellable(
        lambda job: send(
            ctx.local,
            node,
            args.paths,
            ctx=job,
            decompress_if_needed=args.decompress_if_needed,
            passphrase=passphrase,
            timeout=args.timeout,
        ),
        name="send",
        on_event=on_event,
    )


def _table(result: Any) -> list[str]:
    from pacsadmin.core.format import format_table

    def short_ts(uid: str) -> str:
        from pacsadmin.core.dimse.send import uid_label

        return uid_label(uid) if uid else ""

    rows = [
        (
            f.path,
            f.sop_class_name,
            short_ts(f.transfer_syntax),
            short_ts(f.accepted_syntax) + (" (decompressed)" if f.decompressed else ""),
            str(f.state),
            f.status_text,
            f.meaning,
        )
        for f in result.files
    ]
    header = ("file", "SOP class", "transfer syntax", "sent as", "state", "status", "meaning")
    return format_table(header, rows, limits={0: 60, 1: 32, 2: 40, 3: 40, 6: 120})


def run_send(args: argparse.Namespace, ctx: Any) -> int:
    node = ctx.resolve_target(args.target)
    result, interrupted = _run(args, ctx, node)
    _audit(ctx, result)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        for line in _table(result):
            print(line)
        print(result.summary)
    for f in result.failed:
        print(f"NOT STORED: {f.path}: {f.meaning}", file=sys.stderr)
    if interrupted:
        return 130
    return 0 if result.ok else 1


def _audit(ctx: Any, result: Any) -> None:
    ctx.audit.record(
        "send",
        "success" if result.ok else "failure",
        node=result.node.name,
        target=result.node.address,
        summary=result.summary,
        details={
            "files": len(result.files),
            "stored": len(result.stored),
            "failed": len(result.failed),
            "associations": result.associations,
            "elapsed_s": round(result.elapsed_s, 3),
        },
    )
