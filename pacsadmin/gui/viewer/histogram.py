"""Histogram of the frame's modality values with the window drawn on it, draggable."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot

from pacsadmin.core.imaging.display import histogram
from pacsadmin.core.imaging.luts import Window
from pacsadmin.core.imaging.render import Frame


class HistogramView(pg.PlotWidget):
    """Drag the shaded region (or its edges) to change the window."""

    windowEdited = Signal(object)  # Window

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="k")
        self.setMenuEnabled(False)
        self.getPlotItem().setLabel("bottom", "modality value")
        self.getPlotItem().hideAxis("left")
        self.curve = self.plot(
            [0, 1],
            [0],
            stepMode="center",
            fillLevel=0,
            brush=(120, 160, 220, 120),
            pen=(160, 190, 240),
        )
        self.region = pg.LinearRegionItem(values=(0, 1), brush=(255, 200, 80, 50))
        self.addItem(self.region)
        self.region.sigRegionChangeFinished.connect(self._on_region_changed)
        self._function = "LINEAR"
        self._updating = False

    def show_frame(self, frame: Frame | None) -> None:
        if frame is None or frame.pipeline.is_color:
            self.curve.setData([0, 1], [0])
            self.region.setVisible(False)
            return
        edges, counts = histogram(frame.pipeline, frame.stored)
        # log scale keeps the small peaks (bone, contrast) visible next to air
        self.curve.setData(edges, np.log1p(counts))
        self.region.setVisible(True)
        self.show_window(frame.pipeline.voi)

    def show_window(self, voi) -> None:
        if not isinstance(voi, Window):
            self.region.setVisible(False)
            return
        self._function = voi.function if voi.function != "LINEAR_EXACT" else "LINEAR"
        self._updating = True
        try:
            self.region.setVisible(True)
            self.region.setRegion((voi.low, voi.high))
        finally:
            self._updating = False

    @Slot(object)
    def _on_region_changed(self, *_args) -> None:
        if self._updating:
            return
        lo, hi = self.region.getRegion()
        width = max(float(hi - lo), 1.0)
        self.windowEdited.emit(Window(float(lo) + width / 2, width, self._function, "", "user"))
