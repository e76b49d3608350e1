"""A small set of studies (three patients, one with a Latin-1 name) loaded into Orthanc
(by its REST API) and DCMTK dcmqrscp (by C-STORE with storescu), once per module."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers import Peer, PeerUnavailable, orthanc_rest, start_dcmqrscp, start_orthanc
from tests.unit.archive.dsgen import make_ds, write

LATIN1_NAME = "Müller^Jürgen"


@dataclass(frozen=True)
class Study:
    uid: str
    patient_name: str
    patient_id: str
    date: str
    series: tuple[str, ...]
    instances: tuple[str, ...]


# (patient name, patient id, study date, charset, series count, instances per series)
PLAN = (
    ("DOE^JOHN", "PID1", "20240105", None, 2, 2),
    ("DOE^JANE", "PID2", "20240120", None, 1, 3),
    ("DOE^JANE", "PID2", "20240301", None, 1, 1),
    (LATIN1_NAME, "PID3", "20240210", "ISO_IR 100", 1, 1),
)


def _unavailable(exc: Exception) -> None:
    if os.environ.get("PACSADMIN_REQUIRE_PEERS") == "1":
        pytest.fail(f"{exc} (PACSADMIN_REQUIRE_PEERS=1)")
    pytest.skip(str(exc))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[list[Study], list[Path]]:
    from pydicom.uid import generate_uid

    root = tmp_path_factory.mktemp("find-data")
    studies, files = [], []
    n = 0
    for name, pid, date, cs, nseries, ninst in PLAN:
        study = generate_uid()
        series, insts = [], []
        for s in range(nseries):
            se = generate_uid()
            series.append(se)
            for i in range(ninst):
                ds = make_ds(
                    patient_name=name,
                    patient_id=pid,
                    study_uid=study,
                    series_uid=se,
                    study_date=date,
                    accession=f"ACC{len(studies) + 1}",
                    series_number=s + 1,
                    instance_number=i + 1,
                    charset=cs,
                    seed=n,
                )
                insts.append(ds.SOPInstanceUID)
                files.append(write(ds, root / f"{n:03d}.dcm"))
                n += 1
        studies.append(Study(study, name, pid, date, tuple(series), tuple(insts)))
    return studies, files


@pytest.fixture(scope="module")
def orthanc_loaded(dataset, tmp_path_factory) -> Iterator[Peer]:
    try:
        peer = start_orthanc(
            tmp_path_factory.mktemp("orthanc"),
            modalities={"pacsadmin": ("PACSADMIN", "127.0.0.1", 11112)},
        )
    except PeerUnavailable as exc:
        _unavailable(exc)
        raise
    try:
        for f in dataset[1]:
            orthanc_rest(peer, "POST", "/instances", f.read_bytes())
        yield peer
    finally:
        peer.stop()


@pytest.fixture(scope="module")
def dcmqrscp_loaded(dataset, tmp_path_factory) -> Iterator[Peer]:
    try:
        peer = start_dcmqrscp(tmp_path_factory.mktemp("dcmqrscp"), aet="DCMQRSCP")
    except PeerUnavailable as exc:
        _unavailable(exc)
        raise
    try:
        env = {**os.environ, "TCP_NODELAY": "1"}
        p = subprocess.run(
            ["storescu", "-aec", peer.aet, "127.0.0.1", str(peer.port)]
            + [str(f) for f in dataset[1]],
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")
        yield peer
    finally:
        peer.stop()


@pytest.fixture(params=["orthanc", "dcmqrscp"])
def pacs(request) -> Peer:
    """Each test runs against both peers."""
    return request.getfixturevalue(f"{request.param}_loaded")
