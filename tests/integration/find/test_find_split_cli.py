"""``pacsadmin find --split-days``: one query per day of the date range, merged, against
Orthanc and dcmqrscp holding studies on several dates; a query without a range is a usage
error before any traffic."""

from __future__ import annotations

import json

import pytest

from tests.peers import app_cli

pytestmark = pytest.mark.integration


def test_split_days_asks_each_day_and_merges(pacs, dataset, tmp_path):
    studies, _ = dataset
    p = app_cli(
        tmp_path, "find", pacs.target, "-k", "StudyDate=20240101-20240215", "--split-days", "--json"
    )
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    rows = json.loads(p.stdout)
    want = {s.uid for s in studies if "20240101" <= s.date <= "20240215"}
    assert len(want) == 3 and len(rows) == 3
    assert {r["StudyInstanceUID"] for r in rows} == want
    err = p.stderr.decode()
    assert "Asked 46 of 46 day(s) of StudyDate:" in err
    assert "20240105: 1 match(es), 1 new" in err and "20240210: 1 match(es), 1 new" in err
    assert "20240106: 0 match(es)" in err
    assert "Completed day by day: 46 day(s), 3 match(es)." in err


def test_split_days_needs_a_range(tmp_path):
    p = app_cli(tmp_path, "find", "X@127.0.0.1:9", "-k", "PatientName=A*", "--split-days")
    assert p.returncode == 2
    assert "needs a date range" in p.stderr.decode()
    p = app_cli(tmp_path, "find", "X@127.0.0.1:9", "-k", "StudyDate=-20240101", "--split-days")
    assert p.returncode == 2 and "has no first day" in p.stderr.decode()


@pytest.fixture(scope="module")
def capped_orthanc(tmp_path_factory):
    from tests.capped_peer import start_capped_orthanc
    from tests.peers import PeerUnavailable

    try:
        peer, studies = start_capped_orthanc(tmp_path_factory.mktemp("capped"))
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    yield peer, studies
    peer.stop()


def test_a_peer_at_its_limit_is_capped_and_the_split_gets_everything(capped_orthanc, tmp_path):
    """Orthanc's LimitFindResults ends the C-FIND with 0xFE00 though we sent no C-CANCEL:
    that is a capped answer (exit 0, a warning), not a cancel; day by day gets all 210."""
    from tests.capped_peer import LIMIT, RANGE

    peer, studies = capped_orthanc
    p = app_cli(tmp_path, "find", peer.target, "-k", f"StudyDate={RANGE}", "--json")
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert len(json.loads(p.stdout)) == LIMIT
    err = p.stderr.decode()
    assert "stopped at its limit" in err and "Cancelled" not in err
    p = app_cli(tmp_path, "find", peer.target, "-k", f"StudyDate={RANGE}", "--split-days", "--json")
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    rows = json.loads(p.stdout)
    assert {r["StudyInstanceUID"] for r in rows} == set(studies) and len(rows) == 210
    err = p.stderr.decode()
    assert "20240103: 80 match(es), 80 new" in err and "still capped" not in err
