"""C-ECHO round trip of the core vs DCMTK echoscu, and the CLI's cold start.

(a) ``echo.rtt``: median wall time of ``diagnose()`` (connect, associate, echo, release),
    in-process and warm, against a DCMTK storescp started with TCP_NODELAY=1; beside it,
    the median wall time of a DCMTK ``echoscu`` process, the bare TCP connect time and a
    plain pynetdicom association (associate, echo, release) in the same run.
    Goal: under 10 ms.
(b) ``echo.cli_cold``: median wall time of ``pacsadmin echo TARGET`` as a fresh process,
    vs ``python -c 'import pynetdicom'`` in the same run (runs interleaved).
    Goal: no more than 0.15 s longer.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import Result, median_time, timed

NAME = "echo"
RTT_GOAL_MS = 10.0
COLD_GOAL_S = 0.15
N_CORE, N_ECHOSCU, N_TCP, N_PLAIN, N_COLD = 50, 15, 200, 20, 7


def _core(node) -> tuple[float, float]:
    from pacsadmin.core.dimse.association import LocalAE
    from pacsadmin.core.dimse.echo import diagnose

    local = LocalAE()
    internal: list[float] = []

    def once() -> None:
        r = diagnose(local, node)
        if not r.ok:
            raise RuntimeError(f"echo failed: {r.summary}")
        internal.append(r.total_ms)

    wall = median_time(once, N_CORE, warmup=5) * 1000
    return wall, statistics.median(internal[5:])


def _plain_pynetdicom(port: int) -> float:
    """What a plain pynetdicom association costs (no doctor, its defaults)."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    from pacsadmin.core.dimse._pynetdicom import quiet_logging

    quiet_logging()  # its log handlers off, as in the app; its defaults otherwise
    ae = AE("PLAIN")
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10

    def once() -> None:
        assoc = ae.associate("127.0.0.1", port, ae_title="STORESCP")
        if not assoc.is_established:
            raise RuntimeError("plain pynetdicom association failed")
        assoc.send_c_echo()
        assoc.release()

    return median_time(once, N_PLAIN, warmup=2) * 1000


def _tcp_connect(port: int) -> float:
    def once() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass

    return median_time(once, N_TCP, warmup=5) * 1000


def _echoscu(peer, env: dict[str, str]) -> float:
    exe = shutil.which("echoscu")
    if exe is None:
        raise RuntimeError("DCMTK echoscu is not installed")
    argv = [exe, "-aec", peer.aet, peer.host, str(peer.port)]

    def once() -> None:
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=30)

    return median_time(once, N_ECHOSCU, warmup=2) * 1000


def _pacsadmin_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("pacsadmin")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "pacsadmin"]


def _cold_start(peer, env: dict[str, str], pycache: Path) -> tuple[float, float, float]:
    """Medians (s) of: the CLI, the pynetdicom import, and the CLI without bytecode.

    An installed app has its .pyc files; a checkout run with PYTHONDONTWRITEBYTECODE=1
    (as here) compiles pacsadmin's modules on every start (~25 ms).  So both commands
    run with a bytecode cache of their own (PYTHONPYCACHEPREFIX, filled by the uncounted
    warm-up runs); the CLI without it is reported beside."""
    cli = [*_pacsadmin_cmd(), "echo", peer.target]
    imp = [sys.executable, "-c", "import pynetdicom"]
    cached = {**env, "PYTHONPYCACHEPREFIX": str(pycache)}
    cached.pop("PYTHONDONTWRITEBYTECODE", None)
    nocache = {**env, "PYTHONDONTWRITEBYTECODE": "1"}

    def run(argv: list[str], e: dict[str, str]) -> float:
        return timed(lambda: subprocess.run(argv, env=e, check=True, capture_output=True))

    for _ in range(2):  # fill the bytecode and page caches; not counted
        run(cli, cached)
        run(imp, cached)
    cli_t, imp_t = [], []
    for _ in range(N_COLD):  # interleaved, so load changes hit both alike
        cli_t.append(run(cli, cached))
        imp_t.append(run(imp, cached))
    raw = statistics.median(run(cli, nocache) for _ in range(3))
    return statistics.median(cli_t), statistics.median(imp_t), raw


def run() -> list[Result]:
    from tests.peers import peer_env, start_storescp

    saved_home = os.environ.get("PACSADMIN_HOME")
    with tempfile.TemporaryDirectory(prefix="pacsadmin-bench-") as tmp:
        # never the user's settings or audit log: the CLI runs write to it
        env = {**peer_env(), "PACSADMIN_HOME": str(Path(tmp) / "home")}
        os.environ["PACSADMIN_HOME"] = env["PACSADMIN_HOME"]
        try:
            with start_storescp(Path(tmp) / "storescp") as peer:
                node = peer.node("storescp")
                core_ms, core_internal = _core(node)
                tcp_ms = _tcp_connect(peer.port)
                plain_ms = _plain_pynetdicom(peer.port)
                echoscu_ms = _echoscu(peer, env)
                cli_s, import_s, raw_s = _cold_start(peer, env, Path(tmp) / "pycache")
        finally:
            if saved_home is None:
                os.environ.pop("PACSADMIN_HOME", None)
            else:
                os.environ["PACSADMIN_HOME"] = saved_home
    return [
        Result(
            "echo.rtt",
            core_ms,
            "ms",
            echoscu_ms,
            "echoscu",
            f"< {RTT_GOAL_MS:g} ms",
            core_ms < RTT_GOAL_MS,
            f"internal {core_internal:.2f} ms; bare TCP connect {tcp_ms:.3f} ms; "
            f"plain pynetdicom {plain_ms:.2f} ms",
        ),
        Result(
            "echo.cli_cold",
            cli_s,
            "s",
            import_s,
            "import pynetdicom",
            f"<= ref + {COLD_GOAL_S:g} s",
            cli_s - import_s <= COLD_GOAL_S,
            f"+{cli_s - import_s:.3f} s over the import; without .pyc files {raw_s:.3f} s",
        ),
    ]
