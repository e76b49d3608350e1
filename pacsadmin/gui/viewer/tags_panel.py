"""The current image's tags beside it (a tab of the viewer's side panel): the whole data
set read on the io lane when the image changes (debounced, and only while the tab is
shown), a search, and "Edit tags..." that opens the tag editor on that file."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.jobs import JobFinished, JobState


def _read_rows(path: str) -> list[Any]:
    from pacsadmin.core.editing import load
    from pacsadmin.core.editing.tree import rows

    return rows(load(path))


class TagsPanel(QWidget):
    editRequested = Signal(str)  # the file's path

    def __init__(self, bridge: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewerTags")
        self.bridge = bridge
        self.path = ""
        self._shown = ""
        self._gen = 0
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tag, keyword or value")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.edit = QPushButton("Edit tags...")
        self.edit.setEnabled(False)
        self.edit.clicked.connect(self._on_edit_clicked)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.edit)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Tag", "Keyword", "VR", "Value"])
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        for col, width in enumerate((96, 170, 30)):
            self.tree.header().resizeSection(col, width)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.status)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self._load)

    def _on_edit_clicked(self) -> None:
        if self.path:
            self.editRequested.emit(self.path)

    def show_path(self, path: str) -> None:
        """The image shown now; read when the tab is visible (now or when it becomes so)."""
        self.path = path
        self.edit.setEnabled(bool(path))
        if self.isVisible():
            self._timer.start()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.path != self._shown:
            self._timer.start()

    def _load(self) -> None:
        path = self.path
        if not path or path == self._shown:
            return
        self._gen += 1
        gen = self._gen
        self.bridge.submit(
            lambda ctx: _read_rows(path),
            name="Read the image's tags",
            lane="io",
            quiet=True,
            on_done=lambda ev: self._on_rows(ev, gen, path),
        )

    def _on_rows(self, ev: JobFinished, gen: int, path: str) -> None:
        if gen != self._gen:
            return  # an older image's answer
        self._shown = path
        self.tree.clear()
        if ev.state is not JobState.SUCCEEDED:
            self.status.setText(f"Cannot read the tags: {ev.error}")
            return
        parents: list[QTreeWidgetItem] = []
        for r in ev.result:
            keyword = r.keyword or (f"private: {r.private_creator}" if r.private_creator else "")
            item = QTreeWidgetItem([r.tag, keyword, r.vr, r.value])  # plain text
            item.setToolTip(3, r.value)
            del parents[r.depth :]
            (parents[-1].addChild(item) if parents else self.tree.addTopLevelItem(item))
            parents.append(item)
        self.status.setText(f"{len(ev.result)} elements of {path}")
        self._filter(self.search.text())

    def _filter(self, text: str) -> None:
        t = text.casefold().strip()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is None:
                continue
            hit = (
                not t
                or t in item.text(0).casefold()
                or t in item.text(1).casefold()
                or t in item.text(3).casefold()
            )
            item.setHidden(not hit)
