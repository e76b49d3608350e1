"""The Qt layer: the only place PySide6 and pyqtgraph are imported."""
