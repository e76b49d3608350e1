"""What every benchmark module returns, and small timing helpers.

A benchmark module is ``benchmarks/bench_<name>.py`` with ``NAME = "<name>"`` and
``run() -> list[Result]``.  Each :class:`Result` is one figure beside a reference measured
in the same run (on the same machine, at the same load), so the ratio means something
even on a busy 2-core box.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the checkout: tests/peers.py starts peers
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.peers import app_cli, serve_argv  # noqa: E402  (the app's command lines)

__all__ = [
    "ROOT",
    "Result",
    "app_cli",
    "free_port",
    "median_time",
    "serve_argv",
    "timed",
    "wait_for_port",
    "workdir",
]


@dataclass(frozen=True)
class Result:
    name: str  # "echo.rtt"
    value: float  # the figure
    unit: str  # "ms", "s", "img/s"
    reference: float | None  # measured in the same run
    reference_label: str  # "echoscu", "import pynetdicom"
    goal: str  # "< 10 ms", "<= ref + 0.15 s"; "" when there is none
    passed: bool | None  # None: no goal
    notes: str = ""  # other figures of the same run

    @property
    def ratio(self) -> float | None:
        if not self.reference:
            return None
        return self.value / self.reference

    @property
    def verdict(self) -> str:
        return "" if self.passed is None else ("PASS" if self.passed else "MISS")

    def line(self) -> str:
        ref = f"{self.reference_label} {_fmt(self.reference, self.unit)}" if self.reference else "-"
        ratio = f"ratio {self.ratio:.2f}" if self.ratio is not None else ""
        goal = f"goal {self.goal}" if self.goal else ""
        out = (
            f"{self.name:<22} {_fmt(self.value, self.unit):>11}   {ref:<28} {ratio:<12} "
            f"{goal:<22} {self.verdict}"
        ).rstrip()
        return out + (f"   ({self.notes})" if self.notes else "")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "verdict": self.verdict}


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    digits = 3 if unit == "s" else (2 if abs(v) < 100 else 0)
    return f"{v:.{digits}f} {unit}"


def timed(fn: Callable[[], Any]) -> float:
    """Wall time of one call, in seconds."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_time(fn: Callable[[], Any], n: int, warmup: int = 0) -> float:
    """Median wall time of ``n`` calls after ``warmup`` uncounted ones, in seconds."""
    for _ in range(warmup):
        fn()
    return statistics.median(timed(fn) for _ in range(n))


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (benchmarks never listen elsewhere)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: Any, timeout: float = 30) -> None:
    """Until 127.0.0.1:``port`` accepts a connection; raises if ``proc`` exits first."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


def workdir(prefix: str) -> Path:
    """A fresh folder where an archive really lives: under the user cache dir (the same kind
    of place as the app's data dir, ``~/.local/share/pacsadmin``), not the system temp dir."""
    import tempfile

    import platformdirs

    base = Path(platformdirs.user_cache_dir("pacsadmin-bench"))
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    print(f"  (work folder, archive and source files: {work})", flush=True)
    return work


def write_ct_images(folder: Path, n: int, patient: str) -> None:
    """``n`` CT images of 512x512 (random 12-bit values), one study and series: what the
    transfer benchmarks send and receive."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 4096, size=(512, 512), dtype=np.uint16).tobytes()
    study, series = generate_uid(), generate_uid()
    for i in range(n):
        ds = Dataset()
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.PatientName, ds.PatientID, ds.Modality = patient, "BENCH1", "CT"
        ds.StudyDate, ds.InstanceNumber = "20240101", i + 1
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = 512
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = pixels
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.save_as(folder / f"{i:04d}.dcm", enforce_file_format=True)
