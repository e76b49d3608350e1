"""C-FIND as SCU: ``core/dimse/find.py`` vs DCMTK ``findscu`` against Orthanc (issue 9).

``find.2000`` / ``find.10000``: median wall time of ``find()`` (its default, fast engine:
``find_fast.py``) in-process (connect,
associate, STUDY-level C-FIND for every study, release; each match decoded into plain
values and reported) against Orthanc holding 2,000 and then 10,000 studies, vs the median
wall time of a ``findscu -q`` process for the same query minus the median of an
``echoscu`` process to the same Orthanc (its start-up, association and release), runs
interleaved, median of 3.  Goal: at most 1.5x.  Printed beside: a bare, tuned pynetdicom
``send_c_find`` loop (TCP_NODELAY, no decoding of values) over the same association
set-up, and ``find(engine="pynetdicom")``.
``find.first_row``: at the largest count, the time from the first C-FIND response
reaching this computer to ``find()`` reporting the first match (``ctx.report``, what the
Query panel's table and the CLI consume): the query runs through a relay on 127.0.0.1
that notes when the first P-DATA PDU after the A-ASSOCIATE-AC arrives from Orthanc (so
the figure includes the relay's extra hop).  Orthanc computes every match before it sends
the first, so "first response" is not "request sent": that wait is printed beside.
Median of 3.  Goal: under 0.1 s.
``PACSADMIN_BENCH_FIND_COUNTS`` changes the counts (comma-separated).
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

from common import Result, workdir

NAME = "find"
COUNTS = tuple(
    int(x) for x in os.environ.get("PACSADMIN_BENCH_FIND_COUNTS", "2000,10000").split(",")
)
GOAL = 1.5
ENV = {**os.environ, "TCP_NODELAY": "1"}
KEYS = (
    "PatientName",
    "PatientID",
    "StudyDate",
    "StudyInstanceUID",
    "AccessionNumber",
    "StudyDescription",
)
ROUNDS = 3
FIRST_ROW_GOAL_MS = 100.0


def _study_bytes(i: int) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = f"BENCH^{i % 500}"
    ds.PatientID = f"B{i % 500}"
    ds.StudyDate = f"2024{1 + i % 12:02d}{1 + i % 28:02d}"
    ds.StudyTime = "120000"
    ds.AccessionNumber = f"A{i}"
    ds.StudyDescription = "BENCHMARK"
    ds.Modality = "OT"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _load(peer, start: int, stop: int) -> None:
    from tests.peers import orthanc_rest

    def post(i: int) -> None:
        orthanc_rest(peer, "POST", "/instances", _study_bytes(i))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, range(start, stop)))


def _query():
    from pacsadmin.core.dimse.find_query import FindQuery

    # exactly the keys findscu and the bare SCU send (no default columns: Orthanc computes
    # ModalitiesInStudy and the Number of ... Related keys per study, which costs it more)
    return FindQuery(
        "study", "STUDY", keys=tuple((k, "") for k in KEYS), charset="", defaults=False
    )


def _ours(node, engine: str = "fast") -> tuple[float, int, float | None]:
    from pacsadmin.core.dimse.association import LocalAE
    from pacsadmin.core.dimse.find import find
    from pacsadmin.core.jobs import null_context

    t0 = time.perf_counter()
    r = find(LocalAE(), node, _query(), ctx=null_context(), timeout=300, engine=engine)
    took = time.perf_counter() - t0
    if not r.ok or r.unreadable:
        raise RuntimeError(f"find failed: {r.summary}")
    return took, len(r.matches), r.first_ms


class _Relay:
    """A TCP relay on 127.0.0.1 to ``port`` that notes when the peer's first P-DATA PDU
    (the first PDU after its A-ASSOCIATE-AC: the first C-FIND response) arrives."""

    def __init__(self, port: int) -> None:
        import threading

        self.upstream = port
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]
        self.first_response: float | None = None
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import threading

        client, _ = self.lsock.accept()
        server = socket.create_connection(("127.0.0.1", self.upstream))
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def pump(src: socket.socket, dst: socket.socket, watch: bool) -> None:
            seen, ac_end = 0, None
            try:
                while chunk := src.recv(1 << 20):
                    now = time.perf_counter()
                    if watch and self.first_response is None:
                        head = seen
                        seen += len(chunk)
                        if ac_end is None and seen >= 6:
                            # (the A-ASSOCIATE-AC's 6-byte header is in the first chunk)
                            ac_end = 6 + int.from_bytes(chunk[2 - head : 6 - head], "big")
                        if ac_end is not None and seen > ac_end:
                            self.first_response = now
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        t = threading.Thread(target=pump, args=(client, server, False), daemon=True)
        t.start()
        pump(server, client, True)
        t.join(10)
        client.close()
        server.close()
        self.lsock.close()


def _first_row(node) -> tuple[float, float]:
    """(ms from the first response's arrival to the first match reported, ms from the
    start of find() to the first response's arrival), through a relay."""
    from dataclasses import replace

    from pacsadmin.core.dimse.association import LocalAE
    from pacsadmin.core.dimse.find import find
    from pacsadmin.core.jobs import CancelToken, JobContext, JobPartial

    relay = _Relay(node.port)
    first: list[float] = []

    def listener(e) -> None:
        if isinstance(e, JobPartial) and not first:
            first.append(time.perf_counter())

    t0 = time.perf_counter()
    r = find(
        LocalAE(),
        replace(node, port=relay.port),
        _query(),
        ctx=JobContext(1, CancelToken(), listener),
        timeout=300,
    )
    if not r.ok or not first or relay.first_response is None:
        raise RuntimeError(f"find through the relay failed: {r.summary}")
    return (first[0] - relay.first_response) * 1000, (relay.first_response - t0) * 1000


def _bare(port: int, aet: str) -> tuple[float, int]:
    """A plain pynetdicom SCU, tuned (Nagle off), that only counts the responses."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    ae = AE("PACSADMIN")
    ae.add_requested_context(FIND)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 300
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    for kw in KEYS:
        setattr(q, kw, "")

    def nodelay(event) -> None:
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    t0 = time.perf_counter()
    assoc = ae.associate(
        "127.0.0.1", port, ae_title=aet, evt_handlers=[(evt.EVT_CONN_OPEN, nodelay)]
    )
    if not assoc.is_established:
        raise RuntimeError("bare association failed")
    n = 0
    try:
        for status, _ in assoc.send_c_find(q, FIND):
            if status and status.Status in (0xFF00, 0xFF01):
                n += 1
    finally:
        assoc.release()
    return time.perf_counter() - t0, n


def _proc(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=ENV, check=True, timeout=600, capture_output=True)
    return time.perf_counter() - t0


def _findscu_argv(port: int, aet: str) -> list[str]:
    cmd = ["findscu", "-q", "-S", "-aet", "PACSADMIN", "-aec", aet, "-to", "300"]
    cmd += ["-k", "QueryRetrieveLevel=STUDY"]
    for kw in KEYS:
        cmd += ["-k", kw]
    return [*cmd, "127.0.0.1", str(port)]


def _measure(peer, node, n: int) -> tuple[Result, Result]:
    echo = ["echoscu", "-aet", "PACSADMIN", "-aec", peer.aet, "127.0.0.1", str(peer.port)]
    ours, fs, es, bare, firsts, slow, rows, waits = [], [], [], [], [], [], [], []
    _ours(node)  # warm-up (imports, Orthanc's caches)
    for _ in range(ROUNDS):
        row, wait = _first_row(node)
        rows.append(row)
        waits.append(wait)
        took, count, first = _ours(node)
        if count != n:
            raise RuntimeError(f"find returned {count} matches, expected {n}")
        ours.append(took)
        firsts.append(first or 0.0)
        fs.append(_proc(_findscu_argv(peer.port, peer.aet)))
        es.append(_proc(echo))
        b, bn = _bare(peer.port, peer.aet)
        if bn != n:
            raise RuntimeError(f"bare pynetdicom got {bn} matches, expected {n}")
        bare.append(b)
        slow.append(_ours(node, "pynetdicom")[0])
    ours_s = statistics.median(ours)
    ref = statistics.median(fs) - statistics.median(es)
    row = statistics.median(rows)
    first_row = Result(
        f"find.first_row.{n}",
        row,
        "ms",
        None,
        "",
        f"< {FIRST_ROW_GOAL_MS:g} ms",
        row < FIRST_ROW_GOAL_MS,
        f"after the first response reached this computer; Orthanc's first response came "
        f"{statistics.median(waits):.0f} ms after find() started; load average "
        f"{os.getloadavg()[0]:.2f}",
    )
    return first_row, Result(
        f"find.{n}",
        ours_s,
        "s",
        ref,
        "findscu - echoscu",
        f"<= {GOAL}x findscu",
        ours_s <= GOAL * ref,
        f"findscu {statistics.median(fs):.3f} s, echoscu {statistics.median(es):.3f} s, "
        f"bare pynetdicom {statistics.median(bare):.3f} s, our pynetdicom engine "
        f"{statistics.median(slow):.3f} s, first match "
        f"{statistics.median(firsts):.1f} ms after the request; load average "
        f"{os.getloadavg()[0]:.2f}",
    )


def run() -> list[Result]:
    from tests.peers import start_orthanc

    for exe in ("findscu", "echoscu"):
        if shutil.which(exe) is None:
            raise RuntimeError(f"DCMTK {exe} is not installed")
    work = workdir("find-")
    results: list[Result] = []
    try:
        with start_orthanc(
            work / "orthanc",
            modalities={"pacsadmin": ("PACSADMIN", "127.0.0.1", 11112)},
            extra_config={"LimitFindResults": 0, "LimitFindInstances": 0},
        ) as o:
            node = o.node("orthanc")
            loaded = 0
            for n in sorted(COUNTS):
                t0 = time.perf_counter()
                _load(o, loaded, n)
                print(
                    f"  (loaded {n - loaded} studies into Orthanc in {time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
                loaded = n
                first_row, total = _measure(o, node, n)
                results.append(total)
                if n == max(COUNTS):
                    results.append(first_row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results
