"""ViewerWidget: one series, W/L by drag, stack scroll, probe, presets, inspector, series QC.

Collaborators come through the constructor: with a ``runner`` and a ``bridge`` (the app's
JobRunner and JobBridge) scanning and decoding run as jobs and results arrive through the
bridge on the GUI thread; without them (tests, tools) they run synchronously.  Compressed
frames decode in a worker process either way (pacsadmin.core.imaging.decode).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.format import format_number, format_window
from pacsadmin.core.imaging.display import auto_window
from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.luts import LookupTable, Window
from pacsadmin.core.imaging.presets import (
    Preset,
    load_user_presets,
    presets_for,
    save_user_presets,
)
from pacsadmin.core.imaging.render import Frame, probe
from pacsadmin.core.imaging.series import ScanResult, Series, qc, scan
from pacsadmin.gui.text import one_line, plain_label
from pacsadmin.gui.viewer.annotations import CornerAnnotations
from pacsadmin.gui.viewer.canvas import ImageCanvas
from pacsadmin.gui.viewer.histogram import HistogramView
from pacsadmin.gui.viewer.loading import fill, load, open_job
from pacsadmin.gui.viewer.measure_tools import MeasureTools
from pacsadmin.gui.viewer.panels import PipelineInspector, SeriesQcPanel
from pacsadmin.gui.viewer.placeholder import ViewerPlaceholder


def _tool_button(text: str, parent: QWidget) -> QToolButton:
    b = QToolButton(parent)
    b.setText(text)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return b


class ViewerWidget(QWidget):
    frameChanged = Signal(int)  # 0-based slot index
    windowChanged = Signal(object)  # the Window/LookupTable now applied

    def __init__(
        self,
        parent=None,
        *,
        runner: Any = None,
        bridge: Any = None,
        presets_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.bridge = runner, bridge
        self.presets_path = presets_path
        self.user_presets: tuple[Preset, ...] = ()
        self.preset_problems: list[str] = []
        if presets_path is not None:
            self.user_presets, self.preset_problems = load_user_presets(presets_path)
        self.series: Series | None = None
        self.slots: list[tuple[str, int]] = []  # (path, frame index)
        self.index = -1
        self._frames: dict[int, Frame | str] = {}  # slot -> Frame or error message
        self._jobs: dict[int, Any] = {}  # job id -> ("frame", slot) | ("scan", None)
        self._pending: set[int] = set()
        self._fill_job: int | None = None
        self._open_job: int | None = None
        self._early: dict[tuple[str, int], Frame | str] = {}  # decoded while scanning
        self._provisional: tuple[str, int] | None = None  # shown before the scan ended
        self._user_voi: Window | LookupTable | None = None
        self._invert = False
        self.wl_step = 1.0
        self._build()
        if bridge is not None:
            bridge.jobFinished.connect(self._on_bridge_job_finished)
            bridge.jobPartials.connect(self._on_bridge_job_partials)

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

        self.series_combo = QComboBox(self)  # a folder may hold several series
        self.series_combo.setMinimumContentsLength(16)
        self.series_combo.setToolTip("Series found in what was opened")
        self.series_combo.setVisible(False)
        self.series_combo.activated.connect(self._on_series_combo_activated)
        self.voi_combo = QComboBox(self)
        self.voi_combo.setMinimumContentsLength(14)
        self.invert_box = QCheckBox("Invert", self)
        self.wl_mode_box = QCheckBox("Left-drag W/L", self)
        self.fit_button = _tool_button("Fit", self)
        self.one_button = _tool_button("1:1", self)
        self.rotate_button = _tool_button("Rotate ⟳", self)
        self.flip_button = _tool_button("Flip ↔", self)
        self.export_button = _tool_button("Export PNG…", self)
        self.export_button.setToolTip("Save the view as shown (tick Hide patient first)")
        self.roi_combo = QComboBox(self)
        for text, kind in (
            ("Measure…", None),
            ("Rectangle ROI", "rect"),
            ("Ellipse ROI", "ellipse"),
            ("Distance", "line"),
            ("Clear measurements", "clear"),
        ):
            self.roi_combo.addItem(text, kind)
        self.anon_box = QCheckBox("Hide patient", self)
        self.annot_box = QCheckBox("Annotations", self)
        self.annot_box.setChecked(True)
        self.cine_button = _tool_button("Cine", self)
        self.cine_button.setCheckable(True)
        self.fps = QSpinBox(self)
        self.fps.setRange(1, 60)
        self.fps.setValue(10)
        self.fps.setSuffix(" fps")
        tools = QHBoxLayout()
        for w in (
            self.series_combo,
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
            tools.addWidget(w)
        tools.addStretch(1)

        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setMinimum(0)
        self.slice_label = plain_label("")
        self.wl_label = plain_label("")
        self.probe_label = plain_label("")
        self.measure_label = plain_label("", selectable=True)
        status = QHBoxLayout()
        status.addWidget(self.slider, 1)
        for sw in (self.cine_button, self.fps, self.slice_label, self.wl_label):
            status.addWidget(sw)
        info = QHBoxLayout()
        info.addWidget(self.probe_label, 1)
        info.addWidget(self.annot_box)
        info.addWidget(self.anon_box)

        left = QWidget(self)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addLayout(tools)
        lv.addWidget(self.stack, 1)
        lv.addLayout(status)
        lv.addLayout(info)
        lv.addWidget(self.measure_label)

        self.inspector = PipelineInspector(self)
        self.qc_panel = SeriesQcPanel(self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.inspector, "Pipeline inspector")
        self.histogram = HistogramView(self)
        self.tabs.addTab(self.histogram, "Histogram")
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
        self.canvas.windowDrag.connect(self._on_canvas_window_drag)
        self.canvas.scroll.connect(self._on_canvas_scroll)
        self.canvas.hover.connect(self._on_canvas_hover)
        self.histogram.windowEdited.connect(self._on_histogram_window_edited)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.voi_combo.activated.connect(self._on_voi_combo_activated)
        self.invert_box.toggled.connect(self._on_invert_box_toggled)
        self.wl_mode_box.toggled.connect(self.canvas.set_wl_mode)
        self.fit_button.clicked.connect(self.canvas.fit)
        self.one_button.clicked.connect(self.canvas.one_to_one)
        self.annotations = CornerAnnotations(self.canvas.viewport())
        self.anon_box.toggled.connect(self._on_anon_box_toggled)
        self.annot_box.toggled.connect(self._on_annot_box_toggled)
        self.canvas.vb.sigRangeChanged.connect(self._on_canvas_range_changed)
        self.setAcceptDrops(True)
        self.measure = MeasureTools(
            self.canvas.vb,
            lambda: self.canvas.frame,
            self.current_frame,
            self.canvas.to_source,
        )
        self.rotate_button.clicked.connect(self._on_rotate_button_clicked)
        self.flip_button.clicked.connect(self._on_flip_button_clicked)
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.measure.result.connect(self.measure_label.setText)
        self.roi_combo.activated.connect(self._on_roi_combo_activated)
        self.cine_button.toggled.connect(self._on_cine_button_toggled)
        self.cine.timeout.connect(self._on_cine_timeout)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # ------------------------------------------------------------------ opening
    def open_paths(self, paths: list[str]) -> None:
        """Scan files/folders and show the first series that has images."""
        if self.runner is None:
            self._on_scan_done(scan(paths))
            return
        if self._open_job is not None:
            self.runner.cancel(self._open_job)
        self._early = {}
        self._provisional = None
        self.series = None
        job = self.runner.submit(
            lambda ctx: open_job(ctx, list(paths)), name="Open images", lane="dimse"
        )
        self._jobs[job.id] = ("scan", None)
        self._open_job = job.id
        self._show_message("Reading…")

    def _on_scan_done(self, result: ScanResult) -> None:
        self.scan_result = result
        with_pixels = [s for s in result.series if any(i.has_pixels for i in s.instances)]
        shown = self._provisional[0] if self._provisional else None
        first = [s for s in with_pixels if any(i.path == shown for i in s.instances)]
        chosen: Series | None = None
        if first or with_pixels:
            chosen = (first or with_pixels)[0]
        elif result.series:
            chosen = result.series[0]
        self.series_combo.clear()
        for s in result.series:
            self.series_combo.addItem(one_line(s.description, 80), s)
        self.series_combo.setVisible(len(result.series) > 1)
        if chosen is not None:
            self.series_combo.setCurrentIndex(result.series.index(chosen))
        if chosen is not None or result.errors:
            self.set_series(chosen, result.errors)

    @Slot(int)
    def _on_series_combo_activated(self, i: int) -> None:
        series = self.series_combo.itemData(i)
        if series is not None and series is not self.series:
            self.set_series(series, self.scan_result.errors)

    def set_series(self, series: Series | None, errors: Sequence[tuple[str, str]] = ()) -> None:
        self.series = series
        self._frames.clear()
        self._pending.clear()
        self._user_voi = None
        self.slots = []
        if series is not None:
            for info in series.instances:
                self.slots += [(info.path, k) for k in range(max(1, info.frames))]
            self.qc_panel.show_findings(qc(series), list(errors))
        else:
            self.qc_panel.show_findings([], list(errors))
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(0, len(self.slots) - 1))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.index = -1
        if self._fill_job is not None and self.runner is not None:
            self.runner.cancel(self._fill_job)
            self._fill_job = None
        start = 0
        for j, key in enumerate(self.slots):  # frames decoded while scanning
            if key in self._early:
                self._frames[j] = self._early[key]
            if key == self._provisional:
                start = j
        self._early = {}
        self._provisional = None
        if self.slots:
            self.set_index(start)
            missing = len(self.slots) - len(self._frames)
            if self.runner is not None and missing:  # decode the rest in the background
                slots, done = list(self.slots), frozenset(self._frames)
                job = self.runner.submit(
                    lambda ctx: fill(ctx, slots, start, done),
                    name="Decode series",
                    lane="dimse",
                )
                self._fill_job = job.id
        else:
            self.canvas.clear()
            self._show_message("No image to show")

    # ------------------------------------------------------------------ navigation
    def count(self) -> int:
        return len(self.slots)

    def current_frame(self) -> Frame | None:
        f = self._frames.get(self.index)
        return f if isinstance(f, Frame) else None

    def set_index(self, index: int) -> None:
        if not self.slots:
            return
        index = int(np.clip(index, 0, len(self.slots) - 1))
        changed = index != self.index
        self.index = index
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        self.slice_label.setText(f"{index + 1} / {len(self.slots)}")
        self._request(index)
        self._display()
        if changed:
            self.frameChanged.emit(index)

    def _request(self, slot: int) -> None:
        if slot in self._frames or slot in self._pending:
            return
        path, k = self.slots[slot]
        if self.runner is None:
            try:
                self._frames[slot] = load(path, k)
            except ImageError as exc:
                self._frames[slot] = str(exc)
            return
        self._pending.add(slot)
        job = self.runner.submit(
            lambda ctx: load(path, k), name=f"Decode {os.path.basename(path)}", lane="dimse"
        )
        self._jobs[job.id] = ("frame", slot)

    def decoded_count(self) -> int:
        return sum(1 for f in self._frames.values() if isinstance(f, Frame))

    @Slot(int, list)
    def _on_bridge_job_partials(self, job_id: int, items: list) -> None:
        # each item is a batch (tuple) of entries (pacsadmin.gui.viewer.loading.Batches)
        if job_id == self._open_job:
            for path, k, entry in (e for batch in items for e in batch):
                self._early[(path, k)] = entry
                if (
                    self.series is None and self._provisional is None and isinstance(entry, Frame)
                ):  # the first image, on screen before the scan ends
                    self._provisional = (path, k)
                    self.slots = [(path, k)]
                    self._frames = {0: entry}
                    self.index = -1
                    self.set_index(0)
            return
        if job_id != self._fill_job:
            return
        for slot, entry in (e for batch in items for e in batch):
            if slot < len(self.slots) and slot not in self._frames:
                self._frames[slot] = entry
                self._pending.discard(slot)
                if slot == self.index:
                    self._display()

    @Slot(object)
    def _on_bridge_job_finished(self, ev: Any) -> None:
        if ev.job_id == self._fill_job:
            self._fill_job = None
            return
        what = self._jobs.pop(ev.job_id, None)
        if what is None:
            return
        kind, slot = what
        if kind == "scan":
            self._open_job = None
            if isinstance(ev.result, ScanResult):
                self._on_scan_done(ev.result)
            else:
                self._show_message(ev.error or "The files could not be read")
            return
        self._pending.discard(slot)
        if slot >= len(self.slots):
            return
        self._frames[slot] = (
            ev.result
            if isinstance(ev.result, Frame)
            else (ev.error or "The image could not be decoded")
        )
        if slot == self.index:
            self._display()

    # ------------------------------------------------------------------ display
    def _show_message(self, text: str) -> None:
        self.message.setText(one_line(text, 600))
        self.stack.setCurrentWidget(self.message)

    def _display(self) -> None:
        entry = self._frames.get(self.index)
        path = self.slots[self.index][0] if self.slots else ""
        if entry is None:
            self._show_message("Loading…")
            return
        if isinstance(entry, str):
            self._show_message(f"{os.path.basename(path)}: {entry}")
            self.inspector.show_description(None, entry)
            return
        frame = entry
        self.stack.setCurrentWidget(self.canvas)
        if not frame.pipeline.is_color:
            lo, hi = frame.pipeline.modality_range
            self.wl_step = max((hi - lo) / 512.0, 1.0 / 64)
        self.canvas.show_frame(self._with_state(frame))
        self.histogram.show_frame(self.canvas.frame)
        self._fill_voi_combo(frame)
        self._update_labels()

    def _with_state(self, frame: Frame) -> Frame:
        import dataclasses

        pipe = frame.pipeline.with_user_invert(self._invert)
        if self._user_voi is not None and not pipe.is_color:
            pipe = pipe.with_voi(self._user_voi)
        return dataclasses.replace(frame, pipeline=pipe)

    def _current_voi(self) -> Window | LookupTable | None:
        frame = self.current_frame()
        if frame is None:
            return None
        return self._user_voi if self._user_voi is not None else frame.pipeline.voi

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
        from pacsadmin.core.imaging.frames import frame_attrs

        a = frame_attrs(ds, frame.index)
        bl = [self.wl_label.text(), f"Zoom {format_number(self.canvas.zoom())}"]
        if a.position is not None:
            bl.append(f"Position {', '.join(f'{v:.1f}' for v in a.position)} mm")
        br = [
            f"Image {self.index + 1} / {len(self.slots)}",
            f"Instance {ds.get('InstanceNumber', '')}",
            f"{frame.stored.shape[1]} x {frame.stored.shape[0]}",
        ]
        self.annotations.update_for(ds, bl, br)

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

    def set_voi(self, voi: Window | LookupTable) -> None:
        """Apply a window (or VOI LUT) to this and the following slices."""
        self._user_voi = voi
        self.canvas.set_voi(voi)
        if self.canvas.frame is not None:
            import dataclasses

            self.canvas.frame = dataclasses.replace(
                self.canvas.frame, pipeline=self.canvas.frame.pipeline.with_voi(voi)
            )
        self._update_labels()
        self.histogram.show_window(voi)
        self.windowChanged.emit(voi)

    def save_preset(self, name: str) -> Preset | None:
        """Save the window on screen as a user preset for this modality."""
        frame = self.current_frame()
        voi = self._current_voi()
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

    # ------------------------------------------------------------------ slots
    @Slot(float, float)
    def _on_canvas_window_drag(self, dx: float, dy: float) -> None:
        voi = self._current_voi()
        frame = self.current_frame()
        if frame is None or frame.pipeline.is_color:
            return
        if not isinstance(voi, Window):
            lo, hi = frame.pipeline.modality_range
            voi = Window((lo + hi) / 2, max(hi - lo, 1.0), "LINEAR", "", "user")
        width = max(1.0, voi.width + dx * self.wl_step)
        center = voi.center + dy * self.wl_step
        self.set_voi(
            Window(
                center,
                width,
                voi.function if voi.function != "LINEAR_EXACT" else "LINEAR",
                "",
                "user",
            )
        )

    @Slot()
    def _on_rotate_button_clicked(self) -> None:
        self.canvas.set_orientation(self.canvas.rot + 1, self.canvas.flip)

    @Slot()
    def _on_flip_button_clicked(self) -> None:
        self.canvas.set_orientation(self.canvas.rot, not self.canvas.flip)

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
        self.set_index(self.index + step)

    @Slot(int, int)
    def _on_canvas_hover(self, row: int, col: int) -> None:
        frame = self.current_frame()
        if frame is None or row < 0:
            self.probe_label.setText("")
            return
        p = probe(frame, row, col)
        text = f"row {row}, col {col}: stored {p['stored']}"
        if "modality" in p:
            unit = getattr(frame.pipeline.modality, "type", "") or ""
            text += f", value {p['modality']:.6g} {unit}".rstrip()
        xyz = self._patient_xyz(row, col)
        if xyz is not None:
            text += f"  (x {xyz[0]:.1f}, y {xyz[1]:.1f}, z {xyz[2]:.1f} mm)"
        self.probe_label.setText(text)

    def _patient_xyz(self, row: int, col: int) -> np.ndarray | None:
        from pacsadmin.core.imaging.frames import frame_attrs

        frame = self.current_frame()
        if frame is None:
            return None
        a = frame_attrs(frame.image.ds, frame.index)
        if not (a.position and a.orientation and a.pixel_spacing):
            return None
        rowdir, coldir = np.array(a.orientation[:3]), np.array(a.orientation[3:])
        return (
            np.array(a.position)
            + rowdir * a.pixel_spacing[1] * col
            + coldir * a.pixel_spacing[0] * row
        )

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
        self._invert = flag
        frame = self.current_frame()
        if frame is not None:
            self.canvas.show_frame(self._with_state(frame))
            self._update_labels()

    @Slot(bool)
    def _on_anon_box_toggled(self, flag: bool) -> None:
        self.annotations.hide_patient = flag
        self._update_annotations()

    @Slot(bool)
    def _on_annot_box_toggled(self, flag: bool) -> None:
        self.annotations.set_visible(flag)

    @Slot(object, object)
    def _on_canvas_range_changed(self, *_args) -> None:
        self._update_annotations()

    def dragEnterEvent(self, ev) -> None:
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:
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
        if self.slots:
            self.set_index((self.index + 1) % len(self.slots))

    def keyPressEvent(self, ev) -> None:
        step = {
            Qt.Key.Key_Up: -1,
            Qt.Key.Key_Down: 1,
            Qt.Key.Key_PageUp: -10,
            Qt.Key.Key_PageDown: 10,
        }.get(ev.key())
        if step is not None:
            self.set_index(self.index + step)
        elif ev.key() == Qt.Key.Key_Home:
            self.set_index(0)
        elif ev.key() == Qt.Key.Key_End:
            self.set_index(len(self.slots) - 1)
        else:
            super().keyPressEvent(ev)

    def closeEvent(self, ev) -> None:
        self.cine.stop()
        if self.runner is not None:
            for job_id in list(self._jobs):
                self.runner.cancel(job_id)
        super().closeEvent(ev)
