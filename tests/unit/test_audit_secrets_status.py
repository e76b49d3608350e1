import sqlite3

import pytest

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse.status import (
    Outcome,
    describe_abort,
    describe_rejection,
    describe_status,
    status_info,
)
from pacsadmin.core.errors import SecretStoreUnavailable
from pacsadmin.core.secrets import KeyringBackend, SecretStore, tls_passphrase_key


def test_audit_is_append_only(tmp_path):
    a = AuditLog(tmp_path / "audit.sqlite3")
    a.record(
        "echo", "success", node="PACS", target="X@h:1", summary="ok", details={"latency_ms": 5}
    )
    a.record("echo", "failure", node="PACS", summary="refused")
    a.record("echo", "success", node="OTHER")
    entries = a.entries()
    assert [e.outcome for e in entries] == ["success", "failure", "success"]
    last = a.last_per_node("echo")
    assert last["PACS"].outcome == "failure" and last["OTHER"].outcome == "success"
    con = sqlite3.connect(tmp_path / "audit.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit SET outcome='x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit")
    con.close()
    assert (tmp_path / "audit.sqlite3").stat().st_mode & 0o077 == 0


def test_secrets_go_to_keyring(memory_keyring):
    s = SecretStore()
    assert s.set(tls_passphrase_key("PACS"), "hunter2") is None
    assert ("pacsadmin", "node/PACS/tls-key-passphrase") in memory_keyring.store
    assert SecretStore().get(tls_passphrase_key("PACS")) == "hunter2"
    s.delete(tls_passphrase_key("PACS"))
    assert SecretStore().get(tls_passphrase_key("PACS")) is None


def test_no_keyring_keeps_secret_for_session_only_and_says_so(monkeypatch, tmp_path):
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    s = SecretStore()
    reason = s.set("k", "secret")
    assert reason and "not stored" in reason
    assert s.get("k") == "secret"  # this session
    assert SecretStore().get("k") is None  # not persisted anywhere
    assert not any(
        "secret" in p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file()
    )
    with pytest.raises(SecretStoreUnavailable):
        KeyringBackend().set("k", "v")


@pytest.mark.parametrize(
    "code, service, outcome, fragment",
    [
        (0x0000, None, Outcome.SUCCESS, "Success"),
        (0xFF00, None, Outcome.PENDING, "Pending"),
        (0xFE00, None, Outcome.CANCEL, "Cancel"),
        (0xA801, "C-MOVE", Outcome.FAILURE, "move destination unknown"),
        (0xA700, "C-STORE", Outcome.FAILURE, "out of resources"),
        (0xA900, "C-FIND", Outcome.FAILURE, "does not match"),
        (0x0110, None, Outcome.FAILURE, "Processing failure"),
        (0x0122, None, Outcome.FAILURE, "SOP class not supported"),
        (0xB000, "C-MOVE", Outcome.WARNING, "one or more failures"),
        (0xB000, "C-STORE", Outcome.WARNING, "Coercion"),
        (0xC123, "C-MOVE", Outcome.FAILURE, "unable to process"),
        (0xA7FF, None, Outcome.FAILURE, "out of resources"),
        (0x9999, None, Outcome.FAILURE, "Unknown status"),
    ],
)
def test_status_table(code, service, outcome, fragment):
    info = status_info(code, service)
    assert info.outcome is outcome
    assert fragment.lower() in info.label.lower()
    assert info.label.startswith(f"0x{code:04X} ")


def test_status_sentences_carry_advice():
    assert "register it there" in describe_status(0xA801, "C-MOVE")
    assert "destination AE is unknown" in describe_status(0xC000, "C-MOVE")


def test_rejection_sentences():
    s, advice = describe_rejection(1, 1, 7, called="ARCHIVE")
    assert s == (
        "Association rejected permanently by the service user: called AE title not recognized"
    )
    assert "'ARCHIVE'" in advice
    s, advice = describe_rejection(1, 1, 3, calling="PACSADMIN")
    assert "calling AE title not recognized" in s and "'PACSADMIN'" in advice
    s, _ = describe_rejection(2, 3, 2)
    assert "transiently" in s and "local limit exceeded" in s
    assert "unexpected PDU" in describe_abort(2, 2)
    assert describe_abort(0, 0) == "Association aborted by the peer (service user)"
    assert describe_abort(0, 0, ours=True) == "Association aborted by us (service user)"
    assert describe_abort(2, 1, ours=True) == (
        "Association aborted by our DICOM layer (service provider): unrecognized PDU"
    )
