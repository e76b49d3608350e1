"""The viewer widget on a folder of damaged files (tests/fuzz.py): every slot shows its
image or a one-line reason in place of it, on the GUI thread, and nothing raises.

The headless loader is fuzzed in tests/unit/test_fuzz_entry_points.py; this drives the
widget's own GUI-thread code with the damaged data sets that decoded: the corner
annotations, the window/level list, the histogram, the inspector, the pixel probe.
"""

from __future__ import annotations

import warnings

import pytest
from PySide6.QtCore import QPoint

from pacsadmin.core.imaging.render import Frame
from pacsadmin.gui.viewer import ViewerWidget
from tests import fuzz

from .helpers import hover

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydicom")


@pytest.fixture
def viewer(qtbot):
    v = ViewerWidget()  # no runner: scan and decode synchronously, errors raise here
    qtbot.addWidget(v)
    v.resize(900, 600)
    v.show()
    qtbot.waitExposed(v)
    return v


def test_every_slot_of_a_damaged_folder_shows_an_image_or_why(viewer, tmp_path):
    sources = fuzz.pydicom_files() + fuzz.generated_files(tmp_path / "src")
    folder = tmp_path / "damaged"
    list(fuzz.corpus(folder, 150, seed="viewer", sources=sources))
    valid = fuzz.generated_files(folder / "valid")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        viewer.open_paths([str(folder)])
        result = viewer.scan_result
        assert result is not None and result.series
        shown = errors = 0
        for series in result.series:
            viewer.set_series(series, result.errors)
            for j in range(min(viewer.count(), 30)):
                viewer.set_index(j)
                entry = viewer.model.entry(j)
                assert entry is not None
                if isinstance(entry, Frame):
                    assert viewer.stack.currentWidget() is viewer.canvas
                    hover(viewer.canvas.viewport(), QPoint(5, 5))  # the pixel probe
                    shown += 1
                else:
                    text = viewer.message.text()
                    assert entry in text and "\n" not in text
                    errors += 1
    assert shown >= len(valid) and errors
    assert all("\n" not in m for _, m in result.errors)
