"""C-MOVE serving throughput: the local node moving CT images to DCMTK storescp (issue 10).

``serve_move.storescp``: img/s of the app's SCP (``LocalScp`` in-process, archive on disk)
serving a STUDY-level C-MOVE of ``N`` CT 512x512 instances (Explicit VR Little Endian) to
DCMTK ``storescp``, asked by DCMTK ``movescu``: each sub-operation through the fast sender
(``core/dimse/qr_send.py``), pynetdicom keeping the counts and every C-MOVE-RSP.
Reference in the same run: DCMTK ``dcmqrscp`` holding the same instances (sent to it by
``storescu``) serving the same move to the same ``storescp``.  Both timed as the
``movescu`` process minus an ``echoscu`` process to the same server (start-up of the
client not counted); the destination's folder is emptied between moves.  Median of
``ROUNDS`` rounds, interleaved.  Goal: at least 0.6x dcmqrscp.
``PACSADMIN_BENCH_N`` sets the image count.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from common import Result, workdir, write_ct_images

NAME = "serve_move"
N = int(os.environ.get("PACSADMIN_BENCH_N", "500"))
ROUNDS = int(os.environ.get("PACSADMIN_BENCH_ROUNDS", "3"))
GOAL = 0.6
ENV = {**os.environ, "TCP_NODELAY": "1"}


def _proc(argv: list[str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=ENV, timeout=900, capture_output=True)
    took = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {p.stderr.decode(errors='replace')[-500:]}")
    return took


def _empty(folder: Path) -> None:
    for f in folder.iterdir():
        if f.is_file():
            f.unlink()


def _count(folder: Path) -> int:
    return sum(1 for f in folder.iterdir() if f.is_file())


def run() -> list[Result]:
    from pydicom import dcmread

    from pacsadmin.core.archive import Archive
    from pacsadmin.core.dimse.scp import LocalScp, ScpConfig
    from pacsadmin.core.nodes import NodeDirectory
    from tests.peers import HostEntry, start_dcmqrscp, start_storescp

    for exe in ("movescu", "storescp", "dcmqrscp", "storescu", "echoscu"):
        if not shutil.which(exe):
            raise RuntimeError(f"DCMTK ({exe}) is not installed")
    work = workdir("move-")
    archive = None
    scp = None
    try:
        folder = work / "images"
        write_ct_images(folder, N, "BENCH^MOVE")
        study = str(dcmread(next(folder.iterdir()), stop_before_pixels=True).StudyInstanceUID)
        archive = Archive(work / "archive")
        for f in sorted(folder.iterdir()):
            archive.add_file(f)
        with start_storescp(work / "dest") as dest:
            received = dest.storage[0]
            nodes = NodeDirectory(work / "nodes.json")
            nodes.add(dest.node("dest"))
            scp = LocalScp(
                archive, ScpConfig(ae_title="BENCHQR", port=0, bind="127.0.0.1"), nodes=nodes
            ).start()
            hosts = [HostEntry("dest", dest.aet, "127.0.0.1", dest.port)]
            with start_dcmqrscp(work / "dcmqrscp", hosts=hosts) as qr:
                fill = ["storescu", "-aec", qr.aet, "+sd", "127.0.0.1", str(qr.port)]
                _proc([*fill, str(folder)])

                def move(aec: str, port: int) -> list[str]:
                    return [
                        "movescu", "-S", "-aet", "MOVESCU", "-aec", aec, "-aem", dest.aet,
                        "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}",
                        "127.0.0.1", str(port),
                    ]  # fmt: skip

                def echo(aec: str, port: int) -> list[str]:
                    return ["echoscu", "-aet", "MOVESCU", "-aec", aec, "127.0.0.1", str(port)]

                def timed_move(aec: str, port: int) -> float:
                    _empty(received)
                    took = _proc(move(aec, port))
                    got = _count(received)
                    if got != N:
                        raise RuntimeError(f"{aec}: {got} of {N} images arrived")
                    return took

                timed_move(scp.config.ae_title, scp.port)  # warm: imports, page cache
                timed_move(qr.aet, qr.port)
                ours, theirs, e_ours, e_theirs = [], [], [], []
                for _ in range(ROUNDS):
                    ours.append(timed_move(scp.config.ae_title, scp.port))
                    e_ours.append(_proc(echo(scp.config.ae_title, scp.port)))
                    theirs.append(timed_move(qr.aet, qr.port))
                    e_theirs.append(_proc(echo(qr.aet, qr.port)))
        ours_s = statistics.median(ours) - statistics.median(e_ours)
        ref_s = statistics.median(theirs) - statistics.median(e_theirs)
        value, ref = N / ours_s, N / ref_s
        return [
            Result(
                "serve_move.storescp",
                value,
                "img/s",
                ref,
                "dcmqrscp",
                f">= {GOAL}x dcmqrscp",
                value >= GOAL * ref,
                f"movescu {statistics.median(ours):.3f} s (ours) / "
                f"{statistics.median(theirs):.3f} s (dcmqrscp), echoscu "
                f"{statistics.median(e_ours):.3f} / {statistics.median(e_theirs):.3f} s; "
                f"{N} CT 512x512, median of {ROUNDS}",
            )
        ]
    finally:
        if scp is not None:
            scp.stop()
        if archive is not None:
            archive.close()
        shutil.rmtree(work, ignore_errors=True)
