"""C-MOVE to the local node, C-MOVE to a third party, C-GET and unknown destinations,
against Orthanc and DCMTK dcmqrscp."""

from __future__ import annotations

import time

from pacsadmin.core.dimse.retrieve import get, move, retry_missing
from pacsadmin.core.dimse.retrieve_model import RetrieveProgress, Selection
from pacsadmin.core.dimse.status import Outcome


def _node(peer):
    return peer.node()


def test_move_study_to_local_node(qr, local, archive, dataset, job):
    studies = dataset[0]
    st = studies[0]  # 2 series x 2 instances
    r = move(local, _node(qr), Selection.of(studies=[st.uid]), ctx=job.job, archive=archive)
    assert r.ok, r.summary
    assert r.status == 0
    assert r.expected == len(st.instances) == 4
    assert r.received == 4 and r.missing == ()
    assert r.receiver is not None and r.receiver.started  # nothing listened: started for it
    assert archive.counts()["instances"] == 4
    reports = [e.item for e in job.events if type(e).__name__ == "JobPartial"]
    assert reports and all(isinstance(p, RetrieveProgress) for p in reports)
    assert reports[-1].completed + (reports[-1].remaining or 0) >= 3


def test_move_series_and_instance_learns_parents(qr, local, archive, dataset, job):
    st = dataset[0][1]  # 1 series x 3 instances
    sel = Selection.of(series=[st.series[0]], instances=[dataset[0][3].instances[0]])
    r = move(local, _node(qr), sel, ctx=job.job, archive=archive)
    assert r.ok, r.summary
    assert r.expected == 4 and r.received == 4


def test_move_to_third_party_storescp(qr, local, archive, dataset, third_party, job):
    st = dataset[0][1]

    # storescp names files by SOP instance: a second move of the same study rewrites them
    def files():
        return {p.name: p.stat().st_mtime_ns for p in third_party.storage[0].iterdir()}

    before = files()
    r = move(local, _node(qr), Selection.of(studies=[st.uid]), ctx=job.job, dest_ae="STORESCP")
    assert r.ok, r.summary
    assert r.completed == 3 and r.received is None and r.receiver is None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        new = {k for k, v in files().items() if before.get(k) != v}
        if len(new) >= 3:
            break
        time.sleep(0.1)
    assert len(new) == 3
    assert {n.split(".", 1)[1] for n in new} == set(st.instances)


def test_get_study(qr, local, archive, dataset, job):
    st = dataset[0][0]
    r = get(local, _node(qr), Selection.of(studies=[st.uid]), ctx=job.job, archive=archive)
    assert r.ok, r.summary
    assert r.method == "C-GET" and r.completed == 4 and r.received == 4
    assert archive.counts()["instances"] == 4


def test_unknown_destination_explained(qr, local, archive, dataset, job):
    st = dataset[0][2]
    r = move(local, _node(qr), Selection.of(studies=[st.uid]), ctx=job.job, dest_ae="NOBODY")
    assert not r.ok and r.outcome is Outcome.FAILURE
    if qr.kind == "dcmqrscp":
        assert r.status == 0xA801
        assert "does not know the destination AE title NOBODY" in r.sentence
    else:  # Orthanc answers a bare 0xC000, the likely cause explained
        assert r.status == 0xC000, hex(r.status or 0)
        assert "Unknown destination is likely" in r.advice
        assert "Check that NOBODY is registered at the PACS" in r.advice
        assert r.completed == r.failed == 0 and r.received is None


def test_unknown_local_ae_says_what_to_register(qr, ports, archive, dataset, job):
    from pacsadmin.core.dimse.association import LocalAE

    me = LocalAE("STRANGER", ports["local"])
    r = move(me, _node(qr), Selection.of(studies=[dataset[0][2].uid]), ctx=job.job, archive=archive)
    assert not r.ok
    assert "AE title STRANGER" in r.advice and "127.0.0.1" in r.advice
    assert f"port {ports['local']}" in r.advice


def test_retry_missing_asks_only_for_those(qr, local, archive, dataset, job):
    from dataclasses import replace

    st = dataset[0][0]  # 2 series x 2 instances
    r = move(local, _node(qr), Selection.of(studies=[st.uid]), ctx=job.job, archive=archive)
    assert r.ok, r.summary
    assert len(r.instances) == 4
    # as if one instance, and all of the other series, had not arrived
    one = r.instances[0]
    series = [i for i in r.instances if i.series != one.series]
    gone = (one, *series)
    archive.delete("instance", [i.instance for i in gone])
    assert archive.counts()["instances"] == 1
    prev = replace(r, missing=tuple(i.instance for i in gone), missing_items=gone)
    r2 = retry_missing(local, _node(qr), prev, ctx=job.job, archive=archive)
    assert r2.ok, r2.summary
    assert r2.expected == 3 and r2.received == 3 and r2.missing == ()
    assert r2.completed == 3  # only those: the one still here was not sent again
    assert archive.counts()["instances"] == 4


def test_move_uses_the_local_scp_already_running(qr, local, archive, dataset, job, start_scp):
    scp = start_scp(ae_title=local.ae_title, port=local.port)
    st = dataset[0][1]
    r = move(local, _node(qr), Selection.of(studies=[st.uid]), ctx=job.job, archive=archive)
    assert r.ok, r.summary
    assert r.receiver is not None and not r.receiver.started
    assert "already running" in r.receiver.detail
    assert r.received == 3
    assert sum(rec.stored for rec in scp.finished) == 3  # it was that SCP that received them
