"""Cancel in the middle of a long C-FIND against Orthanc and DCMTK dcmqrscp: an IMAGE-level
query of one series of 2,000 instances, cancelled after 20 matches.  Both peers honour the
C-CANCEL (measured: they stop after 40-450 of the 2,000 and answer 0xFE00), so the final
status proves that the C-CANCEL named the request's Message ID; what arrived is kept,
and the association ends cleanly (the next query on it works)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.find import find
from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.jobs import CancelToken, JobContext, JobPartial
from tests.peers import Peer, PeerUnavailable, start_dcmqrscp, start_orthanc

from .conftest import _unavailable

pytestmark = pytest.mark.integration
N = 2000
AFTER = 20


@pytest.fixture(scope="module")
def long_series(tmp_path_factory) -> tuple[str, str, object]:
    from pydicom.uid import generate_uid

    from tests.unit.archive.dsgen import make_ds, write

    folder = tmp_path_factory.mktemp("long")
    study, series = generate_uid(), generate_uid()
    for i in range(N):
        ds = make_ds(
            patient_id="LONG", study_uid=study, series_uid=series, instance_number=i + 1, seed=i
        )
        write(ds, folder / f"{i:05d}.dcm")
    return study, series, folder


def _storescu(peer: Peer, folder) -> None:
    p = subprocess.run(
        ["storescu", "-aec", peer.aet, "+sd", "127.0.0.1", str(peer.port), str(folder)],
        env={**os.environ, "TCP_NODELAY": "1"},
        capture_output=True,
        timeout=600,
    )
    assert p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")[-2000:]


@pytest.fixture(scope="module", params=["orthanc", "dcmqrscp"])
def long_pacs(request, long_series, tmp_path_factory) -> Iterator[Peer]:
    start = start_orthanc if request.param == "orthanc" else start_dcmqrscp
    try:
        peer = start(tmp_path_factory.mktemp(request.param))
    except PeerUnavailable as exc:
        _unavailable(exc)
        raise
    try:
        _storescu(peer, long_series[2])
        yield peer
    finally:
        peer.stop()


@pytest.mark.parametrize("engine", ["fast", "pynetdicom"])
def test_cancel_a_long_find_at_a_real_pacs(long_pacs, long_series, engine):
    study, series, _ = long_series
    token = CancelToken()
    seen: list = []

    def listener(e):
        if isinstance(e, JobPartial):
            seen.append(e.item)
            if len(seen) == AFTER:
                token.cancel()  # on the worker, between two responses, as the GUI's would

    q = FindQuery(
        "study", "IMAGE", keys=(("StudyInstanceUID", study), ("SeriesInstanceUID", series))
    )
    r = find(
        LocalAE(),
        long_pacs.node(),
        q,
        ctx=JobContext(1, token, listener),
        timeout=60,
        engine=engine,
    )
    assert r.cancelled and r.outcome is Outcome.CANCEL, (r.sentence, long_pacs.log()[-2000:])
    assert r.status == 0xFE00 and not r.aborted, r.sentence
    assert "peer confirmed" in r.sentence
    assert r.cancel_msg_id == r.msg_id
    assert AFTER <= len(r.matches) < N and list(r.matches) == seen
    assert not r.capped and not r.unreadable
    # the whole series is still there for a query that is not cancelled
    r2 = find(
        LocalAE(),
        long_pacs.node(),
        q,
        ctx=JobContext(1, CancelToken(), lambda e: None),
        timeout=60,
        engine=engine,
    )
    assert r2.outcome is Outcome.SUCCESS and len(r2.matches) == N, r2.sentence
