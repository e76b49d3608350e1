"""Send throughput: the send tool sending CT images to DCMTK storescp (issue 10, speed).

``send.storescp``: img/s of ``core.dimse.send.send()`` in-process (warm: one small send
first, so start-up is not counted), sending ``N`` CT 512x512 files (Explicit VR Little
Endian) from a folder to DCMTK ``storescp``: each header read, contexts built, every file
sent straight from its bytes by the fast sender (``core/dimse/store_fast.py``: the data set
read in large blocks into P-DATA PDUs on the association pynetdicom negotiated), each
response read from its bytes and checked.
Reference in the same run: DCMTK ``storescu +sd`` sending the same folder to the same
storescp, minus an ``echoscu`` process to it (the tools' start-up, association and
release not counted).  Printed beside: bare tuned pynetdicom (logging off, TCP_NODELAY,
``send_c_store(path)`` in one association, which decodes and re-encodes each file; with
the seam's ``responses_to_the_caller``, without which its reactor now and then takes a
response and the send stalls for the DIMSE timeout) and the same with the chunked send.
Goal: at least 0.6x storescu.
Median of ``ROUNDS`` rounds, interleaved.  ``PACSADMIN_BENCH_N`` sets the image count.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from common import Result, workdir, write_ct_images

NAME = "send"
N = int(os.environ.get("PACSADMIN_BENCH_N", "500"))
ROUNDS = int(os.environ.get("PACSADMIN_BENCH_ROUNDS", "3"))
GOAL = 0.6
ENV = {**os.environ, "TCP_NODELAY": "1"}


def _proc(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=ENV, check=True, timeout=600, capture_output=True)
    return time.perf_counter() - t0


def _ours(node, folder: Path) -> float:
    from pacsadmin.core.dimse.association import LocalAE
    from pacsadmin.core.dimse.send import send

    t0 = time.perf_counter()
    result = send(LocalAE(), node, [folder])
    took = time.perf_counter() - t0
    if len(result.stored) != len(result.files):
        raise RuntimeError(f"send stored {len(result.stored)} of {len(result.files)}")
    return took


def _bare(port: int, aet: str, files: list[Path], chunked: bool) -> float:
    """Plain pynetdicom, tuned: logging off, Nagle off, one association."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import CTImageStorage

    from pacsadmin.core.dimse import _pynetdicom

    _pynetdicom.quiet_logging()
    previous = _pynetdicom.set_chunked_send(chunked)
    try:
        ae = AE("PACSADMIN")
        ae.add_requested_context(CTImageStorage, ["1.2.840.10008.1.2.1"])
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
        t0 = time.perf_counter()
        assoc = ae.associate(
            "127.0.0.1",
            port,
            ae_title=aet,
            evt_handlers=[(evt.EVT_CONN_OPEN, _pynetdicom.set_nodelay)],
        )
        if not assoc.is_established:
            raise RuntimeError("bare association failed")
        # without it pynetdicom's reactor takes a response now and then (a DIMSE timeout)
        _pynetdicom.responses_to_the_caller(assoc)
        try:
            for f in files:
                rsp = assoc.send_c_store(f)
                if not rsp or rsp.Status != 0:
                    raise RuntimeError("bare pynetdicom: a C-STORE failed")
        finally:
            assoc.release()
        return time.perf_counter() - t0
    finally:
        _pynetdicom.set_chunked_send(previous)


def run() -> list[Result]:
    from tests.peers import start_storescp

    for exe in ("storescu", "storescp", "echoscu"):
        if not shutil.which(exe):
            raise RuntimeError(f"DCMTK ({exe}) is not installed")
    work = workdir("send-")
    try:
        folder = work / "images"
        write_ct_images(folder, N, "BENCH^SEND")
        warm = work / "warm"
        write_ct_images(warm, 3, "BENCH^SEND")
        files = sorted(folder.iterdir())
        with start_storescp(work / "storescp") as peer:
            node = peer.node()
            target = ["127.0.0.1", str(peer.port)]
            echo = ["echoscu", "-aet", "PACSADMIN", "-aec", peer.aet, *target]
            storescu = ["storescu", "-aet", "PACSADMIN", "-aec", peer.aet, "+sd", *target]
            _ours(node, warm)  # imports, first association
            ours, scu, es, bare, bare_chunked = [], [], [], [], []
            for _ in range(ROUNDS):
                ours.append(_ours(node, folder))
                scu.append(_proc([*storescu, str(folder)]))
                es.append(_proc(echo))
                bare.append(_bare(peer.port, peer.aet, files, chunked=False))
                bare_chunked.append(_bare(peer.port, peer.aet, files, chunked=True))
        ours_rate = N / statistics.median(ours)
        scu_s = statistics.median(scu) - statistics.median(es)
        ref = N / scu_s
        return [
            Result(
                "send.storescp",
                ours_rate,
                "img/s",
                ref,
                "storescu - echoscu",
                f">= {GOAL}x storescu",
                ours_rate >= GOAL * ref,
                f"storescu {statistics.median(scu):.3f} s, echoscu "
                f"{statistics.median(es):.3f} s; bare tuned pynetdicom "
                f"{N / statistics.median(bare):.0f} img/s "
                f"({N / statistics.median(bare) / ref:.2f}x storescu), with the chunked send "
                f"{N / statistics.median(bare_chunked):.0f} img/s; {N} CT 512x512, "
                f"median of {ROUNDS}",
            )
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
