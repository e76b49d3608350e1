"""A hand-written DICOM peer over a plain socket, its bytes built with
``pacsadmin.core.dimse.pdu``: for the protocol's corner cases that real SCUs never send
(a command set split over PDUs, PDVs of several contexts in one PDU, an A-RELEASE in the
middle of a data set, malformed PDUs)."""

from __future__ import annotations

import socket
import struct

from pacsadmin.core.dimse.pdu import (
    PduReader,
    command,
    command_values,
    element,
    item,
    p_data_tf,
    pdv_item,
)

APP_CONTEXT = b"1.2.840.10008.3.1.1.1"
EXPLICIT = "1.2.840.10008.1.2.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
VERIFICATION = "1.2.840.10008.1.1"
FIND = "1.2.840.10008.5.1.4.1.2.2.1"  # Study Root C-FIND


def associate_rq(
    called: str, calling: str, contexts: list[tuple[int, str, str]], max_pdu: int
) -> bytes:
    body = struct.pack(">HH", 1, 0) + called.encode().ljust(16) + calling.encode().ljust(16)
    body += b"\x00" * 32 + item(0x10, APP_CONTEXT)
    for cid, abstract, ts in contexts:
        pc = bytes([cid, 0, 0, 0]) + item(0x30, abstract.encode()) + item(0x40, ts.encode())
        body += item(0x20, pc)
    user = item(0x51, struct.pack(">I", max_pdu)) + item(0x52, b"1.2.826.0.1.3680043.10.1442.9")
    body += item(0x50, user)
    return struct.pack(">BxI", 0x01, len(body)) + body


def store_rq(msg_id: int, sop_class: str, inst: str) -> bytes:
    return command(
        [
            element(0x00000002, None, sop_class.encode()),
            element(0x00000100, "H", 0x0001),
            element(0x00000110, "H", msg_id),
            element(0x00000700, "H", 0),
            element(0x00000800, "H", 0x0000),
            element(0x00001000, None, inst.encode()),
        ]
    )


def echo_rq(msg_id: int) -> bytes:
    return command(
        [
            element(0x00000002, None, VERIFICATION.encode()),
            element(0x00000100, "H", 0x0030),
            element(0x00000110, "H", msg_id),
            element(0x00000800, "H", 0x0101),
        ]
    )


class RawPeer:
    """One association with ``contexts`` [(id, abstract syntax, transfer syntax)]."""

    def __init__(
        self,
        port: int,
        called: str,
        contexts: list[tuple[int, str, str]],
        *,
        max_pdu: int = 16384,
        timeout: float = 10.0,
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = PduReader(self.sock, timeout)
        self.sock.sendall(associate_rq(called, "RAWPEER", contexts, max_pdu))
        kind, body = self.reader.next()
        if kind != 0x02:
            raise AssertionError(f"association not accepted: PDU type {kind}")
        self.accepted: set[int] = set()
        pos = 68
        while pos + 4 <= len(body):
            k, length = body[pos], struct.unpack_from(">H", body, pos + 2)[0]
            it = body[pos + 4 : pos + 4 + length]
            if k == 0x21 and it[2] == 0:
                self.accepted.add(it[0])
            pos += 4 + length

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_pdu(self) -> tuple[int, bytes]:
        return self.reader.next()

    def response(self) -> dict[int, int | bytes]:
        """The next DIMSE response's command set (reads P-DATA-TF PDUs until it is whole;
        what follows it in its PDU is dropped: pynetdicom sends one PDV per PDU)."""
        cmd = b""
        while True:
            kind, body = self.reader.next()
            if kind != 0x04:
                raise AssertionError(f"PDU type {kind} instead of a response: {body!r}")
            pos = 0
            while pos < len(body):
                length, _cid, mch = struct.unpack_from(">IBB", body, pos)
                if mch & 1:  # data set fragments (a C-FIND's identifier) are skipped
                    cmd += body[pos + 6 : pos + 4 + length]
                pos += 4 + length
                if mch & 3 == 3:
                    return command_values(cmd)

    def raw_response(self) -> bytes:
        """The next PDU's bytes as received (a response that fits one PDU)."""
        kind, body = self.reader.next()
        return struct.pack(">BxI", kind, len(body)) + body

    def store(self, cid: int, msg_id: int, sop_class: str, inst: str, data: bytes, frag: int):
        """Send one C-STORE-RQ: the command in one PDV, the data set in ``frag``-byte
        fragments, each in a P-DATA-TF of its own."""
        self.send(p_data_tf([pdv_item(cid, 3, store_rq(msg_id, sop_class, inst))]))
        for i in range(0, len(data), frag):
            last = 2 if i + frag >= len(data) else 0
            self.send(p_data_tf([pdv_item(cid, last, data[i : i + frag])]))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
