"""The image canvas: a pyqtgraph ViewBox showing W/L applied at display resolution.

Only the pixels on screen are mapped: on every zoom, pan or resize the visible region of the
frame's stored integers is sampled once at the view's pixel size
(:class:`~pacsadmin.core.imaging.display.DisplayBuffer`), and every W/L change is one 8-bit
lookup over those samples, so a 3328x4096 mammogram updates as fast as a CT slice.
Right-button drag (or left in W/L mode) emits ``windowDrag(dx, dy)`` in screen pixels; the
wheel emits ``scroll(+1/-1)`` (Ctrl+wheel zooms); the cursor emits ``hover(row, col)``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot

from pacsadmin.core.imaging.display import DisplayBuffer
from pacsadmin.core.imaging.luts import LookupTable, Window
from pacsadmin.core.imaging.render import Frame


def dataclasses_replace_voi(frame: Frame, voi) -> Frame:
    import dataclasses

    if voi is None or frame.pipeline.is_color:
        return frame
    return dataclasses.replace(frame, pipeline=frame.pipeline.with_voi(voi))


class _ViewBox(pg.ViewBox):
    windowDrag = Signal(float, float)
    scroll = Signal(int)

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.wl_mode = False

    def mouseDragEvent(self, ev, axis=None):
        button = ev.button()
        if button == Qt.MouseButton.RightButton or (
            self.wl_mode and button == Qt.MouseButton.LeftButton
        ):
            ev.accept()
            d = ev.screenPos() - ev.lastScreenPos()
            if d.x() or d.y():
                self.windowDrag.emit(float(d.x()), float(d.y()))
            return
        super().mouseDragEvent(ev, axis)

    def wheelEvent(self, ev, axis=None):
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        ev.accept()
        delta = ev.delta()
        if delta:
            self.scroll.emit(-1 if delta > 0 else 1)


class ImageCanvas(pg.GraphicsView):
    """Shows one frame; :meth:`show_frame` then :meth:`set_voi` per W/L change."""

    windowDrag = Signal(float, float)
    scroll = Signal(int)
    hover = Signal(int, int)  # row, column under the cursor (-1, -1 outside)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="k")
        self.vb = _ViewBox()
        self.setCentralItem(self.vb)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.vb.addItem(self.item)
        self.frame: Frame | None = None  # as shown: rotated/flipped views of the arrays
        self.source_frame: Frame | None = None  # as stored in the file
        self.rot = 0  # quarter turns clockwise
        self.flip = False  # left-right, applied before the rotation
        self._voi: Window | LookupTable | None = None
        self._buffer: DisplayBuffer | None = None
        self._buffer_key: tuple | None = None
        self.renders = 0  # W/L renders (tests, debug)
        self.vb.windowDrag.connect(self.windowDrag)
        self.vb.scroll.connect(self.scroll)
        self.vb.sigRangeChanged.connect(self._on_vb_range_changed)
        self.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)

    # -- frames and W/L ------------------------------------------------------------------
    def _oriented(self, a: np.ndarray | None) -> np.ndarray | None:
        if a is None:
            return None
        b = a[:, ::-1] if self.flip else a
        return np.rot90(b, -self.rot) if self.rot else b  # views: no copy

    def show_frame(self, frame: Frame, *, keep_view: bool = True) -> None:
        import dataclasses

        self.source_frame = frame
        stored = self._oriented(frame.stored)
        assert stored is not None  # a Frame always holds its stored values
        frame = dataclasses.replace(frame, stored=stored, rgb8=self._oriented(frame.rgb8))
        first = self.frame is None or self.frame.stored.shape[:2] != frame.stored.shape[:2]
        self.frame = frame
        self._voi = frame.pipeline.voi
        self._buffer_key = None
        if first or not keep_view:
            rows, cols = frame.stored.shape[:2]
            self.vb.setRange(QRectF(0, 0, cols, rows), padding=0)
        self._render()

    def clear(self) -> None:
        self.frame = None
        self._buffer = None
        self._buffer_key = None
        self.item.clear()

    def set_voi(self, voi) -> None:
        self._voi = voi
        self._render()

    def fit(self) -> None:
        if self.frame is not None:
            rows, cols = self.frame.stored.shape[:2]
            self.vb.setRange(QRectF(0, 0, cols, rows), padding=0)

    def set_orientation(self, rot: int, flip: bool) -> None:
        """Quarter turns clockwise and a left-right flip (display only)."""
        self.rot, self.flip = rot % 4, flip
        if self.source_frame is not None:
            self.show_frame(dataclasses_replace_voi(self.source_frame, self._voi), keep_view=False)

    def to_source(self, r: float, c: float, *, continuous: bool = False) -> tuple[float, float]:
        """Map a (row, col) on screen to the stored image: pixel indices, or continuous
        coordinates (pixel edges) for measurements."""
        assert self.source_frame is not None
        h, w = self.source_frame.stored.shape[:2]
        one = 0 if continuous else 1
        k = self.rot
        if k == 1:
            r, c = h - one - c, r
        elif k == 2:
            r, c = h - one - r, w - one - c
        elif k == 3:
            r, c = c, w - one - r
        if self.flip:
            c = w - one - c
        return r, c

    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        (x0, x1), _ = self.vb.viewRange()
        width = self.vb.sceneBoundingRect().width()
        return width / max(x1 - x0, 1e-9)

    def one_to_one(self) -> None:
        """One image pixel per screen pixel, around the current centre."""
        if self.frame is None:
            return
        rect = self.vb.sceneBoundingRect()
        (x0, x1), (y0, y1) = self.vb.viewRange()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        w, h = rect.width(), rect.height()
        self.vb.setRange(
            xRange=(cx - w / 2, cx + w / 2), yRange=(cy - h / 2, cy + h / 2), padding=0
        )

    def set_wl_mode(self, flag: bool) -> None:
        self.vb.wl_mode = flag

    def image_array(self) -> np.ndarray | None:
        """What is on screen now (uint8, display resolution)."""
        return None if self.item.image is None else np.asarray(self.item.image)

    def _region(self) -> tuple[float, float, float, float] | None:
        if self.frame is None:
            return None
        rows, cols = self.frame.stored.shape[:2]
        (x0, x1), (y0, y1) = self.vb.viewRange()
        c0, c1 = max(0.0, np.floor(x0)), min(float(cols), np.ceil(x1))
        r0, r1 = max(0.0, np.floor(y0)), min(float(rows), np.ceil(y1))
        if c1 <= c0 or r1 <= r0:
            return None
        return (r0, r1, c0, c1)

    def _render(self) -> None:
        frame = self.frame
        if frame is None:
            return
        region = self._region()
        if region is None:
            self.item.clear()
            return
        rect = self.vb.sceneBoundingRect()
        ratio = self.devicePixelRatioF()
        vh = max(1, int(rect.height() * ratio))
        vw = max(1, int(rect.width() * ratio))
        key = (id(frame), region, vh, vw)
        if key != self._buffer_key:
            source = frame.rgb8 if frame.rgb8 is not None else frame.stored
            self._buffer = DisplayBuffer.for_view(frame.pipeline, source, vh, vw, region)
            self._buffer_key = key
        assert self._buffer is not None
        image = self._buffer.render(self._voi)
        r0, r1, c0, c1 = region
        self.item.setImage(image, autoLevels=False, levels=(0, 255))
        self.item.setRect(QRectF(c0, r0, c1 - c0, r1 - r0))
        self.renders += 1

    # -- slots ---------------------------------------------------------------------------
    @Slot(object, object)
    def _on_vb_range_changed(self, *_args) -> None:
        self._render()

    @Slot(object)
    def _on_scene_mouse_moved(self, pos: QPointF) -> None:
        if self.frame is None:
            return
        p = self.vb.mapSceneToView(pos)
        rows, cols = self.frame.stored.shape[:2]
        r, c = int(np.floor(p.y())), int(np.floor(p.x()))
        if 0 <= r < rows and 0 <= c < cols:
            sr, sc = self.to_source(r, c)
            self.hover.emit(int(sr), int(sc))
        else:
            self.hover.emit(-1, -1)
