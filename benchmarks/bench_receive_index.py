"""The archive index: import speed and a big STUDY-level C-FIND (issue 3, speed).

(a) ``index.import``: files/s of ``import_paths`` (header read, byte copy into the
    archive, index row) over 2,000 small CT files, vs a loop doing the same file work
    bare: each file's header read with ``pydicom.dcmread(stop_before_pixels=True)`` and
    the file copied (``shutil.copyfile``) into a folder on the same disk.  Goal (issue
    10) >= 0.8x.  The bare ``dcmread`` loop (no file created) is printed beside.
(b) ``index.find_first``: time to the first match of a STUDY-level C-FIND (all studies)
    over 10,000 indexed studies, asked of ``pacsadmin serve`` by a pynetdicom SCU.
    Goal < 0.1 s.
(c) ``index.find_all``: time to the last match of the same query, asked by DCMTK
    ``findscu`` (the reference client: a pynetdicom SCU itself needs ~0.27 ms a response,
    which would hide both servers), vs Orthanc holding the same studies and asked the same
    way, in the same run, interleaved, median of 3.  Goal: no slower than Orthanc.  The
    same query from the pynetdicom SCU is printed beside, for both servers.
``PACSADMIN_BENCH_FILES`` / ``PACSADMIN_BENCH_STUDIES`` change the counts.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path

from common import Result, app_cli, free_port, serve_argv, wait_for_port, workdir

NAME = "receive_index"
N_FILES = int(os.environ.get("PACSADMIN_BENCH_FILES", "2000"))
N_STUDIES = int(os.environ.get("PACSADMIN_BENCH_STUDIES", "10000"))
ENV = {**os.environ, "TCP_NODELAY": "1"}


def _make(folder: Path, n: int, *, one_study: bool) -> None:
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((64, 64), dtype=np.uint16).tobytes()
    study = generate_uid()
    for i in range(n):
        ds = Dataset()
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.StudyInstanceUID = study if one_study else generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.PatientName = f"BENCH^{i % 500}"
        ds.PatientID = f"B{i % 500}"
        ds.StudyDate = f"2024{1 + i % 12:02d}{1 + i % 28:02d}"
        ds.StudyTime = "120000"
        ds.AccessionNumber = f"A{i}"
        ds.StudyDescription = "BENCHMARK"
        ds.Modality = "CT"
        ds.InstanceNumber = 1
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = 64
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = pixels
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.save_as(folder / f"{i:05d}.dcm", enforce_file_format=True)


def _import(work: Path) -> tuple[float, float, float]:
    """(import files/s, reference files/s, bare dcmread files/s), interleaved, best of 3."""
    from pydicom import dcmread

    from pacsadmin.core.archive import Archive
    from pacsadmin.core.archive.importer import import_paths

    src = work / "import"
    _make(src, N_FILES, one_study=True)
    files = sorted(src.iterdir())
    for f in files:  # warm the page cache for all
        f.read_bytes()
    ours, ref, bare = [], [], []
    for n in range(3):
        t0 = time.perf_counter()
        for f in files:
            dcmread(f, stop_before_pixels=True)
        bare.append(N_FILES / (time.perf_counter() - t0))
        copies = work / f"copies{n}"  # the same disk as the archive (the work folder)
        copies.mkdir()
        t0 = time.perf_counter()
        for f in files:
            dcmread(f, stop_before_pixels=True)
            shutil.copyfile(f, copies / f.name)
        ref.append(N_FILES / (time.perf_counter() - t0))
        shutil.rmtree(copies)
        archive = Archive(work / f"import-archive{n}")
        try:
            t0 = time.perf_counter()
            rep = import_paths(archive, [src])
            ours.append(N_FILES / (time.perf_counter() - t0))
        finally:
            archive.close()
        shutil.rmtree(work / f"import-archive{n}")
        if rep.stored != N_FILES:
            raise RuntimeError(f"imported {rep.stored} of {N_FILES}: {rep.errors[:3]}")
    return max(ours), max(ref), max(bare)


def _find(port: int, aet: str) -> tuple[float, float, int]:
    """(first match s, all matches s, count) of a STUDY-level C-FIND for every study."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    from pacsadmin.core.dimse.association import quiet_pynetdicom

    quiet_pynetdicom()
    ae = AE("BENCHFIND")
    ae.add_requested_context(FIND)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 120
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    for kw in (*_KEYS, "StudyDescription"):
        setattr(q, kw, "")
    from pynetdicom import evt

    from pacsadmin.core.dimse._pynetdicom import set_nodelay

    # Nagle off on the client too, as for every peer here
    assoc = ae.associate(
        "127.0.0.1", port, ae_title=aet, evt_handlers=[(evt.EVT_CONN_OPEN, set_nodelay)]
    )
    if not assoc.is_established:
        raise RuntimeError(f"association with {aet} failed")
    try:
        t0 = time.perf_counter()
        first, n = None, 0
        for status, _ident in assoc.send_c_find(q, FIND):
            if status and status.Status in (0xFF00, 0xFF01):
                n += 1
                if first is None:
                    first = time.perf_counter() - t0
        total = time.perf_counter() - t0
    finally:
        assoc.release()
    return first or total, total, n


