"""``pacsadmin settings show|set``: the local AE, SCP port, timeouts, max PDU, workers."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


_bool.__name__ = "yes/no value"

KEYS: dict[str, Callable[[str], Any]] = {
    "local_ae_title": str,
    "scp_port": int,
    "max_pdu": int,
    "worker_count": int,
    "per_node_limit": int,
    "retrieve_per_node_limit": int,
    "timeout_connect": float,
    "timeout_acse": float,
    "timeout_dimse": float,
    "timeout_network": float,
    "scp_whitelist": _bool,
    "scp_check_address": _bool,
    "scp_max_associations": int,
    "scp_worker_processes": int,
    "duplicate_policy": str,
    "archive_fsync": _bool,
    "scp_autostart": _bool,
    "scp_tls": _bool,
    "scp_tls_cert": str,
    "scp_tls_key": str,
    "scp_tls_client_ca": str,
    "scp_association_deadline": float,
}


def register(sub: Any) -> None:
    p = sub.add_parser("settings", help="show or change the settings")
    ssub = p.add_subparsers(dest="settings_cmd", metavar="ACTION", required=True)
    s = ssub.add_parser("show", help="print the settings")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_show)
    s = ssub.add_parser(
        "set", help="change settings: KEY=VALUE ...", description="Keys: " + ", ".join(KEYS)
    )
    s.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    s.set_defaults(func=run_set)


def run_show(args: argparse.Namespace, ctx: Any) -> int:
    d = ctx.settings.to_json()
    if args.json:
        print(json.dumps(d, indent=2))
    else:
        print(f"settings file: {ctx.paths.settings_file}")
        for k, v in d.items():
            if k == "recent_queries":  # the Query panel's, with patient names: a count here
                print(f"  {k} = {len(v)} saved (--json lists them)")
            elif isinstance(v, dict):
                for k2, v2 in v.items():
                    print(f"  {k}.{k2} = {v2}")
            else:
                print(f"  {k} = {v}")
    return 0


def run_set(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.cli.main import UsageError
    from pacsadmin.core.errors import ValidationError
    from pacsadmin.core.settings import save_settings, with_timeouts

    s = ctx.settings
    for pair in args.pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in KEYS:
            raise UsageError(f"{pair!r}: expected KEY=VALUE with KEY one of {', '.join(KEYS)}")
        try:
            v = KEYS[key](value)
        except ValueError:
            raise UsageError(f"{key}: {value!r} is not a {KEYS[key].__name__}") from None
        if key.startswith("timeout_"):
            s = with_timeouts(s, **{key.removeprefix("timeout_"): v})
        else:
            s = replace(s, **{key: v})
    try:
        s.validate()
    except ValidationError as exc:
        raise UsageError(str(exc)) from None
    save_settings(ctx.paths.settings_file, s)
    print("Settings saved.")
    return 0
