"""pytest-qt: the viewer widget on a generated CT series and sample files (offscreen).

Real mouse and wheel events go to the canvas's viewport (see helpers.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from pacsadmin.core.imaging.luts import Window
from pacsadmin.gui.viewer import ViewerWidget
from tests.unit.imaging.conftest import sample

from .helpers import ct_series, drag, hover, wheel


@pytest.fixture
def viewer(qtbot):
    v = ViewerWidget()
    qtbot.addWidget(v)
    v.resize(1100, 700)
    v.show()
    qtbot.waitExposed(v)
    return v


def _center(v):
    vp = v.canvas.viewport()
    return vp, vp.rect().center()


def test_series_sorted_with_file_window_and_qc(viewer, tmp_path):
    ct_series(tmp_path, n=8, skip=(4,))
    viewer.open_paths([str(tmp_path)])
    assert viewer.count() == 7 and viewer.index == 0
    assert viewer.series.sorted_by == "position along the slice normal"
    assert viewer.wl_label.text() == "W 400 L 40  LINEAR"
    findings = viewer.qc_panel.findings_text()
    assert findings[0][0] == "error" and "about 1 slice(s) missing" in findings[0][1]
    rows = dict(viewer.inspector.rows())
    assert rows["Modality LUT"] == "Rescale: stored x 1 - 1024 (HU)"
    assert rows["VOI"].startswith("Window: center 40, width 400, LINEAR (file)")
    assert rows["Presentation"].startswith("MONOCHROME2: not inverted")


def test_right_drag_changes_window_by_the_expected_amounts(viewer, tmp_path, qtbot):
    ct_series(tmp_path, n=3)
    viewer.open_paths([str(tmp_path)])
    step = viewer.wl_step
    frame = viewer.current_frame()
    lo, hi = frame.pipeline.modality_range
    assert step == pytest.approx((hi - lo) / 512)
    vp, c = _center(viewer)
    renders = viewer.canvas.renders
    with qtbot.waitSignal(viewer.windowChanged):
        drag(vp, c, c + QPoint(60, -30))
    voi = viewer.canvas.frame.pipeline.voi
    # pyqtgraph starts a drag after a few pixels: the moves after that count, exactly
    moved_x = (voi.width - 400) / step
    moved_y = (voi.center - 40) / step
    assert 40 <= moved_x <= 60 and -30 <= moved_y <= -20
    assert moved_x / -moved_y == pytest.approx(2.0, rel=0.1)
    assert viewer.canvas.renders > renders
    # the image on screen is the new window applied to this frame
    shown = viewer.canvas.image_array()
    assert shown.dtype == np.uint8


def test_window_sticks_when_scrolling_and_wheel_scrolls(viewer, tmp_path):
    ct_series(tmp_path, n=5)
    viewer.open_paths([str(tmp_path)])
    viewer.set_voi(Window(-600, 1500, "LINEAR", "Lung", "preset"))
    vp, c = _center(viewer)
    wheel(vp, c, -120)
    assert viewer.index == 1
    wheel(vp, c, -120)
    wheel(vp, c, 120)
    assert viewer.index == 1
    assert viewer.wl_label.text() == "W 1500 L -600  LINEAR"
    for _ in range(10):
        wheel(vp, c, -120)
    assert viewer.index == 4  # clamped at the last slice


def test_probe_shows_hounsfield_units(viewer, tmp_path, qtbot):
    ct_series(tmp_path, n=2)
    viewer.open_paths([str(tmp_path)])
    vp, c = _center(viewer)
    hover(vp, c)
    text = viewer.probe_label.text()
    frame = viewer.current_frame()
    row, col = (int(v) for v in text.split(":")[0].replace("row ", "").split(", col "))
    stored = int(frame.stored[row, col])
    assert f"stored {stored}, value {stored - 1024:g} HU" in text
    assert "z 0.0 mm" in text
    # scrolling with the wheel, the mouse still: the probe reads the new slice at once
    wheel(vp, c, -120)
    assert viewer.index == 1
    text = viewer.probe_label.text()
    stored = int(viewer.current_frame().stored[row, col])  # ct_series: slice 1 is +10
    assert text.startswith(f"row {row}, col {col}: stored {stored}, value {stored - 1024:g} HU")
    assert "z 2.5 mm" in text


def test_image_on_screen_matches_the_pipeline(viewer, tmp_path):
    ct_series(tmp_path, n=1)
    viewer.open_paths([str(tmp_path)])
    frame = viewer.current_frame()
    shown = viewer.canvas.image_array()
    full = frame.pipeline.to_uint8(frame.stored)
    # display-resolution samples of the full image: every value on screen comes from it
    assert set(np.unique(shown)) <= set(np.unique(full))
    assert shown.shape[0] >= 128  # magnified into the view


def test_bad_file_shows_its_message_and_the_rest_still_shows(viewer, tmp_path):
    paths = ct_series(tmp_path, n=3)
    raw = Path(paths[1]).read_bytes()
    Path(paths[1]).write_bytes(raw[: len(raw) - 5000])  # truncated pixel data
    viewer.open_paths([str(tmp_path)])
    assert viewer.count() == 3
    viewer.set_index(1)
    assert viewer.stack.currentWidget() is viewer.message
    assert "inconsistent image geometry" in viewer.message.text()
    assert "ct001.dcm" in viewer.message.text()
    viewer.set_index(2)
    assert viewer.stack.currentWidget() is viewer.canvas
    assert viewer.current_frame() is not None


def test_sr_and_non_dicom_show_a_message(viewer, tmp_path):
    viewer.open_paths([sample("test-SR.dcm")])
    assert viewer.stack.currentWidget() is viewer.message
    assert "no pixel data" in viewer.message.text()
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"nothing to see")
    viewer.open_paths([str(junk)])
    assert ("error", "unreadable: this is not a DICOM file") in viewer.qc_panel.findings_text()


def test_color_multiframe_and_presets_menu(viewer):
    viewer.open_paths([sample("examples_ybr_color.dcm")])
    assert viewer.count() == 30
    viewer.set_index(29)
    assert viewer.wl_label.text() == "color"
    assert viewer.canvas.image_array().ndim == 3
    viewer.open_paths([sample("CT_small.dcm")])
    texts = [viewer.voi_combo.itemText(i) for i in range(viewer.voi_combo.count())]
    assert "Lung: C -600 W 1500" in texts and "Auto: min/max" in texts
    i = texts.index("Bone: C 400 W 1800")
    viewer.voi_combo.activated.emit(i)
    assert viewer.wl_label.text() == "W 1800 L 400  LINEAR"


def test_invert_toggle_inverts_the_screen(viewer, tmp_path):
    ct_series(tmp_path, n=1)
    viewer.open_paths([str(tmp_path)])
    before = viewer.canvas.image_array().copy()
    viewer.invert_box.setChecked(True)
    after = viewer.canvas.image_array()
    assert np.array_equal(after, 255 - before)
    assert "inverted again by the user" in dict(viewer.inspector.rows())["Presentation"]


def test_annotations_hide_patient_and_export(viewer, tmp_path):
    ct_series(tmp_path, n=2)
    viewer.open_paths([str(tmp_path)])
    text = viewer.annotations.text()
    assert "TEST, IMAGING" in text and "Image 1 / 2" in text and "W 400 L 40" in text
    viewer.anon_box.setChecked(True)
    assert "TEST, IMAGING" not in viewer.annotations.text()
    assert "(patient data hidden)" in viewer.annotations.text()
    out = tmp_path / "view.png"
    viewer.export_png(str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_button_saves_the_view_or_says_why_not(viewer, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    assert not viewer.export_button.isEnabled()  # nothing open yet: it cannot act
    viewer._on_export_button_clicked()  # called anyway: no dialog, a sentence
    assert "open an image first" in viewer.measure_label.text()
    ct_series(tmp_path, n=2)
    viewer.open_paths([str(tmp_path)])
    assert viewer.export_button.isEnabled()
    out = tmp_path / "shot.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "PNG"))
    viewer.export_button.click()
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "View saved" in viewer.measure_label.text()
    bad = tmp_path / "no-such-folder" / "x.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(bad), "PNG"))
    viewer.export_button.click()
    assert warnings and "not saved" in warnings[0] and not bad.exists()


def test_one_to_one_and_fit(viewer, tmp_path):
    ct_series(tmp_path, n=1)
    viewer.open_paths([str(tmp_path)])
    assert viewer.canvas.zoom() > 2  # 128 px fitted into ~600 px
    viewer.one_button.click()
    assert viewer.canvas.zoom() == pytest.approx(1.0, rel=0.02)
    viewer.fit_button.click()
    assert viewer.canvas.zoom() > 2


def test_markup_in_patient_name_is_shown_as_text(viewer, tmp_path):
    import pydicom

    path = ct_series(tmp_path, n=1)[0]
    ds = pydicom.dcmread(path)
    ds.PatientName = "<b>BOLD</b>^<script>x</script>"
    ds.SeriesDescription = "<i>ital</i>"
    ds.save_as(path)
    viewer.open_paths([path])
    label = viewer.annotations.labels["tl"]
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert "<B>BOLD</B>, <script>x</script>" in label.text()  # FAMILY, Given: as text


def test_histogram_region_follows_and_sets_the_window(viewer, tmp_path, qtbot):
    ct_series(tmp_path, n=1)
    viewer.open_paths([str(tmp_path)])
    assert viewer.histogram.region.getRegion() == pytest.approx((-160, 240))
    viewer.set_voi(Window(-600, 1500))
    assert viewer.histogram.region.getRegion() == pytest.approx((-1350, 150))
    with qtbot.waitSignal(viewer.windowChanged):
        viewer.histogram.region.setRegion((0, 100))
        viewer.histogram.region.sigRegionChangeFinished.emit(viewer.histogram.region)
    assert viewer.wl_label.text() == "W 100 L 50  LINEAR"


def test_roi_and_distance_measurements(viewer, tmp_path):
    from pacsadmin.core.imaging.measure import rect_mask

    ct_series(tmp_path, n=1)
    viewer.open_paths([str(tmp_path)])
    roi = viewer.measure.add("rect")
    roi.setPos((10, 20))
    roi.setSize((30, 16))
    frame = viewer.current_frame()
    hu = frame.stored.astype(float) - 1024
    values = hu[rect_mask(hu.shape, 20, 10, 36, 40)]
    assert values.size == 480
    text = viewer.measure_label.text()
    assert text.startswith(f"Rectangle: mean {values.mean():.1f} HU")
    assert "480 px, area 120.0 mm²" in text  # 0.5 x 0.5 mm pixels
    line = viewer.measure.add("line")
    line.movePoint(line.getHandles()[0], (0, 0), finish=True)
    line.movePoint(line.getHandles()[1], (30, 40), finish=True)
    assert viewer.measure_label.text() == "Distance 25.0 mm"
    viewer.roi_combo.activated.emit(viewer.roi_combo.findData("clear"))
    assert viewer.measure.rois == [] and viewer.measure_label.text() == ""


def test_rotate_and_flip_keep_probe_and_distances_right(viewer, tmp_path, qtbot):
    import pydicom

    path = ct_series(tmp_path, n=1)[0]
    ds = pydicom.dcmread(path)
    ds.PixelSpacing = [0.5, 0.25]  # rows 0.5 mm apart, columns 0.25 mm apart
    ds.save_as(path)
    viewer.open_paths([path])
    frame = viewer.current_frame()
    viewer.rotate_button.click()  # 90 degrees clockwise
    shown = viewer.canvas.frame.stored
    assert np.array_equal(shown, np.rot90(frame.stored, -1))
    # screen (row, col) -> stored pixel
    h = frame.stored.shape[0]
    assert viewer.canvas.to_source(0, 0) == (h - 1, 0)
    assert viewer.canvas.to_source(5, 7) == (h - 1 - 7, 5)
    # a vertical line on screen runs along a stored row: 40 columns x 0.25 mm
    line = viewer.measure.add("line")
    line.movePoint(line.getHandles()[0], (10, 0), finish=True)
    line.movePoint(line.getHandles()[1], (10, 40), finish=True)
    assert viewer.measure_label.text() == "Distance 10.0 mm"
    viewer.flip_button.click()
    assert np.array_equal(viewer.canvas.frame.stored, np.rot90(frame.stored[:, ::-1], -1))
    r, c = viewer.canvas.to_source(3, 4)
    assert viewer.canvas.frame.stored[3, 4] == frame.stored[int(r), int(c)]
    # the probe reports the stored pixel under the cursor, whatever the orientation
    vp, center = _center(viewer)
    hover(vp, center)
    text = viewer.probe_label.text()
    row, col = (int(v) for v in text.split(":")[0].replace("row ", "").split(", col "))
    assert f"stored {int(frame.stored[row, col])}," in text


def test_user_presets_saved_and_offered(qtbot, tmp_path):
    from pacsadmin.core.imaging.presets import load_user_presets

    path = tmp_path / "presets.json"
    v = ViewerWidget(presets_path=path)
    qtbot.addWidget(v)
    (tmp_path / "s").mkdir()
    ct_series(tmp_path / "s", n=1)
    v.open_paths([str(tmp_path / "s")])
    v.set_voi(Window(700, 4000))
    assert v.save_preset("Temporal bone").name == "temporal bone"
    assert [p.center for p in load_user_presets(path)[0]] == [700]
    texts = [v.voi_combo.itemText(i) for i in range(v.voi_combo.count())]
    assert "Temporal bone: C 700 W 4000" in texts
    v2 = ViewerWidget(presets_path=path)  # a new viewer reads them back
    qtbot.addWidget(v2)
    assert v2.user_presets[0].label == "Temporal bone"


def test_tool_row_lays_out_every_control(viewer, qtbot):
    viewer.resize(1400, 800)  # room for the whole tool bar (narrower: behind its » button)
    qtbot.wait(50)
    row = [
        viewer.voi_combo,
        viewer.invert_box,
        viewer.wl_mode_box,
        viewer.fit_button,
        viewer.one_button,
        viewer.rotate_button,
        viewer.flip_button,
        viewer.roi_combo,
        viewer.export_button,
    ]
    xs = [w.mapTo(viewer, w.rect().topLeft()).x() for w in row]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # in order, none stacked at (0, 0)
    assert all(w.isVisible() for w in row)
