import threading
import time

import pytest

from pacsadmin.core.jobs import (
    JobFinished,
    JobPartial,
    JobProgress,
    JobRunner,
    JobStarted,
    JobState,
    JobSubmitted,
)


@pytest.fixture
def runner():
    r = JobRunner(workers=4, per_node_limit=2)
    yield r
    assert r.shutdown(timeout=5)


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return False


def test_events_in_order_and_result(runner):
    events = []
    runner.subscribe(events.append)

    def work(ctx):
        ctx.progress(1, 2, "half")
        ctx.report("partial-1")
        ctx.progress(2, 2)
        return 42

    job = runner.submit(work, name="w")
    assert job.future.result(5) == 42
    assert wait_for(lambda: any(isinstance(e, JobFinished) for e in events))
    kinds = [type(e) for e in events]
    assert kinds == [JobSubmitted, JobStarted, JobProgress, JobPartial, JobProgress, JobFinished]
    fin = events[-1]
    assert fin.state is JobState.SUCCEEDED and fin.result == 42 and fin.error == ""


def test_failure_is_reported_as_a_sentence(runner):
    events = []
    runner.subscribe(events.append)

    def boom(ctx):
        raise OSError("disk on fire")

    job = runner.submit(boom, name="b")
    with pytest.raises(OSError):
        job.future.result(5)
    assert wait_for(lambda: any(isinstance(e, JobFinished) for e in events))
    fin = next(e for e in events if isinstance(e, JobFinished))
    assert fin.state is JobState.FAILED and "disk on fire" in fin.error


def test_per_node_limit():
    running = []
    peak = []
    lock = threading.Lock()
    release = threading.Event()

    def work(ctx):
        with lock:
            running.append(1)
            peak.append(len(running))
        release.wait(5)
        with lock:
            running.pop()

    # Three workers: a third PACS job let through would hold the last worker (all block on
    # `release`), so `other`, submitted after them, could not run.  Its result proves that
    # only two PACS jobs reached the workers, with no sleep.
    runner = JobRunner(workers=3, per_node_limit=2)
    try:
        jobs = [runner.submit(work, name=f"j{i}", node="PACS") for i in range(5)]
        other = runner.submit(lambda ctx: "other", name="o", node="OTHER")
        assert other.future.result(5) == "other"  # another node is not held up
        assert wait_for(lambda: len(running) == 2)
        assert [j.state for j in jobs[2:]] == [JobState.QUEUED] * 3
        release.set()
        for j in jobs:
            j.future.result(5)
        assert max(peak) == 2
    finally:
        release.set()
        assert runner.shutdown(timeout=5)


def test_a_slot_of_its_own_with_its_own_limit():
    """Retrieves count against "retrieve:PACS" (limit 1 here): the second waits, queued,
    while a job of the node itself (a query) runs at once; a cancelled queued one never
    runs and the next takes the slot."""
    release = threading.Event()
    ran = []

    def work(ctx):
        ran.append(ctx.job_id)
        release.wait(5)

    runner = JobRunner(workers=4, per_node_limit=2)
    try:
        kw = {"node": "PACS", "slot": "retrieve:PACS", "slot_limit": 1}
        first = runner.submit(work, name="r1", **kw)
        second = runner.submit(work, name="r2", **kw)
        third = runner.submit(work, name="r3", **kw)
        assert wait_for(lambda: first.state is JobState.RUNNING)
        query = runner.submit(lambda ctx: "q", name="query", node="PACS")
        assert query.future.result(5) == "q"  # the node's own slots are free
        assert second.state is JobState.QUEUED and third.state is JobState.QUEUED
        second.cancel()
        release.set()
        assert third.future.result(5) is None and first.future.result(5) is None
        assert ran == [first.id, third.id]
        assert second.state is JobState.CANCELLED
    finally:
        release.set()
        assert runner.shutdown(timeout=5)


def test_cancel_running_job_sets_token_and_state(runner):
    started = threading.Event()

    def work(ctx):
        started.set()
        while not ctx.cancelled:
            time.sleep(0.005)
        ctx.check()

    job = runner.submit(work, name="long")
    assert started.wait(5)
    job.cancel()
    assert wait_for(lambda: job.state is JobState.CANCELLED)


def test_cancel_queued_job_never_runs():
    # One worker runs jobs in the order they reach it: had the cancelled job been handed
    # on when a blocker finished, it would run before `after`, so `after`'s result proves
    # it had its chance (no sleep).
    runner = JobRunner(workers=1, per_node_limit=2)
    gate = threading.Event()
    ran = []
    try:
        blockers = [runner.submit(lambda ctx: gate.wait(5), name="b", node="N") for _ in range(2)]
        queued = runner.submit(lambda ctx: ran.append(1), name="q", node="N")
        queued.cancel()
        gate.set()
        for b in blockers:
            b.future.result(5)
        assert wait_for(lambda: queued.state is JobState.CANCELLED)
        # the node's slots are free again
        assert runner.submit(lambda ctx: 1, name="after", node="N").future.result(5) == 1
        assert ran == []
    finally:
        gate.set()
        assert runner.shutdown(timeout=5)


def test_cancel_callback_runs_at_once(runner):
    hits = []
    started = threading.Event()

    def work(ctx):
        ctx.token.on_cancel(lambda: hits.append("abort"))
        started.set()
        ctx.token.wait(5)

    job = runner.submit(work, name="cb")
    assert started.wait(5)
    job.cancel()
    assert wait_for(lambda: hits == ["abort"])


def test_shutdown_cancels_and_refuses_new_work():
    r = JobRunner(workers=2)
    started = threading.Event()

    def work(ctx):
        started.set()
        ctx.token.wait(10)

    r.submit(work, name="w")
    assert started.wait(5)
    t0 = time.monotonic()
    assert r.shutdown(timeout=5)
    assert time.monotonic() - t0 < 2
    with pytest.raises(RuntimeError):
        r.submit(lambda ctx: 1, name="late")


def test_listener_exception_does_not_break_jobs(runner):
    runner.subscribe(lambda e: 1 / 0)
    assert runner.submit(lambda ctx: "ok", name="x").future.result(5) == "ok"


def test_quiet_jobs_are_marked_for_listeners(runner):
    events = []
    runner.subscribe(events.append)
    runner.submit(lambda ctx: 1, name="housekeeping", lane="io", quiet=True).future.result(5)
    runner.submit(lambda ctx: 2, name="user's job").future.result(5)
    assert wait_for(lambda: sum(isinstance(e, JobFinished) for e in events) == 2)
    submitted = {e.name: e.quiet for e in events if isinstance(e, JobSubmitted)}
    assert submitted == {"housekeeping": True, "user's job": False}
