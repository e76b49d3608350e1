"""The ``pacsadmin`` command.

With no arguments it opens the GUI; with a subcommand it runs headless and never imports
Qt.  Subcommands live in their own modules (``cmd_*.py``), each with ``register(sub)``;
those modules import only argparse at load time and everything heavy inside their
handlers, so ``pacsadmin echo`` starts fast (see benchmarks/bench_echo.py).

Exit codes: 0 success, 1 the operation failed (an echo, an import...), 2 usage errors
(bad arguments, unknown node, bad input file), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

from pacsadmin import __version__

# Each module registers its subcommands; the order is the order of --help.
COMMAND_MODULES = (
    "pacsadmin.cli.cmd_echo",
    "pacsadmin.cli.cmd_echo_all",
    "pacsadmin.cli.cmd_find",
    "pacsadmin.cli.cmd_retrieve",
    "pacsadmin.cli.cmd_send",
    "pacsadmin.cli.cmd_anonymize",
    "pacsadmin.cli.cmd_nodes",
    "pacsadmin.cli.cmd_audit",
    "pacsadmin.cli.cmd_settings",
    "pacsadmin.cli.cmd_serve",
    "pacsadmin.cli.cmd_archive",
    "pacsadmin.cli.cmd_render",
    "pacsadmin.cli.cmd_tags",
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input from the command line: exit 2 with this message."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pacsadmin",
        description="A workstation for PACS administrators. Without a command, opens the GUI.",
    )
    p.add_argument("--version", action="version", version=f"pacsadmin {__version__}")
    p.add_argument(
        "--config-dir",
        metavar="DIR",
        help="keep settings, nodes, audit log, logs and archive in DIR "
        "(default: $PACSADMIN_HOME, else the platform's data folder)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more (never patient data)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return p


def negative_value_options() -> frozenset[str]:
    """Options whose value may be a negative number: each command module's
    ``NEGATIVE_VALUE_OPTIONS`` (``--window`` of render)."""
    return frozenset(
        opt
        for name in COMMAND_MODULES
        for opt in getattr(importlib.import_module(name), "NEGATIVE_VALUE_OPTIONS", ())
    )


def join_negative_values(argv: list[str], options: frozenset[str]) -> list[str]:
    """``--window -600,1500`` as ``--window=-600,1500`` for the ``options`` whose value may
    start with a minus: argparse takes "-600,1500" for an option and stops with "expected one
    argument".  Only a value that starts like a negative number is joined, so ``--window``
    with no value (or followed by an option) is still a usage error; nothing after "--"."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return out + argv[i:]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if arg in options and _NEGATIVE.match(nxt):
            out.append(f"{arg}={nxt}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


_NEGATIVE = re.compile(r"-\.?\d")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    argv = join_negative_values(argv, negative_value_options())
    args = parser.parse_args(argv)
    if not args.command:
        from pacsadmin.gui.app import run_gui  # the only path that imports Qt

        return run_gui(config_dir=args.config_dir)
    from pacsadmin.cli.context import CliContext
    from pacsadmin.core.errors import PacsAdminError

    try:
        ctx = CliContext.create(args.config_dir, verbose=args.verbose)
        return int(args.func(args, ctx) or 0)
    except UsageError as exc:
        print(f"pacsadmin {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PacsAdminError as exc:
        print(f"pacsadmin {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
