"""Start-up of the CLI's find and move against echo: time until the first connection (issue 9).

``cli.find_start`` / ``cli.move_start``: median time from spawning ``pacsadmin find
TARGET`` / ``pacsadmin move TARGET --study UID`` to the moment its first TCP connection
reaches TARGET (a listener on 127.0.0.1 that records the time and closes the
connection), vs the same for ``pacsadmin echo TARGET``, runs interleaved, 7 of each after
2 uncounted, each with a bytecode cache as an installed app has (``PYTHONPYCACHEPREFIX``).
That is everything a command does before its first packet: the interpreter, the imports,
the settings, the audit log, and for move the archive it receives into.  Goal: at most
1.1x echo's (no Qt, heavy imports inside the handlers).  Printed beside: the medians of
``--help`` of the three commands (parser only).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import Result, free_port, timed

NAME = "cli"
GOAL = 1.1
N, WARMUP = 7, 2


class _FirstConnect:
    """Accepts connections on 127.0.0.1 and keeps the time of each; closes them at once."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.times: list[float] = []
        self.arrived = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.times.append(time.perf_counter())
            conn.close()
            self.arrived.set()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (Linux)
        except OSError:
            pass
        self.sock.close()


def _first_connect(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``argv`` (with TARGET's port filled in) to its first connection.
    A listener of its own for each run: a command that connects again after the first
    connection closed (find retries through pynetdicom) must not be counted in the next."""
    lst = _FirstConnect()
    try:
        argv = [a.replace("{port}", str(lst.port)) for a in argv]
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not lst.arrived.wait(60):
                raise RuntimeError(f"no connection from {argv[3:5]}")
            return lst.times[0] - t0
        finally:
            proc.wait(60)  # it fails (the connection closed): not timed
    finally:
        lst.close()


def run() -> list[Result]:
    from tests.peers import app_argv

    with tempfile.TemporaryDirectory(prefix="pacsadmin-bench-cli-") as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        target = "PEER@127.0.0.1:{port}"
        local = ["--port", str(free_port()), "--bind", "127.0.0.1"]
        cmds = {
            "echo": app_argv(home, "echo", target, "-t", "2"),
            "find": app_argv(home, "find", target, "-k", "PatientID=X", "-t", "2"),
            "move": app_argv(home, "move", target, "--study", "1.2.3.4", *local, "-t", "2"),
        }
        helps = {k: app_argv(home, k, "--help") for k in cmds}
        start: dict[str, list[float]] = {k: [] for k in cmds}
        help_t: dict[str, list[float]] = {k: [] for k in cmds}
        for i in range(WARMUP + N):
            for k, argv in cmds.items():
                t = _first_connect(argv, env)
                h = timed(lambda a=helps[k]: subprocess.run(a, env=env, capture_output=True))
                if i >= WARMUP:
                    start[k].append(t)
                    help_t[k].append(h)
    med = {k: statistics.median(v) for k, v in start.items()}
    hmed = {k: statistics.median(v) for k, v in help_t.items()}
    load = os.getloadavg()[0]
    notes = (
        "--help: " + ", ".join(f"{k} {hmed[k]:.3f} s" for k in cmds) + f"; load average {load:.2f}"
    )
    return [
        Result(
            f"cli.{k}_start",
            med[k],
            "s",
            med["echo"],
            "echo's",
            f"<= {GOAL:g}x echo",
            med[k] <= GOAL * med["echo"],
            notes,
        )
        for k in ("find", "move")
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for r in run():
        print(r.line())
