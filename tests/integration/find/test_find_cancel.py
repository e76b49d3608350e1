"""Cancel in the middle of a long C-FIND: a real C-CANCEL naming the request's Message ID,
read on to the final response, abort after the grace period when the peer ignores it."""

from __future__ import annotations

import threading
import time

import pytest

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.find import find
from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.jobs import CancelToken, JobContext, JobPartial
from pacsadmin.core.nodes import DicomNode

pytestmark = pytest.mark.integration
N_STUDIES = 20000


def _fill(archive, n):
    from pacsadmin.core.archive import index as idx
    from pacsadmin.core.archive.meta import InstanceMeta

    def fill(con):
        for k in range(n):
            m = InstanceMeta(
                f"9.{k}",
                "1.2",
                f"8.{k}",
                f"7.{k}",
                "1.2.840.10008.1.2.1",
                patient_id=f"P{k}",
                patient_name=f"LONG^{k}",
                study_description="LONG QUERY",
            )
            idx.insert_instance(con, m, path=f"data/00/x{k}.dcm", size=1, received_at=0, source="")

    archive.writer.call(fill, 300)


def _cancelling_ctx(after: int) -> tuple[JobContext, list]:
    """A context whose token is cancelled once ``after`` matches were reported (on the
    worker thread, as a GUI's cancel would arrive between two responses)."""
    token = CancelToken()
    seen: list = []

    def listener(e):
        if isinstance(e, JobPartial):
            seen.append(e.item)
            if len(seen) == after:
                token.cancel()

    return JobContext(1, token, listener), seen


@pytest.mark.parametrize("engine", ["fast", "pynetdicom"])
def test_cancel_a_long_find_at_the_apps_own_scp(start_scp, archive, engine):
    """The app's SCP (bulk C-FIND) stops with 0xFE00 only when the C-CANCEL's Message ID
    Being Responded To equals the C-FIND-RQ's Message ID (pynetdicom matches them), so
    the final status proves the ID; the matches that arrived are kept."""
    _fill(archive, N_STUDIES)
    scp = start_scp()
    node = DicomNode("scp", scp.config.ae_title, "127.0.0.1", scp.port).validated()
    q = FindQuery("study", "STUDY", keys=(("StudyDescription", "LONG*"),))
    ctx, seen = _cancelling_ctx(after=200)
    t0 = time.monotonic()
    r = find(LocalAE(), node, q, ctx=ctx, timeout=30, engine=engine)
    assert r.cancelled and r.outcome is Outcome.CANCEL, r.sentence
    assert r.status == 0xFE00, r.sentence
    assert r.cancel_msg_id == r.msg_id and not r.aborted
    assert 200 <= len(r.matches) < N_STUDIES
    assert list(r.matches) == seen
    assert "peer confirmed" in r.sentence and not r.capped
    assert time.monotonic() - t0 < 20
    # the association ended cleanly: the next query on the same SCP works
    r2 = find(LocalAE(), node, FindQuery(keys=(("PatientID", "P7"),)), ctx=_cancelling_ctx(0)[0])
    assert r2.outcome is Outcome.SUCCESS and [m.get("PatientName") for m in r2.matches] == [
        "LONG^7"
    ]


@pytest.mark.parametrize("engine", ["fast", "pynetdicom"])
def test_a_peer_that_ignores_the_cancel_is_aborted_after_the_grace_period(engine):
    """A bare pynetdicom SCP that keeps answering after the C-CANCEL: it records the
    C-CANCEL it received, and we close the connection after the grace period."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    received: dict[str, int] = {}
    stop = threading.Event()

    def on_find(event):
        received["find_msg_id"] = int(event.request.MessageID)
        for k in range(100000):
            if stop.is_set():
                return
            ds = Dataset()
            ds.QueryRetrieveLevel = "STUDY"
            ds.PatientID = f"S{k}"
            time.sleep(0.01)
            yield 0xFF00, ds  # never looks at event.is_cancelled

    def on_recv(event):
        if type(event.message).__name__ == "C_CANCEL_RQ":
            received["cancel_for"] = int(event.message.command_set.MessageIDBeingRespondedTo)

    ae = AE("SLOWSCP")
    ae.add_supported_context(FIND)
    server = ae.start_server(
        ("127.0.0.1", 0),
        block=False,
        evt_handlers=[(evt.EVT_C_FIND, on_find), (evt.EVT_DIMSE_RECV, on_recv)],
    )
    try:
        port = server.server_address[1]
        node = DicomNode("slow", "SLOWSCP", "127.0.0.1", port).validated()
        ctx, _ = _cancelling_ctx(after=5)
        t0 = time.monotonic()
        r = find(LocalAE(), node, FindQuery(), ctx=ctx, timeout=30, cancel_grace=1.0, engine=engine)
        took = time.monotonic() - t0
    finally:
        stop.set()
        server.shutdown()
    assert r.cancelled and r.aborted and r.outcome is Outcome.CANCEL, r.sentence
    assert "ignored the C-CANCEL" in r.sentence
    assert r.status is None and len(r.matches) >= 5
    assert [m.get("PatientID") for m in r.matches[:5]] == [f"S{k}" for k in range(5)]
    assert received["cancel_for"] == received["find_msg_id"] == r.msg_id == r.cancel_msg_id
    assert 1.0 <= took < 10, took


def test_a_round_count_says_the_pacs_probably_capped_it(start_scp, archive):
    _fill(archive, 500)
    scp = start_scp()
    node = DicomNode("scp", scp.config.ae_title, "127.0.0.1", scp.port).validated()
    ctx = JobContext(1, CancelToken(), lambda e: None)
    r = find(LocalAE(), node, FindQuery(keys=(("StudyDescription", "LONG*"),)), ctx=ctx)
    assert r.outcome is Outcome.SUCCESS and len(r.matches) == 500
    assert "probably capped" in r.capped and r.capped in r.summary
    r = find(LocalAE(), node, FindQuery(keys=(("PatientID", "P1*"),)), ctx=ctx)
    assert len(r.matches) == 111 and r.capped == ""  # P1, P10-P19, P100-P199
