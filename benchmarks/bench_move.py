"""C-MOVE of a 500-image CT study from Orthanc into the local archive vs DCMTK (issue 9).

``move.archive``: images/s of ``pacsadmin.core.dimse.retrieve.move`` in-process, as
``pacsadmin move`` runs it: an IMAGE-level C-FIND for the expected count, the app's own
storage SCP started on the local AE title as the move's receiver (temp file in the
archive's ``tmp/``, renamed into place, indexed), the C-MOVE, the accounting read from the
index, the receiver stopped; each round into a fresh archive.  Reference, same run: a
DCMTK ``movescu`` process moving the same study from the same Orthanc to a DCMTK
``storescp`` (third party, writing the files into the same work folder), minus an
``echoscu`` process to the same Orthanc (start-up not counted).  Printed beside: the same
``movescu`` moving to a bare pynetdicom SCP that writes each data set to a file (chunked
receive, rename: no archive logic), our C-MOVE's own phase (from the request to the
last instance found in the index, without the C-FIND and the receiver's start and stop),
and move() into a ``pacsadmin serve`` already running on the local port (the receiver in
a process of its own, as when the window's SCP runs).
Median of 3, interleaved, after one warm-up round.  Goal: at least 0.8x movescu.
Every peer runs with TCP_NODELAY=1.  ``PACSADMIN_BENCH_MOVE_N`` sets the image count.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import Result, free_port, wait_for_port, workdir, write_ct_images

NAME = "move"
N = int(os.environ.get("PACSADMIN_BENCH_MOVE_N", "500"))
GOAL = 0.8
ROUNDS = 3
ENV = {**os.environ, "TCP_NODELAY": "1"}
LOCAL_AET, STORESCP_AET, BARE_AET = "PACSADMIN", "STORESCP", "BARE"

# A bare pynetdicom storage SCP writing every data set to a file, as pynetdicom's chunked
# receive does, and renaming it: what receiving and writing the files costs without the
# archive (no index, no checks).  Logging off and TCP_NODELAY as in the app.
_BARE_WRITING = r"""
import os, sys, tempfile, uuid
from pynetdicom import AE, evt
from pynetdicom.presentation import AllStoragePresentationContexts
from pacsadmin.core.dimse import _pynetdicom
_pynetdicom.quiet_logging()
_pynetdicom.set_chunked_receive(True)
tempfile.tempdir = sys.argv[3]
def on_store(e):
    os.replace(e.dataset_path, os.path.join(sys.argv[3], uuid.uuid4().hex + ".dcm"))
    return 0
ae = AE(sys.argv[1])
ae.maximum_pdu_size = 0
ae.supported_contexts = AllStoragePresentationContexts
ae.start_server(("127.0.0.1", int(sys.argv[2])), block=True,
                evt_handlers=[(evt.EVT_CONN_OPEN, _pynetdicom.set_nodelay),
                              (evt.EVT_C_STORE, on_store)])
