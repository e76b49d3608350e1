"""ViewerWidget: one series, W/L by drag, stack scroll, probe, presets, inspector, series QC.

The state lives in a Qt-free :class:`~pacsadmin.core.imaging.viewer_model.ViewerModel`
(series, slots, frame, window, invert, orientation, zoom, hover); this widget observes its
events and draws, and turns the user's gestures into calls on the model.  Background work
(scan, decode, fill) is :class:`~pacsadmin.gui.viewer.frame_jobs.FrameJobs`: with a
``bridge`` (the app's JobBridge) it runs as jobs whose results come back to their own
callbacks on the GUI thread; without one (tests, tools) it runs synchronously.  Compressed
frames decode in a worker process either way (pacsadmin.core.imaging.decode).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.format import format_number, format_window
from pacsadmin.core.imaging.display import auto_window
from pacsadmin.core.imaging.frames import frame_attrs
from pacsadmin.core.imaging.luts import LookupTable, Window
from pacsadmin.core.imaging.presets import (
    Preset,
    load_user_presets,
    presets_for,
    save_user_presets,
)
from pacsadmin.core.imaging.render import Frame
from pacsadmin.core.imaging.series import ScanResult, Series, qc
from pacsadmin.core.imaging.viewer_model import ViewerModel
from pacsadmin.gui.text import one_line, plain_label
from pacsadmin.gui.viewer.annotations import CornerAnnotations
from pacsadmin.gui.viewer.canvas import ImageCanvas
from pacsadmin.gui.viewer.controls import ViewerControls
from pacsadmin.gui.viewer.frame_jobs import FrameJobs
from pacsadmin.gui.viewer.histogram import HistogramView
from pacsadmin.gui.viewer.measure_tools import MeasureTools
from pacsadmin.gui.viewer.panels import PipelineInspector, SeriesQcPanel
from pacsadmin.gui.viewer.placeholder import ViewerPlaceholder
from pacsadmin.gui.viewer.tags_panel import TagsPanel


class ViewerWidget(QWidget):
    frameChanged = Signal(int)  # 0-based slot index
    windowChanged = Signal(object)  # the Window/LookupTable now applied

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        runner: Any = None,  # kept for callers; jobs go through the bridge
        bridge: Any = None,
        presets_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.presets_path = presets_path
        self.user_presets: tuple[Preset, ...] = ()
        self.preset_problems: list[str] = []
        if presets_path is not None:
            self.user_presets, self.preset_problems = load_user_presets(presets_path)
        self.model = ViewerModel()
        self.jobs = FrameJobs(self.model, bridge, self._on_scan_done, self._show_message)
        self.scan_result = ScanResult([], [])
        self._shown_index = -1
        self._build()
        self._observe()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.canvas = ImageCanvas(self)
        self.message = plain_label("", wrap=True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setStyleSheet("color: #ddd; background: #111; padding: 12px")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.canvas)
        self.stack.addWidget(self.message)
        self.placeholder = ViewerPlaceholder(self)  # until a series is opened
        self.stack.addWidget(self.placeholder)
        self.stack.setCurrentWidget(self.placeholder)
        self.stack.currentChanged.connect(self._on_stack_current_changed)

        c = self.controls = ViewerControls(self)
        c.set_active(False)  # the placeholder is shown: nothing to act on yet
        # the controls as attributes of the viewer: the app, tests and tools use them
        self.series_combo, self.voi_combo = c.series_combo, c.voi_combo
        self.invert_box, self.wl_mode_box = c.invert_box, c.wl_mode_box
        self.fit_button, self.one_button = c.fit_button, c.one_button
        self.rotate_button, self.flip_button = c.rotate_button, c.flip_button
        self.export_button, self.roi_combo = c.export_button, c.roi_combo
        self.anon_box, self.annot_box = c.anon_box, c.annot_box
        self.cine_button, self.fps, self.slider = c.cine_button, c.fps, c.slider
        self.slice_label, self.wl_label = c.slice_label, c.wl_label
        self.probe_label, self.measure_label = c.probe_label, c.measure_label

        left = QWidget(self)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(c.tool_bar(left))
        lv.addWidget(self.stack, 1)
        lv.addLayout(c.slice_row())
        lv.addLayout(c.info_row())
        lv.addWidget(self.measure_label)

        self.inspector = PipelineInspector(self)
        self.qc_panel = SeriesQcPanel(self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.inspector, "Pipeline inspector")
        self.histogram = HistogramView(self)
        self.tabs.addTab(self.histogram, "Histogram")
        self.tags_panel = TagsPanel(self.bridge, self)  # the current image's tags
        self.tabs.addTab(self.tags_panel, "Tags")
        self.qc_tabs = QTabWidget(self)
        self.qc_tabs.addTab(self.qc_panel, "Series QC")
        side = QSplitter(Qt.Orientation.Vertical, self)
        side.addWidget(self.tabs)
        side.addWidget(self.qc_tabs)
        side.setSizes([380, 260])
        side.setMinimumWidth(330)  # the inspector's sentences need room to be read
        splitter = QSplitter(self)
        splitter.addWidget(left)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([640, 420])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(splitter)

        self.cine = QTimer(self)
        self.annotations = CornerAnnotations(self.canvas.viewport())
        self.measure = MeasureTools(
            self.canvas.vb,
            lambda: self.canvas.frame,
            self.current_frame,
            self.canvas.to_source,
        )
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def _observe(self) -> None:
        """Widgets -> model (gestures), model -> widgets (its change events)."""
        ev = self.model.events
        ev.slots.connect(self._on_model_slots)
        ev.index.connect(self._on_model_index)
        ev.frame.connect(self._on_model_frame)
        ev.voi.connect(self._on_model_voi)
        ev.invert.connect(self._on_model_invert)
        ev.orientation.connect(self._on_model_orientation)
        ev.zoom.connect(self._on_model_zoom)
        ev.hover.connect(self._on_model_hover)

        self.canvas.windowDrag.connect(self._on_canvas_window_drag)
        self.canvas.scroll.connect(self._on_canvas_scroll)
        self.canvas.hover.connect(self._on_canvas_hover)
        self.canvas.vb.sigRangeChanged.connect(self._on_canvas_range_changed)
        self.histogram.windowEdited.connect(self._on_histogram_window_edited)
        self.series_combo.activated.connect(self._on_series_combo_activated)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.voi_combo.activated.connect(self._on_voi_combo_activated)
        self.invert_box.toggled.connect(self._on_invert_box_toggled)
        self.wl_mode_box.toggled.connect(self.canvas.set_wl_mode)
        self.fit_button.clicked.connect(self.canvas.fit)
        self.one_button.clicked.connect(self.canvas.one_to_one)
        self.anon_box.toggled.connect(self._on_anon_box_toggled)
        self.annot_box.toggled.connect(self._on_annot_box_toggled)
        self.rotate_button.clicked.connect(self._on_rotate_button_clicked)
        self.flip_button.clicked.connect(self._on_flip_button_clicked)
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.measure.result.connect(self.measure_label.setText)
        self.roi_combo.activated.connect(self._on_roi_combo_activated)
        self.cine_button.toggled.connect(self._on_cine_button_toggled)
        self.cine.timeout.connect(self._on_cine_timeout)

    # ------------------------------------------------------------------ the model's state
    @property
    def series(self) -> Series | None:
        return self.model.series

    @property
    def slots(self) -> list[tuple[str, int]]:
        return self.model.slots

    @property
    def index(self) -> int:
        return self.model.index

    @property
    def wl_step(self) -> float:
        return self.model.wl_step

    def count(self) -> int:
        return self.model.count()

    def current_frame(self) -> Frame | None:
        return self.model.current_frame()

    def decoded_count(self) -> int:
        return self.model.decoded_count()

    def set_index(self, index: int) -> None:
        self.model.set_index(index)

    def set_voi(self, voi: Window | LookupTable) -> None:
        """Apply a window (or VOI LUT) to this and the following slices."""
        self.model.set_voi(voi)

    # ------------------------------------------------------------------ opening
    def open_paths(self, paths: list[str]) -> None:
        """Scan files/folders and show the first series that has images."""
        self._show_message("Reading…")
        self.jobs.open(list(paths))

    def _on_scan_done(self, result: ScanResult) -> None:
        self.scan_result = result
        with_pixels = [s for s in result.series if any(i.has_pixels for i in s.instances)]
        shown = self.model.provisional_path
        first = [s for s in with_pixels if any(i.path == shown for i in s.instances)]
        chosen: Series | None = None
        if first or with_pixels:
            chosen = (first or with_pixels)[0]
        elif result.series:
            chosen = result.series[0]
        self.series_combo.clear()
        for s in result.series:
            self.series_combo.addItem(one_line(s.description, 80), s)
        self.controls.show_series_choice(len(result.series) > 1)
        if chosen is not None:
            self.series_combo.setCurrentIndex(result.series.index(chosen))
        if chosen is not None or result.errors:
            self.set_series(chosen, result.errors)

    @Slot(int)
    def _on_series_combo_activated(self, i: int) -> None:
        series = self.series_combo.itemData(i)
        if series is not None and series is not self.model.series:
            self.set_series(series, self.scan_result.errors)

    def set_series(self, series: Series | None, errors: Sequence[tuple[str, str]] = ()) -> None:
        self.jobs.forget_frames()
        self.qc_panel.show_findings(qc(series) if series is not None else [], list(errors))
        self.model.set_series(series, errors)
        if self.model.slots:
            self.jobs.fill(self.model.index)
        else:
            self.canvas.clear()
            self._show_message("No image to show")

    # ------------------------------------------------------------------ model events
    def _on_model_slots(self, n: int) -> None:
        self._shown_index = -1
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(0, n - 1))
        self.slider.setValue(0)
        self.slider.blockSignals(False)

    def _on_model_index(self, index: int) -> None:
        changed = index != self._shown_index
        self._shown_index = index
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        self.slice_label.setText(f"{index + 1} / {self.model.count()}")
        if 0 <= index < len(self.model.slots):
            self.tags_panel.show_path(self.model.slots[index][0])
        self.jobs.request(index)
        self._display()
        if changed:
            self.frameChanged.emit(index)

    def _on_model_frame(self, slot: int) -> None:
        if slot == self.model.index:
            self._display()

    def _on_model_voi(self, voi: Window | LookupTable) -> None:
        self.canvas.set_voi(voi)
        if self.canvas.frame is not None:
            self.canvas.frame = self.canvas.frame.with_voi(voi)
        self._update_labels()
        self.histogram.show_window(voi)
        self.windowChanged.emit(voi)

    def _on_model_invert(self, flag: bool) -> None:
        frame = self.current_frame()
        if frame is not None:
            self.canvas.show_frame(self.model.shown(frame))
            self._update_labels()

    def _on_model_orientation(self, orientation: tuple[int, bool]) -> None:
        self.canvas.set_orientation(*orientation)

    def _on_model_zoom(self, zoom: float) -> None:
        self._update_annotations()

    def _on_model_hover(self, pos: tuple[int, int] | None) -> None:
        self.probe_label.setText(self.model.probe_text())

    # ------------------------------------------------------------------ display
    def _on_stack_current_changed(self, _index: int) -> None:
        self.controls.set_active(self.stack.currentWidget() is not self.placeholder)

    def _show_message(self, text: str) -> None:
        self.message.setText(one_line(text, 600))
        self.stack.setCurrentWidget(self.message)

    def _display(self) -> None:
        m = self.model
        entry = m.entry()
        path = m.slots[m.index][0] if m.slots else ""
        if entry is None:
            self._show_message("Loading…")
            self.probe_label.setText("")
            return
        if isinstance(entry, str):
            self._show_message(f"{os.path.basename(path)}: {entry}")
            self.inspector.show_description(None, entry)
            self.probe_label.setText("")
            return
        self.stack.setCurrentWidget(self.canvas)
        self.canvas.show_frame(m.shown(entry))
        self.histogram.show_frame(self.canvas.frame)
        self._fill_voi_combo(entry)
        self._update_labels()
        # the probe follows the frame: the mouse may not move while the stack scrolls
        self.probe_label.setText(m.probe_text())

    def _update_labels(self) -> None:
        frame = self.canvas.frame
        if frame is None:
            return
        voi = frame.pipeline.voi
        if isinstance(voi, Window):
            self.wl_label.setText(f"{format_window(voi.width, voi.center)}  {voi.function}")
        elif isinstance(voi, LookupTable):
            self.wl_label.setText(f"VOI LUT {voi.explanation}".strip())
        else:
            self.wl_label.setText("color")
        self.inspector.show_description(frame.pipeline.describe())
        self._update_annotations()

    def _update_annotations(self) -> None:
        frame = self.canvas.frame
        if frame is None or frame.image is None:
            return
        ds = frame.image.ds
        a = frame_attrs(ds, frame.index)
        bl = [self.wl_label.text(), f"Zoom {format_number(self.model.zoom)}"]
        if a.position is not None:
            bl.append(f"Position {', '.join(f'{v:.1f}' for v in a.position)} mm")
        br = [
            f"Image {self.model.index + 1} / {self.model.count()}",
            f"Instance {ds.get('InstanceNumber', '')}",
            f"{frame.stored.shape[1]} x {frame.stored.shape[0]}",
        ]
        self.annotations.update_for(ds, bl, br)

    def _fill_voi_combo(self, frame: Frame) -> None:
        self.voi_combo.blockSignals(True)
        self.voi_combo.clear()
        self.voi_combo.addItem("Window / level…", None)
        if not frame.pipeline.is_color:
            for i, v in enumerate(frame.pipeline.voi_choices, 1):
                label = v.explanation or f"{i}"
                if isinstance(v, Window):
                    text = f"File {label}: C {v.center:g} W {v.width:g}"
                else:
                    text = f"File VOI LUT {label}"
                self.voi_combo.addItem(one_line(text, 60), v)
            modality = str(frame.image.ds.get("Modality", "") or "")
            for p in presets_for(modality, self.user_presets):
                self.voi_combo.addItem(f"{p.label}: C {p.center:g} W {p.width:g}", p.window())
            self.voi_combo.addItem("Auto: min/max", "auto")
            self.voi_combo.addItem("Auto: 1-99 percentile", "auto-pct")
            if self.presets_path is not None:
                self.voi_combo.addItem("Save this window as a preset…", "save")
        self.voi_combo.setCurrentIndex(0)
        self.voi_combo.blockSignals(False)

    # ------------------------------------------------------------------ actions
    def export_png(self, path: str) -> None:
        """Save the view as shown (annotations included; hide patient data first if needed)."""
        if not self.canvas.grab().save(path, "PNG"):
            raise OSError(f"cannot write {path}")

    @Slot()
    def _on_export_button_clicked(self) -> None:
        from PySide6.QtWidgets import QFileDialog, QMessageBox

        if self.current_frame() is None:
            self._show_status("Nothing to export: open an image first.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the view as PNG", "view.png", "PNG image (*.png)"
        )
        if not path:
            return
        try:
            self.export_png(path)
        except OSError as exc:
            QMessageBox.warning(self, "Export failed", f"The view was not saved: {exc}.")
        else:
            self._show_status(f"View saved to {path}")

    def _show_status(self, text: str) -> None:
        self.measure_label.setText(one_line(text, 300))

    def save_preset(self, name: str) -> Preset | None:
        """Save the window on screen as a user preset for this modality."""
        frame = self.current_frame()
        voi = self.model.current_voi()
        if frame is None or not isinstance(voi, Window) or self.presets_path is None:
            return None
        modality = str(frame.image.ds.get("Modality", "") or "*").upper()
        preset = Preset(
            name.strip().lower(),
            voi.center,
            voi.width,
            modality,
            name.strip(),
            "LINEAR" if voi.function == "LINEAR_EXACT" else voi.function,
            True,
        )
        keep = tuple(p for p in self.user_presets if p.name != preset.name)
        self.user_presets = (*keep, preset)
        save_user_presets(self.presets_path, self.user_presets)
        self._fill_voi_combo(frame)
        return preset

    def apply_auto(self, percentile: bool = False) -> None:
        frame = self.current_frame()
        if frame is not None and not frame.pipeline.is_color:
            self.set_voi(
                auto_window(frame.pipeline, frame.stored, (1.0, 99.0) if percentile else None)
            )

    # ------------------------------------------------------------------ widget slots
    @Slot(float, float)
    def _on_canvas_window_drag(self, dx: float, dy: float) -> None:
        self.model.drag_window(dx, dy)

    @Slot()
    def _on_rotate_button_clicked(self) -> None:
        self.model.set_orientation(self.canvas.rot + 1, self.canvas.flip)

    @Slot()
    def _on_flip_button_clicked(self) -> None:
        self.model.set_orientation(self.canvas.rot, not self.canvas.flip)

    @Slot(int)
    def _on_roi_combo_activated(self, i: int) -> None:
        kind = self.roi_combo.itemData(i)
        if kind == "clear":
            self.measure.clear()
        elif kind:
            self.measure.add(kind)
        self.roi_combo.setCurrentIndex(0)

    @Slot(object)
    def _on_histogram_window_edited(self, voi: Window) -> None:
        self.set_voi(voi)

    @Slot(int)
    def _on_canvas_scroll(self, step: int) -> None:
        self.set_index(self.model.index + step)

    @Slot(int, int)
    def _on_canvas_hover(self, row: int, col: int) -> None:
        self.model.set_hover((row, col) if row >= 0 else None)

    @Slot(int)
    def _on_slider_value_changed(self, value: int) -> None:
        self.set_index(value)

    @Slot(int)
    def _on_voi_combo_activated(self, i: int) -> None:
        data = self.voi_combo.itemData(i)
        if data == "auto":
            self.apply_auto(False)
        elif data == "auto-pct":
            self.apply_auto(True)
        elif data == "save":
            from PySide6.QtWidgets import QInputDialog

            name, ok = QInputDialog.getText(self, "Save window preset", "Preset name:")
            if ok and name.strip():
                self.save_preset(name)
        elif isinstance(data, Window | LookupTable):
            self.set_voi(data)

    @Slot(bool)
    def _on_invert_box_toggled(self, flag: bool) -> None:
        self.model.set_invert(flag)

    @Slot(bool)
    def _on_anon_box_toggled(self, flag: bool) -> None:
        self.annotations.hide_patient = flag
        self._update_annotations()

    @Slot(bool)
    def _on_annot_box_toggled(self, flag: bool) -> None:
        self.annotations.set_visible(flag)

    @Slot(object, object)
    def _on_canvas_range_changed(self, *_args: object) -> None:
        self.model.set_zoom(self.canvas.zoom())
        self._update_annotations()

    def dragEnterEvent(self, ev: Any) -> None:
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev: Any) -> None:
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if paths:
            ev.acceptProposedAction()
            self.open_paths(paths)

    @Slot(bool)
    def _on_cine_button_toggled(self, on: bool) -> None:
        if on:
            self.cine.start(int(1000 / self.fps.value()))
        else:
            self.cine.stop()

    @Slot()
    def _on_cine_timeout(self) -> None:
        if self.model.slots:
            self.set_index((self.model.index + 1) % self.model.count())

    def keyPressEvent(self, ev: Any) -> None:
        step = {
            Qt.Key.Key_Up: -1,
            Qt.Key.Key_Down: 1,
            Qt.Key.Key_PageUp: -10,
            Qt.Key.Key_PageDown: 10,
        }.get(ev.key())
        if step is not None:
            self.set_index(self.model.index + step)
        elif ev.key() == Qt.Key.Key_Home:
            self.set_index(0)
        elif ev.key() == Qt.Key.Key_End:
            self.set_index(self.model.count() - 1)
        else:
            super().keyPressEvent(ev)

    def closeEvent(self, ev: Any) -> None:
        self.cine.stop()
        self.jobs.cancel_all()
        super().closeEvent(ev)
