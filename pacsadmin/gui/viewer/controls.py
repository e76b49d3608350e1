"""The viewer's controls: the tool bar above the image, the slice row and the info row
below it.  Layout only: :class:`~pacsadmin.gui.viewer.viewer.ViewerWidget` connects them to
the :class:`~pacsadmin.core.imaging.viewer_model.ViewerModel`."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QSlider,
    QSpinBox,
    QToolBar,
    QToolButton,
    QWidget,
)

from pacsadmin.gui.text import plain_label

MEASURE_CHOICES = (
    ("Measure…", None),
    ("Rectangle ROI", "rect"),
    ("Ellipse ROI", "ellipse"),
    ("Distance", "line"),
    ("Clear measurements", "clear"),
)


def _tool_button(text: str, parent: QWidget, tip: str = "") -> QToolButton:
    b = QToolButton(parent)
    b.setText(text)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    if tip:
        b.setToolTip(tip)
    return b


class ViewerControls:
    """Creates the viewer's control widgets (children of ``parent``) and their rows."""

    def __init__(self, parent: QWidget) -> None:
        self.series_combo = QComboBox(parent)  # a folder may hold several series
        self.series_combo.setMinimumContentsLength(16)
        self.series_combo.setToolTip("Series found in what was opened")
        self.series_action: QAction | None = None  # the combo's place in the tool bar
        self.voi_combo = QComboBox(parent)
        self.voi_combo.setMinimumContentsLength(14)
        self.voi_combo.setToolTip("Window presets, the file's own windows, auto")
        self.invert_box = QCheckBox("Invert", parent)
        self.wl_mode_box = QCheckBox("Left-drag W/L", parent)
        self.wl_mode_box.setToolTip("Change window/level with the left button (right always does)")
        self.fit_button = _tool_button("Fit", parent, "Fit the image to the view")
        self.one_button = _tool_button("1:1", parent, "One image pixel per screen pixel")
        self.rotate_button = _tool_button("Rotate ⟳", parent, "Rotate 90° clockwise")
        self.flip_button = _tool_button("Flip ↔", parent, "Mirror left-right")
        self.export_button = _tool_button(
            "Export PNG…", parent, "Save the view as shown (tick Hide patient first)"
        )
        self.roi_combo = QComboBox(parent)
        for text, kind in MEASURE_CHOICES:
            self.roi_combo.addItem(text, kind)
        self.anon_box = QCheckBox("Hide patient", parent)
        self.annot_box = QCheckBox("Annotations", parent)
        self.annot_box.setChecked(True)
        self.cine_button = _tool_button("Cine", parent, "Play the stack")
        self.cine_button.setCheckable(True)
        self.fps = QSpinBox(parent)
        self.fps.setRange(1, 60)
        self.fps.setValue(10)
        self.fps.setSuffix(" fps")
        self.slider = QSlider(Qt.Orientation.Horizontal, parent)
        self.slider.setMinimum(0)
        self.slice_label = plain_label("")
        self.wl_label = plain_label("")
        self.probe_label = plain_label("")
        self.measure_label = plain_label("", selectable=True)

    def tool_bar(self, parent: QWidget) -> QToolBar:
        """The tools above the image, in a tool bar: when the viewer is narrower than the
        row, the last tools move behind its » button instead of widening the window."""
        bar = QToolBar("Viewer tools", parent)
        bar.setFloatable(False)
        bar.setMovable(False)
        self.series_action = bar.addWidget(self.series_combo)
        self.series_action.setVisible(False)  # shown when what was opened holds several
        for w in (
            self.voi_combo,
            self.invert_box,
            self.wl_mode_box,
            self.fit_button,
            self.one_button,
            self.rotate_button,
            self.flip_button,
            self.roi_combo,
            self.export_button,
        ):
            bar.addWidget(w)
        return bar

    def set_active(self, flag: bool) -> None:
        """Tools that act on an image are disabled while there is none (the modes, Invert,
        Left-drag W/L, Annotations and Hide patient, stay: they apply to the next one)."""
        for w in (
            self.voi_combo,
            self.fit_button,
            self.one_button,
            self.rotate_button,
            self.flip_button,
            self.roi_combo,
            self.export_button,
            self.cine_button,
            self.fps,
            self.slider,
        ):
            w.setEnabled(flag)

    def show_series_choice(self, flag: bool) -> None:
        """In a tool bar a widget is shown and hidden through its action, not itself."""
        if self.series_action is not None:
            self.series_action.setVisible(flag)
        else:
            self.series_combo.setVisible(flag)

    def slice_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        for w in (self.cine_button, self.fps, self.slice_label, self.wl_label):
            row.addWidget(w)
        return row

    def info_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(self.probe_label, 1)
        row.addWidget(self.annot_box)
        row.addWidget(self.anon_box)
        return row
