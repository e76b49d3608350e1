"""Regenerate resources/screenshot-viewer.png: the main window's Viewer tab showing a CT
series (built from pydicom's CT_small sample, with one slice missing and one with burned-in
annotation so the series QC panel has findings), the pipeline inspector and the QC panel.

    xvfb-run -a -s "-screen 0 1600x1000x24" \\
        python resources/screenshot_viewer.py resources/screenshot-viewer.png
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile


def make_series(folder: pathlib.Path, n: int = 12) -> None:
    import numpy as np
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    src = dcmread(get_testdata_file("CT_small.dcm"))
    base = src.pixel_array.astype(np.int32)
    series = generate_uid()
    for i in range(n):
        if i == 6:  # a missing slice: the QC panel reports the gap
            continue
        ds = src.copy()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesInstanceUID = series
        ds.SeriesDescription = "HEAD 2.5"
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [-32.0, -32.0, 2.5 * i]
        ds.SliceThickness = 2.5
        ds.PatientName = "DEMO^QC"
        ds.PatientID = "QC-0001"
        ds.BurnedInAnnotation = "YES" if i == 2 else "NO"
        shift = int(40 * np.sin(i / 3))
        ds.PixelData = np.clip(base + shift, -32768, 32767).astype(np.int16).tobytes()
        ds.save_as(folder / f"ct{i:03d}.dcm")


def loop(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    ev = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), ev.quit)
    ev.exec()


def main(out: str) -> None:
    os.environ["PACSADMIN_HOME"] = tempfile.mkdtemp()
    from PySide6.QtWidgets import QApplication

    from pacsadmin.core.paths import AppPaths
    from pacsadmin.core.secrets import SecretStore, SessionSecrets
    from pacsadmin.gui.app import PacsAdminApp

    qapp = QApplication.instance() or QApplication([])
    folder = pathlib.Path(tempfile.mkdtemp())
    make_series(folder)
    app = PacsAdminApp(AppPaths.resolve(), secrets=SecretStore(SessionSecrets()))
    app.window.resize(1500, 900)
    app.window.show()
    app.open_in_viewer([str(folder)])
    loop(3.0)
    app.viewer.set_index(4)
    loop(1.0)
    app.window.grab().save(out)
    app.window.close()
    qapp.processEvents()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "screenshot-viewer.png")
