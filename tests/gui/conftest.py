"""GUI test fixtures: the app on a temp home, real peers on 127.0.0.1, leak checks.

Every test here fails if it leaves threads running (napari's conftest does the same):
the runner's workers, pynetdicom's association threads, our listeners.
"""

from __future__ import annotations

import gc
import socket
import threading
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Slot

from tests.peers import Peer, PeerUnavailable, start_storescp

_HERE = __import__("pathlib").Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    """Everything under tests/gui carries the ``gui`` marker (``-m "not gui"`` skips it)."""
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.gui)


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail the test if it leaves threads behind (after a generous grace period)."""
    before = set(threading.enumerate())
    yield
    # Collect this test's Qt objects here, on the GUI thread: left to the cyclic GC they
    # may be destroyed on a worker thread of a later test, and Qt aborts the process.
    gc.collect()
    deadline = time.monotonic() + 10.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra, f"threads left running: {[t.name for t in extra]}"


@pytest.fixture
def pacs_app(qtbot):
    """The whole app (composition root) on this test's PACSADMIN_HOME."""
    from pacsadmin.core.paths import AppPaths
    from pacsadmin.gui.app import PacsAdminApp

    app = PacsAdminApp(AppPaths.resolve())
    app.errors.dialogs_enabled = False  # a modal box would wait for a click offscreen
    app.node_actions.confirm = lambda title, text: True
    qtbot.addWidget(app.window)
    app.window.show()
    yield app
    app.window.close()  # closeEvent -> shutdown: cancel, stop the runner
    assert app.shutdown(), "jobs did not stop"
    assert not app.runner.active(), f"jobs left: {app.runner.active()}"


@pytest.fixture
def storescp(tmp_path) -> Iterator[Peer]:
    """DCMTK storescp (TCP_NODELAY=1) on a free port, stopped by PID."""
    try:
        peer = start_storescp(tmp_path / "storescp")
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    yield peer
    peer.stop()


class SilentListener:
    """A TCP listener that accepts connections and never answers (a hung peer)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="silent-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self.accepted:
            c.close()
        self.sock.close()


@pytest.fixture
def silent_listener() -> Iterator[SilentListener]:
    s = SilentListener()
    yield s
    s.close()


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Heartbeat(QObject):
    """A QTimer on the GUI thread; records the longest gap between its ticks."""

    def __init__(self, interval_ms: int = 5) -> None:
        super().__init__()
        self.interval_ms = interval_ms
        self.max_gap_ms = 0.0
        self.ticks = 0
        self._clock = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        self._clock.start()
        self._last = 0.0
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @Slot()
    def _on_timer_timeout(self) -> None:
        now = self._clock.nsecsElapsed() / 1e6
        self.max_gap_ms = max(self.max_gap_ms, now - self._last)
        self._last = now
        self.ticks += 1


@pytest.fixture
def heartbeat() -> Iterator[Heartbeat]:
    hb = Heartbeat()
    yield hb
    hb.stop()


@pytest.fixture
def scp_app(qtbot):
    """The app with the local SCP started (settings in this test's PACSADMIN_HOME); yields
    a function that builds it, so a test can set the port first."""
    import json

    from pacsadmin.core.paths import AppPaths
    from pacsadmin.gui.app import PacsAdminApp

    made = []

    def build(port: int):
        paths = AppPaths.resolve().ensure()
        settings = {"schema_version": 1, "scp_port": port, "scp_autostart": True}
        paths.settings_file.write_text(json.dumps({**settings, "scp_worker_processes": 1}))
        app = PacsAdminApp(paths, start_scp=True)
        app.errors.dialogs_enabled = False
        qtbot.addWidget(app.window)
        app.window.show()
        made.append(app)
        return app

    yield build
    for app in made:
        app.window.close()
        assert app.shutdown(), "jobs did not stop"
        assert not app.scp.running
