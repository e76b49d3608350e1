"""The SCP's overall deadline per association, against a slow-drip peer on a raw socket: it
opens an association, starts a C-STORE whose data set it then sends one byte a second.
The watchdog must end it in time, keep no partial file, record why (the record, the audit
log), and the SCP must go on serving other callers meanwhile and after."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse import pdu
from pacsadmin.core.dimse.scp import LocalScp, ScpConfig

pytestmark = pytest.mark.integration

AET = "DEADLINE"
CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"


def _uid(u: str) -> bytes:
    return pdu.pad(u.encode())


def associate_rq(called: str, calling: str) -> bytes:
    """A-ASSOCIATE-RQ (PS3.8 9.3.2) proposing CT Image Storage in Implicit VR LE."""
    body = struct.pack(">HH", 1, 0) + called.ljust(16).encode() + calling.ljust(16).encode()
    body += bytes(32)
    body += pdu.item(0x10, b"1.2.840.10008.3.1.1.1")
    pc = struct.pack(">BBBB", 1, 0, 0, 0) + pdu.item(0x30, _uid(CT))
    pc += pdu.item(0x40, _uid(IMPLICIT_LE))
    body += pdu.item(0x20, pc)
    body += pdu.item(0x50, pdu.item(0x51, struct.pack(">I", 16384)) + pdu.item(0x52, b"1.2.3.4"))
    return struct.pack(">BxI", 0x01, len(body)) + body


def read_pdu(sock: socket.socket) -> tuple[int, bytes]:
    head = b""
    while len(head) < 6:
        chunk = sock.recv(6 - len(head))
        if not chunk:
            raise ConnectionError("closed")
        head += chunk
    kind, length = struct.unpack(">BxI", head)
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return kind, body


def c_store_rq(sop_uid: str) -> bytes:
    return pdu.command(
        [
            pdu.element(0x00000002, None, _uid(CT)),
            pdu.element(0x00000100, "H", 0x0001),
            pdu.element(0x00000110, "H", 1),
            pdu.element(0x00000700, "H", 0),
            pdu.element(0x00000800, "H", 0x0000),  # a data set follows
            pdu.element(0x00001000, None, _uid(sop_uid)),
        ]
    )


class SlowDrip(threading.Thread):
    """Associates, sends the C-STORE-RQ and the first fragment's header promising 64 KiB,
    then one byte a second until the connection ends; notes when it ended."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.accepted = threading.Event()
        self.dripping = threading.Event()
        self.ended_at: float | None = None
        self.sent = 0

    def run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(associate_rq(AET, "DRIPPER"))
            kind, _ = read_pdu(s)
            assert kind == 0x02  # A-ASSOCIATE-AC
            self.accepted.set()
            s.sendall(pdu.p_data(1, c_store_rq("1.2.3.999.1"), True, 0))
            dataset_len = 65536
            s.sendall(struct.pack(">BxIIBB", 0x04, dataset_len + 6, dataset_len + 2, 1, 0x02))
            self.dripping.set()
            s.settimeout(1.0)  # the pace: one byte, then up to a second waiting for an end
            while True:
                try:
                    s.sendall(b"\x08")
                    self.sent += 1
                    if s.recv(1) == b"":  # the SCP says nothing; an end of file is the cut
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
            self.ended_at = time.monotonic()


def echo(port: int) -> bool:
    from pynetdicom import AE

    from pacsadmin.core.dimse.association import quiet_pynetdicom

    quiet_pynetdicom()
    ae = AE("OTHER")
    ae.add_requested_context("1.2.840.10008.1.1")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    assoc = ae.associate("127.0.0.1", port, ae_title=AET)
    if not assoc.is_established:
        return False
    ok = assoc.send_c_echo().Status == 0
    assoc.release()
    return bool(ok)


def test_a_slow_drip_peer_is_cut_at_the_deadline(archive, tmp_path, monkeypatch):
    from pacsadmin.core.dimse import scp_receive

    monkeypatch.setattr(scp_receive, "SPILL", 8)  # stream to the temp file: a partial file
    audit = AuditLog(tmp_path / "audit.db")
    closed: list = []
    done = threading.Event()

    def listener(kind, rec):
        if kind == "close" and rec.calling_ae == "DRIPPER":
            closed.append(rec)
            done.set()

    deadline = 3.0
    cfg = ScpConfig(ae_title=AET, port=0, bind="127.0.0.1", association_deadline=deadline)
    scp = LocalScp(archive, cfg, listener=listener, audit=audit).start()
    try:
        drip = SlowDrip(scp.port)
        t0 = time.monotonic()
        drip.start()
        assert drip.dripping.wait(10)
        assert echo(scp.port)  # served while the drip holds its association
        assert done.wait(deadline + 10), "the slow-drip association was not ended"
        elapsed = time.monotonic() - t0
        drip.join(10)
        assert drip.ended_at is not None and not drip.is_alive()
        assert deadline - 0.5 <= elapsed <= deadline + 3, elapsed
        rec = closed[0]
        assert rec.aborted and rec.stored == 0
        assert any("association deadline of 3 s passed" in e for e in rec.errors)
        assert any("incomplete transfer" in e for e in rec.errors)  # the temp file went
        assert list(archive.layout.tmp_dir.iterdir()) == []
        assert archive.counts()["instances"] == 0
        entries = [e for e in audit.entries() if e.action == "scp-deadline"]
        assert entries and "DRIPPER@127.0.0.1" in entries[0].target
        assert echo(scp.port)  # and after
    finally:
        scp.stop()
