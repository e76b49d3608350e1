"""What the viewer shows while no series is loaded: how to load one."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QWidget

from pacsadmin.gui.widgets.empty_state import EmptyAction, EmptyState

TITLE = "Open a series from the archive or drop files here"
TEXT = "Double-click a series in the Archive, or drop DICOM files or a folder on this view."


class ViewerPlaceholder(EmptyState):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("image", TITLE, "", (), parent)

    def set_actions(self, actions: Iterable[EmptyAction]) -> None:
        """The actions that open images (File > Open images..., Open folder...)."""
        actions = list(actions)
        self.set_content(TITLE, TEXT if actions else "", actions)
