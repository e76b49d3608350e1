"""``pacsadmin move`` and ``pacsadmin get``: retrieve studies, series or instances.

Both print progress (on stderr) and the final accounting: what the PACS reported, what
the archive received, what is missing.  Exit 0 when everything arrived (for a move to
another node: when the PACS reported every sub-operation completed), 1 when anything is
missing or failed (the diagnosis on stderr), 2 for usage errors, 130 when interrupted (a
C-CANCEL is sent first).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from pacsadmin.cli.argtypes import port, seconds, uid


def register(sub: Any) -> None:
    for name, helptext in (
        (
            "move",
            "C-MOVE studies, series or instances from a node to this computer's archive "
            "(or to --dest); exit 0 all arrived, 1 missing or failed, 2 usage",
        ),
        (
            "get",
            "C-GET studies, series or instances from a node into the archive; exit 0 all "
            "arrived, 1 missing or failed, 2 usage",
        ),
    ):
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.add_argument("target", metavar="TARGET", help="node name or AET@HOST:PORT")
        for flag, what in (
            ("study", "a study"),
            ("series", "a series"),
            ("instance", "an instance"),
        ):
            p.add_argument(
                f"--{flag}",
                dest=f"{flag}_uids",
                action="append",
                type=uid,
                default=[],
                metavar="UID",
                help=f"retrieve {what} by its instance UID; repeatable",
            )
        if name == "move":
            p.add_argument(
                "--dest",
                metavar="AET",
                help="move destination AE title (default: this computer's, into its archive)",
            )
            p.add_argument(
                "--port",
                type=port,
                help="the port this computer receives on (default: the settings' SCP port)",
            )
            p.add_argument(
                "--bind",
                default="",
                metavar="ADDR",
                help="a receiver started for the move listens on ADDR only (default: all)",
            )
        p.add_argument(
            "--grace",
            type=seconds(600),
            default=5.0 if name == "move" else None,
            metavar="S",
            help="wait up to S seconds for instances the PACS sends late (default 5 for a move)",
        )
        p.add_argument(
            "--timeout",
            "-t",
            type=seconds(3600),
            metavar="S",
            help="cap every timeout (connect, association, each response) at S seconds",
        )
        p.add_argument("--json", action="store_true", help="the final accounting as JSON")
        p.set_defaults(func=run_retrieve, method=name)


class _Printer:
    """Progress events to stderr, at most two lines a second."""

    def __init__(self) -> None:
        self._t = 0.0
        self.last = ""

    def __call__(self, event: Any) -> None:
        if type(event).__name__ != "JobProgress":
            return
        self.last = event.message
        if time.monotonic() - self._t >= 0.5:
            self._t = time.monotonic()
            print(f"  {event.message}", file=sys.stderr, flush=True)


def run_retrieve(args: argparse.Namespace, ctx: Any) -> int:
    from dataclasses import replace

    from pacsadmin.cli.cancellable import run_cancellable
    from pacsadmin.cli.main import UsageError
    from pacsadmin.core.archive import Archive
    from pacsadmin.core.dimse import retrieve
    from pacsadmin.core.dimse.retrieve_model import Selection
    from pacsadmin.core.dimse.scp import ScpConfig
    from pacsadmin.core.jobs import JobContext
    from pacsadmin.core.node_service import passphrase_for

    if not (args.study_uids or args.series_uids or args.instance_uids):
        raise UsageError("name what to retrieve: --study UID, --series UID or --instance UID")
    node = ctx.resolve_target(args.target)
    local = ctx.local
    if getattr(args, "port", None):
        local = replace(local, port=args.port)
    sel = Selection.of(args.study_uids, args.series_uids, args.instance_uids)
    dest = getattr(args, "dest", None)
    to_archive = args.method == "get" or not dest or dest == local.ae_title
    archive = (
        Archive(
            ctx.paths.archive_dir,
            duplicate_policy=ctx.settings.duplicate_policy,
            fsync=ctx.settings.archive_fsync,
            sweep=False,  # a running 'pacsadmin serve' may be receiving into tmp/
        )
        if to_archive
        else None
    )
    printer = _Printer()
    passphrase = passphrase_for(ctx.secrets, node)

    def work(job: JobContext) -> Any:
        common = {"ctx": job, "passphrase": passphrase, "timeout": args.timeout}
        if args.method == "get":
            return retrieve.get(
                local, node, sel, archive=archive, late_grace=args.grace or 0.0, **common
            )
        return retrieve.move(
            local,
            node,
            sel,
            dest_ae=dest,
            archive=archive,
            late_grace=args.grace,
            bind=args.bind,
            nodes=ctx.nodes,
            scp_config=replace(
                ScpConfig.from_settings(ctx.settings, bind=args.bind), port=local.port
            ),
            **common,
        )

    print(f"{args.method}: {sel.describe()} from {node.ae_title}@{node.host}:{node.port}")
    try:
        r, interrupted = run_cancellable(work, name="retrieve", on_event=printer)
    finally:
        if archive is not None:
            archive.close()
    _audit(ctx, r)
    _print(r, args.json)
    if interrupted:
        return 130
    return 0 if r.ok else 1


def _audit(ctx: Any, r: Any) -> None:
    from pacsadmin.core.dimse.retrieve_account import audit_retrieve

    audit_retrieve(ctx.audit, r)


def _print(r: Any, as_json: bool) -> None:
    out = sys.stdout
    if as_json:
        json.dump(r.to_json(), out, indent=1)
        print()
    else:
        if r.receiver is not None:
            print(f"Receiver: {r.receiver.detail}.", file=out)
        print(
            f"PACS: {r.completed} completed, {r.failed} failed, {r.warning} warning"
            + (f" (final status 0x{r.status:04X})" if r.status is not None else ""),
            file=out,
        )
        if r.expected is not None or r.received is not None:
            exp = "unknown" if r.expected is None else str(r.expected)
            line = f"Accounting: {exp} expected ({r.expected_how or 'not learnt'})"
            if r.received is not None:
                line += f", {r.received} in the archive"
                if r.already_had:
                    line += f" ({r.already_had} already there before)"
                line += f", {len(r.missing)} missing"
            print(line, file=out)
        for u in r.missing[:50]:
            print(f"  missing: {u}", file=out)
        if len(r.missing) > 50:
            print(f"  ... and {len(r.missing) - 50} more", file=out)
        for u in r.failed_uids[:50]:
            print(f"  failed at the PACS: {u}", file=out)
        print(f"Elapsed: {r.elapsed_ms / 1000:.1f} s", file=out)
    if r.ok:
        print(f"{r.method}: {r.sentence}", file=sys.stderr if as_json else out)
    else:
        print(f"{r.method} FAILED: {r.sentence}", file=sys.stderr)
        if r.advice:
            print(f"What to do: {r.advice}", file=sys.stderr)
