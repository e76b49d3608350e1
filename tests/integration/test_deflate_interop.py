"""Deflated Explicit VR Little Endian with real peers on 127.0.0.1.

DCMTK storescu sends a deflated file to the app's SCP (kept deflated, indexed, found by
findscu); getscu and movescu retrieve it; a deflate bomb (3 MB that inflate to 3 GiB) sent
to ``pacsadmin serve`` is refused with a status that says why, leaves nothing behind, and
the SCP goes on; the same bomb in ``pacsadmin archive import`` is listed as an error while
the other files are imported.

storescu decodes and re-deflates what it sends (its own compression level), so a file
from storescu is compared by its inflated data set; the file sent raw by pynetdicom
(``STORE_SEND_CHUNKED_DATASET``) must arrive byte for byte.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
import zlib
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from pacsadmin.core import deflate
from pacsadmin.core.nodes import DicomNode
from tests.integration.archive.conftest import AET, run
from tests.integration.archive.test_dcmtk import _wait_port, findscu
from tests.peers import app_cli, free_port, serve_argv
from tests.unit.archive.dsgen import make_ds
from tests.unit.test_deflate import bomb, deflated_bytes

pytestmark = pytest.mark.integration

BOMB_SIZE = 3 << 30  # inflated; about 3 MB on the wire


@pytest.fixture
def local_scp(start_scp):
    """The app's SCP in this process (as tests/integration/archive uses it)."""
    return start_scp(ae_title=AET)


def split(path: Path) -> tuple[str, bytes]:
    """(transfer syntax, data set bytes after the file meta group, inflated if deflated)."""
    from pydicom.filereader import read_preamble

    from pacsadmin.core._pydicom import read_file_meta

    with open(path, "rb") as fh:
        read_preamble(fh, False)
        ts = str(read_file_meta(fh).TransferSyntaxUID)
        rest = fh.read()
    return ts, zlib.decompress(
        rest, -zlib.MAX_WBITS
    ) if ts == DeflatedExplicitVRLittleEndian else rest


def raw_after_meta(path: Path) -> bytes:
    from pydicom.filereader import read_preamble

    from pacsadmin.core._pydicom import read_file_meta

    with open(path, "rb") as fh:
        read_preamble(fh, False)
        read_file_meta(fh)
        return fh.read()


