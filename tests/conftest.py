"""Shared test set-up.

Qt runs offscreen (set before any Qt import), every test gets its own PACSADMIN_HOME,
and keyring gets an in-memory backend: no test touches the real config or keyring.
"""

from __future__ import annotations

import os
import socket

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


class MemoryKeyring:
    """An in-memory keyring backend (keyring.backend.KeyringBackend protocol)."""

    priority = 1

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        import keyring.errors

        if (service, username) not in self.store:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.store[(service, username)]

    def get_credential(self, service, username):  # pragma: no cover - unused
        return None


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch):
    import keyring
    from keyring.backend import KeyringBackend

    class _Backend(KeyringBackend):
        priority = 1
        _mem = MemoryKeyring()

        def get_password(self, service, username):
            return self._mem.get_password(service, username)

        def set_password(self, service, username, password):
            self._mem.set_password(service, username, password)

        def delete_password(self, service, username):
            self._mem.delete_password(service, username)

    backend = _Backend()
    backend._mem = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend._mem
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def pacs_home(tmp_path, monkeypatch):
    home = tmp_path / "pacs-home"
    monkeypatch.setenv("PACSADMIN_HOME", str(home))
    return home


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def port():
    return free_port()


# ---------------------------------------------------------------- the app's archive and SCP
SCP_AET = "TESTSCP"  # the called AE title of the SCP that `start_scp` starts


@pytest.fixture
def nodes(tmp_path):
    from pacsadmin.core.nodes import NodeDirectory

    return NodeDirectory(tmp_path / "nodes.json")


@pytest.fixture
def archive(tmp_path):
    from pacsadmin.core.archive import Archive

    a = Archive(tmp_path / "archive")
    yield a
    a.close()


@pytest.fixture
def start_scp(archive, nodes):
    """``start_scp(archive=None, **ScpConfig fields)``: the app's SCP in this process, on a
    free port of 127.0.0.1, called ``SCP_AET`` unless told; stopped after the test."""
    from pacsadmin.core.dimse.scp import LocalScp, ScpConfig

    started = []

    def start(ar=None, **kw):
        cfg = ScpConfig(**{"ae_title": SCP_AET, "port": 0, "bind": "127.0.0.1", **kw})
        started.append(LocalScp(ar or archive, cfg, nodes=nodes).start())
        return started[-1]

    yield start
    for s in started:
        s.stop()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """A non-daemon thread left at the very end (an association thread of pynetdicom that
    outlived every per-test leak check) would keep the interpreter from exiting after the
    summary, and CI would wait out its time limit.  Name the threads on stderr and end the
    process with the session's exit status instead."""
    import sys
    import threading

    left = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if not left:
        return
    born = getattr(config, "_pacsadmin_thread_tests", {})
    print(
        "\npytest: non-daemon threads left at exit (ended by force): "
        + ", ".join(f"{t.name} (first seen after {born.get(t.ident, '?')})" for t in left),
        file=sys.stderr,
        flush=True,
    )
    sys.stdout.flush()
    status = getattr(config, "_pacsadmin_exitstatus", 0)
    os._exit(int(status))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """Note which test a non-daemon thread was first seen after (for the message above)."""
    import threading

    born = item.config.__dict__.setdefault("_pacsadmin_thread_tests", {})
    for t in threading.enumerate():
        if not t.daemon and t.ident not in born and t is not threading.main_thread():
            born[t.ident] = item.nodeid


def pytest_sessionfinish(session, exitstatus):
    session.config._pacsadmin_exitstatus = exitstatus
