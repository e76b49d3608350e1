"""The QA image viewer: :class:`ViewerWidget` (embedded by the main window)."""

from pacsadmin.gui.viewer.viewer import ViewerWidget

__all__ = ["ViewerWidget"]
