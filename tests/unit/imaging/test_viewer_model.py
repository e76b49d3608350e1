"""The viewer's Qt-free state: slots, frames, window, probe, and the events views observe."""

from __future__ import annotations

import numpy as np
import pytest

from pacsadmin.core.imaging.luts import Window
from pacsadmin.core.imaging.render import open_frame
from pacsadmin.core.imaging.series import scan
from pacsadmin.core.imaging.viewer_model import ViewerModel
from tests.unit.imaging.conftest import make_ds, save


def _series(folder, n=4):
    """``n`` CT slices whose stored value at (r, c) is 100 * slice + r."""
    from pydicom.uid import CTImageStorage, generate_uid

    series, study = generate_uid(), generate_uid()
    for k in range(n):
        arr = (np.arange(16, dtype=np.int16)[:, None] + 100 * k) * np.ones((16, 16), np.int16)
        ds = make_ds(
            arr,
            Modality="CT",
            RescaleSlope=1,
            RescaleIntercept=-1024,
            WindowCenter=40,
            WindowWidth=400,
            PixelSpacing=[0.5, 0.5],
            ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
            ImagePositionPatient=[0.0, 0.0, 2.0 * k],
            InstanceNumber=k + 1,
        )
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SeriesInstanceUID, ds.StudyInstanceUID = series, study
        save(ds, folder / f"ct{k}.dcm")
    return scan([str(folder)]).series[0]


class Recorder:
    def __init__(self, model: ViewerModel) -> None:
        self.seen: list[tuple[str, object]] = []
        for name in ("series", "slots", "index", "frame", "voi", "invert", "hover", "zoom"):
            getattr(model.events, name).connect(lambda v, name=name: self.seen.append((name, v)))

    def names(self) -> list[str]:
        return [n for n, _ in self.seen]


def _loaded(tmp_path, n=4):
    m = ViewerModel()
    rec = Recorder(m)
    m.set_series(_series(tmp_path, n))
    for slot, (path, k) in enumerate(m.slots):
        m.put_frame(slot, open_frame(path, k, isolate=False))
    return m, rec


def test_a_series_becomes_slots_and_the_first_is_shown(tmp_path):
    m, rec = _loaded(tmp_path)
    assert m.count() == 4 and m.index == 0
    assert rec.names()[:3] == ["series", "slots", "index"]
    assert [n for n, v in rec.seen if n == "frame"] == ["frame"] * 4
    assert m.decoded_count() == 4 and m.done_slots() == frozenset(range(4))


def test_index_is_clamped_and_announced(tmp_path):
    m, rec = _loaded(tmp_path)
    rec.seen.clear()
    m.set_index(99)
    m.set_index(-5)
    assert rec.seen == [("index", 3), ("index", 0)]


def test_a_frame_for_a_slot_out_of_range_or_already_there_is_not_taken(tmp_path):
    m, _rec = _loaded(tmp_path)
    first = m.frames[0]
    assert not m.put_frame(7, "nope")
    assert not m.put_frame(0, "late duplicate", replace=False)
    assert m.frames[0] is first


def test_the_probe_follows_the_frame_when_the_stack_scrolls(tmp_path):
    """Bug: the probe kept the previous slice's value until the mouse moved."""
    m, _rec = _loaded(tmp_path)
    m.set_hover((3, 5))
    assert m.probe_text().startswith("row 3, col 5: stored 3, value -1021 HU")
    m.set_index(2)  # the mouse does not move
    assert m.probe_text().startswith("row 3, col 5: stored 203, value -821 HU")
    assert "(x 2.5, y 1.5, z 4.0 mm)" in m.probe_text()
    m.set_hover(None)
    assert m.probe_text() == ""


def test_drag_changes_width_with_x_and_center_with_y_for_all_following_slices(tmp_path):
    m, rec = _loaded(tmp_path)
    step = m.wl_step
    lo, hi = m.current_frame().pipeline.modality_range
    assert step == pytest.approx((hi - lo) / 512)
    w = m.drag_window(10, -4)
    assert w == Window(40 - 4 * step, 400 + 10 * step, "LINEAR", "", "user")
    assert ("voi", w) in rec.seen
    m.set_index(3)
    assert m.current_voi() == w  # the user's window stays while scrolling
    assert m.shown(m.current_frame()).pipeline.voi == w


def test_a_new_series_forgets_the_user_window_and_frames(tmp_path):
    m, _rec = _loaded(tmp_path)
    m.drag_window(5, 5)
    (tmp_path / "b").mkdir()
    m.set_series(_series(tmp_path / "b", 2))
    assert m.user_voi is None and m.frames == {} and m.count() == 2 and m.index == 0


def test_a_frame_decoded_while_scanning_stays_on_screen(tmp_path):
    series = _series(tmp_path)
    m = ViewerModel()
    third = (series.instances[2].path, 0)
    m.add_early(third, open_frame(third[0], 0, isolate=False))
    assert m.slots == [third] and m.index == 0 and m.provisional_path == third[0]
    m.set_series(series)
    assert m.index == 2 and 2 in m.frames  # the same image, now at its place in the series


def test_invert_is_announced_once_per_change(tmp_path):
    m, rec = _loaded(tmp_path)
    rec.seen.clear()
    m.set_invert(True)
    m.set_invert(True)
    assert rec.seen == [("invert", True)]
    assert m.shown(m.current_frame()).pipeline.describe() != m.current_frame().pipeline.describe()
