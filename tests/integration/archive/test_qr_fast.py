"""The local node's C-MOVE and C-GET sub-operations through the fast sender
(``core/dimse/qr_send.py``): DCMTK ``movescu`` (to a DCMTK ``storescp``) and ``getscu``
as the clients; the counts in the responses checked against what arrived (files, bytes)."""

from __future__ import annotations

import logging
import re
import time
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid
from pynetdicom.dsutils import split_dataset

from tests.integration.send.conftest import SAMPLES, fresh_copy
from tests.peers import start_storescp
from tests.unit.archive.dsgen import make_ds, write

from .conftest import AET, run

pytestmark = pytest.mark.integration
N_CT = 40


def data_set(path: Path) -> bytes:
    """A file's data set: its bytes after the file meta group."""
    return path.read_bytes()[split_dataset(path)[1] :]


def same(got: dict[str, bytes], expected: dict[str, bytes]) -> None:
    """The same instances; each data set byte for byte, or, where DCMTK rewrote it when
    it wrote its file (pydicom's test files: group lengths and Data Set Trailing Padding
    dropped, Pixel Data's VR made OB), element by element (tag and value)."""
    assert set(got) == set(expected)
    for uid, data in expected.items():
        if got[uid] != data:
            a, b = (dcmread(BytesIO(x), force=True) for x in (got[uid], data))
            assert _values(a) == _values(b), uid


def _values(ds) -> dict:
    return {e.tag: e.value for e in ds if e.tag.element != 0 and e.tag != 0xFFFCFFFC}


@pytest.fixture
def study(archive, tmp_path):
    """One study in the archive: a series of N_CT small CT images and pydicom's
    uncompressed CT, JPEG 2000 and RLE files; returns (study UID, the CT series' UID,
    {SOP instance UID: data set bytes}, the CT series' instance UIDs)."""
    study_uid, series = generate_uid(), generate_uid()
    src = tmp_path / "src"
    ct_uids = set()
    paths = []
    for i in range(N_CT):
        ds = make_ds(study_uid=study_uid, series_uid=series, instance_number=i + 1, seed=i)
        paths.append(write(ds, src / f"ct{i}.dcm"))
        ct_uids.add(str(ds.SOPInstanceUID))
    for name in SAMPLES:
        p = fresh_copy(name, src / name)
        ds = dcmread(p)
        ds.StudyInstanceUID, ds.PatientID, ds.PatientName = study_uid, "PID1", "DOE^JOHN"
        ds.save_as(p, enforce_file_format=True)
        paths.append(p)
    expected = {}
    for p in paths:
        archive.add_file(p)
        expected[str(dcmread(p, stop_before_pixels=True).SOPInstanceUID)] = data_set(p)
    return study_uid, series, expected, ct_uids


def counts(text: str) -> list[dict[str, int]]:
    """The sub-operation counts of each response DCMTK's -d log shows."""
    out = []
    for block in re.split(r"(?=Message Type\s+: C-(?:MOVE|GET) RSP)", text)[1:]:
        c = {}
        for key in ("Remaining", "Completed", "Failed", "Warning"):
            m = re.search(rf"{key} Suboperations\s*:\s*(\d+)", block)
            if m:
                c[key] = int(m.group(1))
        out.append(c)
    return out


def received(folder: Path) -> dict[str, bytes]:
    out = {}
    for p in folder.iterdir():
        if p.is_file():
            out[str(dcmread(p, stop_before_pixels=True).SOPInstanceUID)] = data_set(p)
    return out


def check_counts(rsps: list[dict[str, int]], total: int, completed: int) -> None:
    assert len(rsps) == total + 1, len(rsps)  # a pending response a sub-operation, a final
    for c in rsps[:-1]:  # pending: every sub-operation is counted once
        assert sum(c.get(k, 0) for k in ("Remaining", "Completed", "Failed", "Warning")) == total
    final = rsps[-1]
    assert final.get("Completed") == completed, rsps[-3:]
    assert final.get("Failed", 0) == total - completed


def test_movescu_counts_match_what_arrived(local_scp, study, nodes, start_peer, tmp_path, caplog):
    study_uid, _series, expected, _cts = study
    dest = start_peer(start_storescp, tmp_path / "dest", extra_args=["+xa"])
    nodes.add(dest.node("dest"))
    caplog.set_level(logging.INFO, logger="pacsadmin.scp")
    argv = ["movescu", "-d", "-S", "-aet", "MOVESCU", "-aec", AET, "-aem", dest.aet]
    argv += ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}"]
    p = run([*argv, "127.0.0.1", str(local_scp.port)])
    text = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode == 0, text[-2000:]
    got = received(dest.storage[0])
    same(got, expected)
    assert sum(len(d) for d in got.values()) >= 0.99 * sum(len(d) for d in expected.values())
    check_counts(counts(text), len(expected), len(got))
    assert f"{len(expected)} sent as they are, 0 converted" in caplog.text