def write_deflated(path: Path, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(deflated_bytes(make_ds(**kw)))
    return path


def store_raw(port: int, aet: str, path: Path):
    """C-STORE ``path`` with pynetdicom, its bytes sent as they are in the file (never
    decoded): how a peer would send a bomb.  Returns the response status data set."""
    from pynetdicom import AE, build_context

    from pacsadmin.core.dimse._pynetdicom import set_chunked_send
    from pacsadmin.core.dimse.association import quiet_pynetdicom

    quiet_pynetdicom()
    ds = dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    ae = AE(ae_title="RAWSCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 120
    cx = build_context(ds.SOPClassUID, [DeflatedExplicitVRLittleEndian])
    previous = set_chunked_send(True)
    try:
        a = ae.associate("127.0.0.1", port, ae_title=aet, contexts=[cx])
        assert a.is_established
        try:
            return a.send_c_store(path)
        finally:
            a.release()
    finally:
        set_chunked_send(previous)


def test_storescu_deflated_is_stored_deflated_and_queryable(local_scp, archive, tmp_path):
    src = write_deflated(tmp_path / "send" / "sr.dcm", patient_name="DEFLATE^STORESCU")
    p = run(
        [
            "storescu",
            "-xd",
            "-aet",
            "STORESCU",
            "-aec",
            AET,
            "127.0.0.1",
            str(local_scp.port),
            str(src),
        ]
    )
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    files = [archive.path_of(r) for r in archive.layout.iter_files()]
    assert len(files) == 1
    assert split(files[0]) == split(src)  # deflated as it came, the same data set inside
    ds = dcmread(src, stop_before_pixels=True)
    r = findscu(
        local_scp.port,
        tmp_path,
        [
            "QueryRetrieveLevel=IMAGE",
            f"StudyInstanceUID={ds.StudyInstanceUID}",
            f"SeriesInstanceUID={ds.SeriesInstanceUID}",
            "SOPInstanceUID",
            "PatientName",
        ],
    )
    assert [(x.SOPInstanceUID, str(x.PatientName)) for x in r] == [
        (ds.SOPInstanceUID, "DEFLATE^STORESCU")
    ]
    assert archive.verify().ok


def test_raw_deflated_bytes_are_kept_byte_for_byte(local_scp, archive, tmp_path):
    src = write_deflated(tmp_path / "raw.dcm")
    status = store_raw(local_scp.port, AET, src)
    assert status.Status == 0x0000
    (rel,) = list(archive.layout.iter_files())
    stored = archive.path_of(rel)
    assert raw_after_meta(stored) == raw_after_meta(src)
    assert dcmread(stored).file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian


@pytest.fixture(scope="module")
def bomb_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.dcm"
    path.write_bytes(bomb(BOMB_SIZE, make_ds(patient_name="BOMB^DEFLATE")))
    assert path.stat().st_size < 4 << 20
    return path


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_bomb_over_cstore_is_refused_and_serve_goes_on(bomb_file, tmp_path):
    home = tmp_path / "home"
    port = free_port()
    proc = subprocess.Popen(
        serve_argv(home, "DEFLSCP", port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_port(port, proc)
        status = store_raw(port, "DEFLSCP", bomb_file)
        assert status.Status == 0xC210
        assert "inflates past 1 GiB" in status.ErrorComment
        peak = _peak_rss_mb(proc.pid)
        # it goes on serving: a normal deflated file from DCMTK is stored
        ok = write_deflated(tmp_path / "ok.dcm")
        p = run(["storescu", "-xd", "-aec", "DEFLSCP", "127.0.0.1", str(port), str(ok)])
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert peak < 600, f"serve peaked at {peak:.0f} MB"  # the bomb was never held
    assert "inflates past 1 GiB" in text and "BOMB" not in text
    data = home / "archive" / "data"
    files = [f for f in data.rglob("*") if f.is_file()] if data.exists() else []
    assert len(files) == 1 and split(files[0]) == split(ok)
    listing = app_cli(home, "archive", "list", "--json", timeout=60)
    assert json.loads(listing.stdout)["counts"]["instances"] == 1
    v = app_cli(home, "archive", "verify", timeout=120)
    assert v.returncode == 0, v.stdout


def test_bomb_in_import_is_listed_and_the_rest_imported(bomb_file, tmp_path, monkeypatch):
    from pacsadmin.core.archive.meta import read_meta

    # first, cheaply: the header reader runs the check (else the import below would
    # inflate 3 GiB)
    monkeypatch.setattr(deflate, "MAX_INFLATED", 32 << 20)
    with pytest.raises(deflate.DeflateBomb):
        read_meta(io.BytesIO(bomb(40 << 20)))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-bomb.dcm").write_bytes(bomb_file.read_bytes())
    write_deflated(folder / "b-deflated.dcm")
    make_ds().save_as(folder / "c-plain.dcm", enforce_file_format=True)
    home = tmp_path / "home"
    p = app_cli(home, "archive", "import", "--json", str(folder), timeout=300)
    assert p.returncode == 1, p.stderr.decode(errors="replace")
    rep = json.loads(p.stdout)
    assert rep["stored"] == 2 and rep["seen"] == 3
    (err,) = rep["errors"]
    assert err["path"].endswith("a-bomb.dcm")
    assert "deflated data set inflates past 1 GiB: refused (deflate bomb?)" in err["reason"]
    listing = app_cli(home, "archive", "list", "--json", timeout=60)
    assert json.loads(listing.stdout)["counts"]["instances"] == 2


@pytest.fixture
def deflated_in_archive(archive, tmp_path):
    src = write_deflated(tmp_path / "src" / "d.dcm", patient_name="DEFLATE^RETRIEVE")
    archive.add_file(src)
    return src, dcmread(src, stop_before_pixels=True)


@pytest.mark.parametrize("prefer", [["+xd"], []], ids=["prefer-deflated", "default"])
def test_getscu_retrieves_deflated(local_scp, deflated_in_archive, tmp_path, prefer):
    """getscu proposes Deflated and the uncompressed syntaxes in one context for each
    storage class: the SCP takes uncompressed then (its order: a peer that also reads
    uncompressed is not sent a deflated stream), and the data set arrives whole."""
    src, ds = deflated_in_archive
    out = tmp_path / "got"
    out.mkdir()
    argv = ["getscu", "-S", "-aet", "GETSCU", "-aec", AET, *prefer, "-od", str(out)]
    argv += ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={ds.StudyInstanceUID}"]
    p = run([*argv, "127.0.0.1", str(local_scp.port)])
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    (got,) = list(out.iterdir())
    assert split(got) == (ExplicitVRLittleEndian, split(src)[1])


@pytest.mark.parametrize("prefer", [["+xd"], []], ids=["deflated", "uncompressed"])
def test_movescu_retrieves_deflated(local_scp, deflated_in_archive, nodes, tmp_path, prefer):
    src, ds = deflated_in_archive
    port = free_port()
    nodes.add(DicomNode("movescu", "MOVESCU", "127.0.0.1", port))
    out = tmp_path / "moved"
    out.mkdir()
    argv = ["movescu", "-S", "-aet", "MOVESCU", "-aec", AET, "-aem", "MOVESCU", *prefer]
    argv += ["+P", str(port), "-od", str(out)]
    argv += ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={ds.StudyInstanceUID}"]
    p = run([*argv, "127.0.0.1", str(local_scp.port)])
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(out.iterdir()):
        time.sleep(0.1)
    (got,) = list(out.iterdir())
    ts, body = split(got)
    assert ts == (DeflatedExplicitVRLittleEndian if prefer else ExplicitVRLittleEndian)
    assert body == split(src)[1]


def test_the_check_sees_what_was_stored(local_scp, archive, tmp_path):
    """What the SCP stored passes the check again (``archive verify`` runs it)."""
    src = write_deflated(tmp_path / "v.dcm")
    assert store_raw(local_scp.port, AET, src).Status == 0x0000
    (rel,) = list(archive.layout.iter_files())
    info = deflate.check(archive.path_of(rel))
    assert info is not None and info.inflated == len(split(src)[1])
