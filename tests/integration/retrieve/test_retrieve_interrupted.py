"""A C-MOVE cancelled in the middle, and a peer that dies in the middle of one: the
archive keeps only complete files and the accounting reconciles with the index."""

from __future__ import annotations

import os
import signal

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
    assert rep.files == rep.indexed
    assert list(archive.layout.tmp_dir.iterdir()) == []


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
