"""The node directory shared by several processes: locked read-modify-write, atomic
replace, damaged files reported and never overwritten; the node-and-secret rules and the
audit records of node changes (CLI and core service)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pacsadmin.cli.main import main
from pacsadmin.core.audit import AuditLog
from pacsadmin.core.errors import PacsAdminError
from pacsadmin.core.node_file import NodeFileDamaged
from pacsadmin.core.node_service import NodeService
from pacsadmin.core.nodes import DicomNode, NodeDirectory
from pacsadmin.core.secrets import SecretStore, tls_passphrase_key

ROOT = Path(__file__).resolve().parents[2]

DAMAGED = b'{\n  "schema_version": 1,\n  "nodes": [\n    {"name": "A",, "ae_title": "A"}\n  ]\n}\n'


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def names(path: Path) -> set[str]:
    return {n["name"] for n in json.loads(path.read_text())["nodes"]}


# ---------------------------------------------------------------------- across processes
_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pacsadmin.core.nodes import DicomNode, NodeDirectory
    path, prefix, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    d = NodeDirectory(path)  # loaded before the other process writes anything
    while not go.exists():
        time.sleep(0.001)
    for i in range(50):
        d.add(DicomNode(f"{prefix}-{i:02d}", "AE", "127.0.0.1", 104 + i))
    print(len(d))
    """
)


def test_two_processes_adding_at_once_keep_every_node(tmp_path):
    path = tmp_path / "nodes.json"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), prefix, str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for prefix in ("left", "right")
    ]
    time.sleep(1.0)  # both have loaded the (missing) file and wait
    go.touch()
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    expected = {f"{p}-{i:02d}" for p in ("left", "right") for i in range(50)}
    assert names(path) == expected
    assert len(NodeDirectory(path)) == 100
    assert not list(tmp_path.glob(".nodes.json.*.tmp")), "a temp file was left behind"


def test_a_stale_window_keeps_the_node_the_cli_added(capsys, pacs_home):
    """The window loaded the directory earlier; `nodes add` runs; the window saves."""
    window = NodeDirectory(pacs_home / "nodes.json")  # the window's object, loaded empty
    window.add(DicomNode("Window1", "W1", "127.0.0.1", 104))
    code, _, err = run(capsys, "nodes", "add", "Cli", "--ae", "C", "--host", "h", "--port", "1")
    assert code == 0, err
    assert window.find("Cli") is None  # not seen yet: nobody re-read
    window.add(DicomNode("Window2", "W2", "127.0.0.1", 105))
    assert names(pacs_home / "nodes.json") == {"Window1", "Cli", "Window2"}
    assert window.find("Cli") is not None  # re-read under the lock before the change
    # edits and removals too work on the file's current state
    run(capsys, "nodes", "add", "Cli2", "--ae", "C", "--host", "h", "--port", "2")
    window.remove("Window1")
    assert names(pacs_home / "nodes.json") == {"Cli", "Cli2", "Window2"}


def test_reload_if_changed_notices_other_processes(capsys, pacs_home):
    window = NodeDirectory(pacs_home / "nodes.json")
    assert window.reload_if_changed() is False
    run(capsys, "nodes", "add", "X", "--ae", "X", "--host", "h", "--port", "1")
    assert window.reload_if_changed() is True
    assert [n.name for n in window.list()] == ["X"]
    assert window.reload_if_changed() is False
    window.add(DicomNode("Y", "Y", "h", 2))  # our own write is no news
    assert window.reload_if_changed() is False


def test_the_lock_is_held_while_another_change_runs(tmp_path):
    """A change waits for the lock; a lock never released ends in a clear error."""
    from pacsadmin.core.node_file import NodeFile, NodeFileLocked

    path = tmp_path / "nodes.json"
    holder = NodeFile(path)
    d = NodeDirectory(path)
    with (
        holder.locked(),
        pytest.raises(NodeFileLocked, match="stayed locked"),
        d._file.locked(timeout=0.3),
    ):
        pass
    d.add(DicomNode("A", "A", "h", 1))  # released: works
    assert names(path) == {"A"}


