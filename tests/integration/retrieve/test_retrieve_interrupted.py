"""A C-MOVE cancelled in the middle, a peer that dies in the middle of one, and a peer
that aborts mid-file and mid-move: the archive keeps only complete files (verify clean,
tmp/ empty) and the accounting reconciles with the index."""

from __future__ import annotations

import os
import signal
import time

from pacsadmin.core.dimse.retrieve import move
from pacsadmin.core.dimse.retrieve_model import RetrieveProgress, Selection
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.jobs import CancelToken, JobContext
from tests.integration.retrieve.conftest import BIG, children


def _in_index(archive, uids):
    from pacsadmin.core.dimse.retrieve_account import present

    return present(archive, uids, 0)[0]


def _no_partial_files(archive):
    rep = archive.verify()
    assert rep.ok, rep.to_json()
    assert rep.files == rep.indexed and rep.temp_files == 0
    assert list(archive.layout.tmp_dir.iterdir()) == []
    # and as the admin sees it: `pacsadmin archive verify` (the archive is HOME/archive)
    from tests.peers import app_cli

    assert archive.layout.root.name == "archive"
    p = app_cli(archive.layout.root.parent, "archive", "verify")
    out = p.stdout.decode()
    assert p.returncode == 0 and "OK: index and files agree" in out, out + p.stderr.decode()
    assert f"{rep.indexed} indexed instance(s), {rep.files} file(s)" in out


def test_cancel_in_the_middle_of_a_move(qr_big, local, archive, big_study):
    study, uids, _ = big_study
    token = CancelToken()
    seen = []

    def emit(event):
        item = getattr(event, "item", None)
        if isinstance(item, RetrieveProgress):
            seen.append(item)
            if item.completed >= 3:
                token.cancel()  # from the reporting thread, in the middle of the move

    r = move(
        local,
        qr_big.node(),
        Selection.of(studies=[study]),
        ctx=JobContext(0, token, emit),
        archive=archive,
        cancel_grace=3.0,
    )
    assert r.cancelled and r.outcome is Outcome.CANCEL and not r.ok
    assert r.cancel_msg_id == r.msg_id  # the C-CANCEL named the request's Message ID
    assert r.status == 0xFE00 or r.aborted, r.sentence
    assert 3 <= r.received < BIG  # stopped in the middle
    got = _in_index(archive, uids)
    assert r.received == len(got) and set(r.missing) == set(uids) - got
    _no_partial_files(archive)


def test_peer_dies_in_the_middle_of_a_move(dcmqrscp_qr, local, archive, big_study, start_peer):
    from tests.integration.retrieve.conftest import store_into

    qr = dcmqrscp_qr
    store_into(qr, big_study[2])
    study, uids, _ = big_study
    token = CancelToken()
    killed = []

    def emit(event):
        item = getattr(event, "item", None)
        if isinstance(item, RetrieveProgress) and item.completed >= 3 and not killed:
            # dcmqrscp serves each association in a child: the one running our move dies
            for pid in children(qr.pid):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    r = move(
        local,
        qr.node(),
        Selection.of(studies=[study]),
        ctx=JobContext(0, token, emit),
        archive=archive,
        late_grace=1.0,
    )
    assert killed
    assert not r.ok and r.outcome is Outcome.FAILURE and r.status is None
    assert "before the C-MOVE finished" in r.sentence
    got = _in_index(archive, uids)
    assert 3 <= len(got) < BIG
    assert r.received == len(got) and set(r.missing) == set(uids) - got
    assert f"{len(got)} of {BIG} instances are in the archive" in r.sentence
    _no_partial_files(archive)


