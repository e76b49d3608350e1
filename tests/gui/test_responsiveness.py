"""The GUI thread never blocks on the network (issue 2, section 3).

"Echo all" against 20 nodes (some answer, some refuse, some accept and never answer)
while a 5 ms QTimer heartbeat on the GUI thread records its longest gap: < 50 ms.

On a loaded two-core machine (other test runs at the same time) the OS alone sometimes
deschedules the whole process for tens of milliseconds.  So the scenario may run up to
three times and passes when one run stays under 50 ms.  That cannot hide the failure
this test is for: a GUI thread that waits on the network stalls *every* run by at least a
connect or ACSE timeout (1.5-2 s), and a GUI that does too much work per event stalls
every run too.  Every run's outcome is checked in full.
"""

from __future__ import annotations

import time

from pacsadmin.core.nodes import DicomNode, NodeTimeouts
from tests.gui.conftest import closed_port

HANG_TIMEOUT = 1.5  # seconds: the per-node ACSE timeout of the hung nodes
MAX_GAP_MS = 50.0
ATTEMPTS = 3


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


def test_echo_all_keeps_the_gui_responsive(qtbot, pacs_app, storescp, silent_listener, heartbeat):
    app = pacs_app
    expected = _add_nodes(app, storescp, silent_listener)
    assert app.node_model.rowCount() == 20
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
        assert app.jobs_model.rowCount() == finished_before + 20
        # bounded but concurrent: six hung nodes of 1.5 s each did not run one by one
        assert elapsed < 6 * HANG_TIMEOUT + 10, elapsed
        assert heartbeat.ticks > 20
        if heartbeat.max_gap_ms < MAX_GAP_MS:
            break
    assert min(gaps) < MAX_GAP_MS, f"GUI thread stalled in every run: {gaps} ms"
