"""The viewer is part of the main window: File > Open, the Viewer tab, clean close."""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

WAIT = 20_000


def _ct_series(folder, n=5, prefix="ct"):
    study, series = generate_uid(), generate_uid()
    for i in range(n):
        ds = pydicom.Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.Modality, ds.PatientName, ds.PatientID = "CT", "VIEWER^TEST", "V1"
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [0, 0, float(i)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [1, 1]
        ds.Rows = ds.Columns = 32
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = (np.full((32, 32), 1000 + i, np.int16)).tobytes()
        ds.SeriesDescription = f"{prefix} series"
        ds.save_as(folder / f"{prefix}{i}.dcm", enforce_file_format=True)


def test_open_folder_shows_the_series_in_the_viewer_tab(pacs_app, qtbot, tmp_path):
    app = pacs_app
    _ct_series(tmp_path)
    assert app.central_tabs.currentWidget() is app.doctor_panel
    app.open_in_viewer([str(tmp_path)])
    assert app.central_tabs.currentWidget() is app.viewer
    qtbot.waitUntil(
        lambda: app.viewer.count() == 5 and app.viewer.current_frame() is not None, timeout=WAIT
    )
    frame = app.viewer.current_frame()
    assert frame is not None
    assert app.act_open_images.shortcut().toString() == "Ctrl+O"


def test_a_folder_with_two_series_offers_a_series_picker(pacs_app, qtbot, tmp_path):
    app = pacs_app
    _ct_series(tmp_path, n=5, prefix="head")
    _ct_series(tmp_path, n=3, prefix="neck")
    app.open_in_viewer([str(tmp_path)])
    combo = app.viewer.series_combo
    qtbot.waitUntil(lambda: combo.count() == 2 and app.viewer.count() > 0, timeout=WAIT)
    qtbot.waitUntil(lambda: combo.isVisibleTo(app.viewer), timeout=2000)  # the tool bar lays out
    texts = sorted(combo.itemText(i) for i in range(2))
    assert texts == ["CT head series (5 images)", "CT neck series (3 images)"]
    other = 1 - combo.currentIndex()
    expected = 5 if "head" in combo.itemText(other) else 3
    combo.setCurrentIndex(other)
    combo.activated.emit(other)
    qtbot.waitUntil(lambda: app.viewer.count() == expected, timeout=WAIT)
    qtbot.waitUntil(lambda: app.viewer.current_frame() is not None, timeout=WAIT)


def test_a_single_series_hides_the_picker(pacs_app, qtbot, tmp_path):
    _ct_series(tmp_path, n=2)
    pacs_app.open_in_viewer([str(tmp_path)])
    qtbot.waitUntil(lambda: pacs_app.viewer.count() == 2, timeout=WAIT)
    assert not pacs_app.viewer.series_combo.isVisibleTo(pacs_app.viewer)


def test_the_current_images_tags_beside_it_and_edit(pacs_app, qtbot, tmp_path):
    app = pacs_app
    folder = tmp_path / "series"
    folder.mkdir()
    _ct_series(folder)
    app.open_in_viewer([str(folder)])
    qtbot.waitUntil(lambda: app.viewer.count() == 5, timeout=WAIT)
    panel = app.viewer.tags_panel
    app.viewer.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() > 10, timeout=WAIT)
    first = panel.path
    texts = [panel.tree.topLevelItem(i).text(1) for i in range(panel.tree.topLevelItemCount())]
    assert "PatientName" in texts and "InstanceNumber" in texts
    app.viewer.set_index(3)
    qtbot.waitUntil(lambda: panel.path != first and panel._shown == panel.path, timeout=WAIT)
    panel.search.setText("InstanceNumber")
    shown = [
        panel.tree.topLevelItem(i)
        for i in range(panel.tree.topLevelItemCount())
        if not panel.tree.topLevelItem(i).isHidden()
    ]
    assert [i.text(1) for i in shown] == ["InstanceNumber"]
    panel.edit.click()
    ed = app.editing.editors[-1]
    assert ed.path == panel.path
    ed.confirm_discard = lambda: True
    ed.close()
