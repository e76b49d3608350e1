"""Two moves at once in one process (the window runs a few retrieves at a time) share the
receiver started for the first: it keeps listening until the last of them ends (the
second used to find the port taken by the first's receiver, which stopped in the middle
of the second's move)."""

from __future__ import annotations

import socket

from pacsadmin.core.dimse.retrieve_listener import local_receiver, probe_local


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return False
    return True


def test_a_receiver_is_shared_and_stopped_by_its_last_user(local, archive):
    first = local_receiver(local, archive, bind="127.0.0.1")
    r1, scp1 = first.__enter__()
    assert r1.started and scp1 is not None
    seen = []
    with local_receiver(
        local, archive, bind="127.0.0.1", on_association=lambda k, r: seen.append(k)
    ) as (
        r2,
        scp2,
    ):
        assert scp2 is scp1 and r2.started and "for another retrieve" in r2.detail
        first.__exit__(None, None, None)  # the first move ends before the second
        assert probe_local(local)  # still answering: the second move's instances land
        assert "open" in seen  # the second's listener hears its associations
    assert not _listening(local.port)  # the last user stopped it
    with local_receiver(local, archive, bind="127.0.0.1") as (r3, scp3):
        assert r3.started and scp3 is not scp1  # a fresh one, not a stopped one
