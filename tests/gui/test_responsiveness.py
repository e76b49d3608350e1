"""The GUI thread never blocks on the network (issue 2, section 3), and Echo all does not
starve it of the GIL (issue 8, section 6).

"Echo all" against 20 nodes (some answer, some refuse, some accept and never answer),
and against 20 and 200 nodes that all answer (one storescp), while a 5 ms QTimer
heartbeat on the GUI thread records its longest gap: under 30 ms with the machine to
itself, under 50 ms beside a program that keeps one core busy (the ``busy_core``
variants start one).  Echo all runs its echoes in a process of its own
(``pacsadmin echo-all``); in the window's process forty pynetdicom threads took the GIL
from the GUI thread for 50-110 ms at a time.

On a loaded two-core machine (other test runs at the same time) the OS alone sometimes
deschedules the whole process for tens of milliseconds.  So the scenario may run up to
three times and passes when one run stays under the limit.  That cannot hide the
failures this test is for: a GUI thread that waits on the network stalls *every* run by
at least a connect or ACSE timeout (1.5-2 s), and echo threads in the GUI's process
stalled every run by 50 ms or more.  Every run's outcome is checked in full.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from pacsadmin.core.nodes import DicomNode, NodeTimeouts
from tests.gui.conftest import closed_port

HANG_TIMEOUT = 1.5  # seconds: the per-node ACSE timeout of the hung nodes
MAX_GAP_MS = 30.0  # the machine to itself
MAX_GAP_BUSY_MS = 50.0  # beside a program that keeps one core busy
ATTEMPTS = 3


@pytest.fixture
def busy_core() -> Iterator[subprocess.Popen[bytes]]:
    """A program that keeps one core busy for the test (a user's desktop is not idle)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)  # running, not starting
        assert proc.poll() is None
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def _add_answering(app, storescp, count: int) -> dict[str, str]:
    for i in range(count):
        app.nodes.add(DicomNode(f"up-{i:03d}", storescp.aet, "127.0.0.1", storescp.port))
    app.node_actions.reload()
    return {f"up-{i:03d}": "ok" for i in range(count)}


def _add_nodes(app, storescp, silent_listener) -> dict[str, str]:
    expected: dict[str, str] = {}  # node name -> "ok" | the step that fails
    quick = NodeTimeouts(connect=2.0, acse=HANG_TIMEOUT, dimse=2.0, network=3.0)
    for i in range(8):
        n = f"answers-{i:02d}"
        app.nodes.add(DicomNode(n, storescp.aet, "127.0.0.1", storescp.port, site="Up"))
        expected[n] = "ok"
    for i in range(6):
        n = f"refuses-{i:02d}"
        app.nodes.add(DicomNode(n, "GONE", "127.0.0.1", closed_port(), site="Down"))
        expected[n] = "tcp"
    for i in range(6):
        n = f"hangs-{i:02d}"
        app.nodes.add(
            DicomNode(n, "HUNG", "127.0.0.1", silent_listener.port, site="Hung", timeouts=quick)
        )
        expected[n] = "associate"
    app.node_actions.reload()
    return expected


def _check_outcomes(app, expected: dict[str, str]) -> None:
    for name, want in expected.items():
        st = app.node_model.status(name)
        assert not st.running, name
        if want == "ok":
            assert st.ok is True, f"{name}: {st.summary}"
            assert st.latency_ms is not None and st.latency_ms > 0
        else:
            assert st.ok is False, f"{name}: {st.summary}"
            title = {"tcp": "TCP connect failed", "associate": "A-ASSOCIATE failed"}[want]
            assert st.summary.startswith(title), f"{name}: {st.summary}"
            if want == "tcp":
                assert "refused" in st.summary
            else:
                assert f"within {HANG_TIMEOUT:g} s" in st.summary, st.summary


def _all_done(app, expected: dict[str, str], since: float) -> bool:
    for name in expected:
        st = app.node_model.status(name)
        if st.running or st.when is None or st.when < since:
            return False
    return True


def _echo_all_runs(
    qtbot, app, heartbeat, expected: dict[str, str], max_gap_ms: float, max_elapsed: float
) -> None:
    gaps: list[float] = []
    for attempt in range(1, ATTEMPTS + 1):
        finished_before = app.jobs_model.rowCount()
        started_at = time.time()
        qtbot.wait(200)  # let the previous run's leftovers settle
        heartbeat.max_gap_ms = 0.0
        heartbeat.start()
        t0 = time.monotonic()
        app.act_echo_all.trigger()
        qtbot.waitUntil(lambda t=started_at: _all_done(app, expected, t), timeout=90_000)
        elapsed = time.monotonic() - t0
        heartbeat.stop()
        gaps.append(heartbeat.max_gap_ms)
        print(f"run {attempt}: {elapsed:.2f} s, heartbeat max gap {heartbeat.max_gap_ms:.1f} ms")

        _check_outcomes(app, expected)
        qtbot.waitUntil(lambda: app.jobs_model.running_count() == 0, timeout=30_000)
        assert app.jobs_model.rowCount() == finished_before + 1  # one Echo-all job
        assert elapsed < max_elapsed, elapsed
        assert heartbeat.ticks > 20
        if heartbeat.max_gap_ms < max_gap_ms:
            break
    assert min(gaps) < max_gap_ms, f"GUI thread stalled in every run: {gaps} ms"
    # each node's echo is in the audit log, with its outcome (the echo process wrote it)
    audited = {e.node: e.outcome for e in app.audit.entries(action="echo", limit=100_000)}
    for name, want in expected.items():
        assert audited.get(name) == ("success" if want == "ok" else "failure"), name


def test_echo_all_keeps_the_gui_responsive(qtbot, pacs_app, storescp, silent_listener, heartbeat):
    expected = _add_nodes(pacs_app, storescp, silent_listener)
    assert pacs_app.node_model.rowCount() == 20
    # bounded but concurrent: six hung nodes of 1.5 s each did not run one by one
    _echo_all_runs(qtbot, pacs_app, heartbeat, expected, MAX_GAP_MS, 6 * HANG_TIMEOUT + 10)


def test_echo_all_keeps_the_gui_responsive_beside_a_busy_core(
    qtbot, pacs_app, storescp, silent_listener, heartbeat, busy_core
):
    expected = _add_nodes(pacs_app, storescp, silent_listener)
    _echo_all_runs(qtbot, pacs_app, heartbeat, expected, MAX_GAP_BUSY_MS, 6 * HANG_TIMEOUT + 10)


@pytest.mark.parametrize("count", [20, 200])
def test_echo_all_of_answering_nodes_keeps_the_gui_responsive(
    qtbot, pacs_app, storescp, heartbeat, count
):
    expected = _add_answering(pacs_app, storescp, count)
    _echo_all_runs(qtbot, pacs_app, heartbeat, expected, MAX_GAP_MS, 60)


@pytest.mark.parametrize("count", [20, 200])
def test_echo_all_of_answering_nodes_keeps_the_gui_responsive_beside_a_busy_core(
    qtbot, pacs_app, storescp, heartbeat, busy_core, count
):
    expected = _add_answering(pacs_app, storescp, count)
    _echo_all_runs(qtbot, pacs_app, heartbeat, expected, MAX_GAP_BUSY_MS, 60)
