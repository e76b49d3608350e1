"""PDU framing and command-set primitives (core/dimse/pdu.py) against pynetdicom's own
encoders and decoders."""

from __future__ import annotations

import io

import pytest
from pydicom.dataset import Dataset
from pynetdicom.dsutils import decode, encode
from pynetdicom.pdu import A_ABORT_RQ, A_RELEASE_RQ, P_DATA_TF

from pacsadmin.core.dimse.pdu import (
    ProtocolError,
    a_abort,
    a_release_rq,
    command_values,
    p_data_tf,
    pdv_item,
)
from pacsadmin.core.dimse.scp_commands import echo_rsp, store_rsp


def _command_set(**kw) -> bytes:
    ds = Dataset()
    for k, v in kw.items():
        setattr(ds, k, v)
    ds.CommandGroupLength = 0
    data = encode(ds, True, True)
    ds.CommandGroupLength = len(data) - 12
    return encode(ds, True, True)


def test_command_values_reads_what_pynetdicom_encodes():
    raw = _command_set(
        AffectedSOPClassUID="1.2.840.10008.5.1.4.1.1.2",
        CommandField=0x0001,
        MessageID=513,
        Priority=2,
        CommandDataSetType=0x0000,
        AffectedSOPInstanceUID="1.2.3.45",
        MoveOriginatorApplicationEntityTitle="MOVER",
        MoveOriginatorMessageID=7,
    )
    got = command_values(raw)
    assert got[0x0000] == len(raw) - 12
    assert (got[0x0100], got[0x0110], got[0x0700], got[0x0800], got[0x1031]) == (1, 513, 2, 0, 7)
    assert got[0x0002] == b"1.2.840.10008.5.1.4.1.1.2\x00"
    assert got[0x1000] == b"1.2.3.45"
    assert got[0x1030].rstrip() == b"MOVER"


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\x00\x00\x01\x02\x00\x00",  # a header cut short
        b"\x00\x00\x00\x01\x02\x00\x00\x00\x01",  # a value cut short
        b"\x08\x00\x16\x00\x02\x00\x00\x00ab",  # group 0008 in a command set
        b"\x00\x00\x00\x01\x04\x00\x00\x00\x01\x00\x00\x00",  # Command Field not a US
    ],
)
def test_command_values_refuses_damaged_command_sets(raw):
    with pytest.raises(ProtocolError):
        command_values(raw)


def test_abort_and_release_pdus_are_pynetdicoms():
    for source, reason in ((0, 0), (2, 0), (2, 6)):
        pdu = A_ABORT_RQ()
        pdu.source, pdu.reason_diagnostic = source, reason
        assert a_abort(source, reason) == pdu.encode()
    assert a_release_rq() == A_RELEASE_RQ().encode()


def test_p_data_tf_of_several_contexts_is_read_by_pynetdicom():
    raw = p_data_tf([pdv_item(1, 3, b"cmd!"), pdv_item(3, 0, b"da"), pdv_item(3, 2, b"")])
    pdu = P_DATA_TF()
    pdu.decode(raw)
    got = [(i.context_id, i.presentation_data_value) for i in pdu.presentation_data_value_items]
    assert got == [(1, b"\x03cmd!"), (3, b"\x00da"), (3, b"\x02")]


def test_responses_are_the_command_sets_pynetdicom_encodes():
    uid, inst = "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4.5"
    ours = store_rsp(uid, 9, 0xC210, inst, "not archived: no Study Instance UID")
    theirs = _command_set(
        AffectedSOPClassUID=uid,
        CommandField=0x8001,
        MessageIDBeingRespondedTo=9,
        CommandDataSetType=0x0101,
        Status=0xC210,
        ErrorComment="not archived: no Study Instance UID",
        AffectedSOPInstanceUID=inst,
    )
    assert ours == theirs
    assert (
        decode(io.BytesIO(ours), True, True).ErrorComment == "not archived: no Study Instance UID"
    )
    echo = _command_set(
        AffectedSOPClassUID="1.2.840.10008.1.1",
        CommandField=0x8030,
        MessageIDBeingRespondedTo=3,
        CommandDataSetType=0x0101,
        Status=0,
    )
    assert echo_rsp(3) == echo
