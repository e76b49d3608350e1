"""The job bridge: worker-thread events arrive on the GUI thread, in order, in batches."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread, Slot

from pacsadmin.core.jobs import JobRunner, JobState
from pacsadmin.gui.job_bridge import BackgroundError, JobBridge


class Recorder(QObject):
    """Receives the bridge's signals with @Slot methods and notes the thread."""

    def __init__(self, bridge: JobBridge) -> None:
        super().__init__()
        self.events: list[tuple[str, object]] = []
        self.wrong_thread = 0
        self.batches: list[int] = []
        bridge.jobSubmitted.connect(self._on_bridge_job_submitted)
        bridge.jobStarted.connect(self._on_bridge_job_started)
        bridge.jobProgress.connect(self._on_bridge_job_progress)
        bridge.jobPartials.connect(self._on_bridge_job_partials)
        bridge.jobFinished.connect(self._on_bridge_job_finished)
        bridge.backgroundError.connect(self._on_bridge_background_error)

    def _note(self, kind: str, ev: object) -> None:
        if QThread.currentThread() is not self.thread():
            self.wrong_thread += 1
        self.events.append((kind, ev))

    @Slot(object)
    def _on_bridge_job_submitted(self, ev) -> None:
        self._note("submitted", ev)

    @Slot(object)
    def _on_bridge_job_started(self, ev) -> None:
        self._note("started", ev)

    @Slot(object)
    def _on_bridge_job_progress(self, ev) -> None:
        self._note("progress", ev)

    @Slot(int, list)
    def _on_bridge_job_partials(self, job_id: int, items: list) -> None:
        self.batches.append(len(items))
        for item in items:
            self._note("partial", (job_id, item))

    @Slot(object)
    def _on_bridge_job_finished(self, ev) -> None:
        self._note("finished", ev)

    @Slot(object)
    def _on_bridge_background_error(self, ev) -> None:
        self._note("error", ev)


def test_events_arrive_on_the_gui_thread_in_order(qtbot):
    runner = JobRunner(workers=4)
    bridge = JobBridge()
    bridge.attach(runner)
    rec = Recorder(bridge)

    def work(ctx):
        assert threading.current_thread() is not threading.main_thread()
        for i in range(300):
            ctx.report(i)
            if i % 50 == 0:
                ctx.progress(i, 300)
        return "done"

    jobs = [runner.submit(work, name=f"job {k}", node=f"n{k}") for k in range(4)]
    qtbot.waitUntil(lambda: sum(1 for k, _ in rec.events if k == "finished") == 4, timeout=30_000)
    assert rec.wrong_thread == 0
    for job in jobs:
        mine = [(k, e) for k, e in rec.events if (e[0] if k == "partial" else e.job_id) == job.id]
        kinds = [k for k, _ in mine]
        assert kinds[0] == "submitted" and kinds[1] == "started" and kinds[-1] == "finished"
        assert [e[1] for k, e in mine if k == "partial"] == list(range(300))
        finished = mine[-1][1]
        assert finished.state is JobState.SUCCEEDED and finished.result == "done"
    assert max(rec.batches) > 1  # partials were delivered as lists, not one by one
    bridge.close()
    assert runner.shutdown(5)


def test_a_flood_is_delivered_under_a_time_budget(qtbot, heartbeat):
    runner = JobRunner(workers=2)
    bridge = JobBridge()
    bridge.attach(runner)
    rec = Recorder(bridge)
    n = 50_000

    def flood(ctx):
        for i in range(n):
            ctx.report(i)
            ctx.progress(i, n)

    heartbeat.start()
    runner.submit(flood, name="flood")
    qtbot.waitUntil(lambda: any(k == "finished" for k, _ in rec.events), timeout=60_000)
    heartbeat.stop()
    partials = [e[1] for k, e in rec.events if k == "partial"]
    assert partials == list(range(n))
    progress = [e for k, e in rec.events if k == "progress"]
    assert len(progress) < n  # superseded progress events were dropped...
    assert progress[-1].done == n - 1  # ...never the newest
    assert bridge.batches > 1
    # the event loop kept turning while 100,000 events went through
    assert heartbeat.ticks > 5
    bridge.close()
    assert runner.shutdown(5)


def test_background_errors_cross_the_bridge(qtbot):
    bridge = JobBridge()
    rec = Recorder(bridge)
    t = threading.Thread(target=lambda: bridge.post(BackgroundError("boom", "trace")))
    t.start()
    t.join()
    qtbot.waitUntil(lambda: bool(rec.events), timeout=10_000)
    assert rec.events == [("error", BackgroundError("boom", "trace"))]
    assert rec.wrong_thread == 0
    bridge.close()


def test_unhandled_worker_exception_is_presented_not_printed(qtbot, pacs_app):
    def crash():
        raise RuntimeError("worker blew up")

    t = threading.Thread(target=crash, name="crasher")
    t.start()
    t.join()
    qtbot.waitUntil(lambda: bool(pacs_app.errors.presented), timeout=10_000)
    message, details, dialog = pacs_app.errors.presented[-1]
    assert "worker blew up" in message and "crasher" in message
    assert "Traceback" in details
    assert dialog is False  # background: status bar and activity log only
    assert "worker blew up" in pacs_app.activity.toPlainText()


def test_cyclic_garbage_is_collected_on_the_gui_thread(qtbot, pacs_app):
    import gc
    import weakref

    assert not gc.isenabled()  # no collection on whatever thread allocates
    collected_on: list[str] = []

    class Node:
        def __del__(self) -> None:
            collected_on.append(threading.current_thread().name)

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the cyclic collector frees it
    ref = weakref.ref(a)
    del a, b

    kept: list[list[object]] = []

    def allocate() -> None:  # a worker that allocates (and keeps) far past the threshold
        kept.append([[] for _ in range(50_000)])

    t = threading.Thread(target=allocate)
    t.start()
    t.join()
    assert ref() is not None  # the worker did not collect it
    qtbot.waitUntil(lambda: ref() is None, timeout=10_000)
    assert set(collected_on) == {threading.main_thread().name}
    kept.clear()
    pacs_app.window.close()
    assert gc.isenabled()  # back to normal after the window closed


def test_start_up_objects_are_frozen_so_a_full_collection_is_short(qtbot, pacs_app):
    """A full collection walked every object of the imported libraries (~110,000 in the
    test process): 60-95 ms on the GUI thread.  What exists at start-up is frozen."""
    import gc

    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # the libraries' objects, and this test process's
    assert len(gc.get_objects(generation=2)) < frozen  # what a full collection walks now
    pacs_app.window.close()
    assert pacs_app.shutdown()
    assert gc.get_freeze_count() == 0  # handed back when the window closed