_KEYS = ("PatientName", "PatientID", "StudyDate", "StudyInstanceUID", "AccessionNumber")


def _findscu(port: int, aet: str) -> float:
    """Seconds for DCMTK findscu to receive every match (quiet: no printing)."""
    cmd = ["findscu", "-q", "-S", "-aet", "BENCHFIND", "-aec", aet, "-to", "120"]
    cmd += ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyDescription"]
    for kw in _KEYS:
        cmd += ["-k", kw]
    t0 = time.perf_counter()
    subprocess.run([*cmd, "127.0.0.1", str(port)], env=ENV, check=True, timeout=600)
    return time.perf_counter() - t0


def _count_findscu(port: int, aet: str) -> int:
    cmd = [
        "findscu",
        "-v",
        "-S",
        "-aet",
        "BENCHFIND",
        "-aec",
        aet,
        "-k",
        "QueryRetrieveLevel=STUDY",
    ]
    out = subprocess.run(
        [*cmd, "-k", "StudyInstanceUID", "127.0.0.1", str(port)],
        env=ENV,
        capture_output=True,
        timeout=600,
    )
    return out.stdout.count(b"(Pending)") + out.stderr.count(b"(Pending)")


def _query(work: Path) -> tuple[float, float, float | None, str]:
    studies = work / "studies"
    _make(studies, N_STUDIES, one_study=False)
    home = work / "home"
    imp = app_cli(home, "archive", "import", str(studies), timeout=1800)
    if imp.returncode != 0:
        raise RuntimeError(imp.stderr.decode(errors="replace")[-500:])
    port = free_port()
    proc = subprocess.Popen(
        serve_argv(home, "BENCH", port),
        env=ENV,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    note = ""
    orthanc_fs: list[float] = []
    ours_fs: list[float] = []
    try:
        wait_for_port(port, proc)
        _find(port, "BENCH")  # warm-up
        first, py_total, n = _find(port, "BENCH")
        if n != N_STUDIES or _count_findscu(port, "BENCH") != N_STUDIES:
            raise RuntimeError(f"C-FIND returned {n} of {N_STUDIES} studies")
        try:
            from tests.peers import PeerUnavailable, orthanc_rest, start_orthanc
        except ImportError as exc:
            return first, min(_findscu(port, "BENCH") for _ in range(3)), None, f"no Orthanc: {exc}"
        try:
            with start_orthanc(
                work / "orthanc", modalities={"bench": ("BENCHFIND", "127.0.0.1", 1)}
            ) as o:
                for f in sorted(studies.iterdir()):
                    orthanc_rest(o, "POST", "/instances", f.read_bytes())
                _find(o.port, o.aet)
                o_first, o_py_total, _on = _find(o.port, o.aet)
                if _count_findscu(o.port, o.aet) != N_STUDIES:
                    raise RuntimeError("Orthanc did not return every study")
                for _ in range(3):  # interleaved
                    ours_fs.append(_findscu(port, "BENCH"))
                    orthanc_fs.append(_findscu(o.port, o.aet))
                note = (
                    f"findscu, median of 3; from a pynetdicom SCU: ours {py_total:.2f} s,"
                    f" Orthanc {o_py_total:.2f} s (first match {o_first:.3f} s)"
                )
        except PeerUnavailable as exc:
            note = f"no Orthanc reference: {exc}"
        if not ours_fs:
            ours_fs = [_findscu(port, "BENCH") for _ in range(3)]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    orthanc_total = statistics.median(orthanc_fs) if orthanc_fs else None
    return first, statistics.median(ours_fs), orthanc_total, note


def run() -> list[Result]:
    work = workdir("bench-index-")
    try:
        ours, ref, bare = _import(work)
        first, total, orthanc_total, note = _query(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [
        Result(
            "index.import",
            ours,
            "files/s",
            ref,
            "dcmread+copy loop",
            ">= 0.8x",
            ours >= 0.8 * ref,
            f"{N_FILES} CT 64x64, best of 3 interleaved; bare dcmread loop {bare:.0f} files/s;"
            f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        ),
        Result(
            "index.find_first", first, "s", None, "", "< 0.1 s", first < 0.1, f"{N_STUDIES} studies"
        ),
        Result(
            "index.find_all",
            total,
            "s",
            orthanc_total,
            "Orthanc",
            "<= Orthanc" if orthanc_total else "",
            None if orthanc_total is None else total <= orthanc_total,
            note,
        ),
    ]


if __name__ == "__main__":
    for r in run():
        print(r.line())
