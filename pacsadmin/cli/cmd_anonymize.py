"""``pacsadmin anonymize IN... -o OUTDIR``: PS3.15 Basic Application Level Confidentiality
Profile, with its options, into a new folder (the inputs are never changed).

Exit 0 when every DICOM file was written (files that are not DICOM are listed as
skipped), 1 when any failed or none was written, 2 for usage errors (bad options, an
output folder that is not new or empty, or inside an input).  ``--dry-run`` prints what
would change in the first file and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    helptext = (
        "de-identify DICOM files into a new folder (PS3.15 Basic Profile and options); "
        "exit 0 all written, 1 any failed, 2 usage"
    )
    p = sub.add_parser("anonymize", help=helptext, description=helptext)
    p.add_argument("inputs", metavar="IN", nargs="+", help="files or folders (recursive)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="a new or empty folder")
    p.add_argument(
        "--profile", choices=["basic"], default="basic", help="the confidentiality profile"
    )
    dates = p.add_mutually_exclusive_group()
    dates.add_argument(
        "--retain-dates",
        action="store_true",
        help="keep dates and times (Retain Longitudinal Temporal Information, Full Dates)",
    )
    dates.add_argument(
        "--shift-dates",
        type=int,
        metavar="DAYS",
        help="move every date by DAYS days, the same for the whole batch (Modified Dates)",
    )
    p.add_argument("--retain-device", action="store_true", help="keep device identity")
    p.add_argument(
        "--retain-patient-chars",
        action="store_true",
        help="keep patient characteristics (sex, age, size, weight...)",
    )
    p.add_argument("--retain-institution", action="store_true", help="keep institution identity")
    p.add_argument(
        "--clean-descriptors",
        action="store_true",
        help="keep descriptions, with the patient's name, ID, birth date and accession "
        "number blanked out of them",
    )
    p.add_argument(
        "--retain-uids", action="store_true", help="keep the UIDs (default: new, consistent ones)"
    )
    p.add_argument(
        "--keep-private",
        action="store_true",
        help="keep private attributes (only when you know they hold nothing identifying)",
    )
    p.add_argument(
        "--prefix", default="ANON", metavar="P", help="pseudonym prefix (ANON -> ANON0001...)"
    )
    p.add_argument("--dry-run", action="store_true", help="show the changes to the first file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_anonymize)


def _options(args: argparse.Namespace) -> Any:
    from pacsadmin.core.anonymize import Options

    return Options(
        retain_full_dates=args.retain_dates,
        shift_days=args.shift_dates,
        retain_device=args.retain_device,
        retain_patient_characteristics=args.retain_patient_chars,
        retain_institution=args.retain_institution,
        clean_descriptors=args.clean_descriptors,
        retain_uids=args.retain_uids,
        keep_private=args.keep_private,
        pseudonym_prefix=args.prefix,
    ).validate()


def run_anonymize(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.core.errors import ValidationError

    try:
        options = _options(args)
    except ValidationError as exc:
        print(f"pacsadmin anonymize: {exc.message}", file=sys.stderr)
        return 2
    if args.dry_run:
        return _dry_run(args, options)
    from pacsadmin.core.anonymize import anonymize

    try:
        result = anonymize(args.inputs, args.output, options, audit=ctx.audit)
    except ValidationError as exc:
        print(f"pacsadmin anonymize: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "output": result.out_dir,
                    "written": result.written,
                    "patients": result.patients,
                    "files": [
                        {
                            "source": f.source,
                            "output": f.output,
                            "state": f.state,
                            "reason": f.reason,
                            "warnings": list(f.warnings),
                        }
                        for f in result.files
                    ],
                },
                indent=2,
            )
        )
    else:
        for f in result.files:
            if f.state != "written":
                print(f"{f.state}: {f.source}: {f.reason}", file=sys.stderr)
            for w in f.warnings:
                print(f"warning: {f.source}: {w}", file=sys.stderr)
        print(result.summary() + f" in {result.elapsed_s:.1f} s")
        print("The pseudonym list (the key back to the patients) is in the audit log only.")
    return 0 if result.written and not result.failed else 1


def _dry_run(args: argparse.Namespace, options: Any) -> int:
    from pacsadmin.core.anonymize import preview
    from pacsadmin.core.anonymize.run import files_of

    for path, why in files_of(args.inputs):
        if why:
            continue
        try:
            changes, warnings = preview(path, options)
        except Exception:
            continue  # not DICOM: the next file
        if args.json:
            print(json.dumps([c.__dict__ for c in changes], indent=2))
        else:
            print(f"{path}: {len(changes)} change(s) (nothing written)")
            for c in changes:
                arrow = f"{c.old!r} -> {c.new!r}" if c.new else f"{c.old!r}"
                print(f"  {c.path:<28} {c.keyword:<34} {c.action:<9} {arrow}")
            for w in warnings:
                print(f"  warning: {w}")
        return 0
    print("pacsadmin anonymize: no DICOM file among the inputs", file=sys.stderr)
    return 1
