"""The viewer's state, Qt-free: the series, the frame on screen, the window, the view.

The shape of napari's ``components/dims.py`` and ``_qt/widgets/qt_dims.py``: this model
holds the state and emits a change :class:`~pacsadmin.core.events.Event` for each part of
it; the Qt widgets (``pacsadmin.gui.viewer``) observe the events and only draw.  Every rule
of the viewer that is not drawing lives here, so it is tested without a window:

* a series becomes *slots*, one per frame, in the order of the series;
* decoded frames (or the reason a frame cannot be shown) are kept per slot;
* a user window (VOI) and Invert apply to the frame on screen and to the following ones;
* a mouse drag changes the window in steps scaled to the modality's value range;
* the pixel probe follows the frame: scrolling with the mouse still over the image shows
  the value under it in the new frame, not the old one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from pacsadmin.core.events import Event
from pacsadmin.core.imaging.frames import frame_attrs
from pacsadmin.core.imaging.luts import LookupTable, Window
from pacsadmin.core.imaging.render import Frame, probe
from pacsadmin.core.imaging.series import Series

Voi = Window | LookupTable
Slot = tuple[str, int]  # (path, 0-based frame index in that file)
Entry = Frame | str  # a decoded frame, or why it cannot be shown


class ViewerModel:
    """State of one viewer; every change is announced on :attr:`events`."""

    def __init__(self) -> None:
        self.events = _Events()
        self.series: Series | None = None
        self.errors: list[tuple[str, str]] = []  # (path, reason) of what was opened
        self.slots: list[Slot] = []
        self.index = -1
        self.frames: dict[int, Entry] = {}
        self.user_voi: Voi | None = None
        self.invert = False
        self.rotation = 0  # quarter turns clockwise
        self.flip = False
        self.zoom = 1.0
        self.hover: tuple[int, int] | None = None  # (row, col) in the source image
        # frames decoded while the files were still being scanned, by (path, frame)
        self._early: dict[Slot, Entry] = {}
        self._provisional: Slot | None = None  # shown before the scan ended

    # ------------------------------------------------------------------ series
    def reset(self) -> None:
        """Forget what was open (a new open starts)."""
        self._early = {}
        self._provisional = None
        self.series = None

    def add_early(self, slot: Slot, entry: Entry) -> None:
        """A frame decoded while scanning; the first image is shown at once."""
        self._early[slot] = entry
        if self.series is None and self._provisional is None and isinstance(entry, Frame):
            self._provisional = slot
            self.slots = [slot]
            self.frames = {0: entry}
            self.index = -1
            self.events.slots.emit(1)
            self.set_index(0)

    @property
    def provisional_path(self) -> str | None:
        return self._provisional[0] if self._provisional else None

    def set_series(self, series: Series | None, errors: Sequence[tuple[str, str]] = ()) -> None:
        """Show ``series``; frames decoded while scanning are kept, and the image already
        on screen stays on screen."""
        self.series = series
        self.errors = list(errors)
        self.frames = {}
        self.user_voi = None
        self.slots = []
        if series is not None:
            for info in series.instances:
                self.slots += [(info.path, k) for k in range(max(1, info.frames))]
        start = 0
        for j, key in enumerate(self.slots):
            if key in self._early:
                self.frames[j] = self._early[key]
            if key == self._provisional:
                start = j
        self._early = {}
        self._provisional = None
        self.index = -1
        self.events.series.emit(series)
        self.events.slots.emit(len(self.slots))
        if self.slots:
            self.set_index(start)

    def done_slots(self) -> frozenset[int]:
        """Slots with a frame or a reason already (the rest still needs decoding)."""
        return frozenset(self.frames)

    # ------------------------------------------------------------------ frames
    def count(self) -> int:
        return len(self.slots)

    def set_index(self, index: int) -> None:
        """Go to slot ``index`` (clamped); observers redraw and ask for its frame."""
        if not self.slots:
            return
        self.index = int(np.clip(index, 0, len(self.slots) - 1))
        self.events.index.emit(self.index)

    def put_frame(self, slot: int, entry: Entry, *, replace: bool = True) -> bool:
        """A decoded frame (or a reason) for ``slot``; False when it is not taken (out of
        range, or already there and ``replace`` is off)."""
        if not 0 <= slot < len(self.slots) or (not replace and slot in self.frames):
            return False
        self.frames[slot] = entry
        self.events.frame.emit(slot)
        return True

    def entry(self, slot: int | None = None) -> Entry | None:
        return self.frames.get(self.index if slot is None else slot)

    def current_frame(self) -> Frame | None:
        f = self.frames.get(self.index)
        return f if isinstance(f, Frame) else None

    def decoded_count(self) -> int:
        return sum(1 for f in self.frames.values() if isinstance(f, Frame))

    def shown(self, frame: Frame) -> Frame:
        """``frame`` with the user's Invert and window applied."""
        pipe = frame.pipeline.with_user_invert(self.invert)
        if self.user_voi is not None and not pipe.is_color:
            pipe = pipe.with_voi(self.user_voi)
        return dataclasses.replace(frame, pipeline=pipe)

    # ------------------------------------------------------------------ window
    def current_voi(self) -> Voi | None:
        frame = self.current_frame()
        if frame is None:
            return None
        return self.user_voi if self.user_voi is not None else frame.pipeline.voi

    def set_voi(self, voi: Voi) -> None:
        """Apply a window (or VOI LUT) to this and the following slices."""
        self.user_voi = voi
        self.events.voi.emit(voi)

    def set_invert(self, flag: bool) -> None:
        if flag != self.invert:
            self.invert = flag
            self.events.invert.emit(flag)

    @property
    def wl_step(self) -> float:
        """Window change per pixel of mouse drag: 1/512 of the modality value range."""
        frame = self.current_frame()
        if frame is None or frame.pipeline.is_color:
            return 1.0
        lo, hi = frame.pipeline.modality_range
        return max((hi - lo) / 512.0, 1.0 / 64)

    def drag_window(self, dx: float, dy: float) -> Window | None:
        """A mouse drag of (dx, dy) pixels: width with x, center with y."""
        frame = self.current_frame()
        if frame is None or frame.pipeline.is_color:
            return None
        voi = self.current_voi()
        step = self.wl_step
        if not isinstance(voi, Window):
            lo, hi = frame.pipeline.modality_range
            voi = Window((lo + hi) / 2, max(hi - lo, 1.0), "LINEAR", "", "user")
        function = voi.function if voi.function != "LINEAR_EXACT" else "LINEAR"
        new = Window(voi.center + dy * step, max(1.0, voi.width + dx * step), function, "", "user")
        self.set_voi(new)
        return new

    # ------------------------------------------------------------------ view
    def set_orientation(self, rotation: int, flip: bool) -> None:
        self.rotation, self.flip = rotation % 4, flip
        self.events.orientation.emit((self.rotation, self.flip))

    def set_zoom(self, zoom: float) -> None:
        if zoom != self.zoom:
            self.zoom = zoom
            self.events.zoom.emit(zoom)

    def set_hover(self, pos: tuple[int, int] | None) -> None:
        """The mouse is over source pixel (row, col), or not over the image (None)."""
        self.hover = pos
        self.events.hover.emit(pos)

    def probe_text(self) -> str:
        """What the pixel probe says for the hover position in the frame on screen."""
        frame = self.current_frame()
        if frame is None or self.hover is None:
            return ""
        row, col = self.hover
        if not (0 <= row < frame.stored.shape[0] and 0 <= col < frame.stored.shape[1]):
            return ""
        p = probe(frame, row, col)
        text = f"row {row}, col {col}: stored {p['stored']}"
        if "modality" in p:
            unit = getattr(frame.pipeline.modality, "type", "") or ""
            text += f", value {p['modality']:.6g} {unit}".rstrip()
        xyz = patient_xyz(frame, row, col)
        if xyz is not None:
            text += f"  (x {xyz[0]:.1f}, y {xyz[1]:.1f}, z {xyz[2]:.1f} mm)"
        return text