def test_movescu_destination_killed_mid_move(local_scp, study, nodes, start_peer, tmp_path):
    """The destination dies during the move: the counts say how many arrived, the rest
    are failed sub-operations; the final response says so (0xB000 or 0xA702)."""
    study_uid, _series, expected, _cts = study
    dest = start_peer(start_storescp, tmp_path / "dest", extra_args=["+xa"])
    nodes.add(dest.node("dest"))
    killer = __import__("threading").Thread(
        target=lambda: _kill_after(dest, dest.storage[0], 10), daemon=True
    )
    killer.start()
    argv = ["movescu", "-d", "-S", "-aet", "MOVESCU", "-aec", AET, "-aem", dest.aet]
    argv += ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}"]
    p = run([*argv, "127.0.0.1", str(local_scp.port)])
    killer.join(30)
    text = (p.stdout + p.stderr).decode(errors="replace")
    rsps = counts(text)
    final = rsps[-1]
    got = received(dest.storage[0])
    assert 10 <= len(got) < len(expected)
    assert final.get("Failed", 0) >= 1
    # stored ones are counted completed; never more than what arrived (one may have
    # arrived without its response)
    assert final["Completed"] in (len(got), len(got) - 1)
    assert final["Completed"] + final["Failed"] + final.get("Warning", 0) == len(expected)


def _kill_after(peer, folder: Path, n: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(folder.iterdir())) < n:
        time.sleep(0.002)
    peer.proc.kill()  # by PID: the storescp this test started


def test_getscu_counts_match_what_arrived(local_scp, study, tmp_path, caplog):
    """getscu accepts one transfer syntax for what it receives (uncompressed by default):
    the CT series is retrieved."""
    study_uid, series, everything, cts = study
    expected = {uid: everything[uid] for uid in cts}
    out = tmp_path / "got"
    out.mkdir()
    caplog.set_level(logging.INFO, logger="pacsadmin.scp")
    argv = ["getscu", "-d", "-S", "-aet", "GETSCU", "-aec", AET, "-od", str(out)]
    argv += ["-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={study_uid}"]
    argv += ["-k", f"SeriesInstanceUID={series}"]
    p = run([*argv, "127.0.0.1", str(local_scp.port)])
    text = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode == 0, text[-2000:]
    got = received(out)
    same(got, expected)
    check_counts(counts(text), len(expected), len(got))
    assert f"C-GET sub-operations: {len(expected)} sent as they are, 0 converted" in caplog.text


def test_get_cancelled_in_the_middle(local_scp, study, tmp_path, caplog):
    """The app's C-GET SCU cancels after 3 instances: the C-CANCEL-RQ reaches the local
    node while its fast sender holds the association's socket (it reads it and hands it
    to pynetdicom); the node stops with 0xFE00 and the counts match what arrived."""
    from pacsadmin.core.archive import Archive
    from pacsadmin.core.dimse.association import LocalAE
    from pacsadmin.core.dimse.retrieve import get
    from pacsadmin.core.dimse.retrieve_model import RetrieveProgress, Selection
    from pacsadmin.core.jobs import CancelToken, JobContext
    from pacsadmin.core.nodes import DicomNode

    study_uid, _series, expected, _cts = study
    caplog.set_level(logging.INFO, logger="pacsadmin.scp")
    token = CancelToken()

    def emit(event):
        item = getattr(event, "item", None)
        if isinstance(item, RetrieveProgress) and item.completed >= 3:
            token.cancel()

    dest = Archive(tmp_path / "dest")
    try:
        node = DicomNode("local", AET, "127.0.0.1", local_scp.port).validated()
        r = get(
            LocalAE("GETTER"),
            node,
            Selection.of(studies=[study_uid]),
            archive=dest,
            ctx=JobContext(0, token, emit),
            cancel_grace=5.0,
        )
        assert r.cancelled and r.status == 0xFE00, r.sentence
        assert 3 <= r.received < len(expected)
        assert dest.counts()["instances"] == r.received
    finally:
        dest.close()
    assert "C-GET sub-operations:" in caplog.text