# ---------------------------------------------------------------------- a damaged file
def test_damaged_file_cli_reports_line_and_column_and_leaves_it_alone(capsys, pacs_home):
    path = pacs_home / "nodes.json"
    pacs_home.mkdir(parents=True, exist_ok=True)
    path.write_bytes(DAMAGED)
    for argv in (
        ("nodes", "list"),
        ("nodes", "add", "B", "--ae", "B", "--host", "h", "--port", "1"),
        ("nodes", "remove", "A"),
    ):
        code, _, err = run(capsys, *argv)
        assert code != 0, argv
        assert "damaged at line 4, column 18" in err, err
        assert "Traceback" not in err
        assert path.read_bytes() == DAMAGED, argv
    assert {p.name for p in pacs_home.iterdir() if p.name.startswith("nodes")} <= {
        "nodes.json",
        "nodes.json.lock",
    }


def test_damaged_file_refuses_changes_and_recovers_once_fixed(tmp_path):
    path = tmp_path / "nodes.json"
    NodeDirectory(path).add(DicomNode("Good", "G", "h", 1))
    window = NodeDirectory(path, damaged_ok=True)
    assert window.problem is None and len(window) == 1
    path.write_bytes(DAMAGED)  # an editor's slip, while the window is open
    assert window.reload_if_changed() is True
    assert isinstance(window.problem, NodeFileDamaged)
    assert (window.problem.line, window.problem.col) == (4, 18)
    assert [n.name for n in window.list()] == ["Good"]  # the last good list, not empty
    for change in (
        lambda: window.add(DicomNode("New", "N", "h", 2)),
        lambda: window.remove("Good"),
        lambda: window.import_nodes([("node 1", DicomNode("I", "I", "h", 4))]),
    ):
        with pytest.raises(NodeFileDamaged, match="line 4, column 18"):
            change()
        assert path.read_bytes() == DAMAGED
    assert window.reload_if_changed() is False  # still damaged: no news
    # fixed by hand: the next reload clears the problem
    path.write_text(json.dumps({"nodes": [DicomNode("Fixed", "F", "h", 3).to_json()]}))
    assert window.reload_if_changed() is True
    assert window.problem is None and [n.name for n in window.list()] == ["Fixed"]
    window.add(DicomNode("New", "N", "h", 2))
    assert names(path) == {"Fixed", "New"}


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"", "line 1, column 1"),
        (b'{"nodes": [}', "line 1, column 12"),
        (b'{"nodes": {}}', '"nodes" is not a list'),
        (b"[1, 2]", "not a JSON object"),
        (b'{"nodes": [{"name": "X", "ae_title": "X", "host": "h", "port": 0}]}', "node 1 ('X')"),
        (b'{"nodes": []}\n\xff\n', "line 2, column 1: it is not UTF-8"),
    ],
)
def test_every_kind_of_damage_is_named(tmp_path, raw, fragment):
    path = tmp_path / "nodes.json"
    path.write_bytes(raw)
    with pytest.raises(NodeFileDamaged) as info:
        NodeDirectory(path)
    assert fragment in str(info.value)
    assert isinstance(info.value, PacsAdminError)
    assert path.read_bytes() == raw


# ---------------------------------------------------------------------- secrets and audit
def tls_node(name: str) -> DicomNode:
    from pacsadmin.core.nodes import TlsSettings

    tls = TlsSettings(enabled=True, client_cert="/c.pem", client_key="/k.pem")
    return DicomNode(name, "T", "127.0.0.1", 2762, tls=tls)


