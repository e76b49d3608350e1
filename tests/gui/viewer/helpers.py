"""Generated series and real mouse events for the viewer tests."""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import CTImageStorage, generate_uid
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from tests.unit.imaging.conftest import make_ds, save


def ct_series(folder, n=8, skip=()):
    """``n`` CT slices made from CT_small (128x128, HU = stored - 1024), 2.5 mm apart."""
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array
    series, study = generate_uid(), generate_uid()
    paths = []
    for k in range(n):
        if k in skip:
            continue
        arr = (base + 10 * k).astype(np.int16)
        ds = make_ds(
            arr,
            Modality="CT",
            RescaleSlope=1,
            RescaleIntercept=-1024,
            WindowCenter=40,
            WindowWidth=400,
            PixelSpacing=[0.5, 0.5],
            ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
            ImagePositionPatient=[-32.0, -32.0, 2.5 * k],
            InstanceNumber=k + 1,
            SeriesDescription="HEAD 2.5",
        )
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SeriesInstanceUID, ds.StudyInstanceUID = series, study
        paths.append(save(ds, folder / f"ct{k:03d}.dcm"))
    return paths


def _send_mouse(widget, kind, pos, button, buttons):
    ev = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, ev)


def drag(widget, start: QPoint, end: QPoint, button=Qt.MouseButton.RightButton, steps=10):
    """A real press-move-release drag on ``widget`` (a QGraphicsView's viewport)."""
    _send_mouse(widget, QEvent.Type.MouseButtonPress, start, button, button)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        _send_mouse(widget, QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, button)
    _send_mouse(widget, QEvent.Type.MouseButtonRelease, end, button, Qt.MouseButton.NoButton)


def wheel(widget, pos: QPoint, delta: int):
    ev = QWheelEvent(
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, ev)


def hover(widget, pos: QPoint):
    _send_mouse(
        widget, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton
    )
