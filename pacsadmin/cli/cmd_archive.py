"""``pacsadmin archive import|list|verify|delete``: the local archive from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("archive", help="the local archive: import, list, verify, delete")
    s = p.add_subparsers(dest="archive_command", metavar="ACTION", required=True)

    imp = s.add_parser(
        "import",
        help="import files, folders (recursively) and DICOMDIRs; exit 1 if a file failed",
    )
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument("--json", action="store_true", help="machine-readable report")
    imp.set_defaults(func=run_import)

    ls = s.add_parser("list", help="list the archived studies")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=run_list)

    ver = s.add_parser(
        "verify",
        help="check that index and files agree; exit 1 when they differ",
    )
    ver.add_argument("--json", action="store_true", help="machine-readable report")
    ver.add_argument(
        "--quick", action="store_true", help="check that files exist, without parsing them"
    )
    ver.add_argument(
        "--repair",
        action="store_true",
        help="drop rows whose file is gone and index readable files that have no row",
    )
    ver.set_defaults(func=run_verify)

    de = s.add_parser("delete", help="delete studies, series or instances (files and rows)")
    g = de.add_mutually_exclusive_group(required=True)
    g.add_argument("--patient", nargs="+", metavar="PATIENT_ID")
    g.add_argument("--study", nargs="+", metavar="UID")
    g.add_argument("--series", nargs="+", metavar="UID")
    g.add_argument("--instance", nargs="+", metavar="UID")
    de.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    de.set_defaults(func=run_delete)


def _open(ctx: Any) -> Any:
    from pacsadmin.core.archive import Archive

    return Archive(
        ctx.paths.archive_dir,
        duplicate_policy=ctx.settings.duplicate_policy,
        fsync=ctx.settings.archive_fsync,
        sweep=False,  # a running 'pacsadmin serve' may be receiving into tmp/
    )


class _Progress:
    """A job context for the terminal: progress on stderr when it is a terminal."""

    def __init__(self) -> None:
        from pacsadmin.core.jobs import CancelToken

        self.token = CancelToken()
        self.tty = sys.stderr.isatty()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        if self.tty and total:
            print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True)
            if done >= total:
                print(file=sys.stderr)


def run_import(args: argparse.Namespace, ctx: Any) -> int:
    import warnings
    from pathlib import Path

    from pacsadmin.core.archive.importer import import_paths

    archive = _open(ctx)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pydicom's notes on odd values
            rep = import_paths(archive, [Path(p) for p in args.paths], _Progress())
    finally:
        archive.close()
    ctx.audit.record(
        "archive-import",
        "ok" if rep.ok else "errors",
        target=", ".join(args.paths)[:500],
        summary=f"{rep.stored} stored, {rep.duplicates} duplicates, {len(rep.errors)} errors",
    )
    if args.json:
        print(json.dumps(rep.to_json(), indent=2))
    else:
        print(
            f"{rep.stored} file(s) stored, {rep.duplicates} duplicate(s) kept first, "
            f"{rep.overwritten} overwritten, {len(rep.errors)} error(s)"
        )
        for path, reason in rep.errors:
            print(f"  {path}: {reason}", file=sys.stderr)
    return 0 if not rep.errors else 1


def run_list(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.core.format import format_da, format_pn, format_size, format_table

    archive = _open(ctx)
    try:
        studies = archive.studies()
        counts = archive.counts()
    finally:
        archive.close()
    if args.json:  # raw DICOM values, for scripts
        print(json.dumps({"counts": counts, "studies": studies}, indent=2, ensure_ascii=False))
        return 0
    print(
        f"{counts['patients']} patient(s), {counts['studies']} study(ies), "
        f"{counts['series']} series, {counts['instances']} instance(s), "
        f"{format_size(counts['bytes'])}"
    )
    if not studies:
        print("The archive is empty. Add files: pacsadmin archive import PATH...")
        return 0
    header = [
        "DATE",
        "PATIENT",
        "PATIENT ID",
        "MOD",
        "SERIES",
        "IMAGES",
        "SIZE",
        "DESCRIPTION",
        "STUDY UID",
    ]
    rows = [
        (
            format_da(s["study_date"]) or "-",
            format_pn(s["patient_name"]) or "(no name)",
            s["patient_id"] or "-",
            (s["modalities"] or "-").replace(",", "/"),
            str(s["series"]),
            str(s["instances"]),
            format_size(s["size"]),
            s["description"] or "",
            s["study_uid"],
        )
        for s in studies
    ]
    limits = {1: 28, 2: 16, 3: 8, 7: 30}
    for line in format_table(header, rows, right=(4, 5, 6), limits=limits):
        print(line)
    return 0


def run_verify(args: argparse.Namespace, ctx: Any) -> int:
    import warnings

    archive = _open(ctx)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pydicom's notes on odd values
            rep = archive.verify(_Progress(), repair=args.repair, parse=not args.quick)
    finally:
        archive.close()
    if args.json:
        print(json.dumps(rep.to_json(), indent=2))
    else:
        print(f"{rep.indexed} indexed instance(s), {rep.files} file(s) in the archive")
        for p in rep.missing_files:
            print(f"  indexed but missing: {p}")
        for p, r in rep.unreadable:
            print(f"  unreadable: {p}: {r}")
        for p in rep.unindexed:
            print(f"  not indexed: {p}")
        if rep.temp_files:
            print(f"  {rep.temp_files} temp file(s) (transfers in progress or interrupted)")
        for line in rep.repaired:
            print(f"  repair: {line}")
        print("OK: index and files agree" if rep.ok else "DIFFERENCES found")
    return 0 if rep.ok else 1


def run_delete(args: argparse.Namespace, ctx: Any) -> int:
    level, uids = next(
        (lvl, getattr(args, lvl))
        for lvl in ("patient", "study", "series", "instance")
        if getattr(args, lvl)
    )
    archive = _open(ctx)
    try:
        found = archive.instance_paths(level, uids)
        if not found:
            print("nothing matches; nothing deleted")
            return 1
        if not args.yes:
            if not sys.stdin.isatty():
                print("refusing to delete without --yes (stdin is not a terminal)")
                return 2
            answer = input(f"Delete {len(found)} instance(s) and their files? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return 1
        n = archive.delete(level, uids)
    finally:
        archive.close()
    ctx.audit.record(
        "archive-delete",
        "ok",
        target=f"{level}: {', '.join(uids)}"[:500],
        summary=f"{n} instance(s) deleted",
    )
    print(f"{n} instance(s) deleted")
    return 0
