"""Orthanc and DCMTK dcmqrscp loaded with the find tests' studies (``tests/integration/
find/conftest.py``: three patients, four studies, eight instances), each knowing the
app's AE (PACSADMIN on a free port of 127.0.0.1), a DCMTK storescp as third party
(STORESCP) and an AE registered with a port nobody listens on (WRONGPORT).  Module
scoped: started once per test file."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.find.conftest import _unavailable, dataset  # noqa: F401 - fixture
from tests.peers import (
    HostEntry,
    Peer,
    PeerUnavailable,
    free_port,
    orthanc_rest,
    start_dcmqrscp,
    start_orthanc,
    start_storescp,
)

AET = "PACSADMIN"
HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    """Our port, and a port where nothing listens (WRONGPORT's)."""
    return {"local": free_port(), "wrong": free_port()}


@pytest.fixture(scope="module")
def third_party(tmp_path_factory) -> Iterator[Peer]:
    try:
        peer = start_storescp(tmp_path_factory.mktemp("storescp"))
    except PeerUnavailable as exc:
        _unavailable(exc)
        raise
    yield peer
    peer.stop()


def _destinations(ports: dict[str, int], third: Peer) -> dict[str, tuple[str, str, int]]:
    return {
        "pacsadmin": (AET, HOST, ports["local"]),
        "storescp": (third.aet, HOST, third.port),
        "wrongport": ("WRONGPORT", HOST, ports["wrong"]),
    }


@pytest.fixture(scope="module")
def orthanc_qr(dataset, ports, third_party, tmp_path_factory) -> Iterator[Peer]:  # noqa: F811
    try:
        peer = start_orthanc(
            tmp_path_factory.mktemp("orthanc"),
            modalities=_destinations(ports, third_party),
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
def dcmqrscp_qr(dataset, ports, third_party, tmp_path_factory) -> Iterator[Peer]:  # noqa: F811
    hosts = [HostEntry(k, *v) for k, v in _destinations(ports, third_party).items()]
    try:
        peer = start_dcmqrscp(tmp_path_factory.mktemp("dcmqrscp"), hosts=hosts)
    except PeerUnavailable as exc:
        _unavailable(exc)
        raise
    try:
        p = subprocess.run(
            ["storescu", "-aec", peer.aet, HOST, str(peer.port)] + [str(f) for f in dataset[1]],
            env={**os.environ, "TCP_NODELAY": "1"},
            capture_output=True,
            timeout=120,
        )
        assert p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")
        yield peer
    finally:
        peer.stop()


@pytest.fixture(params=["orthanc", "dcmqrscp"])
def qr(request) -> Peer:
    """Each test runs against both peers."""
    return request.getfixturevalue(f"{request.param}_qr")


@pytest.fixture
def local(ports) -> Any:
    from pacsadmin.core.dimse.association import LocalAE
    from pacsadmin.core.settings import Timeouts

    return LocalAE(AET, ports["local"], timeouts=Timeouts(connect=5, acse=10, dimse=20, network=30))


class Ctx:
    """A JobContext that keeps what the job reported."""

    def __init__(self) -> None:
        from pacsadmin.core.jobs import CancelToken, JobContext

        self.token = CancelToken()
        self.events: list[Any] = []
        self.job = JobContext(0, self.token, self.events.append)


@pytest.fixture
def job() -> Ctx:
    return Ctx()


BIG = 120  # instances of the "big" study: enough pending responses to act in the middle


@pytest.fixture(scope="module")
def big_study(tmp_path_factory) -> tuple[str, list[str], list[Any]]:
    """(study UID, SOP Instance UIDs, files) of one series of BIG 256x256 CT images."""
    from pydicom.uid import generate_uid

    from tests.unit.archive.dsgen import make_ds, write

    root = tmp_path_factory.mktemp("big")
    study, series = generate_uid(), generate_uid()
    uids, files = [], []
    for i in range(BIG):
        ds = make_ds(
            patient_id="PIDBIG",
            study_uid=study,
            series_uid=series,
            instance_number=i + 1,
            rows=256,
            columns=256,
            seed=i,
        )
        uids.append(ds.SOPInstanceUID)
        files.append(write(ds, root / f"{i:03d}.dcm"))
    return study, uids, files


def store_into(peer: Peer, files: list[Any]) -> None:
    """C-STORE files into a peer with DCMTK storescu (Orthanc and dcmqrscp accept it)."""
    p = subprocess.run(
        ["storescu", "-aec", peer.aet, "-aet", "LOADER", HOST, str(peer.port)]
        + [str(f) for f in files],
        env={**os.environ, "TCP_NODELAY": "1"},
        capture_output=True,
        timeout=300,
    )
    assert p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")


_loaded: set[int] = set()


@pytest.fixture
def qr_big(qr, big_study) -> Peer:
    """``qr`` holding the big study too (loaded once per peer)."""
    if id(qr) not in _loaded:
        store_into(qr, big_study[2])
        _loaded.add(id(qr))
    return qr


def children(pid: int) -> list[int]:
    """The PIDs whose parent is ``pid`` (dcmqrscp forks one per association)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out
