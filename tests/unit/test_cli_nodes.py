"""The `pacsadmin nodes|settings|audit` command lines (exit codes are a contract)."""

import json
import subprocess
import sys

import pytest

from pacsadmin.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help():
    out = subprocess.run(
        [sys.executable, "-m", "pacsadmin", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.startswith("pacsadmin ")
    out = subprocess.run(
        [sys.executable, "-m", "pacsadmin", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    for cmd in ("echo", "doctor", "nodes", "audit"):
        assert cmd in out.stdout


def test_add_list_edit_remove(capsys, pacs_home):
    code, out, _ = run(
        capsys,
        "nodes",
        "add",
        "Main",
        "--ae",
        "MAIN_AE",
        "--host",
        "10.1.1.1",
        "--port",
        "104",
        "--site",
        "HQ",
        "--tag",
        "prod",
        "--json",
    )
    assert code == 0 and json.loads(out)["ae_title"] == "MAIN_AE"
    code, out, _ = run(capsys, "nodes", "list", "--json")
    assert [n["name"] for n in json.loads(out)] == ["Main"]
    code, out, _ = run(
        capsys,
        "nodes",
        "edit",
        "main",
        "--port",
        "11112",
        "--rename",
        "Main2",
        "--timeout-connect",
        "3",
    )
    assert code == 0
    code, out, _ = run(capsys, "nodes", "list", "--json")
    n = json.loads(out)[0]
    assert n["name"] == "Main2" and n["port"] == 11112 and n["timeouts"]["connect"] == 3
    code, out, _ = run(capsys, "nodes", "list")
    assert "Main2" in out and "MAIN_AE" in out
    code, out, _ = run(capsys, "nodes", "remove", "Main2")
    assert code == 0
    code, out, _ = run(capsys, "nodes", "list", "--json")
    assert json.loads(out) == []
    assert (pacs_home / "nodes.json").exists()


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--ae", "ABCDEFGHIJKLMNOPQ", "--host", "h", "--port", "104"], "at most 16"),
        (["--ae", "A", "--host", "h", "--port", "70000"], "65535"),
        (["--ae", "A\\B", "--host", "h", "--port", "104"], "backslash"),
    ],
)
def test_add_bad_input_exits_2_with_message(capsys, argv, fragment):
    code, out, err = run(capsys, "nodes", "add", "X", *argv)
    assert code == 2 and fragment in err
    code, out, _ = run(capsys, "nodes", "list", "--json")
    assert json.loads(out) == []


def test_duplicate_and_unknown_names_exit_2(capsys):
    assert run(capsys, "nodes", "add", "A", "--ae", "A", "--host", "h", "--port", "1")[0] == 0
    code, _, err = run(capsys, "nodes", "add", "a", "--ae", "A", "--host", "h", "--port", "1")
    assert code == 2 and "already exists" in err
    code, _, err = run(capsys, "nodes", "remove", "nope")
    assert code == 2 and "No node named" in err
    code, _, err = run(capsys, "nodes", "edit", "nope", "--port", "5")
    assert code == 2


def test_usage_error_exit_code_is_2():
    out = subprocess.run(
        [sys.executable, "-m", "pacsadmin", "nodes", "add"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2


def test_export_import_csv_and_json(capsys, tmp_path):
    run(
        capsys,
        "nodes",
        "add",
        "A",
        "--ae",
        "AE_A",
        "--host",
        "10.0.0.1",
        "--port",
        "104",
        "--tls",
        "--ca-bundle",
        "/etc/ca.pem",
    )
    run(capsys, "nodes", "add", "B", "--ae", "AE_B", "--host", "10.0.0.2", "--port", "105")
    for fmt in ("csv", "json"):
        f = tmp_path / f"nodes.{fmt}"
        assert run(capsys, "nodes", "export", str(f))[0] == 0
        text = f.read_text()
        assert "AE_A" in text and "AE_B" in text
        other = tmp_path / f"home-{fmt}"
        code, out, _ = run(capsys, "--config-dir", str(other), "nodes", "import", str(f), "--json")
        assert code == 0 and sorted(json.loads(out)["added"]) == ["A", "B"]
        code, out, _ = run(capsys, "--config-dir", str(other), "nodes", "list", "--json")
        assert {n["name"]: n["tls"]["enabled"] for n in json.loads(out)} == {"A": True, "B": False}


def test_import_with_bad_rows_exits_1_and_lists_them(capsys, tmp_path):
    f = tmp_path / "n.csv"
    f.write_text("name,ae_title,host,port\nok,OK,1.2.3.4,104\nbad,OK,1.2.3.4,99999\n")
    code, out, err = run(capsys, "nodes", "import", str(f))
    assert code == 1 and "1 added" in out and "row 3" in err


def test_import_unreadable_file_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "nodes", "import", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err
    f = tmp_path / "nodes.txt"
    f.write_text("x")
    code, _, err = run(capsys, "nodes", "import", str(f))
    assert code == 2 and "--format" in err


def test_passphrase_goes_to_keyring_not_files(capsys, monkeypatch, memory_keyring, pacs_home):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-CANARY\n"))
    code, _, err = run(
        capsys,
        "nodes",
        "add",
        "T",
        "--ae",
        "T",
        "--host",
        "h",
        "--port",
        "2762",
        "--tls",
        "--client-cert",
        "/c.pem",
        "--client-key",
        "/k.pem",
        "--key-passphrase-stdin",
    )
    assert code == 0 and "keyring" in err
    assert memory_keyring.store[("pacsadmin", "node/T/tls-key-passphrase")] == "s3cret-CANARY"
    for p in pacs_home.rglob("*"):
        if p.is_file():
            assert b"s3cret-CANARY" not in p.read_bytes(), p
    code, out, _ = run(capsys, "nodes", "export")
    assert "s3cret" not in out


def test_passphrase_without_keyring_is_not_stored_and_says_so(capsys, monkeypatch, pacs_home):
    import io

    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-CANARY\n"))
    code, _, err = run(
        capsys,
        "nodes",
        "add",
        "T",
        "--ae",
        "T",
        "--host",
        "h",
        "--port",
        "2762",
        "--tls",
        "--client-cert",
        "/c.pem",
        "--client-key",
        "/k.pem",
        "--key-passphrase-stdin",
    )
    assert code == 0 and "NOT stored" in err
    for p in pacs_home.rglob("*"):
        if p.is_file():
            assert b"s3cret-CANARY" not in p.read_bytes(), p


def test_settings_show_and_set(capsys):
    code, out, _ = run(capsys, "settings", "set", "local_ae_title=ADMIN7", "timeout_connect=2")
    assert code == 0
    code, out, _ = run(capsys, "settings", "show", "--json")
    d = json.loads(out)
    assert d["local_ae_title"] == "ADMIN7" and d["timeouts"]["connect"] == 2
    code, _, err = run(capsys, "settings", "set", "scp_port=0")
    assert code == 2 and "65535" in err
    code, _, err = run(capsys, "settings", "set", "nonsense=1")
    assert code == 2
    code, _, _ = run(capsys, "settings", "set", "scp_whitelist=yes", "duplicate_policy=overwrite")
    assert code == 0
    d = json.loads(run(capsys, "settings", "show", "--json")[1])
    assert d["scp_whitelist"] is True and d["duplicate_policy"] == "overwrite"
    code, _, err = run(capsys, "settings", "set", "scp_whitelist=maybe")
    assert code == 2 and "yes/no" in err
    code, _, err = run(capsys, "settings", "set", "duplicate_policy=newest")
    assert code == 2 and "keep_first" in err


def test_audit_cli(capsys):
    code, out, _ = run(capsys, "audit")
    assert code == 0 and "empty" in out
    run(capsys, "echo", "X@127.0.0.1:1", "--timeout", "2")
    code, out, _ = run(capsys, "audit", "--json")
    entries = json.loads(out)
    assert entries[0]["action"] == "echo" and entries[0]["outcome"] == "failure"
    assert entries[0]["details"]["failed_step"] == "tcp"


def test_config_dir_flag_points_everything_elsewhere(capsys, tmp_path):
    other = tmp_path / "elsewhere"
    run(
        capsys,
        "--config-dir",
        str(other),
        "nodes",
        "add",
        "A",
        "--ae",
        "A",
        "--host",
        "h",
        "--port",
        "1",
    )
    assert (other / "nodes.json").exists()
    _code, out, _ = run(capsys, "nodes", "list", "--json")
    assert json.loads(out) == []
