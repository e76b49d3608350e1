"""Interoperability with real DCMTK clients: storescu, findscu, movescu, getscu, echoscu."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import RLELossless, generate_uid

from pacsadmin.core.nodes import DicomNode
from tests.peers import app_cli, free_port, peer_env, serve_argv, start_storescp
from tests.unit.archive.dsgen import make_ds, write

from .conftest import AET, run

pytestmark = pytest.mark.integration

SAMPLES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
    "JPEG2000.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "JPGExtended.dcm",
    "JPEGLSNearLossless_16.dcm",
    "SC_rgb_rle.dcm",
]

PROPOSE = {
    "1.2.840.10008.1.2.5": ["-xr"],
    "1.2.840.10008.1.2.4.90": ["-xv"],
    "1.2.840.10008.1.2.4.91": ["-xw"],
    "1.2.840.10008.1.2.4.80": ["-xt"],
    "1.2.840.10008.1.2.4.81": ["-xu"],
    "1.2.840.10008.1.2.4.50": ["-xy"],
    "1.2.840.10008.1.2.4.51": ["-xx"],
    "1.2.840.10008.1.2.4.57": ["-xs"],
    "1.2.840.10008.1.2.4.70": ["-xs"],
}


def dataset_digest(path: Path) -> tuple[str, str]:
    """(transfer syntax, sha256 of the data set after the file meta group)."""
    from pydicom.filereader import read_preamble

    from pacsadmin.core._pydicom import read_file_meta

    with open(path, "rb") as fh:
        read_preamble(fh, False)
        meta = read_file_meta(fh)
        return str(meta.TransferSyntaxUID), hashlib.sha256(fh.read()).hexdigest()


def sample_folder(tmp_path: Path) -> Path:
    d = tmp_path / "send"
    study = make_ds().StudyInstanceUID
    for i in range(3):
        write(make_ds(study_uid=study, modality="CT", instance_number=i, seed=i), d / f"ct{i}.dcm")
        write(make_ds(modality="MR", instance_number=i, seed=10 + i), d / f"mr{i}.dcm")
    write(make_ds(transfer_syntax=RLELossless, seed=5), d / "rle.dcm")
    seen: set[str] = set()
    for name in SAMPLES:
        src = Path(get_testdata_file(name))
        ds = dcmread(src, stop_before_pixels=True)
        if "StudyInstanceUID" not in ds or "SeriesInstanceUID" not in ds:
            continue
        if (0xFFFC, 0xFFFC) in ds:
            continue  # storescu drops trailing padding: not byte-comparable
        if ds.SOPInstanceUID in seen:  # pydicom's MR variants share one UID
            full = dcmread(src)
            full.SOPInstanceUID = full.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            full.save_as(d / name)
        else:
            (d / name).write_bytes(src.read_bytes())
        seen.add(ds.SOPInstanceUID)
    return d


def test_storescu_files_arrive_byte_identical(local_scp, archive, tmp_path, start_peer):
    """Every file is stored exactly as it came over the wire: our copy of each data set is
    identical to DCMTK storescp's copy of the same storescu run, and to the source file
    wherever storescu sends it unchanged (it drops e.g. some trailing elements of pydicom's
    samples, for storescp alike)."""
    folder = sample_folder(tmp_path)
    storescp = start_peer(start_storescp, tmp_path / "storescp", extra_args=["+xa"])
    by_ts: dict[str, list[Path]] = {}
    for f in sorted(folder.iterdir()):
        by_ts.setdefault(dataset_digest(f)[0], []).append(f)
    for port, aec in ((local_scp.port, AET), (storescp.port, storescp.aet)):
        for ts, files in by_ts.items():
            # storescu proposes one compressed syntax per run: the files' own, none converted
            argv = ["storescu", "-aet", "STORESCU", "-aec", aec, *PROPOSE.get(ts, [])]
            p = run([*argv, "127.0.0.1", str(port), *map(str, files)])
            assert p.returncode == 0, p.stderr.decode(errors="replace")
    received = {dataset_digest(archive.path_of(r)) for r in archive.layout.iter_files()}
    reference = {dataset_digest(f) for f in storescp.storage[0].iterdir()}
    assert len(received) == len(list(folder.iterdir())) >= 12
    assert received == reference
    generated = {dataset_digest(f) for f in folder.iterdir() if not f.name[0].isupper()}
    assert generated <= received  # our own files: identical to the source
    assert archive.counts()["instances"] == len(received)
    assert archive.verify().ok
    syntaxes = {ts for ts, _ in received}
    assert {"1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.80"} <= syntaxes


def test_storescu_files_are_the_same_on_the_fast_and_the_old_receive(start_scp, archive, tmp_path):
    """storescu sends the same files (several SOP classes and transfer syntaxes, 4 KiB
    PDUs: many fragments per data set) to the fast receive and to the old path
    (``fast_receive=False``): every archived file is byte-identical between the two."""
    from pacsadmin.core.archive import Archive

    folder = sample_folder(tmp_path)
    old_archive = Archive(tmp_path / "old-archive")
    try:
        fast = start_scp(ae_title=AET, max_pdu=4096)
        old = start_scp(old_archive, ae_title=AET, max_pdu=4096, fast_receive=False)
        by_ts: dict[str, list[Path]] = {}
        for f in sorted(folder.iterdir()):
            by_ts.setdefault(dataset_digest(f)[0], []).append(f)
        for scp in (fast, old):
            for ts, files in by_ts.items():
                argv = ["storescu", "-aet", "STORESCU", "-aec", AET, *PROPOSE.get(ts, [])]
                p = run([*argv, "127.0.0.1", str(scp.port), *map(str, files)])
                assert p.returncode == 0, p.stderr.decode(errors="replace")

        def files(ar: Archive) -> dict[str, bytes]:
            rows = ar.reader().execute("SELECT sop_uid, path FROM instances").fetchall()
            return {uid: ar.path_of(rel).read_bytes() for uid, rel in rows}

        got, want = files(archive), files(old_archive)
        assert len(got) == len(list(folder.iterdir())) >= 12
        assert got == want
        rec = fast.finished[-1]
        assert "C-STORE-RSP" in rec.transcript.text() and not rec.errors
        assert not list(archive.layout.tmp_dir.iterdir())
    finally:
        old_archive.close()


@pytest.fixture
def filled(archive, tmp_path):
    """Three patients, one with a Latin-1 name, with studies on different dates."""
    src = tmp_path / "src"
    uids = {}
    specs = [
        ("DOE^JOHN", "P1", "20240115", "CT", None),
        ("DOE^JANE", "P2", "20240220", "MR", None),
        ("MÜLLER^JÖRG", "P3", "20231231", "CT", "ISO_IR 100"),
    ]
    for name, pid, date, mod, cs in specs:
        study = make_ds().StudyInstanceUID
        series = make_ds().SeriesInstanceUID
        uids[pid] = (study, series)
        for i in range(3):
            ds = make_ds(
                patient_name=name,
                patient_id=pid,
                study_uid=study,
                series_uid=series,
                study_date=date,
                modality=mod,
                charset=cs,
                instance_number=i + 1,
                seed=i,
            )
            archive.add_file(write(ds, src / f"{pid}-{i}.dcm"))
    return uids


def findscu(port: int, cwd: Path, keys: list[str], root: str = "-S", charset_latin1=False):
    for old in cwd.glob("rsp*.dcm"):
        old.unlink()
    argv: list = ["findscu", root, "-aet", "FINDSCU", "-aec", AET, "-X"]
    for k in keys:
        argv += ["-k", k]
    argv += ["127.0.0.1", str(port)]
    if charset_latin1:
        argv = [a.encode("latin-1") if isinstance(a, str) else a for a in argv]
    p = run(argv, cwd=cwd)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return [dcmread(f) for f in sorted(cwd.glob("rsp*.dcm"))]


def test_findscu_each_level(local_scp, filled, tmp_path):
    cwd = tmp_path / "find"
    cwd.mkdir()
    port = local_scp.port
    # PATIENT level, Patient Root, wildcard
    r = findscu(
        port,
        cwd,
        [
            "QueryRetrieveLevel=PATIENT",
            "PatientName=DOE*",
            "PatientID",
            "NumberOfPatientRelatedStudies",
        ],
        root="-P",
    )
    assert sorted(x.PatientID for x in r) == ["P1", "P2"]
    assert all(int(x.NumberOfPatientRelatedStudies) == 1 for x in r)
    # STUDY level, date range
    r = findscu(
        port,
        cwd,
        [
            "QueryRetrieveLevel=STUDY",
            "StudyDate=20240101-20241231",
            "PatientID",
            "StudyInstanceUID",
            "ModalitiesInStudy",
            "NumberOfStudyRelatedInstances",
        ],
    )
    assert sorted(x.PatientID for x in r) == ["P1", "P2"]
    assert {x.ModalitiesInStudy for x in r} == {"CT", "MR"}
    assert all(int(x.NumberOfStudyRelatedInstances) == 3 for x in r)
    # SERIES level
    study, series = filled["P2"]
    r = findscu(
        port,
        cwd,
        ["QueryRetrieveLevel=SERIES", f"StudyInstanceUID={study}", "SeriesInstanceUID", "Modality"],
    )
    assert [(x.SeriesInstanceUID, x.Modality) for x in r] == [(series, "MR")]
    # IMAGE level, Patient Root
    r = findscu(
        port,
        cwd,
        [
            "QueryRetrieveLevel=IMAGE",
            "PatientID=P1",
            f"StudyInstanceUID={filled['P1'][0]}",
            f"SeriesInstanceUID={filled['P1'][1]}",
            "SOPInstanceUID",
            "InstanceNumber",
        ],
        root="-P",
    )
    assert sorted(int(x.InstanceNumber) for x in r) == [1, 2, 3]
    # nothing matches
    assert findscu(port, cwd, ["QueryRetrieveLevel=STUDY", "PatientName=NOBODY*"]) == []


def test_findscu_latin1_name(local_scp, filled, tmp_path):
    cwd = tmp_path / "find"
    cwd.mkdir()
    r = findscu(
        local_scp.port,
        cwd,
        [
            "SpecificCharacterSet=ISO_IR 100",
            "QueryRetrieveLevel=STUDY",
            "PatientName=MÜLLER*",
            "PatientID",
            "StudyInstanceUID",
        ],
        charset_latin1=True,
    )
    assert len(r) == 1
    assert r[0].SpecificCharacterSet == "ISO_IR 100"
    assert str(r[0].PatientName) == "MÜLLER^JÖRG"
    assert r[0].PatientID == "P3"
    raw = (cwd / "rsp0001.dcm").read_bytes()
    assert "MÜLLER^JÖRG".encode("latin-1") in raw


def movescu(port: int, dest: str, study: str, extra: list[str] = ()) -> subprocess.CompletedProcess:
    argv = [
        "movescu",
        "-S",
        "-aet",
        "MOVESCU",
        "-aec",
        AET,
        "-aem",
        dest,
        *extra,
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        f"StudyInstanceUID={study}",
        "127.0.0.1",
        str(port),
    ]
    return run(argv)


def test_movescu_to_storescp(local_scp, filled, nodes, storescp):
    nodes.add(storescp.node("storescp"))
    p = movescu(local_scp.port, storescp.aet, filled["P1"][0])
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(list(storescp.storage[0].iterdir())) < 3:
        time.sleep(0.1)
    got = [dcmread(f) for f in storescp.storage[0].iterdir()]
    assert sorted(int(d.InstanceNumber) for d in got) == [1, 2, 3]
    assert {d.StudyInstanceUID for d in got} == {filled["P1"][0]}


def test_movescu_to_itself(local_scp, filled, nodes, tmp_path):
    port = free_port()
    nodes.add(DicomNode("movescu", "MOVESCU", "127.0.0.1", port))
    out = tmp_path / "moved"
    out.mkdir()
    p = movescu(local_scp.port, "MOVESCU", filled["P3"][0], ["+P", str(port), "-od", str(out)])
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    got = [dcmread(f) for f in out.iterdir()]
    assert len(got) == 3
    assert {str(d.PatientName) for d in got} == {"MÜLLER^JÖRG"}


def test_movescu_unknown_destination(local_scp, filled):
    p = movescu(local_scp.port, "NOWHERE", filled["P1"][0])
    text = (p.stdout + p.stderr).decode(errors="replace")
    assert "MoveDestinationUnknown" in text, text


def test_getscu_series(local_scp, filled, tmp_path):
    out = tmp_path / "got"
    out.mkdir()
    study, series = filled["P2"]
    argv = [
        "getscu",
        "-S",
        "-aet",
        "GETSCU",
        "-aec",
        AET,
        "-od",
        str(out),
        "-k",
        "QueryRetrieveLevel=SERIES",
        "-k",
        f"StudyInstanceUID={study}",
        "-k",
        f"SeriesInstanceUID={series}",
        "127.0.0.1",
        str(local_scp.port),
    ]
    p = run(argv)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    got = [dcmread(f) for f in out.iterdir()]
    assert len(got) == 3 and {d.SeriesInstanceUID for d in got} == {series}


def test_echoscu_and_wrong_called_aet(local_scp):
    assert run(["echoscu", "-aec", AET, "127.0.0.1", str(local_scp.port)]).returncode == 0
    p = run(["echoscu", "-aec", "WRONG", "127.0.0.1", str(local_scp.port)])
    assert p.returncode != 0


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stdout.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve did not listen")


class EventLines:
    """The JSON lines of ``serve --events``, read as they arrive (a thread drains the pipe),
    so a test waits for the event that proves something happened instead of sleeping."""

    def __init__(self, stream) -> None:
        self.events: list[dict] = []
        self.text: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").strip()
            with self._cond:
                self.text.append(line)
                if line.startswith("{"):
                    self.events.append(json.loads(line))
                self._cond.notify_all()

    def of(self, kind: str) -> list[dict]:
        with self._cond:
            return [e for e in self.events if e["event"] == kind]

    def wait(self, what: str, pred, timeout: float = 60) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: pred(self), timeout)
        assert ok, f"{what}: not seen within {timeout} s; events: {self.events}"

    def join(self) -> None:
        self._thread.join(30)


def test_serve_events_channel(tmp_path):
    """``serve --events``: typed JSON lines for a watching GUI, without patient data."""
    from pacsadmin.core.dimse.scp_events import (
        STOP_SIGNAL,
        AssociationClosed,
        AssociationOpened,
        Listening,
        Stopped,
        parse_line,
    )

    home = tmp_path / "home"
    port = free_port()
    proc = subprocess.Popen(
        serve_argv(home, "EVENTS", port, "--events"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        lines = EventLines(proc.stdout)
        _wait_port(port, proc)
        d = tmp_path / "send"
        for i in range(3):
            write(make_ds(patient_name="CANARY^PHI^7731", seed=i), d / f"{i}.dcm")
        p = run(
            ["storescu", "-aet", "SENDER", "-aec", "EVENTS", "+sd", "127.0.0.1", str(port), str(d)]
        )
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        lines.wait("the association's close event", lambda ev: ev.of("close"))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        lines.join()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "\n".join(lines.text)
    assert "CANARY" not in text
    events = [parse_line(line) for line in text.splitlines() if line.strip()]
    kinds = [type(e) for e in events]
    assert kinds[0] is Listening and AssociationOpened in kinds and kinds[-1] is Stopped, kinds
    assert events[-1].reason == STOP_SIGNAL and events[-1].message == "on SIGTERM"
    close = events[-2]
    assert isinstance(close, AssociationClosed)
    assert close.calling_ae == "SENDER" and close.stored == 3 and not close.aborted
    assert close.failed == 0 and close.errors == () and close.pid == proc.pid
    transcript = Path(close.transcript_file).read_text()
    assert "C-STORE-RQ" in transcript and "CANARY" not in transcript
    assert Path(close.transcript_file).is_relative_to(home / "logs")


def test_pacsadmin_serve_cli(tmp_path):
    home = tmp_path / "home"
    port = free_port()
    proc = subprocess.Popen(
        serve_argv(home, "SERVECLI", port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_port(port, proc)
        f = write(make_ds(patient_name="CANARY^PHI^7731"), tmp_path / "one.dcm")
        p = run(["storescu", "-aec", "SERVECLI", "127.0.0.1", str(port), str(f)])
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "1 stored" in text and "CANARY" not in text
    v = app_cli(home, "archive", "verify", timeout=60)
    assert v.returncode == 0, v.stdout
    logs = "".join(p.read_text(errors="replace") for p in (home / "logs").glob("*.log*"))
    assert "association #1" in logs and "CANARY" not in logs


def test_serve_with_two_worker_processes(tmp_path):
    """SO_REUSEPORT: two processes on one port, one index; every file arrives once, and both
    workers serve associations (every event line carries its worker's pid)."""
    home = tmp_path / "home"
    port = free_port()
    err = tmp_path / "serve.err"
    with err.open("wb") as err_file:
        proc = subprocess.Popen(
            serve_argv(home, "WORKERS", port, "--events", workers=2),
            stdout=subprocess.PIPE,
            stderr=err_file,
            start_new_session=True,
        )

    def send(folders: list[Path]) -> None:
        senders = [
            subprocess.Popen(
                ["storescu", "-aec", "WORKERS", "+sd", "127.0.0.1", str(port), str(d)],
                env=peer_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for d in folders
        ]
        for p in senders:
            out, _ = p.communicate(timeout=120)
            assert p.returncode == 0, out.decode(errors="replace")

    def folder(k: int) -> Path:
        d = tmp_path / f"send{k}"
        for i in range(5):
            write(make_ds(seed=i), d / f"{i}.dcm")
        return d

    def served() -> set[int]:
        return {e["pid"] for e in lines.of("close") if e["stored"] == 5}

    def closed(n: int):
        return lambda ev: len(ev.of("close")) == n

    try:
        lines = EventLines(proc.stdout)
        lines.wait(
            "two workers listening", lambda ev: len({e["pid"] for e in ev.of("listening")}) == 2
        )
        workers = {e["pid"] for e in lines.of("listening")}
        sent = 4  # four associations at once: one index written by two processes
        send([folder(k) for k in range(sent)])
        lines.wait("4 associations closed", closed(sent))
        # The kernel picks the socket by a hash of the addresses, so all four land on one
        # worker one time in eight: send more, one at a time, until both have served.
        while served() != workers and sent < 40:
            send([folder(sent)])
            sent += 1
            lines.wait(f"{sent} associations closed", closed(sent))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        lines.join()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = err.read_text(errors="replace")
    assert proc.returncode == 0, text
    assert "2 worker processes" in text
    assert served() == workers, (workers, lines.of("close"))
    v = app_cli(home, "archive", "list", "--json", timeout=60)
    assert json.loads(v.stdout)["counts"]["instances"] == 5 * sent
    v = app_cli(home, "archive", "verify", timeout=60)
    assert v.returncode == 0, v.stdout
