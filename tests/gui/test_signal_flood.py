"""Signal-flood regression (docs/notes.md): PySide6 6.12.0 on Python 3.11 dropped a reference
to True/None on every signal delivered to a Python slot and every pyqtgraph repaint, and
the interpreter aborted ("Fatal Python error: bool_dealloc") after ~2,000 of them.

The flood runs in a child process so that such an abort fails this test with a clear
message instead of killing the test session, and the reference counts of True and None
are checked too, so a leak that has not crashed yet still fails.
"""

from __future__ import annotations

import os
import subprocess
import sys

FLOOD = r"""
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import numpy as np
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QApplication
import pyqtgraph as pg
app = QApplication([])
class Src(QObject):
    fired = Signal(int)
    flag = Signal(bool)
class Sink(QObject):
    def __init__(self): super().__init__(); self.n = 0; self.b = 0
    @Slot(int)
    def on_fired(self, i): self.n += 1
    @Slot(bool)
    def on_flag(self, v): self.b += v is True
src, sink = Src(), Sink()
src.fired.connect(sink.on_fired); src.flag.connect(sink.on_flag)
t0=time.perf_counter()
rt, rn = sys.getrefcount(True), sys.getrefcount(None)
for i in range(5000):
    src.fired.emit(i); src.flag.emit(True)
plot = pg.PlotWidget(); plot.resize(240, 160); plot.show()
curve = plot.plot(np.zeros(64))
iv = pg.ImageView(); iv.resize(240, 200); iv.show()
img = (np.random.default_rng(0).random((64, 64)) * 4095).astype(np.uint16)
iv.setImage(img, autoLevels=False, levels=(0, 4095))
t1=time.perf_counter()
for i in range(5000):
    curve.setData(np.sin(np.arange(64) * 0.1 + i * 0.01))
    plot.repaint()
    iv.setLevels(i % 2000, 2100 + i % 2000)
    iv.repaint()
    if i % 100 == 0: app.processEvents()
t2=time.perf_counter()
print("RESULT", sink.n, sink.b, sys.getrefcount(True) - rt, sys.getrefcount(None) - rn)
"""


def test_5000_signals_and_5000_pyqtgraph_repaints_do_not_crash(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-c", FLOOD],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (
        f"the flood crashed the interpreter (exit {proc.returncode}): a PySide6 that "
        f"drops references? (docs/notes.md)\n{proc.stderr[-2000:]}"
    )
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    ints, bools, true_delta, none_delta = (int(x) for x in line.split()[1:])
    assert ints == 5000 and bools == 5000  # every emission reached the slot
    # each delivery that drops a reference lowers these by one: 10,000 emissions
    assert true_delta > -1000, f"True lost {-true_delta} references"
    assert none_delta > -1000, f"None lost {-none_delta} references"
