"""Fixtures for integration tests with real peers on 127.0.0.1 (see tests/peers.py).

``storescp``, ``dcmqrscp`` and ``orthanc`` each yield a running :class:`tests.peers.Peer`
(``.aet``, ``.host``, ``.port``, ``.pid``, ``.target``, ``.storage``, ``.node()``) and stop
it by PID afterwards.  A missing program skips the test, or fails it when the environment
has ``PACSADMIN_REQUIRE_PEERS=1`` (CI installs DCMTK and Orthanc, so they must run there).

For other set-ups call the ``start_*`` functions through ``start_peer``::

    def test_move(start_peer, tmp_path):
        qr = start_peer(start_dcmqrscp, tmp_path / "qr", hosts=[HostEntry(...)])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.peers import (
    Peer,
    PeerUnavailable,
    start_dcmqrscp,
    start_orthanc,
    start_storescp,
)


def _unavailable(exc: PeerUnavailable) -> None:
    if os.environ.get("PACSADMIN_REQUIRE_PEERS") == "1":
        pytest.fail(f"{exc} (PACSADMIN_REQUIRE_PEERS=1)")
    pytest.skip(str(exc))


@pytest.fixture
def start_peer() -> Iterator[Callable[..., Peer]]:
    """``start_peer(start_fn, workdir, **kw)``: start a peer, stopped after the test."""
    started: list[Peer] = []

    def start(fn: Callable[..., Peer], *args: Any, **kw: Any) -> Peer:
        try:
            peer = fn(*args, **kw)
        except PeerUnavailable as exc:
            _unavailable(exc)
            raise
        started.append(peer)
        return peer

    yield start
    for peer in reversed(started):
        peer.stop()


@pytest.fixture
def storescp(start_peer, tmp_path) -> Peer:
    """DCMTK storescp (AE STORESCP; accepts any called AE title)."""
    return start_peer(start_storescp, tmp_path / "storescp")


@pytest.fixture
def dcmqrscp(start_peer, tmp_path) -> Peer:
    """DCMTK dcmqrscp answering only the called AE title DCMQRSCP."""
    return start_peer(start_dcmqrscp, tmp_path / "dcmqrscp")


@pytest.fixture
def orthanc(start_peer, tmp_path) -> Peer:
    """Orthanc (AE ORTHANC) knowing PACSADMIN@127.0.0.1:11112; REST on ``.http_url``."""
    return start_peer(start_orthanc, tmp_path / "orthanc")
