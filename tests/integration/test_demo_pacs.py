"""``pacsadmin serve --demo`` against DCMTK (echoscu, findscu) and the app's own echo, find
and move: the demo PACS a new user tries first (issue 12, sections 1 and 5)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pydicom
import pytest

from tests.peers import HOST, Peer, _launch, app_argv, app_cli, find_program, free_port

pytestmark = pytest.mark.integration

CT_STUDY_DESCRIPTION = "CT abdomen phantom"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo PACS of a fresh home whose local node receives on ``local_port``."""
    home = tmp_path_factory.mktemp("demo-home")
    local_port, port = free_port(), free_port()
    (home / "settings.json").write_text(json.dumps({"scp_port": local_port}))
    argv = [*app_argv(home, "serve", "--demo", "--port", str(port), "--bind", HOST)]
    peer = _launch(
        "pacsadmin serve --demo",
        argv,
        home / "run",
        [port],
        lambda proc: Peer("demo", "DEMOPACS", port, proc, home / "run"),
        timeout=120,  # the first start generates the studies (3 s idle, more on a loaded machine)
    )
    peer.home = home
    peer.local_port = local_port
    yield peer
    peer.stop()


def test_demo_prints_its_ae_title_and_port_and_is_in_the_directory(demo):
    # printed right after the port opens: the port can answer before the line is written
    deadline = time.monotonic() + 30
    while f"DEMOPACS listening on port {demo.port}" not in demo.log():
        assert time.monotonic() < deadline, demo.log()
        time.sleep(0.1)
    log = demo.log()
    assert "8 studies, 169 images generated in" in log
    nodes = json.loads((demo.home / "nodes.json").read_text())["nodes"]
    entry = [n for n in nodes if n["name"] == "Demo PACS"]
    assert entry and entry[0]["ae_title"] == "DEMOPACS" and entry[0]["port"] == demo.port
    # the demo's own directory knows this computer's node: its C-MOVE destination
    own = json.loads((demo.home / "demo" / "nodes.json").read_text())["nodes"]
    assert [(n["ae_title"], n["port"]) for n in own] == [("PACSADMIN", demo.local_port)]
    assert not (demo.home / "archive").exists()  # the user's archive is not the demo's


def test_dcmtk_echoscu(demo):
    p = subprocess.run(
        [find_program("echoscu"), "-aec", "DEMOPACS", HOST, str(demo.port)],
        capture_output=True,
        timeout=30,
    )
    assert p.returncode == 0, p.stderr.decode()


def _findscu(demo: Peer, out: Path, *keys: str) -> list[pydicom.Dataset]:
    out.mkdir()
    cmd = [find_program("findscu"), "-S", "-aec", "DEMOPACS", "-X", "-od", str(out)]
    for k in ("QueryRetrieveLevel=STUDY", "PatientName", "PatientID", "StudyInstanceUID", *keys):
        cmd += ["-k", k]
    p = subprocess.run([*cmd, HOST, str(demo.port)], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return [pydicom.dcmread(f) for f in sorted(out.glob("rsp*.dcm"))]


def test_dcmtk_findscu_six_studies_and_the_latin1_name(demo, tmp_path):
    answers = _findscu(demo, tmp_path / "all", "StudyDescription")
    assert len(answers) >= 6
    assert len({a.StudyInstanceUID for a in answers}) == len(answers)
    # asked in Latin-1, the answer comes in Latin-1 and says so
    latin = _findscu(demo, tmp_path / "latin1", "SpecificCharacterSet=ISO_IR 100", "PatientName=M*")
    assert len(latin) == 1
    assert latin[0].SpecificCharacterSet == "ISO_IR 100"
    assert str(latin[0].PatientName) == "Müller^Jürgen"
    raw = (tmp_path / "latin1" / "rsp0001.dcm").read_bytes()
    assert "Müller^Jürgen".encode("latin-1") in raw
    # asked in UTF-8: the Greek and the Japanese names
    utf8 = _findscu(demo, tmp_path / "utf8", "SpecificCharacterSet=ISO_IR 192")
    names = {str(a.PatientName) for a in utf8}
    assert "Παπαδόπουλος^Γιώργος" in names
    assert "Yamada^Taro=山田^太郎=やまだ^たろう" in names


def test_app_echo_and_find(demo):
    p = app_cli(demo.home, "echo", "Demo PACS")
    assert p.returncode == 0, p.stderr.decode()
    p = app_cli(demo.home, "find", "Demo PACS", "-r", "StudyDescription", "--json")
    assert p.returncode == 0, p.stderr.decode()
    rows = json.loads(p.stdout.decode())
    assert len(rows) >= 6
    by_desc = {r["StudyDescription"]: r for r in rows}
    assert by_desc["Chest PA follow-up"]["PatientName"] == "Deo^Jnae"  # the mislabelled one
    assert by_desc[CT_STUDY_DESCRIPTION]["PatientName"] == "Müller^Jürgen"


def test_app_move_to_this_computer(demo):
    p = app_cli(demo.home, "find", "Demo PACS", "-k", "PatientID=DEMO-0001", "--json")
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    ct = json.loads(p.stdout.decode())[0]["StudyInstanceUID"]
    p = app_cli(
        demo.home,
        "move",
        "Demo PACS",
        "--study",
        ct,
        "--port",
        str(demo.local_port),
        "--bind",
        HOST,
        "--json",
    )
    # (the receiver listens on local_port, chosen free when the demo started: on a shared
    # machine another process may take it meanwhile; the output then says so)
    said = f"{p.stdout.decode()}{p.stderr.decode()}\n--- the demo's log:\n{demo.log()[-3000:]}"
    assert p.returncode == 0, said
    out = json.loads(p.stdout.decode().split("\n", 1)[1])
    assert out["ok"] and out["expected"] == 120 and out["received"] == 120, said
    assert len(list((demo.home / "archive" / "data").rglob("*.dcm"))) == 120, said


def test_app_send_to_the_demo(demo, tmp_path):
    """A study sent to the demo lands in the demo's archive, not the user's."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "Sent^ToDemo", "DEMO-SENT", "OT"
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.arange(64, dtype=np.uint8).tobytes()
    path = tmp_path / "sent.dcm"
    ds.save_as(path, enforce_file_format=True)
    p = app_cli(demo.home, "send", "Demo PACS", str(path))
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    p = app_cli(demo.home, "find", "Demo PACS", "-k", "PatientID=DEMO-SENT", "--json")
    assert [r["PatientName"] for r in json.loads(p.stdout.decode())] == ["Sent^ToDemo"]


def test_a_second_demo_is_refused_and_leaves_the_first_alone(demo):
    p = app_cli(demo.home, "serve", "--demo", "--port", str(free_port()), timeout=60)
    assert p.returncode == 1
    assert b"another demo PACS is running" in p.stderr
    nodes = json.loads((demo.home / "nodes.json").read_text())["nodes"]
    assert [n["port"] for n in nodes if n["name"] == "Demo PACS"] == [demo.port]
    p = app_cli(demo.home, "serve", "--demo", "--aet", "OTHER")
    assert p.returncode == 2 and b"no --aet" in p.stderr
