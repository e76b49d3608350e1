"""``pacsadmin move`` and ``pacsadmin get``: output and exit codes, against Orthanc and
dcmqrscp, through the real command line (tests/peers.py app_cli)."""

from __future__ import annotations

import json

from tests.peers import app_cli


def test_move_cli_all_arrived_exit_0(qr, ports, dataset, tmp_path):
    st = dataset[0][0]
    home = tmp_path / "home"
    p = app_cli(
        home,
        "move",
        qr.target,
        "--study",
        st.uid,
        "--port",
        str(ports["local"]),
        "--bind",
        "127.0.0.1",
        "--json",
    )
    err = p.stderr.decode()
    assert p.returncode == 0, err
    out = json.loads(p.stdout.decode().split("\n", 1)[1])
    assert out["ok"] and out["expected"] == 4 and out["received"] == 4 and out["missing"] == []
    assert out["receiver"]["started"] is True
    assert len(list((home / "archive" / "data").rglob("*.dcm"))) == 4


def test_get_cli_prints_accounting(qr, dataset, tmp_path):
    st = dataset[0][1]
    p = app_cli(tmp_path / "home", "get", qr.target, "--study", st.uid)
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr.decode()
    assert "Accounting: 3 expected (IMAGE-level C-FIND), 3 in the archive, 0 missing" in out


def test_move_cli_unknown_destination_exit_1(qr, dataset, tmp_path):
    p = app_cli(
        tmp_path / "home", "move", qr.target, "--study", dataset[0][2].uid, "--dest", "NOBODY"
    )
    err = p.stderr.decode()
    assert p.returncode == 1
    assert "move FAILED" not in err  # the method is named as DICOM names it
    assert "C-MOVE FAILED" in err and "What to do:" in err
    assert "NOBODY" in err


def test_move_cli_nothing_found_exit_1(qr, ports, tmp_path):
    p = app_cli(
        tmp_path / "home",
        "move",
        qr.target,
        "--study",
        "1.2.3.4.5.6.7.8.9",
        "--port",
        str(ports["local"]),
        "--bind",
        "127.0.0.1",
    )
    assert p.returncode == 1, p.stdout.decode() + p.stderr.decode()
    assert "holds nothing for this selection" in p.stderr.decode()


def test_usage_errors_exit_2(tmp_path):
    p = app_cli(tmp_path / "home", "move", "X@127.0.0.1:104")
    assert p.returncode == 2 and b"--study UID" in p.stderr
    p = app_cli(tmp_path / "home", "get", "X@127.0.0.1:104", "--study", "1.2.abc")
    assert p.returncode == 2 and b"not a DICOM UID" in p.stderr