def test_cli_rename_moves_the_passphrase_and_remove_deletes_it(
    capsys, monkeypatch, memory_keyring, pacs_home
):
    monkeypatch.setattr(sys, "stdin", io.StringIO("pass-1\n"))
    tls = ["--tls", "--client-cert", "/c.pem", "--client-key", "/k.pem"]
    code, _, err = run(
        capsys, "nodes", "add", "T", "--ae", "T", "--host", "h", "--port", "2762", *tls,
        "--key-passphrase-stdin",
    )  # fmt: skip
    assert code == 0, err
    key = ("pacsadmin", tls_passphrase_key("T"))
    assert memory_keyring.store[key] == "pass-1"
    code, _, err = run(capsys, "nodes", "edit", "T", "--rename", "T2")
    assert code == 0, err
    assert key not in memory_keyring.store
    assert memory_keyring.store[("pacsadmin", tls_passphrase_key("T2"))] == "pass-1"
    code, _, err = run(capsys, "nodes", "remove", "T2")
    assert code == 0, err
    assert not memory_keyring.store
    # the audit log has every change, made through the CLI
    audit = AuditLog(pacs_home / "audit.sqlite3")
    entries = list(reversed(audit.entries()))
    assert [(e.action, e.node) for e in entries] == [
        ("node-add", "T"),
        ("node-edit", "T2"),
        ("node-remove", "T2"),
    ]
    assert all(e.details["via"] == "cli" and e.outcome == "success" for e in entries)
    assert entries[1].details["renamed_from"] == "T"
    assert "name" in entries[1].details["changed"]
    for e in entries:
        assert "pass-1" not in json.dumps(e.to_json())


def test_service_update_with_a_new_passphrase_and_rename(tmp_path, memory_keyring):
    audit = AuditLog(tmp_path / "audit.sqlite3")
    svc = NodeService(NodeDirectory(tmp_path / "n.json"), SecretStore(), audit, via="gui")
    svc.add(tls_node("A"), "old")
    from dataclasses import replace

    saved = svc.update("A", replace(tls_node("A"), name="B"), "new")
    assert saved.secret_problem is None
    assert memory_keyring.store == {("pacsadmin", tls_passphrase_key("B")): "new"}
    assert svc.passphrase(saved.node) == "new"
    assert svc.passphrase(saved.node, typed="typed") == "typed"
    assert svc.passphrase(DicomNode("P", "P", "h", 1)) is None  # no client key: no lookup
    current = svc.update("B", replace(saved.node, port=2763)).node
    edit = audit.entries(action="node-edit")[0]
    assert edit.details == {"via": "gui", "changed": ["port"]}
    svc.update("B", current)  # saved unchanged: nothing to record
    assert len(audit.entries(action="node-edit")) == 2  # rename+passphrase, then port


def test_cli_import_is_audited(capsys, tmp_path, pacs_home):
    f = tmp_path / "n.csv"
    f.write_text("name,ae_title,host,port\nok,OK,1.2.3.4,104\nok2,OK,1.2.3.4,105\n")
    code, _, err = run(capsys, "nodes", "import", str(f))
    assert code == 0, err
    e = AuditLog(pacs_home / "audit.sqlite3").entries(action="node-import")
    assert len(e) == 1 and sorted(e[0].details["added"]) == ["ok", "ok2"]
    assert e[0].details["via"] == "cli" and e[0].target == str(f)
    code, _, _ = run(capsys, "nodes", "import", str(f))  # all skipped: nothing changed
    assert len(AuditLog(pacs_home / "audit.sqlite3").entries(action="node-import")) == 1


def test_threads_and_a_polling_reader_in_one_process_keep_every_node(tmp_path):
    """Writers on two directory objects (the window's io lane, the SCP's copy) and a
    reader polling reload_if_changed at the same time."""
    import threading

    path = tmp_path / "nodes.json"
    a, b = NodeDirectory(path), NodeDirectory(path)
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            a.reload_if_changed()

    def write(d: NodeDirectory, prefix: str) -> None:
        for i in range(25):
            d.add(DicomNode(f"{prefix}-{i:02d}", "AE", "127.0.0.1", 104))

    reader = threading.Thread(target=poll)
    reader.start()
    writers = [
        threading.Thread(target=write, args=(d, f"{d_i}-{t}"))
        for d_i, d in enumerate((a, b))
        for t in range(2)
    ]
    for t in writers:
        t.start()
    for t in writers:
        t.join(60)
    stop.set()
    reader.join(10)
    assert len(names(path)) == 100
    a.reload_if_changed()
    assert len(a) == 100
