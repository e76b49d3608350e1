"""``pacsadmin find``: C-FIND a node (study root, patient root, modality worklist).

Exit 0 when the query ran (with matches or none), 1 when it failed (the diagnosis on
stderr), 2 for usage errors (a bad key, a level the model does not have), 130 when
interrupted (a C-CANCEL is sent first; what arrived is printed).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from pacsadmin.cli.argtypes import key_value, seconds

_LEVELS = ("patient", "study", "series", "image")


def register(sub: Any) -> None:
    helptext = "C-FIND a node (by name, or AET@HOST:PORT); exit 0 ran, 1 failed, 2 usage"
    p = sub.add_parser(
        "find",
        help=helptext,
        description=helptext
        + ". Values match with * (any run of characters) and ? (one character); dates "
        "and times take ranges: 20240101-20240131, 20240101-, -20240131.",
    )
    p.add_argument("target", metavar="TARGET", help="node name or AET@HOST:PORT")
    p.add_argument(
        "--model",
        choices=("study", "patient", "worklist"),
        default="study",
        help="query model: Study Root (default), Patient Root or Modality Worklist",
    )
    p.add_argument(
        "--level",
        choices=_LEVELS,
        help="query level (default: study for the study root, patient for the patient "
        "root; a worklist has none)",
    )
    p.add_argument(
        "-k",
        "--key",
        dest="keys",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a matching key: keyword or tag number (00100010) and its value; repeatable",
    )
    p.add_argument(
        "-r",
        "--return-key",
        dest="return_keys",
        action="append",
        default=[],
        metavar="KEY",
        help="also return this attribute; repeatable",
    )
    cs = p.add_mutually_exclusive_group()
    cs.add_argument(
        "--charset",
        metavar="CS",
        help="Specific Character Set to send (ISO_IR 100, ISO_IR 192...; default: the "
        "node's query character set)",
    )
    cs.add_argument(
        "--no-charset", action="store_true", help="send no character set (default repertoire)"
    )
    p.add_argument(
        "--timeout",
        "-t",
        type=seconds(3600),
        metavar="S",
        help="cap every timeout (connect, association, each response) at S seconds",
    )
    p.add_argument(
        "--split-days",
        action="store_true",
        help="ask once per day of the query's date range (-k StudyDate=20240101-20240131, "
        "or the worklist's scheduled date) and merge the answers: for a PACS that caps "
        "its answers at a round number",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON array of objects")
    out.add_argument("--csv", action="store_true", help="a header row and one row per match")
    p.set_defaults(func=run_find)


def _query(args: argparse.Namespace) -> Any:
    from pacsadmin.cli.main import UsageError
    from pacsadmin.core.dimse.find_query import FindQuery, check_level, resolve_key
    from pacsadmin.core.errors import ValidationError

    level = args.level
    if args.model == "worklist":
        if level:
            raise UsageError("a worklist query has no level (leave out --level)")
    else:
        level = (level or ("patient" if args.model == "patient" else "study")).upper()
    charset = "" if args.no_charset else args.charset
    q = FindQuery(
        model=args.model,
        level=level,
        keys=tuple(args.keys),
        return_keys=tuple(args.return_keys),
        charset=charset,
    )
    try:
        check_level(q)
        for key, _ in (*q.keys, *((k, "") for k in q.return_keys)):
            resolve_key(key)
    except ValidationError as exc:
        raise UsageError(str(exc)) from None
    return q


def _run(q: Any, node: Any, ctx: Any, timeout: float | None, split: bool = False) -> Any:
    """Run the query so Ctrl-C can cancel it properly (C-CANCEL); ``split``: day by day
    (the result is then a ``SplitResult``)."""
    from pacsadmin.cli.cancellable import run_cancellable
    from pacsadmin.core.dimse.find import find
    from pacsadmin.core.node_service import passphrase_for

    passphrase = passphrase_for(ctx.secrets, node)
    if split:
        from pacsadmin.core.dimse.find_split import find_by_day

        return run_cancellable(
            lambda job: find_by_day(
                ctx.local, node, q, ctx=job, passphrase=passphrase, timeout=timeout
            ),
            name="find",
        )
    return run_cancellable(
        lambda job: find(ctx.local, node, q, ctx=job, passphrase=passphrase, timeout=timeout),
        name="find",
    )


def _check_split(q: Any) -> None:
    """A query that cannot be split is a usage error, before any traffic."""
    from pacsadmin.cli.main import UsageError
    from pacsadmin.core.dimse.find_split import day_queries
    from pacsadmin.core.errors import ValidationError

    try:
        day_queries(q)
    except ValidationError as exc:
        raise UsageError(str(exc)) from None


def _print_days(split: Any, out: Any) -> None:
    for d in split.days:
        cap = "  <- still capped" if d.capped else ""
        print(f"  {d.day}: {d.count} match(es), {d.new} new{cap}", file=out)


def run_find(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.cli.main import UsageError
    from pacsadmin.core.errors import ValidationError

    q = _query(args)
    if args.split_days:
        _check_split(q)
    node = ctx.resolve_target(args.target)
    try:
        result, interrupted = _run(q, node, ctx, args.timeout, args.split_days)
    except ValidationError as exc:
        raise UsageError(str(exc)) from None
    split = None
    if args.split_days and hasattr(result, "days"):
        split, result = result, result.result
    ctx.audit.record(
        "find",
        "success" if result.ok else "failure",
        node=result.node_name,
        target=result.target,
        summary=f"{len(result.matches)} matches; {result.sentence}",
        details={"query": result.query, "count": len(result.matches), "status": result.status},
    )
    rows = [_flatten(m.values) | _marks(m) for m in result.matches]
    if args.json:
        json.dump([dict(m.values) | _marks(m) for m in result.matches], sys.stdout, indent=1)
        print()
    elif args.csv:
        _print_csv(rows)
    else:
        _print_table(rows)
    note = sys.stderr if (args.json or args.csv) else sys.stdout
    if split is not None:
        print(f"Asked {len(split.days)} of {split.planned} day(s) of {split.key}:", file=note)
        _print_days(split, note)
    if result.ok:
        print(f"{result.summary}", file=note)
    else:
        print(f"Find on {result.target} FAILED: {result.sentence}", file=sys.stderr)
        if result.advice:
            print(f"What to do: {result.advice}", file=sys.stderr)
        if result.matches:
            print(f"({len(result.matches)} matches arrived before that.)", file=sys.stderr)
    if interrupted:
        return 130
    return 0 if result.ok else 1


def _marks(m: Any) -> dict[str, Any]:
    return {"_unreadable": m.unreadable} if m.unreadable else {}


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """One level of text per column: sequences give ``Seq.Key`` from their first item,
    several values are joined with a backslash as DICOM writes them."""
    out: dict[str, str] = {}
    for k, v in values.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            out.update(_flatten(v[0], f"{prefix}{k}."))
        elif isinstance(v, list):
            out[prefix + k] = "\\".join(str(x) for x in v)
        else:
            out[prefix + k] = str(v)
    return out


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    cols.pop("SpecificCharacterSet", None)
    cols.pop("QueryRetrieveLevel", None)
    return list(cols)


def _print_csv(rows: list[dict[str, Any]]) -> None:
    cols = _columns(rows)
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([r.get(c, "") for c in cols])


def _vr(column: str) -> str:
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    tag = tag_for_keyword(column.rsplit(".", 1)[-1])
    return dictionary_VR(tag) if tag is not None else ""


def _print_table(rows: list[dict[str, Any]]) -> None:
    """Names and dates as people read them (core/format.py); JSON and CSV keep the raw
    values."""
    from pacsadmin.core.format import format_table, format_value

    if not rows:
        return
    cols = _columns(rows)
    vrs = [_vr(c) for c in cols]
    cells = [
        [format_value(r.get(c, ""), vr) for c, vr in zip(cols, vrs, strict=True)] for r in rows
    ]
    for line in format_table(cols, cells, limits=dict.fromkeys(range(len(cols)), 64)):
        print(line)
