"""The SCP stops at once: a C-MOVE's receiver is started and stopped for each move, so
its stop is part of every move's wall time (pynetdicom's listener polled every 0.5 s)."""

from __future__ import annotations

import socket
import time

from pacsadmin.core.dimse.scp import LocalScp, ScpConfig


def test_stop_returns_within_a_poll_and_frees_the_port(archive):
    took = []
    for _ in range(3):
        scp = LocalScp(archive, ScpConfig(ae_title="STOPME", port=0, bind="127.0.0.1")).start()
        port = scp.port
        time.sleep(0.05)  # the listener is in its wait for connections
        t0 = time.perf_counter()
        scp.stop()
        took.append(time.perf_counter() - t0)
        with socket.socket() as s:  # the port is free again for the next move's receiver
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    assert max(took) < 0.2, took  # was up to 0.5 s each (the accept loop's poll)