"""


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


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _count(folder: Path) -> int:
    return sum(1 for p in folder.iterdir() if p.is_file() and p.suffix != ".tmp")


def _proc(argv: list[str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=ENV, capture_output=True, timeout=600)
    took = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {(p.stdout + p.stderr).decode()[-800:]}")
    return took


def _movescu(peer, study: str, dest: str) -> float:
    return _proc(
        [
            "movescu",
            "-S",
            "-aet",
            LOCAL_AET,
            "-aec",
            peer.aet,
            "-aem",
            dest,
            "-to",
            "600",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={study}",
            "127.0.0.1",
            str(peer.port),
        ]
    )


def _ours(node, study: str, port: int, folder: Path) -> tuple[float, float]:
    """(wall time of move(), its C-MOVE phase) into a fresh archive in ``folder``."""
    from pacsadmin.core.archive import Archive
    from pacsadmin.core.dimse.association import LocalAE
    from pacsadmin.core.dimse.retrieve import move
    from pacsadmin.core.dimse.retrieve_model import Selection
    from pacsadmin.core.jobs import null_context

    archive = Archive(_fresh(folder))
    try:
        local = LocalAE(LOCAL_AET, port)
        t0 = time.perf_counter()
        r = move(
            local,
            node,
            Selection.of(studies=[study]),
            ctx=null_context(),
            archive=archive,
            bind="127.0.0.1",
            timeout=600,
        )
        took = time.perf_counter() - t0
    finally:
        archive.close()
    if not r.ok or r.received != N or r.receiver is None or not r.receiver.started:
        raise RuntimeError(f"the move failed: {r.summary}")
    return took, r.elapsed_ms / 1000


def _ours_into_serve(node, study: str, port: int, home: Path) -> float:
    """Wall time of move() when ``pacsadmin serve`` already runs on the local port (its
    own process: the receiver does not share this process's GIL), into its archive."""
    from common import serve_argv

    from pacsadmin.core.archive import Archive
    from pacsadmin.core.dimse.association import LocalAE
    from pacsadmin.core.dimse.retrieve import move
    from pacsadmin.core.dimse.retrieve_model import Selection
    from pacsadmin.core.jobs import null_context

    _fresh(home)
    proc = subprocess.Popen(
        serve_argv(home, LOCAL_AET, port),
        env=ENV,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        archive = Archive(home / "archive", sweep=False)
        try:
            t0 = time.perf_counter()
            r = move(
                LocalAE(LOCAL_AET, port),
                node,
                Selection.of(studies=[study]),
                ctx=null_context(),
                archive=archive,
                timeout=600,
            )
            took = time.perf_counter() - t0
        finally:
            archive.close()
    finally:
        _stop(proc)
    if not r.ok or r.received != N or r.receiver is None or r.receiver.started:
        raise RuntimeError(f"the move into serve failed: {r.summary}")
    return took


def _load(peer, images: Path) -> None:
    _proc(["storescu", "-aec", peer.aet, "+sd", "127.0.0.1", str(peer.port), str(images)])


def run() -> list[Result]:
    from tests.peers import start_orthanc, start_storescp

    for exe in ("movescu", "storescp", "storescu", "echoscu"):
        if shutil.which(exe) is None:
            raise RuntimeError(f"DCMTK {exe} is not installed")
    work = workdir("bench-move-")
    bare_proc = None
    load: list[float] = []
    try:
        images = work / "images"
        write_ct_images(images, N, "BENCH^MOVE")
        from pydicom import dcmread

        study = str(dcmread(next(images.iterdir()), stop_before_pixels=True).StudyInstanceUID)
        ports = {"local": free_port(), "bare": free_port()}
        bare_out = _fresh(work / "bare")
        storescp = start_storescp(work / "storescp", aet=STORESCP_AET)
        bare_proc = subprocess.Popen(
            [sys.executable, "-c", _BARE_WRITING, BARE_AET, str(ports["bare"]), str(bare_out)],
            env=ENV,
            start_new_session=True,
        )
        wait_for_port(ports["bare"], bare_proc)
        modalities = {
            "pacsadmin": (LOCAL_AET, "127.0.0.1", ports["local"]),
            "storescp": (STORESCP_AET, "127.0.0.1", storescp.port),
            "bare": (BARE_AET, "127.0.0.1", ports["bare"]),
        }
        try:
            with start_orthanc(work / "orthanc", modalities=modalities) as o:
                _load(o, images)
                node = o.node("orthanc")
                echo = ["echoscu", "-aet", LOCAL_AET, "-aec", o.aet, "127.0.0.1", str(o.port)]
                ours, phase, dcmtk, bare, echoes, serve = [], [], [], [], [], []
                for rnd in range(ROUNDS + 1):  # round 0: warm-up (imports, caches), not counted
                    load.append(os.getloadavg()[0])
                    took, ph = _ours(node, study, ports["local"], work / "archive")
                    received = _fresh(storescp.storage[0])
                    m = _movescu(o, study, STORESCP_AET)
                    if _count(received) != N:
                        raise RuntimeError(f"storescp wrote {_count(received)} of {N} files")
                    _fresh(bare_out)
                    b = _movescu(o, study, BARE_AET)
                    if _count(bare_out) != N:
                        raise RuntimeError(f"the bare SCP wrote {_count(bare_out)} of {N} files")
                    e = _proc(echo)
                    sv = _ours_into_serve(node, study, ports["local"], work / "serve")
                    if rnd:
                        serve.append(sv)
                        ours.append(took)
                        phase.append(ph)
                        dcmtk.append(m)
                        bare.append(b)
                        echoes.append(e)
        finally:
            storescp.stop()
    finally:
        if bare_proc is not None:
            _stop(bare_proc)
        shutil.rmtree(work, ignore_errors=True)
    echo_s = statistics.median(echoes)
    ours_ips = N / statistics.median(ours)
    movescu_ips = N / (statistics.median(dcmtk) - echo_s)
    bare_ips = N / (statistics.median(bare) - echo_s)
    return [
        Result(
            "move.archive",
            ours_ips,
            "img/s",
            movescu_ips,
            "movescu->storescp",
            f">= {GOAL:g}x movescu",
            ours_ips >= GOAL * movescu_ips,
            f"our whole move() {statistics.median(ours):.2f} s (its C-MOVE phase "
            f"{statistics.median(phase):.2f} s, {N / statistics.median(phase):.0f} img/s); "
            f"movescu->storescp {statistics.median(dcmtk):.2f} s - echoscu {echo_s:.3f} s; "
            f"movescu->bare pynetdicom SCP writing files {bare_ips:.0f} img/s; "
            f"move() into a running 'pacsadmin serve' {N / statistics.median(serve):.0f} "
            "img/s; "
            f"{N} CT 512x512 from Orthanc, median of {ROUNDS}; load average "
            f"{min(load):.2f}-{max(load):.2f}",
        )
    ]


if __name__ == "__main__":
    for r in run():
        print(r.line())
