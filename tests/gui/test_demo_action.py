"""The window's "Start demo PACS" (issue 12 section 1): it runs ``serve --demo`` in its own
process, the demo shows up in the node list, answers DCMTK's echoscu, and goes away when it
is stopped or the window closes; a leftover entry of a crashed demo is removed at start."""

from __future__ import annotations

import json
import subprocess

import pytest

from pacsadmin.core.demo import registry
from pacsadmin.core.nodes import NodeDirectory
from pacsadmin.core.paths import AppPaths
from tests.peers import HOST, find_program, free_port

pytestmark = pytest.mark.integration
START = 120_000  # the first start generates the studies (seconds on a loaded machine)
WAIT = 30_000


def _names(app) -> list[str]:
    return [n.name for n in app.node_model.nodes()]


def _start_demo(qtbot, app) -> int:
    port = free_port()
    app.demo.process.port = port
    assert app.act_demo.text() == "Start demo PACS"
    with qtbot.waitSignal(app.demo.process.listening, timeout=START):
        app.act_demo.trigger()
    assert app.act_demo.text() == "Stop demo PACS"
    qtbot.waitUntil(lambda: "Demo PACS" in _names(app), timeout=WAIT)
    return port


def test_start_echo_stop(qtbot, pacs_app):
    app = pacs_app
    menus = {a.text(): a.menu() for a in app.window.menuBar().actions()}
    assert app.act_demo in menus["&Tools"].actions()
    port = _start_demo(qtbot, app)
    node = app.node_model.nodes()[_names(app).index("Demo PACS")]
    assert (node.ae_title, node.host, node.port) == ("DEMOPACS", "127.0.0.1", port)
    p = subprocess.run(
        [find_program("echoscu"), "-aec", "DEMOPACS", HOST, str(port)],
        capture_output=True,
        timeout=30,
    )
    assert p.returncode == 0, p.stderr.decode()
    with qtbot.waitSignal(app.demo.process.stopped, timeout=WAIT):
        app.act_demo.trigger()
    assert app.act_demo.text() == "Start demo PACS"
    qtbot.waitUntil(lambda: "Demo PACS" not in _names(app), timeout=WAIT)
    assert not any("Demo PACS" in m for m, _, _ in app.errors.presented)


def test_the_demo_stops_with_the_window(qtbot, pacs_app):
    app = pacs_app
    _start_demo(qtbot, app)
    app.window.close()  # -> shutdown: the demo process is stopped (SIGTERM), cleanly
    assert not app.demo.running
    nodes = NodeDirectory(AppPaths.resolve().nodes_file)
    assert registry.find_entry(nodes) is None


@pytest.fixture
def stale_entry(pacs_home):
    """A "Demo PACS" entry left by a demo that was killed (no demo runs)."""
    paths = AppPaths.resolve().ensure()
    registry.register(NodeDirectory(paths.nodes_file), 11113)
    return paths


def test_a_crashed_demos_entry_is_removed_at_start(qtbot, stale_entry, pacs_app):
    qtbot.waitUntil(lambda: "Demo PACS" not in _names(pacs_app), timeout=WAIT)
    data = json.loads(stale_entry.nodes_file.read_text())
    assert data["nodes"] == []
