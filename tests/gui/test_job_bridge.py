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


def test_per_job_callbacks_run_on_the_gui_thread_after_the_jobs_events(qtbot):
    """bridge.submit: the result goes back to whoever asked, after its partials and
    progress, on the GUI thread; another job's callbacks never see it."""
    runner = JobRunner(workers=2)
    bridge = JobBridge()
    bridge.attach(runner)
    gui_thread = threading.current_thread()
    seen: list[tuple[str, object]] = []
    threads: set[threading.Thread] = set()

    def work(ctx):
        for i in range(50):
            ctx.report(i)
            ctx.progress(i + 1, 50)
        return "result"

    def note(kind):
        def cb(arg):
            threads.add(threading.current_thread())
            seen.append((kind, arg))

        return cb

    other: list[object] = []
    try:
        job = bridge.submit(
            work,
            name="cb",
            summarize=lambda r: (f"got {r}", True),
            on_done=note("done"),
            on_partials=note("partials"),
            on_progress=note("progress"),
        )
        bridge.submit(lambda ctx: "other", name="other", on_done=other.append)
        qtbot.waitUntil(lambda: any(k == "done" for k, _ in seen) and bool(other), timeout=5000)
    finally:
        bridge.close()
        runner.shutdown()
    assert threads == {gui_thread}
    items = [i for k, batch in seen if k == "partials" for i in batch]
    assert items == list(range(50))
    assert seen[-1][0] == "done"  # after every partial and progress of the job
    done = seen[-1][1]
    assert done.job_id == job.id and done.result == "result"
    assert (done.summary, done.ok) == ("got result", True)
    assert [ev.result for ev in other] == ["other"]
    assert sum(1 for k, _ in seen if k == "done") == 1


def test_on_done_runs_for_a_job_cancelled_before_it_started(qtbot):
    runner = JobRunner(workers=1)
    bridge = JobBridge()
    bridge.attach(runner)
    gate = threading.Event()
    done: list[object] = []
    try:
        bridge.submit(lambda ctx: gate.wait(5), name="blocker", lane="io")
        queued = bridge.submit(lambda ctx: "never", name="queued", lane="io", on_done=done.append)
        queued.cancel()
        gate.set()
        qtbot.waitUntil(lambda: bool(done), timeout=5000)
    finally:
        bridge.close()
        runner.shutdown()
    assert done[0].state is JobState.CANCELLED and done[0].result is None


def test_a_failing_callback_is_reported_and_delivery_goes_on(qtbot):
    runner = JobRunner(workers=1)
    bridge = JobBridge()
    bridge.attach(runner)
    rec = Recorder(bridge)
    later: list[object] = []

    def boom(ev):
        raise RuntimeError("callback bug")

    try:
        bridge.submit(lambda ctx: 1, name="a", lane="io", on_done=boom)
        bridge.submit(lambda ctx: 2, name="b", lane="io", on_done=later.append)
        qtbot.waitUntil(lambda: bool(later), timeout=5000)
    finally:
        bridge.close()
        runner.shutdown()
    errors = [ev for k, ev in rec.events if k == "error"]
    assert len(errors) == 1 and "callback bug" in errors[0].message
    assert later[0].result == 2
