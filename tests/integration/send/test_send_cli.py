"""``pacsadmin send`` as a process: the table, --json, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json

import pytest

from tests.peers import app_cli, free_port

from .conftest import make_series, received

pytestmark = pytest.mark.integration


def test_all_stored_exits_0(storescp, tmp_path):
    make_series(tmp_path / "in", 4)
    p = app_cli(tmp_path / "home", "send", storescp.target, str(tmp_path / "in"), "-q")
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    out = p.stdout.decode()
    assert "4 of 4 file(s) stored on STORESCP" in out
    assert "CT Image Storage" in out and "Success" in out
    assert len(received(storescp)) == 4


def test_a_failed_file_exits_1_and_is_named(storescp, tmp_path):
    make_series(tmp_path / "in", 2)
    (tmp_path / "in" / "bad.dcm").write_bytes(b"garbage")
    p = app_cli(tmp_path / "home", "send", storescp.target, str(tmp_path / "in"), "--json")
    assert p.returncode == 1, p.stderr.decode(errors="replace")
    doc = json.loads(p.stdout)
    assert doc["stored"] == 2 and doc["failed"] == 1 and not doc["ok"]
    bad = [f for f in doc["files"] if f["state"] != "stored"]
    assert [f["path"].rsplit("/", 1)[-1] for f in bad] == ["bad.dcm"]
    assert "bad.dcm" in p.stderr.decode()


def test_nobody_listening_exits_1(tmp_path):
    make_series(tmp_path / "in", 2)
    target = f"NOBODY@127.0.0.1:{free_port()}"
    p = app_cli(tmp_path / "home", "send", target, str(tmp_path / "in"), "-t", "5")
    assert p.returncode == 1
    assert "Not sent" in p.stderr.decode()


@pytest.mark.parametrize(
    "args",
    [("no-such-node", "x.dcm"), ("STORE@127.0.0.1:notaport", "x.dcm"), ("STORE@127.0.0.1:104",)],
)
def test_usage_errors_exit_2(tmp_path, args):
    p = app_cli(tmp_path / "home", "send", *args)
    assert p.returncode == 2, (p.stdout, p.stderr)
