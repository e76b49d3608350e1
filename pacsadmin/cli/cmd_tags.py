"""``pacsadmin tags show|set|delete`` and ``pacsadmin undo``: the tag editor's CLI.

A bad value, a missing sequence, an unreadable file or a character the file cannot hold
refuses the whole command (exit 2) before any file is touched.  A batch that stops
midway (read-only file, full disk) exits 1, lists the files it changed, and
``pacsadmin undo`` restores them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "tags",
        help="show and edit DICOM tags (validated, with undo)",
        description="Show and edit the tags of DICOM files.",
    )
    tsub = p.add_subparsers(dest="tags_command", metavar="ACTION", required=True)
    s = tsub.add_parser("show", help="the dataset tree of a file")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--search", metavar="TEXT", help="only rows whose tag, keyword or value match")
    s.set_defaults(func=run_show)
    for name, helptext in (("set", "set values (KEYWORD=VALUE)"), ("delete", "delete elements")):
        e = tsub.add_parser(name, help=helptext)
        e.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
        e.add_argument(
            "-t", "--tag", action="append", required=True, metavar="TAG=VALUE" if name == "set"
            else "TAG", help="a keyword, a tag number (0010,0010) or a path into a sequence "
            "(ProcedureCodeSequence[0].CodeMeaning); repeat for several",
        )  # fmt: skip
        e.add_argument("--dry-run", action="store_true", help="validate and preview only")
        e.add_argument("--json", action="store_true", help="machine-readable output")
        e.add_argument(
            "--upgrade-charset",
            action="store_true",
            help="store characters the file's character set cannot hold by "
            "converting the file to ISO_IR 192 (UTF-8)",
        )
        e.set_defaults(func=run_edit, action=name)
    u = sub.add_parser(
        "undo",
        help="undo a tag editing batch (default: the latest)",
        description="Restore the files of an editing batch byte for byte.",
    )
    u.add_argument("batch", nargs="?", metavar="BATCH")
    u.add_argument("--list", action="store_true", help="list the batches")
    u.add_argument("--json", action="store_true", help="machine-readable output")
    u.set_defaults(func=run_undo)


def _store(ctx: Any) -> Any:
    from pacsadmin.core.editing.batch import BatchStore, recover

    store = BatchStore(ctx.paths.home)
    for res in recover(store, on_restored=lambda rels: _reindex(ctx, rels)):
        print(
            f"recovered unfinished batch {res.batch_id}: {len(res.restored)} file(s) restored",
            file=sys.stderr,
        )
    return store


def _reindex(ctx: Any, rels: list[str]) -> None:
    from pacsadmin.core.archive import Archive
    from pacsadmin.core.editing.archive_link import reindex

    with Archive(ctx.paths.archive_dir) as archive:
        reindex(archive, rels)


def run_show(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.cli.main import UsageError
    from pacsadmin.core.damaged import reason
    from pacsadmin.core.editing.model import load
    from pacsadmin.core.editing.tree import rows, search

    try:
        df = load(args.file)
    except OSError as exc:
        raise UsageError(f"{args.file}: {reason(exc)}") from None
    found = search(df, args.search) if args.search else rows(df)
    if args.json:
        print(
            json.dumps(
                {
                    "file": args.file,
                    "transfer_syntax": df.syntax.uid,
                    "complete": df.complete,
                    "problems": df.problems,
                    "elements": [r.to_json() for r in found],
                },
                indent=1,
            )
        )
    else:
        for r in found:
            length = "u/l" if r.length is None else str(r.length)
            print(
                f"{'  ' * r.depth}{r.tag} {r.keyword or '-'} {r.vr or ''} "
                f"VM={r.vm} len={length} {r.value}".rstrip()
            )
        for p in df.problems:
            print(f"note: {p}", file=sys.stderr)
    return 0 if df.complete else 1


def _files(paths: list[str]) -> list[Path]:
    from pacsadmin.cli.main import UsageError

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not f.name.startswith("."):
                    with open(f, "rb") as fh:
                        if fh.read(132)[128:] == b"DICM":
                            out.append(f.resolve())
        elif p.is_file():
            out.append(p.resolve())
        else:
            raise UsageError(f"{p}: no such file or folder")
    return out


def _recipe(action: str, specs: list[str]) -> Any:
    from pacsadmin.cli.main import UsageError
    from pacsadmin.core.editing.tagpath import TagPath
    from pacsadmin.core.errors import ValidationError

    ops = []
    for spec in specs:
        if action == "set":
            if "=" not in spec:
                raise UsageError(f"-t {spec!r}: give TAG=VALUE")
            key, value = spec.split("=", 1)
        else:
            key, value = spec, ""
        try:
            ops.append((TagPath.parse(key), value))
        except ValidationError as exc:
            raise UsageError(str(exc)) from None

    def recipe(session: Any) -> None:
        for path, value in ops:
            if action == "set":
                session.set(path, value)
            else:
                session.delete(path)

    return recipe


def run_edit(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.cli.main import EXIT_FAILED, EXIT_USAGE, UsageError
    from pacsadmin.core.editing.archive_link import archive_rel
    from pacsadmin.core.editing.ops import apply_plan, plan_edits

    files = _files(args.paths)
    if not files:
        raise UsageError("no DICOM files given")
    recipe = _recipe(args.action, args.tag)
    rels = {f: r for f in files if (r := archive_rel(ctx.paths.archive_dir, f))}
    plan = plan_edits(
        files,
        recipe,
        upgrade_charset=args.upgrade_charset,
        label=f"tags {args.action}",
        archive_rels=rels,
    )
    if plan.refused:
        for path, why in plan.refused:
            print(f"refused: {path}: {why}", file=sys.stderr)
        print("nothing was changed", file=sys.stderr)
        return EXIT_USAGE
    if args.json and args.dry_run:
        print(json.dumps([f.to_json() for f in plan.files], indent=1))
    elif args.dry_run or not args.json:
        for fp in plan.changing:
            print(fp.path)
            for c in fp.changes:
                print(f"  {c.path}: {c.old!r} -> {c.new!r}")
    if args.dry_run:
        print(f"dry run: {len(plan.changing)} file(s) would change", file=sys.stderr)
        return 0
    store = _store(ctx)
    on_changed = None
    if rels:

        def on_changed(done: list[Any]) -> None:
            _reindex(ctx, [e.archive_rel for e in done if e.archive_rel])

    result = apply_plan(store, plan, audit=ctx.audit, on_changed=on_changed)
    if args.json:
        print(json.dumps(result.to_json(), indent=1))
    if result.stopped:
        print(f"batch {result.batch_id} STOPPED: {result.stopped}", file=sys.stderr)
        print(f"{len(result.changed)} file(s) were changed:", file=sys.stderr)
        for p in result.changed:
            print(f"  {p}", file=sys.stderr)
        print(f"'pacsadmin undo {result.batch_id}' restores them", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"batch {result.batch_id}: {len(result.changed)} file(s) changed "
        f"(undo: pacsadmin undo {result.batch_id})",
        file=sys.stderr,
    )
    return 0


def run_undo(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.cli.main import EXIT_FAILED, UsageError
    from pacsadmin.core.editing.batch import BatchRefused, list_batches, undo_batch

    store = _store(ctx)
    if args.list:
        batches = list_batches(store)
        if args.json:
            print(json.dumps(batches, indent=1))
        for b in batches if not args.json else []:
            print(f"{b['batch']}  {b['state']:<11} {b['files']:>6} file(s)  {b['label']}")
        return 0
    try:
        res = undo_batch(store, args.batch, on_restored=lambda rels: _reindex(ctx, rels))
    except BatchRefused as exc:
        raise UsageError(str(exc)) from None
    ctx.audit.record(
        "edit-undo",
        "ok" if not res.refused else "partial",
        target=res.batch_id,
        summary=f"undo {res.batch_id}: {len(res.restored)} file(s) restored",
        details={"batch": res.batch_id, "restored": res.restored, "refused": res.refused},
    )
    if args.json:
        print(
            json.dumps(
                {"batch": res.batch_id, "restored": res.restored, "refused": res.refused}, indent=1
            )
        )
    else:
        print(f"batch {res.batch_id}: {len(res.restored)} file(s) restored")
        for p, why in res.refused:
            print(f"  not restored: {p}: {why}", file=sys.stderr)
    return EXIT_FAILED if res.refused else 0
