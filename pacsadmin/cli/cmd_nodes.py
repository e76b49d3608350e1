"""``pacsadmin nodes list|add|edit|remove|import|export``: the node directory."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any


def _node_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument(
        "--ae", "--ae-title", dest="ae_title", required=required, help="the node's AE title"
    )
    p.add_argument("--host", required=required, help="host name or IP address")
    p.add_argument("--port", type=int, required=required, help="TCP port (1-65535)")
    p.add_argument("--description", help="free text: what this node is")
    p.add_argument("--site", help="site or group (the node browser groups by it)")
    p.add_argument(
        "--tag",
        dest="tags",
        action="append",
        metavar="TAG",
        help="a tag; repeat for more (edit: replaces all tags)",
    )
    p.add_argument(
        "--calling-ae",
        dest="calling_ae_title",
        help="calling AE title to use for this node instead of the local one",
    )
    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--tls", dest="tls_enabled", action="store_true", default=None, help="use TLS")
    tls.add_argument("--no-tls", dest="tls_enabled", action="store_false", help="plain DICOM")
    p.add_argument("--ca-bundle", help="PEM file of the CA(s) to trust for this node")
    p.add_argument("--client-cert", help="PEM client certificate (mutual TLS)")
    p.add_argument("--client-key", help="PEM client key (mutual TLS)")
    p.add_argument(
        "--key-passphrase-stdin",
        action="store_true",
        help="read the client key's passphrase from stdin into the OS keyring",
    )
    p.add_argument(
        "--no-verify-hostname",
        dest="verify_hostname",
        action="store_false",
        default=None,
        help="do not check the certificate's host name",
    )
    for k in ("connect", "acse", "dimse", "network"):
        p.add_argument(
            f"--timeout-{k}",
            type=float,
            metavar="S",
            help=f"{k} timeout for this node (default: the setting)",
        )
    p.add_argument("--max-pdu", type=int, help="max PDU for this node (0: unlimited)")
    p.add_argument("--retrieve", dest="retrieve_method", choices=("C-MOVE", "C-GET"))
    p.add_argument(
        "--charset",
        dest="query_charset",
        help="query character set, e.g. 'ISO_IR 100' or 'ISO_IR 192'",
    )


def register(sub: Any) -> None:
    p = sub.add_parser("nodes", help="the node directory: list, add, edit, remove, import, export")
    ns = p.add_subparsers(dest="nodes_cmd", metavar="ACTION", required=True)

    s = ns.add_parser("list", help="list the nodes")
    s.add_argument("--json", action="store_true")
    s.add_argument("--site", help="only this site")
    s.set_defaults(func=run_list)

    s = ns.add_parser("add", help="add a node")
    s.add_argument("name")
    _node_options(s, required=True)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_add)

    s = ns.add_parser("edit", help="change a node (only the options given)")
    s.add_argument("name")
    s.add_argument("--rename", metavar="NEW_NAME")
    _node_options(s, required=False)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_edit)

    s = ns.add_parser("remove", help="remove a node")
    s.add_argument("name")
    s.set_defaults(func=run_remove)

    s = ns.add_parser("import", help="import nodes from a JSON or CSV file")
    s.add_argument("file", help="file to read ('-' for stdin with --format)")
    s.add_argument("--format", choices=("json", "csv"))
    s.add_argument("--replace", action="store_true", help="replace nodes of the same name")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_import)

    s = ns.add_parser("export", help="export nodes (no secrets) as JSON or CSV")
    s.add_argument("file", nargs="?", default="-", help="file to write (default: stdout)")
    s.add_argument("--format", choices=("json", "csv"))
    s.set_defaults(func=run_export)


def _usage(exc: Exception | str) -> Exception:
    from pacsadmin.cli.main import UsageError

    return UsageError(str(exc))


def _apply(node: Any, args: argparse.Namespace) -> Any:
    from pacsadmin.core.nodes import NodeTimeouts, TlsSettings

    changes: dict[str, Any] = {}
    for k in (
        "ae_title",
        "host",
        "port",
        "description",
        "site",
        "calling_ae_title",
        "max_pdu",
        "retrieve_method",
        "query_charset",
    ):
        v = getattr(args, k, None)
        if v is not None:
            changes[k] = v
    if args.tags is not None:
        changes["tags"] = tuple(args.tags)
    tls = node.tls
    tls_changes = {
        k: v
        for k, v in (
            ("enabled", args.tls_enabled),
            ("ca_bundle", args.ca_bundle),
            ("client_cert", args.client_cert),
            ("client_key", args.client_key),
            ("verify_hostname", args.verify_hostname),
        )
        if v is not None
    }
    if tls_changes:
        changes["tls"] = replace(tls, **tls_changes) if isinstance(tls, TlsSettings) else tls
    to = {
        k: getattr(args, f"timeout_{k}")
        for k in ("connect", "acse", "dimse", "network")
        if getattr(args, f"timeout_{k}") is not None
    }
    if to:
        changes["timeouts"] = replace(node.timeouts, **to) if node.timeouts else NodeTimeouts(**to)
    return replace(node, **changes)


def _read_passphrase(args: argparse.Namespace) -> str | None:
    if not args.key_passphrase_stdin:
        return None
    return sys.stdin.readline().rstrip("\n") or None


def _say_secret(passphrase: str | None, problem: str | None) -> None:
    if not passphrase:
        return
    if problem:
        print(f"warning: the key passphrase was NOT stored: {problem}", file=sys.stderr)
    else:
        print("The key passphrase is stored in the OS keyring.", file=sys.stderr)


def _host_warning(host: str) -> None:
    from pacsadmin.core.netutil import host_warning

    warning = host_warning(host, timeout=2.0)
    if warning:
        print(f"warning: {warning} The node is saved anyway.", file=sys.stderr)


def _print_node(node: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(node.to_json(), indent=2))
    else:
        print(f"{node.name}: {node.address}")


def run_list(args: argparse.Namespace, ctx: Any) -> int:
    nodes = [n for n in ctx.nodes.list() if args.site is None or n.site == args.site]
    if args.json:
        print(json.dumps([n.to_json() for n in nodes], indent=2))
        return 0
    if not nodes:
        print("No nodes yet. Add one: pacsadmin nodes add NAME --ae AET --host HOST --port PORT")
        return 0
    rows = [("NAME", "AE TITLE", "HOST", "PORT", "SITE", "TLS", "DESCRIPTION")]
    rows += [
        (
            n.name,
            n.ae_title,
            n.host,
            str(n.port),
            n.site,
            "yes" if n.tls.enabled else "",
            n.description,
        )
        for n in nodes
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def run_add(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.core.errors import DuplicateNode, ValidationError
    from pacsadmin.core.nodes import DicomNode

    base = DicomNode(name=args.name, ae_title=args.ae_title, host=args.host, port=args.port)
    passphrase = _read_passphrase(args)
    try:
        saved = ctx.node_service.add(_apply(base, args), passphrase)
    except (ValidationError, DuplicateNode) as exc:
        raise _usage(exc) from None
    _say_secret(passphrase, saved.secret_problem)
    _host_warning(saved.node.host)
    _print_node(saved.node, args.json)
    return 0


def run_edit(args: argparse.Namespace, ctx: Any) -> int:
    """Only the options given change; a rename takes the stored passphrase along."""
    from pacsadmin.core.errors import DuplicateNode, NodeNotFound, ValidationError

    passphrase = _read_passphrase(args)
    try:
        old = ctx.nodes.get(args.name)
        new = _apply(old, args)
        if args.rename:
            new = replace(new, name=args.rename)
        saved = ctx.node_service.update(old.name, new, passphrase)
    except (ValidationError, DuplicateNode, NodeNotFound) as exc:
        raise _usage(exc) from None
    _say_secret(passphrase, saved.secret_problem)
    if args.host is not None:
        _host_warning(saved.node.host)
    _print_node(saved.node, args.json)
    return 0


def run_remove(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.core.errors import NodeNotFound

    try:
        node = ctx.node_service.remove(args.name)
    except NodeNotFound as exc:
        raise _usage(exc) from None
    print(f"Removed {node.name}.")
    return 0


def run_import(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.core.errors import PacsAdminError
    from pacsadmin.core.node_exchange import format_for_path

    try:
        fmt = args.format or format_for_path(args.file)
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8-sig")
        rep = ctx.node_service.import_text(
            text, fmt, replace_existing=args.replace, source=args.file
        )
    except (OSError, UnicodeDecodeError) as exc:
        raise _usage(f"cannot read {args.file}: {exc}") from None
    except PacsAdminError as exc:
        raise _usage(exc) from None
    if args.json:
        print(
            json.dumps(
                {
                    "added": rep.added,
                    "replaced": rep.replaced,
                    "skipped": rep.skipped,
                    "errors": rep.errors,
                },
                indent=2,
            )
        )
    else:
        print(
            f"{len(rep.added)} added, {len(rep.replaced)} replaced, "
            f"{len(rep.skipped)} skipped (already present; --replace to overwrite), "
            f"{len(rep.errors)} with errors."
        )
        for e in rep.errors:
            print(f"  {e}", file=sys.stderr)
    return 1 if rep.errors else 0


def run_export(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.core.errors import PacsAdminError
    from pacsadmin.core.fileio import atomic_write_text
    from pacsadmin.core.node_exchange import export_csv, export_json, format_for_path

    try:
        fmt = args.format or ("json" if args.file == "-" else format_for_path(args.file))
    except PacsAdminError as exc:
        raise _usage(exc) from None
    nodes = ctx.nodes.list()
    text = export_json(nodes) if fmt == "json" else export_csv(nodes)
    if args.file == "-":
        sys.stdout.write(text)
    else:
        atomic_write_text(Path(args.file), text, mode=0o644)
        print(f"Exported {len(nodes)} node(s) to {args.file}.", file=sys.stderr)
    return 0
