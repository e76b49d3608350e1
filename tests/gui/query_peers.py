"""Peers for the Query panel's GUI tests: the app's own Q/R SCP (``pacsadmin serve``, a
process of its own) over a big archive index, and a slow pynetdicom SCP that honours a
C-CANCEL and records it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from tests.bigarchive import build_index
from tests.peers import Peer, _launch, _retry_ports, free_port, serve_argv

SERVE_AET = "BIGSCP"


def study_uid(s: int) -> str:
    """The Study Instance UID of study ``s`` (1-based) in ``tests/bigarchive.py``."""
    return f"1.2.826.0.1.3680043.10.999.{s}"


def add_instance(archive_root: Path, study: int) -> None:
    """A second instance in study ``study``'s series (the peer then reports 2)."""
    from pacsadmin.core.archive import index as idx
    from pacsadmin.core.archive.layout import Layout

    con = idx.connect(Layout.create(archive_root).index_path)
    try:
        con.execute(
            "INSERT INTO instances(series_pk, sop_uid, sop_class_uid, instance_number, path, size)"
            " VALUES (?, ?, '1.2.840.10008.5.1.4.1.1.2', 2, ?, 1000)",
            (study, f"{study_uid(study)}.1.2", f"data/ff/extra{study}.dcm"),
        )
        con.commit()
    finally:
        con.close()


def start_big_serve(home: Path, n: int) -> Peer:
    """``pacsadmin serve`` over an index of ``n`` one-image studies (study 1 has two)."""
    build_index(home / "archive", n)
    add_instance(home / "archive", 1)

    def start() -> Peer:
        port = free_port()
        argv = serve_argv(home, SERVE_AET, port)
        return _launch("serve", argv, home / "serve-run", [port],
                       lambda proc: Peer("serve", SERVE_AET, port, proc, home / "serve-run"))  # fmt: skip

    return _retry_ports(start)


class SlowFindScp:
    """A pynetdicom Study Root C-FIND SCP answering one match every 10 ms; it stops with
    0xFE00 when a C-CANCEL arrives and records the Message ID it named."""

    def __init__(self, *, bad_every: int = 0, count: int = 100_000, delay: float = 0.01) -> None:
        """``bad_every``: every n-th match has a name in Latin-1 bytes and no Specific
        Character Set (undecodable); ``count`` matches, one per ``delay`` seconds."""
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

        self.bad_every, self.count, self.delay = bad_every, count, delay
        self.received: dict[str, int] = {}
        self.sent = 0
        self.stopped = threading.Event()
        ae = AE("SLOWSCP")
        ae.add_supported_context(FIND)
        self.server: Any = ae.start_server(
            ("127.0.0.1", 0),
            block=False,
            evt_handlers=[(evt.EVT_C_FIND, self._on_find), (evt.EVT_DIMSE_RECV, self._on_recv)],
        )
        self.port = self.server.server_address[1]
        self.target = f"SLOWSCP@127.0.0.1:{self.port}"

    def _on_find(self, event: Any) -> Any:
        from pydicom.dataset import Dataset

        self.received["find_msg_id"] = int(event.request.MessageID)
        for k in range(self.count):
            if event.is_cancelled or self.stopped.is_set():
                yield 0xFE00, None
                return
            ds = Dataset()
            ds.QueryRetrieveLevel = "STUDY"
            if self.bad_every and k % self.bad_every == self.bad_every - 1:
                ds.add_new(0x00100010, "PN", b"M\xfcller^Bad")  # Latin-1, no charset
            else:
                ds.PatientName = f"SLOW^{k}"
            ds.PatientID = f"S{k:05d}"
            ds.StudyInstanceUID = f"1.2.3.{k}"
            self.sent += 1
            time.sleep(self.delay)
            yield 0xFF00, ds

    def _on_recv(self, event: Any) -> None:
        if type(event.message).__name__ == "C_CANCEL_RQ":
            self.received["cancel_for"] = int(event.message.command_set.MessageIDBeingRespondedTo)

    def close(self) -> None:
        self.stopped.set()
        self.server.shutdown()
