"""Rectangle and ellipse ROIs and a distance line on the canvas (pyqtgraph ROIs).

ROIs live in view coordinates, which are image coordinates (x = column, y = row); the
numbers come from pacsadmin.core.imaging.measure.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal, Slot

from pacsadmin.core.imaging.measure import distance, ellipse_mask, rect_mask, roi_stats
from pacsadmin.core.imaging.render import Frame

_PEN = pg.mkPen((255, 210, 60), width=2)


class MeasureTools(QObject):
    result = Signal(str)

    def __init__(
        self,
        vb: pg.ViewBox,
        frame: Callable[[], Frame | None],
        source: Callable[[], Frame | None] | None = None,
        to_source: Callable[..., tuple[float, float]] | None = None,
    ) -> None:
        super().__init__(vb)
        self.vb = vb
        self._frame = frame  # as shown (rotated/flipped views)
        self._source = source or frame  # as stored (for spacing along rows/columns)
        self._to_source = to_source
        self.rois: list[pg.ROI] = []

    def add(self, kind: str) -> pg.ROI | None:
        frame = self._frame()
        if frame is None:
            return None
        (x0, x1), (y0, y1) = self.vb.viewRange()
        w, h = (x1 - x0) / 4, (y1 - y0) / 4
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if kind == "rect":
            roi = pg.RectROI((cx - w / 2, cy - h / 2), (w, h), pen=_PEN)
        elif kind == "ellipse":
            roi = pg.EllipseROI((cx - w / 2, cy - h / 2), (w, h), pen=_PEN)
            for handle in list(roi.getHandles()):
                if handle.typ == "r":  # statistics assume an upright ellipse
                    roi.removeHandle(handle)
        elif kind == "line":
            roi = pg.LineSegmentROI([(cx - w / 2, cy), (cx + w / 2, cy)], pen=_PEN)
        else:
            raise ValueError(kind)
        roi.kind = kind
        self.vb.addItem(roi)
        self.rois.append(roi)
        roi.sigRegionChanged.connect(self._on_roi_changed)
        self._on_roi_changed(roi)
        return roi

    def clear(self) -> None:
        for roi in self.rois:
            self.vb.removeItem(roi)
        self.rois.clear()
        self.result.emit("")

    def measure(self, roi: pg.ROI) -> str:
        frame = self._frame()
        if frame is None:
            return ""
        if roi.kind == "line":
            p0, p1 = (roi.mapToParent(h.pos()) for h in roi.getHandles()[:2])
            a, b = (p0.y(), p0.x()), (p1.y(), p1.x())
            if self._to_source is not None:
                a = self._to_source(*a, continuous=True)
                b = self._to_source(*b, continuous=True)
            return "Distance " + distance(self._source() or frame, a, b)
        pos, size = roi.pos(), roi.size()
        box = (pos.y(), pos.x(), pos.y() + size.y(), pos.x() + size.x())
        shape = frame.stored.shape[:2]
        mask = (rect_mask if roi.kind == "rect" else ellipse_mask)(shape, *box)
        stats = roi_stats(frame, mask)
        label = "Rectangle" if roi.kind == "rect" else "Ellipse"
        return f"{label}: " + (stats.text() if stats else "no pixels (or a color image)")

    @Slot(object)
    def _on_roi_changed(self, roi: pg.ROI) -> None:
        self.result.emit(self.measure(roi))
