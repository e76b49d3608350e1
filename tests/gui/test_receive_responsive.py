"""The GUI stays responsive while its SCP receives at full speed (issue 3, section 5).

DCMTK ``storescu`` sends 500 CT images (512x512, 16-bit) to the local SCP that the window
started (``pacsadmin serve`` in its own process, watched through ``--events``), while a
5 ms QTimer heartbeat on the GUI thread records its longest gap: < 50 ms, from the first
image until the Received row says done and the archive browser has reloaded.

As in test_responsiveness.py, the scenario may run up to three times and passes when one
run stays under 50 ms (a loaded 2-core machine sometimes deschedules the whole process):
a GUI thread that does receive work itself, or too much per progress event, stalls every
run for far longer (a 500-image receive takes 2-4 s here).
"""

from __future__ import annotations

import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from pacsadmin.gui.widgets.received_view import state_text

N = 500
MAX_GAP_MS = 50.0
ATTEMPTS = 3
WAIT = 120_000


def _ct_series(folder, n: int) -> None:
    folder.mkdir(parents=True)
    pixels = np.random.default_rng(3).integers(0, 4096, (512, 512), dtype=np.uint16).tobytes()
    study, series = generate_uid(), generate_uid()
    for i in range(n):
        ds = pydicom.Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.PatientName, ds.PatientID, ds.Modality = "RECEIVE^LOAD", "RL1", "CT"
        ds.InstanceNumber, ds.SamplesPerPixel, ds.PhotometricInterpretation = (
            i + 1,
            1,
            "MONOCHROME2",
        )
        ds.Rows = ds.Columns = 512
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = pixels
        ds.save_as(folder / f"{i:04d}.dcm", enforce_file_format=True)


def test_gui_stays_responsive_while_the_scp_receives(scp_app, qtbot, tmp_path, heartbeat):
    from tests.peers import PeerUnavailable, find_program, free_port, peer_env

    try:
        storescu = find_program("storescu")
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    send = tmp_path / "send"
    _ct_series(send, N)
    port = free_port()
    app = scp_app(port)
    qtbot.waitUntil(lambda: app.scp.state == "listening", timeout=WAIT)
    qtbot.wait(300)  # the window's own start-up work is not what this measures
    gaps = []
    for attempt in range(ATTEMPTS):
        done_before = sum(1 for r in app.received_model.rows if state_text(r).startswith("done"))
        heartbeat.max_gap_ms, heartbeat.ticks = 0.0, 0
        heartbeat.start()
        proc = subprocess.Popen(
            [
                storescu,
                "-aet",
                f"LOAD{attempt}",
                "-aec",
                "PACSADMIN",
                "+sd",
                "127.0.0.1",
                str(port),
                str(send),
            ],
            env=peer_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        qtbot.waitUntil(lambda p=proc: p.poll() is not None, timeout=WAIT)
        qtbot.waitUntil(
            lambda n=done_before: (
                sum(1 for r in app.received_model.rows if state_text(r).startswith("done")) > n
            ),
            timeout=WAIT,
        )
        qtbot.wait(1000)  # the browser's reload after the association closed
        heartbeat.stop()
        assert proc.returncode == 0, proc.stderr.read().decode(errors="replace")
        row = app.received_model.rows[-1]
        # the first run stores 500; the later ones send the same images again (duplicates)
        assert row.calling_ae == f"LOAD{attempt}" and row.images == N, row
        assert heartbeat.ticks > 100
        gaps.append(round(heartbeat.max_gap_ms, 1))
        if heartbeat.max_gap_ms < MAX_GAP_MS:
            break
    print(f"heartbeat max gaps: {gaps} ms")
    assert min(gaps) < MAX_GAP_MS, f"GUI thread stalled in every run: {gaps} ms"
    assert app.received_model.rows[0].stored == N  # every image is in the archive
