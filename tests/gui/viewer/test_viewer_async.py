"""The viewer with the app's JobRunner and JobBridge: decoding off the GUI thread.

A series of 1024x1024 JPEG 2000 slices (each ~0.2 s to decode here) loads while a 5 ms
QTimer heartbeat on the GUI thread records its longest gap: under 50 ms (issue 4, section 3;
decoders hold the GIL, so they run in a worker process, not just a worker thread).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from pydicom.uid import JPEG2000Lossless, generate_uid

from pacsadmin.core.jobs import JobRunner
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.viewer import ViewerWidget
from tests.unit.imaging.conftest import make_ds, save

N_SLICES = 6


@pytest.fixture
def async_viewer(qtbot):
    runner = JobRunner(workers=4)
    bridge = JobBridge()
    bridge.attach(runner)
    v = ViewerWidget(runner=runner, bridge=bridge)
    qtbot.addWidget(v)
    v.resize(1000, 700)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.close()
    bridge.close()
    assert runner.shutdown(10.0)


def _j2k_series(folder):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 4000, (1024, 1024)).astype(np.int16)
    template = make_ds(arr, Modality="CT", RescaleSlope=1, RescaleIntercept=-1024)
    template.compress(JPEG2000Lossless)  # encode once (~0.5 s), reuse the codestream
    series = generate_uid()
    for k in range(N_SLICES):
        ds = make_ds(
            arr,
            Modality="CT",
            RescaleSlope=1,
            RescaleIntercept=-1024,
            ts=JPEG2000Lossless,
            ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
            ImagePositionPatient=[0, 0, 3.0 * k],
            InstanceNumber=k + 1,
            WindowCenter=40,
            WindowWidth=400,
        )
        ds.SeriesInstanceUID = series
        ds.PixelData = template.PixelData
        ds["PixelData"].VR = "OB"
        save(ds, folder / f"j2k{k}.dcm")
    return arr


def test_compressed_series_loads_without_blocking_the_gui(async_viewer, tmp_path, qtbot, heartbeat):
    arr = _j2k_series(tmp_path)
    v = async_viewer
    qtbot.wait(100)
    heartbeat.start()
    t0 = time.monotonic()
    v.open_paths([str(tmp_path)])
    qtbot.waitUntil(lambda: v.current_frame() is not None, timeout=30_000)
    first = time.monotonic() - t0
    for k in range(1, N_SLICES):  # scroll through; prefetch has most slices ready
        v.set_index(k)
        qtbot.waitUntil(lambda: v.current_frame() is not None, timeout=30_000)
    elapsed = time.monotonic() - t0
    heartbeat.stop()
    print(
        f"first image {first:.3f} s, all {elapsed:.3f} s, max GUI gap {heartbeat.max_gap_ms:.1f} ms"
    )
    assert np.array_equal(v.current_frame().stored, arr)
    assert "worker process" in dict(v.inspector.rows())["Decoder"]
    assert heartbeat.ticks > elapsed * 1000 / 5 * 0.5, "the heartbeat hardly ran"
    assert heartbeat.max_gap_ms < 50, (
        f"GUI thread stalled {heartbeat.max_gap_ms:.0f} ms (first image {first:.2f} s)"
    )


def test_async_bad_file_message(async_viewer, tmp_path, qtbot):
    (tmp_path / "x.dcm").write_bytes(b"DICM? no")
    async_viewer.open_paths([str(tmp_path / "x.dcm")])
    qtbot.waitUntil(lambda: async_viewer.qc_panel.rowCount() > 0, timeout=10_000)
    assert async_viewer.qc_panel.findings_text()[0][0] == "error"


def test_whole_series_decodes_in_the_background(async_viewer, tmp_path, qtbot):
    from .helpers import ct_series

    paths = ct_series(tmp_path, n=30)
    v = async_viewer
    v.open_paths([str(tmp_path)])
    qtbot.waitUntil(lambda: v.decoded_count() == 30, timeout=30_000)
    # scrolling never waits for a decoded slice: the frame is there at once
    for k in (29, 3, 17):
        v.set_index(k)
        assert v.current_frame() is not None
        assert v.stack.currentWidget() is v.canvas
    assert v.current_frame().image.path == paths[17]
    assert not hasattr(v.current_frame().image.ds, "PixelData")  # only decoded values kept
