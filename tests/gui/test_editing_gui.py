"""The tag editor and the correction workflow in the window (pytest-qt, real files, the
app's own Q/R SCP as the PACS): a bad value shows its rule and writes nothing, a good
one is saved as a batch and undone byte for byte; a study is corrected through the
preview, applied, sent back and checked at the node, then undone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
from pydicom import dcmread
from pydicom.data import get_testdata_file
from PySide6.QtCore import Qt

from pacsadmin.gui.editing.correction_dialog import CorrectionDialog
from tests.conftest import SCP_AET


def _find_item(tree, keyword):
    from PySide6.QtWidgets import QTreeWidgetItemIterator

    it = QTreeWidgetItemIterator(tree)
    while it.value():
        if it.value().text(1) == keyword:
            return it.value()
        it += 1
    return None


def test_tag_editor_validates_saves_and_undoes(pacs_app, qtbot, tmp_path):
    src = Path(get_testdata_file("CT_small.dcm"))
    user = tmp_path / "user"  # the user's folder (the app's home is elsewhere in tmp_path)
    user.mkdir()
    path = user / "ct.dcm"
    shutil.copy(src, path)
    original = path.read_bytes()
    ed = pacs_app.editing.open_tags(str(path))
    ed.confirm_discard = lambda: True
    qtbot.waitUntil(lambda: _find_item(ed.tree, "PatientBirthDate") is not None, timeout=10000)
    assert _find_item(ed.tree, "PixelData") is not None
    item = _find_item(ed.tree, "PatientBirthDate")
    ed.tree.setCurrentItem(item)
    ed.value.setText("20241345")
    ed.apply_value()
    assert "DA" in ed.message.text() and "20241345" in ed.message.text()
    assert not ed.save_btn.isEnabled()
    ed.value.setText("19700101")
    ed.apply_value()
    qtbot.waitUntil(
        lambda: (
            (i := _find_item(ed.tree, "PatientBirthDate")) is not None and i.text(5) == "19700101"
        ),
        timeout=10000,
    )
    qtbot.waitUntil(ed.save_btn.isEnabled, timeout=5000)
    ed.search.setText("0010,0030")
    assert not _find_item(ed.tree, "PatientBirthDate").isHidden()
    assert _find_item(ed.tree, "Rows").isHidden()
    ed.save()
    qtbot.waitUntil(
        lambda: "Saved" in ed.status.text() or "Not saved" in ed.status.text(), timeout=15000
    )
    assert "Saved" in ed.status.text(), ed.status.text()
    after = dcmread(path)
    assert after.PatientBirthDate == "19700101"
    assert after.PixelData == dcmread(src).PixelData
    assert sorted(p.name for p in user.iterdir()) == ["ct.dcm"]  # no temp, no backup here
    ed.close()

    pacs_app.editing.confirm = lambda title, text: True
    pacs_app.editing.undo_last()
    qtbot.waitUntil(lambda: path.read_bytes() == original, timeout=15000)


def _study(folder: Path, n: int = 3) -> list[Path]:
    from pydicom.uid import generate_uid

    base = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    st, se = generate_uid(), generate_uid()
    out = []
    for i in range(n):
        ds = base.copy()
        ds.PatientName, ds.PatientID = "WRONG^NAME", "WRONG1"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = st, se
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i + 1
        p = folder / f"im{i}.dcm"
        ds.save_as(p)
        out.append(p)
    return out


def test_correct_send_check_and_undo(pacs_app, qtbot, tmp_path, start_scp, archive):
    from pacsadmin.core.nodes import DicomNode

    folder = tmp_path / "study"
    folder.mkdir()
    files = _study(folder)
    before = {p: p.read_bytes() for p in files}
    scp = start_scp()
    pacs_app.nodes.add(DicomNode(name="PACS", ae_title=SCP_AET, host="127.0.0.1", port=scp.port))
    pacs_app.editing.confirm = lambda title, text: True

    pacs_app.editing.open_correction(files=[str(folder)])
    qtbot.waitUntil(lambda: isinstance(pacs_app.editing.dialog, CorrectionDialog), timeout=10000)
    dlg = pacs_app.editing.dialog
    assert dlg.edits["PatientName"].text() == "WRONG^NAME"
    dlg.edits["PatientName"].setText("RIGHT^NAME")
    dlg.edits["PatientID"].setText("RIGHT1")
    assert not dlg.preview_btn.isEnabled()  # the UID policy must be chosen
    dlg.keep_uids.setChecked(True)
    dlg.preview_btn.click()
    qtbot.waitUntil(lambda: dlg.diff.topLevelItemCount() == 3, timeout=15000)
    assert "PACS that already holds" in dlg.warnings.text()
    assert all(p.read_bytes() == before[p] for p in files)  # a preview writes nothing
    assert dlg.apply_btn.isEnabled()
    dlg.apply_btn.click()
    qtbot.waitUntil(lambda: "Applied" in dlg.status.text(), timeout=15000)
    for p in files:
        ds = dcmread(p)
        assert ds.PatientName == "RIGHT^NAME" and ds.PatientID == "RIGHT1"
        orig = ds.OriginalAttributesSequence[-1]
        assert orig.ReasonForTheAttributeModification == "CORRECT"
    assert sorted(q.name for q in folder.iterdir()) == sorted(p.name for p in files)

    dlg.node.setCurrentText("PACS")
    dlg.send_btn.click()
    qtbot.waitUntil(lambda: "Sent" in dlg.status.text(), timeout=30000)
    assert "Sent 3 of 3" in dlg.status.text(), dlg.status.text()
    assert "now reports the corrected values" in dlg.status.text(), dlg.status.text()

    dlg.undo_btn.click()
    qtbot.waitUntil(lambda: "Undone" in dlg.status.text(), timeout=15000)
    assert all(p.read_bytes() == before[p] for p in files)
    dlg.close()


def test_a_name_the_charset_cannot_hold_is_refused_or_upgraded(pacs_app, qtbot, tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    path = user / "ct.dcm"
    shutil.copy(get_testdata_file("CT_small.dcm"), path)  # ISO_IR 100
    ed = pacs_app.editing.open_tags(str(path))
    ed.confirm_discard = lambda: True
    qtbot.waitUntil(lambda: _find_item(ed.tree, "PatientName") is not None, timeout=10000)
    ed.tree.setCurrentItem(_find_item(ed.tree, "PatientName"))
    ed.confirm_upgrade = lambda why: False
    ed.value.setText("山田^太郎")
    ed.apply_value()
    assert "character set" in ed.message.text()
    assert not ed.session.can_undo  # refused: nothing changed
    ed.confirm_upgrade = lambda why: True
    ed.apply_value()
    qtbot.waitUntil(
        lambda: (
            (i := _find_item(ed.tree, "SpecificCharacterSet")) is not None
            and "ISO_IR 192" in i.text(5)
        ),
        timeout=10000,
    )
    assert _find_item(ed.tree, "PatientName").text(5) == "山田^太郎"
    ed.close()


def test_many_files_grid_set_and_replace(pacs_app, qtbot, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    files = _study(folder, 4)
    odd = pydicom.dcmread(files[2])
    odd.AccessionNumber = "OTHER"
    odd.save_as(files[2])
    before = {p: p.read_bytes() for p in files}
    grid = pacs_app.editing.open_grid([str(folder)])
    qtbot.waitUntil(lambda: grid.table.rowCount() == 4, timeout=10000)
    col = grid.columns.index("AccessionNumber") + 1
    highlighted = [
        r for r in range(4) if grid.table.item(r, col).background().style() != Qt.BrushStyle.NoBrush
    ]
    assert highlighted == [2]  # the value that differs from the column's usual one

    grid.table.selectAll()
    grid.attr.setCurrentText("PatientBirthDate")
    grid.value.setText("2024-13-45")
    grid.set_selected()
    qtbot.waitUntil(lambda: "nothing was changed" in grid.status.text(), timeout=15000)
    assert {p: p.read_bytes() for p in files} == before

    grid.table.selectAll()
    grid.attr.setCurrentText("AccessionNumber")
    grid.only_where.setText("OTHER")
    grid.value.setText("FIXED1")
    grid.set_selected()
    qtbot.waitUntil(lambda: "1 file(s) changed" in grid.status.text(), timeout=15000)
    assert pydicom.dcmread(files[2]).AccessionNumber == "FIXED1"
    assert all(files[i].read_bytes() == before[files[i]] for i in (0, 1, 3))
    grid.close()
