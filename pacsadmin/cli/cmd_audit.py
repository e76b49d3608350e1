"""``pacsadmin audit``: what was done, when, to which node, with what outcome."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "audit",
        help="show the audit log (newest first)",
        description="Show the audit log (newest first).",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--limit", "-n", type=int, default=50, help="at most N entries (default 50)")
    p.add_argument("--action", help="only this action (echo, doctor, ...)")
    p.add_argument("--node", help="only this node")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Any) -> int:
    entries = ctx.audit.entries(limit=max(1, args.limit), action=args.action, node=args.node)
    if args.json:
        print(json.dumps([e.to_json() for e in entries], indent=2))
        return 0
    if not entries:
        print("The audit log is empty.")
        return 0
    from pacsadmin.core.format import format_table, format_timestamp

    header = ("WHEN", "USER", "ACTION", "OUTCOME", "NODE", "SUMMARY")
    rows = [
        (format_timestamp(e.ts), e.user, e.action, e.outcome, e.node or "-", e.summary)
        for e in entries
    ]
    for line in format_table(header, rows, limits={4: 24}):
        print(line)
    return 0
