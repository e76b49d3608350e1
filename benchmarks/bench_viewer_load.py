"""Loading a 500-slice CT series in the viewer, against a bare dcmread + pixel_array loop.

A 512x512 16-bit CT series (realistic headers: patient/study/series, positions along z,
orientation, pixel spacing, rescale, two windows) is generated once per run in a temp dir.
Then, interleaved over ``ROUNDS`` rounds on the same warm files:

- reference: a bare single-threaded ``pydicom.dcmread(f).pixel_array`` loop over the files;
- the viewer's real loading path: ``ViewerWidget.open_paths`` with the app's JobRunner and
  JobBridge, offscreen Qt (the open job scans and decodes on a worker thread, frames reach
  the widget through the bridge); without PySide6 the same core job (``open_job``) in a
  JobRunner thread.  Timed from ``open_paths`` to the first image on screen and to every
  slice decoded and held by the widget.

Results: first image (goal < 0.2 s), whole-series rate vs the reference (goal >= 0.8x),
scrolling to decoded slices (goal: never waits; the figure is the median time of a slice
change including the display, beside one bare file decode), memory (RSS growth of the
first load vs the stored pixel bytes, goal <= 1.3x).  Medians of the rounds; the ratio of
each round is printed too, the first load of the process being the slowest.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result

NAME = "viewer_load"
N = 500
SIZE = 512
ROUNDS = 5
SCROLLS = 200
GOAL_RATIO = 0.8
GOAL_FIRST_S = 0.2
GOAL_MEMORY = 1.3


# ---------------------------------------------------------------------------- data
def generate(folder: Path, n: int = N, size: int = SIZE) -> list[str]:
    """``n`` CT slices (int16 stored, rescale -1024) with the headers a scanner writes."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    r = np.hypot(x - size / 2, y - size / 2)
    body = np.where(r < size * 0.42, 1064, 24)  # stored: soft tissue in air (HU 40 / -1000)
    bone = np.where(np.abs(r - size * 0.3) < 6, 800, 0)
    study, series, frame_of_ref = generate_uid(), generate_uid(), generate_uid()
    paths = []
    for k in range(n):
        noise = rng.integers(-30, 30, size=(size, size))
        pixels = (body + bone + noise + (k % 20)).astype(np.int16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20260101"
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
        ds.AccessionNumber = "A123456"
        ds.Modality = "CT"
        ds.Manufacturer = "BENCH"
        ds.StudyDescription = "CT CHEST"
        ds.SeriesDescription = "AXIAL 1.0 B30f"
        ds.PatientName = "BENCH^SERIES"
        ds.PatientID = "P0001"
        ds.PatientBirthDate = "19600101"
        ds.PatientSex = "O"
        ds.SliceThickness = "1.0"
        ds.KVP = "120"
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.StudyID = "1"
        ds.SeriesNumber = 2
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [-180.0, -180.0, round(-250.0 + k * 1.0, 2)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.FrameOfReferenceUID = frame_of_ref
        ds.SliceLocation = round(-250.0 + k * 1.0, 2)
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ds.Columns = size
        ds.PixelSpacing = [0.703125, 0.703125]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 1
        ds.WindowCenter = [40, 400]
        ds.WindowWidth = [400, 1500]
        ds.WindowCenterWidthExplanation = ["SOFT TISSUE", "BONE"]
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
        ds.PixelData = pixels.astype("<i2").tobytes()
        ds["PixelData"].VR = "OW"
        path = folder / f"IM{k:05d}.dcm"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths


def bare_loop(files: list[str]) -> float:
    """Seconds for the reference: dcmread + pixel_array, one file after another."""
    import pydicom

    t0 = time.perf_counter()
    for f in files:
        pydicom.dcmread(f).pixel_array  # noqa: B018
    return time.perf_counter() - t0


def _rss() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
    return 0


# ---------------------------------------------------------------------------- viewer (Qt)
class _QtViewer:
    """The widget the app shows, with the app's runner and bridge, offscreen."""

    def __init__(self) -> None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication

        from pacsadmin.core.jobs import JobRunner
        from pacsadmin.gui.job_bridge import JobBridge
        from pacsadmin.gui.viewer import ViewerWidget

        self.app = QApplication.instance() or QApplication([])
        self.runner = JobRunner()
        self.bridge = JobBridge()
        self.bridge.attach(self.runner)
        self.viewer = ViewerWidget(runner=self.runner, bridge=self.bridge)
        self.viewer.resize(1200, 800)
        self.viewer.show()
        self.app.processEvents()

    def load(self, folder: str, n: int) -> tuple[float, float]:
        """(first image s, every slice decoded s) for one open of ``folder``."""
        return self._timed(lambda: self.viewer.open_paths([folder]), n)

    def fill(self, series, n: int) -> float:
        """Seconds to decode a scanned series shown with ``set_series`` (as the archive
        browser does): the background fill job."""
        return self._timed(lambda: self.viewer.set_series(series), n)[1]

    def _timed(self, start, n: int) -> tuple[float, float]:
        from PySide6.QtCore import QEventLoop, QTimer

        v = self.viewer
        marks: dict[str, float] = {}
        loop = QEventLoop()

        def check(*_args) -> None:
            now = time.perf_counter() - t0
            if "first" not in marks and v.current_frame() is not None:
                marks["first"] = now
            if (
                "all" not in marks
                and v.series is not None
                and not v.jobs.busy
                and v.decoded_count() >= n
            ):
                marks["all"] = now
                loop.quit()

        # connected after the widget's own slots: they see the widget's state afterwards
        self.bridge.jobPartials.connect(check)
        self.bridge.jobFinished.connect(check)
        v.frameChanged.connect(check)
        guard = QTimer()
        guard.setSingleShot(True)
        guard.timeout.connect(loop.quit)
        guard.start(120_000)
        t0 = time.perf_counter()
        start()
        check()
        if "all" not in marks:
            loop.exec()
        guard.stop()
        self.bridge.jobPartials.disconnect(check)
        self.bridge.jobFinished.disconnect(check)
        v.frameChanged.disconnect(check)
        if "all" not in marks:
            raise RuntimeError(f"the viewer decoded {v.decoded_count()} of {n} slices")
        return marks["first"], marks["all"]

    def scroll(self, count: int) -> tuple[list[float], int]:
        """Times (s) of slice changes to random decoded slices, display included, and how
        many of them had to wait (no frame at once)."""
        v = self.viewer
        rng = np.random.default_rng(1)
        times, waits = [], 0
        for j in rng.integers(0, v.count(), count):
            t0 = time.perf_counter()
            v.set_index(int(j))
            shown = v.current_frame() is not None and v.stack.currentWidget() is v.canvas
            times.append(time.perf_counter() - t0)
            waits += not shown
            self.app.processEvents()
        return times, waits

    def clear(self) -> None:
        self.viewer.set_series(None)
        self.app.processEvents()

    def close(self) -> None:
        self.viewer.close()
        self.bridge.close()
        self.runner.shutdown()
        self.app.processEvents()


# ---------------------------------------------------------------------------- core only
class _CoreViewer:
    """Without PySide6: the viewer's open job on a JobRunner thread, frames kept as the
    widget keeps them."""

    def __init__(self) -> None:
        from pacsadmin.core.jobs import JobRunner

        self.runner = JobRunner()
        self.frames: dict = {}

    def load(self, folder: str, n: int) -> tuple[float, float]:
        import threading

        from pacsadmin.core.imaging.render import Frame
        from pacsadmin.core.jobs import JobPartial
        from pacsadmin.gui.viewer.loading import open_job

        self.frames = {}
        first = threading.Event()
        marks: dict[str, float] = {}

        def listener(ev) -> None:
            if isinstance(ev, JobPartial):
                for path, k, entry in ev.item:
                    self.frames[(path, k)] = entry
                    if not first.is_set() and isinstance(entry, Frame):
                        marks["first"] = time.perf_counter() - t0
                        first.set()

        unsubscribe = self.runner.subscribe(listener)
        t0 = time.perf_counter()
        job = self.runner.submit(lambda ctx: open_job(ctx, [folder]), name="Open images")
        job.future.result()
        total = time.perf_counter() - t0
        unsubscribe()
        decoded = sum(1 for f in self.frames.values() if isinstance(f, Frame))
        if decoded < n:
            raise RuntimeError(f"the open job decoded {decoded} of {n} slices")
        return marks["first"], total

    def fill(self, series, n: int) -> float:
        from pacsadmin.core.jobs import JobPartial
        from pacsadmin.gui.viewer.loading import fill

        slots = [(i.path, k) for i in series.instances for k in range(max(1, i.frames))]
        frames: dict = {}

        def listener(ev) -> None:
            if isinstance(ev, JobPartial):
                frames.update(ev.item)

        unsubscribe = self.runner.subscribe(listener)
        t0 = time.perf_counter()
        job = self.runner.submit(lambda ctx: fill(ctx, slots, 0, frozenset()), name="Fill")
        job.future.result()
        total = time.perf_counter() - t0
        unsubscribe()
        if len(frames) < n:
            raise RuntimeError(f"the fill job decoded {len(frames)} of {n} slices")
        return total

    def scroll(self, count: int) -> tuple[list[float], int]:
        keys = list(self.frames)
        rng = np.random.default_rng(1)
        times = []
        for j in rng.integers(0, len(keys), count):
            t0 = time.perf_counter()
            self.frames.get(keys[int(j)])
            times.append(time.perf_counter() - t0)
        return times, 0

    def clear(self) -> None:
        self.frames = {}

    def close(self) -> None:
        self.runner.shutdown()


def _make_viewer():
    try:
        import PySide6  # noqa: F401
    except ImportError:
        return _CoreViewer(), "core open job on a JobRunner thread (PySide6 not installed)"
    return _QtViewer(), "ViewerWidget + JobRunner + JobBridge, offscreen Qt"


# ---------------------------------------------------------------------------- run
def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="pacsadmin-bench-series-") as tmp:
        folder = Path(tmp) / "ct"
        folder.mkdir()
        t_gen = time.perf_counter()
        files = generate(folder)
        t_gen = time.perf_counter() - t_gen
        stored = N * SIZE * SIZE * 2
        bare_loop(files)  # warm the page cache and the imports; not counted
        viewer, how = _make_viewer()
        try:
            gc.collect()
            rss0 = _rss()
            first, total = viewer.load(str(folder), N)  # round 1 also gives the memory
            gc.collect()
            grown = _rss() - rss0
            firsts, totals, refs = [first], [total], [bare_loop(files)]
            for _ in range(ROUNDS - 1):  # interleaved: load changes hit both alike
                viewer.clear()
                gc.collect()
                f, t = viewer.load(str(folder), N)
                firsts.append(f)
                totals.append(t)
                refs.append(bare_loop(files))
            scroll_times, waits = viewer.scroll(SCROLLS)
            from pacsadmin.core.imaging.series import scan

            series = scan([str(folder)]).series[0]  # headers only, not timed
            fills, fill_refs = [], []
            for _ in range(3):
                viewer.clear()
                gc.collect()
                fills.append(viewer.fill(series, N))
                fill_refs.append(bare_loop(files))
        finally:
            viewer.close()
    ref_s, load_s = statistics.median(refs), statistics.median(totals)
    ratios = [r / t for r, t in zip(refs, totals, strict=True)]  # round order
    rate, ref_rate = N / load_s, N / ref_s
    ratio = rate / ref_rate
    first_s = statistics.median(firsts)
    scroll_ms = statistics.median(scroll_times) * 1000
    per_file_ms = ref_s / N * 1000
    fill_s, fill_ref_s = statistics.median(fills), statistics.median(fill_refs)
    fill_ratio = fill_ref_s / fill_s
    return [
        Result(
            "viewer_load.first_image",
            first_s,
            "s",
            None,
            "",
            f"< {GOAL_FIRST_S:g} s",
            first_s < GOAL_FIRST_S,
            notes=f"rounds: {', '.join(f'{f * 1000:.0f} ms' for f in firsts)}",
        ),
        Result(
            "viewer_load.rate",
            rate,
            "files/s",
            ref_rate,
            "bare dcmread+pixel_array",
            f">= {GOAL_RATIO:g}x the reference",
            ratio >= GOAL_RATIO,
            notes=(
                f"{N} slices {SIZE}x{SIZE} int16 through {how}; medians of {ROUNDS} "
                f"interleaved rounds: whole series {load_s:.3f} s vs {ref_s:.3f} s; "
                f"ratio per round {', '.join(f'{r:.2f}' for r in ratios)} (the first is "
                "the process's first load: fresh memory, first use of the code); "
                f"series generated in {t_gen:.1f} s"
            ),
        ),
        Result(
            "viewer_load.fill_rate",
            N / fill_s,
            "files/s",
            N / fill_ref_s,
            "bare dcmread+pixel_array",
            f">= {GOAL_RATIO:g}x the reference",
            fill_ratio >= GOAL_RATIO,
            notes=(
                "a scanned series shown with set_series (the archive browser's way): the "
                f"background fill job; medians of 3 interleaved rounds: {fill_s:.3f} s vs "
                f"{fill_ref_s:.3f} s; ratio per round "
                f"{', '.join(f'{r / f:.2f}' for r, f in zip(fill_refs, fills, strict=True))}"
            ),
        ),
        Result(
            "viewer_load.scroll",
            scroll_ms,
            "ms",
            per_file_ms,
            "bare decode of 1 file",
            "no wait for a decoded slice",
            waits == 0,
            notes=(
                f"{SCROLLS} jumps to random decoded slices, display included: median "
                f"{scroll_ms:.2f} ms, max {max(scroll_times) * 1000:.2f} ms, "
                f"{waits} waited for a decode"
            ),
        ),
        Result(
            "viewer_load.memory",
            grown / 2**20,
            "MiB",
            stored / 2**20,
            "stored pixel bytes",
            f"<= {GOAL_MEMORY:g}x",
            grown <= GOAL_MEMORY * stored,
            notes=f"RSS growth of the first load: {grown / stored:.2f}x the stored values",
        ),
    ]


if __name__ == "__main__":
    print(f"# {NAME}: {__doc__.strip().splitlines()[0]}")
    for r in run():
        print(r.line())
