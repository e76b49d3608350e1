"""Receive throughput: DCMTK storescu sending CT images to the app's SCP (issue 3, speed).

(a) ``receive.app``: img/s of ``pacsadmin serve`` (one process: the fast receive of
    ``core/dimse/scp_fast.py`` into the archive's tmp/, os.replace, index row by the one
    writer) fed by one storescu, beside DCMTK storescp writing the same files to the same
    disk, in the same run.  Goal (issue 10): at least 0.6x storescp.  Printed beside:
    ``serve --no-fast-receive`` (pynetdicom's chunked receive, the path before), a bare
    pynetdicom SCP whose handler does nothing (max PDU 0, TCP_NODELAY, logging off: the
    ceiling of pynetdicom's network stack) and the same bare SCP writing each data set to
    a file (chunked receive + rename, no archive logic).
(b) ``receive.workers2``: two storescu processes sending at once to ``serve --workers 2``
    (SO_REUSEPORT) vs ``--workers 1``.  No goal; it shows what a second process buys on
    this machine.
Every peer runs with TCP_NODELAY=1.  ``PACSADMIN_BENCH_N`` sets the image count (500).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    Result,
    app_cli,
    free_port,
    serve_argv,
    wait_for_port,
    workdir,
    write_ct_images,
)

NAME = "receive"
N = int(os.environ.get("PACSADMIN_BENCH_N", "500"))
GOAL = 0.6  # x DCMTK storescp
ENV = {**os.environ, "TCP_NODELAY": "1"}

_BARE = r"""
import sys
from pynetdicom import AE, evt
from pynetdicom.presentation import AllStoragePresentationContexts
from pacsadmin.core.dimse import _pynetdicom  # logging off; the TCP_NODELAY hook
_pynetdicom.quiet_logging()
on_open = _pynetdicom.set_nodelay
ae = AE("BARE")
ae.maximum_pdu_size = 0
ae.supported_contexts = AllStoragePresentationContexts
ae.start_server(("127.0.0.1", int(sys.argv[1])), block=True,
                evt_handlers=[(evt.EVT_CONN_OPEN, on_open), (evt.EVT_C_STORE, lambda e: 0)])
"""

# The same bare SCP, but every data set is written to a file in the work folder, as
# pynetdicom's chunked receive does, and renamed: what writing the files costs on this
# disk, with no archive logic at all (no index, no checks).  Printed beside, not a goal.
_BARE_WRITING = _BARE.replace(
    "ae = AE(",
    """import os, tempfile, uuid
_pynetdicom.set_chunked_receive(True)
tempfile.tempdir = sys.argv[2]
def on_store(e):
    os.replace(e.dataset_path, os.path.join(sys.argv[2], uuid.uuid4().hex + ".dcm"))
    return 0
ae = AE(""",
).replace("lambda e: 0", "on_store")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _send(port: int, aec: str, folders: list[Path]) -> float:
    """Wall time of storescu process(es) sending ``folders`` at once (one each)."""
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            ["storescu", "-aec", aec, "+sd", "127.0.0.1", str(port), str(f)],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for f in folders
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"storescu failed: {err.decode(errors='replace')[-500:]}")
    return time.perf_counter() - t0


def _bare(folders: list[Path], out: Path | None = None) -> float:
    port = free_port()
    args = [sys.executable, "-c", _BARE, str(port)]
    if out is not None:
        out.mkdir()
        args = [sys.executable, "-c", _BARE_WRITING, str(port), str(out)]
    proc = subprocess.Popen(args, env=ENV, start_new_session=True)
    try:
        wait_for_port(port, proc)
        return _send(port, "BARE", folders)
    finally:
        _stop(proc)
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)


def _storescp(folders: list[Path], work: Path) -> float:
    port = free_port()
    out = work / "storescp"
    out.mkdir()
    proc = subprocess.Popen(
        ["storescp", "-od", str(out), str(port)],
        env=ENV,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        return _send(port, "STORESCP", folders)
    finally:
        _stop(proc)
        shutil.rmtree(out, ignore_errors=True)


def _app(folders: list[Path], work: Path, workers: int, *extra: str) -> float:
    home = Path(tempfile.mkdtemp(dir=work, prefix="home"))
    port = free_port()
    proc = subprocess.Popen(
        serve_argv(home, "BENCH", port, *extra, workers=workers),
        env=ENV,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        time.sleep(1.0 if workers > 1 else 0.2)  # every worker bound
        elapsed = _send(port, "BENCH", folders)
    finally:
        _stop(proc)
    listed = app_cli(home, "archive", "list", "--json", timeout=120)
    n = json.loads(listed.stdout)["counts"]["instances"]
    expected = sum(len(list(f.iterdir())) for f in folders)
    shutil.rmtree(home, ignore_errors=True)
    if n != expected:
        raise RuntimeError(f"the archive holds {n} of {expected} images")
    return elapsed


def run() -> list[Result]:
    if not shutil.which("storescu") or not shutil.which("storescp"):
        raise RuntimeError("DCMTK (storescu, storescp) is not installed")
    work = workdir("bench-receive-")
    try:
        images = work / "images"
        write_ct_images(images, N, "BENCH^RECEIVE")
        half_a, half_b = work / "a", work / "b"
        half_a.mkdir()
        half_b.mkdir()
        for i, f in enumerate(sorted(images.iterdir())):
            os.link(f, (half_a if i % 2 == 0 else half_b) / f.name)
        one = [images]
        # interleave the runs so a change of load hits all of them alike
        bare, app, old, dcmtk, writing = [], [], [], [], []
        for _ in range(3):
            dcmtk.append(N / _storescp(one, work))
            app.append(N / _app(one, work, 1))
            old.append(N / _app(one, work, 1, "--no-fast-receive"))
            bare.append(N / _bare(one))
            writing.append(N / _bare(one, work / "bare-writing"))
        w1 = N / _app([half_a, half_b], work, 1)
        w2 = N / _app([half_a, half_b], work, 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    b, a, o, d, w = max(bare), max(app), max(old), max(dcmtk), max(writing)
    load = os.getloadavg()
    return [
        Result(
            "receive.app",
            a,
            "img/s",
            d,
            "DCMTK storescp",
            f">= {GOAL:g}x storescp",
            a >= GOAL * d,
            f"serve --no-fast-receive {o:.0f} img/s ({o / d:.2f}x);"
            f" bare pynetdicom {b:.0f} img/s ({b / d:.2f}x), writing the files {w:.0f}"
            f" ({w / d:.2f}x); {N} CT 512x512, best of 3;"
            f" load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        ),
        Result(
            "receive.workers2",
            w2,
            "img/s",
            w1,
            "serve --workers 1",
            "",
            None,
            f"two storescu at once; {os.cpu_count()} cores",
        ),
    ]


if __name__ == "__main__":
    for r in run():
        print(r.line())
