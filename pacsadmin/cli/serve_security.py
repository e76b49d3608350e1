"""``pacsadmin serve``'s TLS and deadline options: the flags, the TLS settings with the
command line's changes, the key's passphrase from (and into) the OS keyring, and the check
that the certificate and key can be used before anything listens."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

# settings.MAX_DEADLINE (a week), not imported: parsing a command line imports no core
# module (tests/unit/test_headless.py); tests/unit/test_settings.py checks they agree
MAX_DEADLINE = 7 * 24 * 3600


def register(p: Any) -> None:
    from pacsadmin.cli.argtypes import seconds

    g = p.add_argument_group("TLS and limits (defaults: the settings)")
    g.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="accept TLS connections only (TLS 1.2 or later) (settings: scp_tls)",
    )
    g.add_argument("--tls-cert", metavar="FILE", help="PEM certificate (chain) (scp_tls_cert)")
    g.add_argument(
        "--tls-key",
        metavar="FILE",
        help="PEM private key, when not in the certificate file (scp_tls_key); an encrypted "
        "key's passphrase is read from the OS keyring",
    )
    g.add_argument(
        "--tls-client-ca",
        metavar="FILE",
        help="require a client certificate issued by this CA (PEM) (scp_tls_client_ca)",
    )
    g.add_argument(
        "--tls-passphrase-stdin",
        action="store_true",
        help="read the TLS key's passphrase from stdin, store it in the OS keyring, and exit",
    )
    g.add_argument(
        "--deadline",
        type=seconds(MAX_DEADLINE),
        metavar="S",
        help="end any association that lasts longer than S seconds "
        "(scp_association_deadline, default 3600)",
    )


def tls_config(args: argparse.Namespace, ctx: Any, cfg: Any) -> Any:
    """The settings' TLS with the command line's changes."""
    from dataclasses import replace

    from pacsadmin.cli.main import UsageError
    from pacsadmin.core.dimse.scp_tls import ScpTls

    s = ctx.settings
    on = s.scp_tls if args.tls is None else args.tls
    if not on:
        return replace(cfg, tls=None)
    tls = ScpTls(
        args.tls_cert if args.tls_cert is not None else s.scp_tls_cert,
        args.tls_key if args.tls_key is not None else s.scp_tls_key,
        args.tls_client_ca if args.tls_client_ca is not None else s.scp_tls_client_ca,
    )
    if not tls.cert:
        raise UsageError("TLS needs a certificate file: --tls-cert FILE (or scp_tls_cert)")
    return replace(cfg, tls=tls)


def tls_passphrase(ctx: Any) -> str | None:
    from pacsadmin.core.secrets import SCP_TLS_PASSPHRASE_KEY

    return ctx.secrets.get(SCP_TLS_PASSPHRASE_KEY)  # type: ignore[no-any-return]


def store_passphrase(ctx: Any, audit: Callable[[Any, str, str, str], None]) -> int:
    """``--tls-passphrase-stdin``: one line from stdin into the OS keyring."""
    import sys

    from pacsadmin.core.secrets import SCP_TLS_PASSPHRASE_KEY

    value = sys.stdin.readline().rstrip("\n")
    if not value:
        ctx.secrets.delete(SCP_TLS_PASSPHRASE_KEY)
        print("No passphrase given: the stored one (if any) was removed.", file=sys.stderr)
        return 0
    problem = ctx.secrets.set(SCP_TLS_PASSPHRASE_KEY, value)
    if problem:
        print(f"pacsadmin serve: the passphrase was NOT stored: {problem}", file=sys.stderr)
        return 1
    print("The SCP's TLS key passphrase is stored in the OS keyring.", file=sys.stderr)
    audit(ctx, "ok", "scp-tls", "the SCP's TLS key passphrase was stored in the keyring")
    return 0


def check_tls(cfg: Any, ctx: Any) -> tuple[str, str] | None:
    """Load the certificate and key once: (reason, sentence) when they cannot be used."""
    from pacsadmin.core.dimse import scp_events
    from pacsadmin.core.dimse.scp_tls import ScpTlsError, server_context

    if cfg.tls is None:
        return None
    try:
        server_context(cfg.tls, tls_passphrase(ctx))
    except ScpTlsError as exc:
        return scp_events.TLS_UNUSABLE, str(exc)
    return None
