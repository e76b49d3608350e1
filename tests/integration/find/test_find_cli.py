"""``pacsadmin find`` as a process: --json, --csv, the table, exit codes 0 / 1 / 2."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.peers import app_cli, free_port

from .conftest import LATIN1_NAME

pytestmark = pytest.mark.integration


def _ok(p):
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout.decode()


def test_json_is_one_array_keyed_by_keyword(orthanc_loaded, dataset, tmp_path):
    studies, _ = dataset
    out = _ok(
        app_cli(
            tmp_path,
            "find",
            orthanc_loaded.target,
            "--level",
            "study",
            "-k",
            "PatientID=PID*",
            "--json",
        )
    )
    rows = json.loads(out)
    assert sorted(r["StudyInstanceUID"] for r in rows) == sorted(s.uid for s in studies)
    assert {r["PatientName"] for r in rows} == {"DOE^JOHN", "DOE^JANE", LATIN1_NAME}
    assert all(r["QueryRetrieveLevel"] == "STUDY" for r in rows)


def test_csv_has_a_header_and_one_row_per_match(dcmqrscp_loaded, tmp_path):
    out = _ok(
        app_cli(
            tmp_path,
            "find",
            dcmqrscp_loaded.target,
            "--model",
            "patient",
            "--level",
            "patient",
            "-k",
            "PatientName=DOE*",
            "-r",
            "00100030",
            "--csv",
        )
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["PatientID"] for r in rows) == ["PID1", "PID2"]
    assert all(r["PatientBirthDate"] == "19700101" for r in rows)


def test_table_and_a_latin1_name(orthanc_loaded, tmp_path):
    p = app_cli(
        tmp_path,
        "find",
        orthanc_loaded.target,
        "-k",
        "PatientName=Müller*",
        "--charset",
        "ISO_IR 100",
        "-k",
        "StudyDate=20240101-20241231",
    )
    out = _ok(p)
    assert "PatientName" in out.splitlines()[0]
    # the table shows names and dates as core/format.py does (family name first)
    assert "MÜLLER, Jürgen" in out and ("2024-02-10" in out or "02/10/24" in out), out
    assert "1 match;" in out


def test_no_matches_is_exit_0(orthanc_loaded, tmp_path):
    out = _ok(app_cli(tmp_path, "find", orthanc_loaded.target, "-k", "PatientID=NOBODY", "--json"))
    assert json.loads(out) == []


def test_a_failed_query_is_exit_1_with_the_diagnosis(tmp_path):
    p = app_cli(tmp_path, "find", f"NOONE@127.0.0.1:{free_port()}", "-t", "5")
    assert p.returncode == 1, p.stderr
    err = p.stderr.decode()
    assert "FAILED" in err and "refused" in err.lower(), err


@pytest.mark.parametrize(
    "args,message",
    [
        (["-k", "NoSuchKeyword=1"], "not a DICOM keyword"),
        (["--level", "patient"], "no level 'PATIENT'"),
        (["--model", "worklist", "--level", "study"], "no level"),
        (["--level", "galaxy"], "invalid choice"),
        (["-k", "=x"], "KEY=VALUE"),
        (["-k", "PatientName=Müller", "--no-charset"], "character set"),
    ],
)
def test_usage_errors_are_exit_2(args, message, tmp_path):
    p = app_cli(tmp_path, "find", "ANY@127.0.0.1:104", *args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert message in p.stderr.decode(), p.stderr.decode()


def test_ctrl_c_sends_a_c_cancel_prints_what_arrived_and_exits_130(tmp_path):
    """A pynetdicom SCP answering slowly and honouring C-CANCEL: SIGINT to the CLI makes
    it send the C-CANCEL (naming the request's Message ID), read to the 0xFE00, print the
    matches that arrived and exit 130."""
    import signal
    import subprocess
    import threading
    import time

    from pydicom.dataset import Dataset
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    from tests.peers import app_argv

    seen: dict[str, int] = {"sent": 0}
    five = threading.Event()

    def on_find(event):
        seen["find_msg_id"] = int(event.request.MessageID)
        for k in range(3000):
            if event.is_cancelled:
                seen["cancelled_at"] = k
                yield 0xFE00, None
                return
            ds = Dataset()
            ds.QueryRetrieveLevel = "STUDY"
            ds.PatientID = f"C{k}"
            time.sleep(0.01)
            seen["sent"] += 1
            if seen["sent"] == 5:
                five.set()
            yield 0xFF00, ds

    ae = AE("SLOWSCP")
    ae.add_supported_context(FIND)
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_FIND, on_find)]
    )
    try:
        port = server.server_address[1]
        proc = subprocess.Popen(
            app_argv(tmp_path, "find", f"SLOWSCP@127.0.0.1:{port}", "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert five.wait(60), "the query never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        server.shutdown()
    assert proc.returncode == 130, err.decode(errors="replace")
    rows = json.loads(out)
    assert len(rows) >= 5 and rows[0]["PatientID"] == "C0"
    assert "cancelled_at" in seen and seen["cancelled_at"] < 3000
    assert len(rows) <= seen["cancelled_at"]
    assert "Cancelled: the peer confirmed" in err.decode()


def test_a_utf8_name_in_json_and_in_the_table(dcmqrscp_loaded, tmp_path):
    """A UTF-8 name (letters Latin-1 lacks) sent as a key and printed as stored: JSON and
    the table (dcmqrscp returns the stored ISO_IR 192 bytes)."""
    import subprocess

    from tests.unit.archive.dsgen import make_ds, write

    name = "Łukasiewicz^Zoë"
    f = write(
        make_ds(patient_name=name, patient_id="CLIUTF8", charset="ISO_IR 192"), tmp_path / "u.dcm"
    )
    p = subprocess.run(
        ["storescu", "-aec", dcmqrscp_loaded.aet, "127.0.0.1", str(dcmqrscp_loaded.port), str(f)],
        capture_output=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    args = ("find", dcmqrscp_loaded.target, "--charset", "ISO_IR 192", "-k", "PatientName=Łukas*")
    rows = json.loads(_ok(app_cli(tmp_path / "home", *args, "--json")))
    assert [(r["PatientID"], r["PatientName"]) for r in rows] == [("CLIUTF8", name)]
    out = _ok(app_cli(tmp_path / "home", *args))
    assert "Zoë" in out and "ŁUKASIEWICZ" in out.upper() and "1 match;" in out, out
