"""Files and folders dropped onto a node of the node browser: the node under the pointer
takes them (``NodeBrowser.filesDropped``); anything that is not local files, or a drop
beside the rows, is refused (the pointer says so while dragging)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QMimeData, QObject, QPoint, Qt
from PySide6.QtGui import QDragMoveEvent, QDropEvent

from pacsadmin.core.nodes import DicomNode
from pacsadmin.gui.models.node_model import NODE_ROLE

if TYPE_CHECKING:
    from pacsadmin.gui.widgets.node_browser import NodeBrowser


def local_paths(mime: QMimeData | None) -> list[str]:
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


class NodeDropFilter(QObject):
    """An event filter on the node table's viewport."""

    def __init__(self, browser: NodeBrowser) -> None:
        super().__init__(browser)
        self.browser = browser
        view = browser.view
        view.setAcceptDrops(True)
        view.viewport().setAcceptDrops(True)
        view.viewport().installEventFilter(self)

    def node_at(self, pos: QPoint) -> DicomNode | None:
        index = self.browser.view.indexAt(pos)
        node = index.siblingAtColumn(0).data(NODE_ROLE) if index.isValid() else None
        return node if isinstance(node, DicomNode) else None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        t = event.type()
        if t in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(event, QDragMoveEvent):
            pos = event.position().toPoint()
            node = self.node_at(pos)
            if local_paths(event.mimeData()) and (node is not None or t == QEvent.Type.DragEnter):
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                if node is not None:  # the row that would take the files
                    self.browser.view.setCurrentIndex(self.browser.view.indexAt(pos))
            else:
                event.ignore()
            return True
        if t == QEvent.Type.Drop and isinstance(event, QDropEvent):
            paths = local_paths(event.mimeData())
            node = self.node_at(event.position().toPoint())
            if paths and node is not None:
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                self.browser.filesDropped.emit(node, paths)
            else:
                event.ignore()
            return True
        return False
