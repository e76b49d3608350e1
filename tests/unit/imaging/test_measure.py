"""ROI statistics and distances."""

from __future__ import annotations

import numpy as np

from pacsadmin.core.imaging.measure import (
    distance,
    ellipse_mask,
    pixel_spacing,
    rect_mask,
    roi_stats,
)
from pacsadmin.core.imaging.render import open_frame

from .conftest import make_ds, save


def test_masks():
    m = rect_mask((6, 8), 1, 2, 3, 6)
    assert m.sum() == 8 and m[1, 2] and m[2, 5] and not m[3, 2]
    e = ellipse_mask((11, 11), 0, 0, 11, 11)
    assert e[5, 5] and not e[0, 0] and e.sum() == 97  # pixel centres within radius 5.5


def test_roi_stats_in_hu_and_mm2(tmp_path):
    arr = np.arange(100, dtype=np.int16).reshape(10, 10)
    ds = make_ds(
        arr, RescaleSlope=2, RescaleIntercept=-1024, PixelSpacing=[0.5, 0.25], Modality="CT"
    )
    frame = open_frame(save(ds, tmp_path / "a.dcm"))
    s = roi_stats(frame, rect_mask((10, 10), 2, 3, 4, 5))
    values = arr[2:4, 3:5].astype(float) * 2 - 1024
    assert (s.pixels, s.mean, s.min, s.max) == (4, values.mean(), values.min(), values.max())
    assert s.std == np.std(values) and s.area_mm2 == 4 * 0.5 * 0.25 and s.unit == "HU"
    assert "area 0.5 mm²" in s.text()
    assert distance(frame, (0, 0), (4, 0)) == "2.0 mm"


def test_imager_pixel_spacing_is_flagged(tmp_path):
    ds = make_ds(np.zeros((4, 4), np.uint16), ImagerPixelSpacing=[0.1, 0.1])
    frame = open_frame(save(ds, tmp_path / "dx.dcm"))
    assert pixel_spacing(frame.image.ds).source.startswith("Imager Pixel Spacing")
    assert distance(frame, (0, 0), (3, 4)).startswith("0.5 mm (Imager Pixel Spacing")
    s = roi_stats(frame, rect_mask((4, 4), 0, 0, 2, 2))
    assert "not corrected for magnification" in s.note
    plain = open_frame(save(make_ds(np.zeros((4, 4), np.uint16)), tmp_path / "n.dcm"))
    assert distance(plain, (0, 0), (3, 4)) == "5.0 px (no pixel spacing)"
