"""``pacsadmin echo`` and ``pacsadmin doctor``: C-ECHO with a layered diagnosis."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pacsadmin.cli.argtypes import int_range, port, seconds, uid

_count = int_range(1, 10000)
_seconds = seconds(3600)


def register(sub: Any) -> None:
    for name, helptext in (
        ("echo", "C-ECHO a node (by name, or AET@HOST:PORT); exit 0 ok, 1 failed, 2 usage"),
        ("doctor", "diagnose a node step by step: DNS, TCP, TLS, association, echo, release"),
    ):
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.add_argument("target", metavar="TARGET", help="node name or AET@HOST:PORT")
        p.add_argument(
            "--count",
            "-c",
            type=_count,
            default=1,
            help="repeat N times and show min/median/max latency",
        )
        p.add_argument(
            "--interval",
            type=float,
            default=0.0,
            metavar="S",
            help="seconds between repeats (default 0)",
        )
        p.add_argument(
            "--timeout",
            "-t",
            type=_seconds,
            metavar="S",
            help="cap every timeout (connect, association, DIMSE) at S seconds",
        )
        p.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "doctor":
            p.add_argument(
                "--transcript",
                action="store_true",
                help="also print the association transcript (redacted)",
            )
            p.add_argument(
                "--return-path",
                action="store_true",
                help="also test that the node can connect back: a C-MOVE of one object to "
                "this computer (the local SCP listens, started for the test if needed)",
            )
            p.add_argument(
                "--instance",
                type=uid,
                metavar="UID",
                help="the object the return-path test moves (default: found by a query)",
            )
            p.add_argument(
                "--wait",
                type=_seconds,
                default=10.0,
                metavar="S",
                help="return path: seconds to wait for the inbound association (default 10)",
            )
            p.add_argument(
                "--port",
                type=port,
                help="return path: the port this computer receives on (default: settings)",
            )
            p.add_argument(
                "--bind",
                default="",
                metavar="ADDR",
                help="return path: a receiver started for the test listens on ADDR only",
            )
        p.set_defaults(func=run_echo if name == "echo" else run_doctor, survey=name == "doctor")


def _passphrase(ctx: Any, node: Any) -> str | None:
    from pacsadmin.core.node_service import passphrase_for

    return passphrase_for(ctx.secrets, node)


def _run(args: argparse.Namespace, ctx: Any) -> Any:
    from pacsadmin.core.dimse.echo import audit_echo, echo

    node = ctx.resolve_target(args.target)
    series = echo(
        ctx.local,
        node,
        count=args.count,
        interval=args.interval,
        timeout=args.timeout,
        mode="survey" if args.survey else "echo",
        passphrase=_passphrase(ctx, node),
    )
    audit_echo(ctx.audit, series, action="doctor" if args.survey else "echo")
    return series


def _print_latency(series: Any, out: Any) -> None:
    lat = series.latency()
    n = len(series.results)
    if n > 1:
        line = f"{series.succeeded}/{n} echoes succeeded"
        if lat:
            line += (
                f"; latency min {lat['min']:.1f} ms, median {lat['median']:.1f} ms, "
                f"max {lat['max']:.1f} ms"
            )
        print(line, file=out)


def run_echo(args: argparse.Namespace, ctx: Any) -> int:
    series = _run(args, ctx)
    if args.json:
        print(json.dumps(series.to_json(), indent=2))
    else:
        for r in series.results:
            if r.ok:
                print(r.summary)
            else:
                print(f"Echo to {r.target} FAILED", file=sys.stdout)
                _print_diagnosis(r, sys.stderr)
        _print_latency(series, sys.stdout)
    if not series.ok:
        if args.json:  # the diagnosis goes to stderr whatever the output format
            for r in series.results:
                if not r.ok:
                    _print_diagnosis(r, sys.stderr)
                    break
        return 1
    return 0


def _print_diagnosis(r: Any, out: Any) -> None:
    f = r.failed_step
    print(f"{f.title} failed: {f.detail}" if f else r.summary, file=out)
    if r.advice:
        print(f"What to do: {r.advice}", file=out)


def _return_path(args: argparse.Namespace, ctx: Any) -> Any:
    from dataclasses import replace

    from pacsadmin.core.archive import Archive
    from pacsadmin.core.dimse.return_path import return_path
    from pacsadmin.core.jobs import null_context

    node = ctx.resolve_target(args.target)
    local = ctx.local if not args.port else replace(ctx.local, port=args.port)
    archive = Archive(ctx.paths.archive_dir, sweep=False)
    try:
        r = return_path(
            local,
            node,
            archive=archive,
            ctx=null_context(),
            instance=args.instance,
            wait=args.wait,
            bind=args.bind,
            passphrase=_passphrase(ctx, node),
            timeout=args.timeout,
        )
    finally:
        archive.close()
    ctx.audit.record(
        "doctor",
        "success" if r.ok else "failure",
        node=node.name,
        target=node.address,
        summary=f"return path: {r.verdict}: {r.sentence}"[:500],
        details={"verdict": r.verdict, "status": r.status},
    )
    return r


def _print_return_path(r: Any) -> None:
    mark = "OK  " if r.verdict == "ok" else ("WARN" if r.ok else "FAIL")
    ms = "" if r.first_inbound_ms is None else f"{r.first_inbound_ms:8.1f} ms"
    print(f"  [{mark}] {'return path':<15} {ms:>11}  {r.sentence}")
    if r.receiver is not None:
        print(f"  {'':6} {'':15} {'':>11}  ({r.receiver.detail})")
    if r.advice:
        print(f"  {'':6} {'':15} {'':>11}  -> {r.advice}")


def run_doctor(args: argparse.Namespace, ctx: Any) -> int:
    if args.instance and not args.return_path:
        from pacsadmin.cli.main import UsageError

        raise UsageError("--instance goes with --return-path")
    series = _run(args, ctx)
    rp = _return_path(args, ctx) if args.return_path and series.ok else None
    if args.json:
        data = series.to_json()
        if args.return_path:
            data["return_path"] = None if rp is None else rp.to_json()
        print(json.dumps(data, indent=2))
        return 0 if series.ok and (rp is None or rp.ok) else 1
    for i, r in enumerate(series.results):
        if len(series.results) > 1:
            print(f"--- run {i + 1} of {len(series.results)}")
        print(f"Connectivity Doctor: {r.target} (calling AE {r.calling_ae})")
        for s in r.steps:
            ms = "" if s.ms is None else f"{s.ms:8.1f} ms"
            mark = {"ok": "OK  ", "failed": "FAIL", "skipped": "--  ", "warning": "WARN"}[s.status]
            print(f"  [{mark}] {s.title:<15} {ms:>11}  {s.detail}")
            if s.advice:
                print(f"  {'':6} {'':15} {'':>11}  -> {s.advice}")
        if r.contexts:
            print("  Presentation contexts:")
            for c in r.contexts:
                ts = f"  [{c['transfer_syntax_name']}]" if c["result"] == 0 else ""
                print(
                    f"    {c['context_id']:>3}  {c['result_text']:<42} "
                    f"{c['abstract_syntax_name']}{ts}"
                )
        print(
            ("Result: " if r.ok else "Result: FAILED. ")
            + r.summary
            + (f" {r.advice}" if r.advice and not r.ok else "")
        )
        if args.transcript:
            print()
            print(r.transcript_text())
    _print_latency(series, sys.stdout)
    if args.return_path:
        if rp is None:
            print("Return path: not tested (the echo failed).")
        else:
            print("Return path (can the node connect back to this computer?):")
            _print_return_path(rp)
            if not rp.ok:
                print(f"Return path FAILED: {rp.sentence}", file=sys.stderr)
                if rp.advice:
                    print(f"What to do: {rp.advice}", file=sys.stderr)
    return 0 if series.ok and (rp is None or rp.ok) else 1