def patient_xyz(frame: Frame, row: int, col: int) -> np.ndarray | None:
    """The patient coordinates (mm) of pixel (row, col), from the plane's position,
    orientation and spacing (PS3.3 C.7.6.2.1.1); None when the frame lacks them."""
    a = frame_attrs(frame.image.ds, frame.index)
    if not (a.position and a.orientation and a.pixel_spacing):
        return None
    rowdir, coldir = np.array(a.orientation[:3]), np.array(a.orientation[3:])
    xyz: np.ndarray = (
        np.array(a.position) + rowdir * a.pixel_spacing[1] * col + coldir * a.pixel_spacing[0] * row
    )
    return xyz


class _Events:
    """The model's change events; each sends the new value."""

    def __init__(self) -> None:
        self.series: Event[Series | None] = Event("series")
        self.slots: Event[int] = Event("slots")  # the number of slots changed
        self.index: Event[int] = Event("index")  # went to a slot (also the same one again)
        self.frame: Event[int] = Event("frame")  # a slot's frame (or reason) arrived
        self.voi: Event[Voi] = Event("voi")
        self.invert: Event[bool] = Event("invert")
        self.orientation: Event[tuple[int, bool]] = Event("orientation")
        self.zoom: Event[float] = Event("zoom")
        self.hover: Event[tuple[int, int] | None] = Event("hover")
