"""The Anonymize dialog: the preview shows the first file's changes without writing,
bad options are a status line, the run writes the new folder and audits the map."""

from __future__ import annotations

from pathlib import Path

from pydicom import dcmread

from tests.unit.test_anonymize import NAME, _full_dataset, _write


def _inputs(tmp_path: Path) -> Path:
    from pydicom.uid import generate_uid

    src = tmp_path / "in"
    for i in range(3):
        _write(_full_dataset(generate_uid(), generate_uid(), generate_uid()), src / f"{i}.dcm")
    return src


def test_preview_then_run(pacs_app, qtbot, tmp_path):
    src = _inputs(tmp_path)
    before = {p: p.read_bytes() for p in src.iterdir()}
    pacs_app.open_anonymize([str(src)])
    dlg = pacs_app.anonymize_dialog
    dlg.prefix.setText("bad prefix")
    dlg.run_preview()
    assert "prefix" in dlg.status.text()
    dlg.prefix.setText("STUDY")
    dlg.run_preview()
    qtbot.waitUntil(lambda: dlg.table.rowCount() > 50, timeout=10000)
    texts = [dlg.table.item(r, 0).text() for r in range(dlg.table.rowCount())]
    assert any(t.startswith("PatientName") for t in texts)
    assert "nothing written yet" in dlg.status.text()
    assert {p: p.read_bytes() for p in src.iterdir()} == before

    dlg.run()
    assert "output folder" in dlg.status.text()
    out = tmp_path / "out"
    dlg.out.setText(str(out))
    dlg.run()
    qtbot.waitUntil(lambda: dlg.result_ is not None, timeout=20000)
    assert dlg.result_.written == 3
    assert "3 file(s) of 1 patient(s)" in dlg.status.text()
    files = sorted(out.rglob("*.dcm"))
    assert len(files) == 3 and all(dcmread(f).PatientName == "STUDY0001" for f in files)
    assert NAME not in dlg.status.text()
    assert {p: p.read_bytes() for p in src.iterdir()} == before
    dlg.close()