def test_ctrl_c_in_the_cli_cancels_the_move_and_exits_130(qr_big, ports, big_study, tmp_path):
    """SIGINT at the first progress line: a C-CANCEL naming the request's Message ID,
    the accounting of what arrived printed, exit 130."""
    import json
    import subprocess

    from tests.peers import app_argv

    proc = subprocess.Popen(
        app_argv(
            tmp_path / "home",
            "move",
            qr_big.target,
            "--study",
            big_study[0],
            "--port",
            str(ports["local"]),
            "--bind",
            "127.0.0.1",
            "--json",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines = []
    for raw in proc.stderr:
        lines.append(raw.decode(errors="replace"))
        if "completed" in lines[-1]:
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(lines) + err.decode(errors="replace")
    result = json.loads(out.decode().split("\n", 1)[1])
    assert result["cancelled"] and result["cancel_msg_id"] is not None
    assert result["received"] < BIG and len(result["missing"]) == BIG - result["received"]


def test_peer_aborts_mid_file_and_mid_move(local, archive, tmp_path):
    """A PACS (pynetdicom move SCP) that sends 3 of 6 instances whole, starts a 4th on a
    sub-association of its own (the C-STORE-RQ and half the data set, then an A-ABORT),
    and then aborts the C-MOVE association: the archive keeps the 3 complete files and
    nothing of the 4th (verify clean, tmp/ empty), and the report reconciles: 3 received,
    3 missing, the abort named."""
    import socket
    import struct
    import threading

    from pydicom import dcmread
    from pynetdicom import AE, evt
    from pynetdicom.dsutils import encode
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

    from pacsadmin.core.dimse.find_fast import FastFind
    from pacsadmin.core.dimse.pdu import command, element
    from pacsadmin.core.dimse.retrieve_model import Expected, Item
    from pacsadmin.core.settings import Timeouts
    from tests.unit.archive.dsgen import make_ds, write

    study, series = "1.2.826.0.1.3680043.10.1442.7.1", "1.2.826.0.1.3680043.10.1442.7.2"
    files = [
        write(
            make_ds(
                study_uid=study,
                series_uid=series,
                instance_number=i + 1,
                rows=128,
                columns=128,
                seed=i,
            ),
            tmp_path / f"{i}.dcm",
        )
        for i in range(6)
    ]
    datasets = [dcmread(f) for f in files]
    uids = [str(ds.SOPInstanceUID) for ds in datasets]
    half_sent = threading.Event()

    def partial_store(ds) -> None:
        """Associate with the receiver, send the C-STORE-RQ and half the data set as
        P-DATA fragments (the last one not marked last), then A-ABORT and close."""
        with socket.create_connection(("127.0.0.1", local.port), timeout=10) as sock:
            t = Timeouts(connect=5, acse=10, dimse=10, network=10)
            raw = FastFind(sock, t)
            assert raw.associate(local.ae_title, "ABORTER", str(ds.SOPClassUID), 0)
            cmd = command(
                [
                    element(0x00000002, None, str(ds.SOPClassUID).encode()),
                    element(0x00000100, "H", 0x0001),
                    element(0x00000110, "H", 1),
                    element(0x00000700, "H", 0),
                    element(0x00000800, "H", 0x0000),
                    element(0x00001000, None, str(ds.SOPInstanceUID).encode()),
                ]
            )
            raw.send(cmd, True)
            data = encode(ds, raw.implicit, True)
            half = data[: len(data) // 2]
            pdv = struct.pack(">IBB", len(half) + 2, raw.context_id, 0x00) + half
            sock.sendall(struct.pack(">BxI", 0x04, len(pdv)) + pdv)
            time.sleep(0.3)  # the receiver is now writing the 4th file's temp file
            raw.send_abort()
        half_sent.set()

    def on_move(event):
        yield "127.0.0.1", local.port
        yield 6
        for ds in datasets[:3]:
            yield 0xFF00, ds
        partial_store(datasets[3])
        event.assoc.abort()  # the PACS gives up mid-move
        yield 0xFE00, None  # never sent: the association is gone

    ae = AE("ABORTER")
    ae.add_supported_context(MOVE)
    ae.add_requested_context(datasets[0].SOPClassUID, "1.2.840.10008.1.2.1")
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_MOVE, on_move)]
    )
    try:
        from pacsadmin.core.nodes import DicomNode

        node = DicomNode("aborter", "ABORTER", "127.0.0.1", server.server_address[1]).validated()
        exp = Expected(
            (Item("STUDY", study),),
            tuple(Item("IMAGE", study, series, u) for u in uids),
            6,
            how="given",
        )
        r = move(
            local,
            node,
            Selection.of(studies=[study]),
            ctx=JobContext(0, CancelToken(), lambda e: None),
            archive=archive,
            expected=exp,
            late_grace=1.0,
        )
    finally:
        server.shutdown()
    assert half_sent.is_set()
    assert not r.ok and r.outcome is Outcome.FAILURE and r.status is None, r.sentence
    assert "before the C-MOVE finished" in r.sentence and "aborted" in r.sentence.lower()
    assert "3 of 6 instances are in the archive" in r.sentence, r.sentence
    assert r.completed == 3 and r.received == 3
    assert set(r.missing) == set(uids[3:])
    assert _in_index(archive, uids) == set(uids[:3])
    _no_partial_files(archive)


def test_orthanc_dies_in_the_middle_of_a_move(local, archive, big_study, start_peer, tmp_path):
    """An Orthanc of its own, killed (SIGKILL) once 3 instances are reported completed:
    the C-MOVE association and its C-STORE sub-association break wherever they are; the
    archive keeps only complete files and the report reconciles with the index."""
    from tests.integration.retrieve.conftest import AET, HOST, store_into
    from tests.peers import start_orthanc

    o = start_peer(
        start_orthanc, tmp_path / "orthanc", modalities={"pacsadmin": (AET, HOST, local.port)}
    )
    store_into(o, big_study[2])
    study, uids, _ = big_study
    killed = []

    def emit(event):
        item = getattr(event, "item", None)
        if isinstance(item, RetrieveProgress) and item.completed >= 3 and not killed:
            os.kill(o.pid, signal.SIGKILL)
            killed.append(o.pid)

    r = move(
        local,
        o.node(),
        Selection.of(studies=[study]),
        ctx=JobContext(0, CancelToken(), emit),
        archive=archive,
        late_grace=1.0,
    )
    assert killed
    assert not r.ok and r.outcome is Outcome.FAILURE and r.status is None, r.sentence
    assert "before the C-MOVE finished" in r.sentence
    got = _in_index(archive, uids)
    assert 3 <= len(got) < BIG
    assert r.received == len(got) and set(r.missing) == set(uids) - got
    assert f"{len(got)} of {BIG} instances are in the archive" in r.sentence
    _no_partial_files(archive)
