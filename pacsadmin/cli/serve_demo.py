"""``pacsadmin serve --demo``: the demo PACS (AE title DEMOPACS) until Ctrl-C.

The app's own SCP (:func:`pacsadmin.cli.cmd_serve._run_single`) over the demo's own home
(``<data dir>/demo/``: archive, node directory, audit log), one process.  Before it
listens: the demo's life lock (one demo at a time), the studies generated at the first
start, the user's local node added to the demo's directory as a C-MOVE destination, and
the node "Demo PACS" added to the user's directory; that node is removed when it stops
(after a crash, by the next start or the window: :mod:`pacsadmin.core.demo.registry`).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from typing import Any


def run_demo(args: argparse.Namespace, ctx: Any) -> int:
    from pacsadmin.cli.cmd_serve import _not_started, _run_single
    from pacsadmin.cli.context import CliContext
    from pacsadmin.cli.main import EXIT_USAGE
    from pacsadmin.cli.serve_support import EventPrinter
    from pacsadmin.core.demo import DEMO_AE_TITLE, demo_port, registry
    from pacsadmin.core.dimse import scp_events
    from pacsadmin.core.dimse.scp import ScpConfig
    from pacsadmin.core.errors import PacsAdminError

    events = EventPrinter() if args.events else None
    port = args.port or demo_port(ctx.settings.scp_port)
    target = f"{DEMO_AE_TITLE}:{port}"
    if args.aet or args.worker_child or (args.workers not in (None, 0, 1)):
        return _not_started(
            ctx, events, target, scp_events.BAD_ARGUMENT,
            "--demo runs one process with the AE title DEMOPACS: no --aet, no --workers",
            code=EXIT_USAGE,
        )  # fmt: skip
    say = sys.stderr if events is not None else sys.stdout  # stdout: the event channel
    paths = registry.demo_paths(ctx.paths).ensure()
    lock = registry.hold_running_lock(paths.home)
    if lock is None:
        return _not_started(
            ctx, events, target, scp_events.ARCHIVE_UNUSABLE,
            f"another demo PACS is running (its folder {paths.home} is in use)",
        )  # fmt: skip
    try:
        settings = replace(
            ctx.settings,
            local_ae_title=DEMO_AE_TITLE,
            scp_port=port,
            scp_whitelist=False,  # any calling AE title: it is a demo
            scp_check_address=False,
            scp_worker_processes=1,
            scp_tls=False,  # plain DICOM: the "Demo PACS" node it registers has no TLS
        )
        demo = CliContext(paths, settings)
        try:
            registry.add_move_destination(
                demo.nodes, ctx.settings.local_ae_title, ctx.settings.scp_port
            )
        except PacsAdminError as exc:
            return _not_started(ctx, events, target, scp_events.BAD_CONFIG, str(exc))
        try:
            made = _generate(paths, say)
        except Exception as exc:  # a full disk, a broken archive folder
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            return _not_started(
                ctx, events, target, scp_events.ARCHIVE_UNUSABLE,
                f"the demo studies cannot be generated in {paths.archive_dir}: {why}",
            )  # fmt: skip
        print(f"pacsadmin: demo PACS: {made}", file=say, flush=True)
        registered = _register(ctx, port, say)
        try:
            # this computer only, unless --bind says otherwise: a demo is not a service
            bind = args.bind or "127.0.0.1"
            cfg = ScpConfig.from_settings(settings, bind=bind, reuse_port=False)
            return _run_single(args, demo, cfg, events)
        finally:
            if registered:
                _unregister(ctx, say)
    finally:
        lock.close()


def _generate(paths: Any, say: Any) -> str:
    from pacsadmin.core.archive import Archive
    from pacsadmin.core.demo.generate import ensure_contents

    archive = Archive(paths.archive_dir)
    try:
        counts = archive.counts()
        if counts["instances"] == 0:
            print(
                "pacsadmin: demo PACS: generating its studies (first start)…", file=say, flush=True
            )
        t0 = time.monotonic()
        got = ensure_contents(paths.home, archive)
        if got.fresh:
            return (
                f"{got.studies} studies, {got.instances} images generated in "
                f"{time.monotonic() - t0:.1f} s"
            )
        return f"{got.studies} studies, {got.instances} images"
    finally:
        archive.close()


def _register(ctx: Any, port: int, say: Any) -> bool:
    from pacsadmin.core.demo import registry
    from pacsadmin.core.errors import PacsAdminError

    try:
        node = registry.register(ctx.nodes, port)
    except PacsAdminError as exc:  # a damaged node directory: the demo still runs
        print(f"pacsadmin: demo PACS not added to the node directory: {exc}", file=say, flush=True)
        return False
    print(f"pacsadmin: demo PACS is the node {node.name!r} of the directory", file=say, flush=True)
    return True


def _unregister(ctx: Any, say: Any) -> None:
    from pacsadmin.core.demo import registry
    from pacsadmin.core.errors import PacsAdminError

    try:
        ctx.nodes.reload_if_changed()
        registry.unregister(ctx.nodes)
    except PacsAdminError as exc:
        print(f"pacsadmin: demo PACS left in the node directory: {exc}", file=say, flush=True)
