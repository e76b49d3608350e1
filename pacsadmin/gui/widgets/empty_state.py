"""An empty state that says what to do: an icon, a line of text and the actions that fill
the place (used where a list or a view has nothing to show yet)."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from pacsadmin.gui.icons import icon

EmptyAction = QAction | tuple[QAction, str]


class EmptyState(QWidget):
    """``title`` in large type, ``text`` below, then one button per action (a button
    follows its action: disabled when the action cannot act)."""

    def __init__(
        self,
        icon_name: str,
        title: str,
        text: str = "",
        actions: Iterable[EmptyAction] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.icon_label = QLabel(self)
        self.icon_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.icon_label.setPixmap(icon(icon_name).pixmap(QSize(48, 48)))
        self.icon_label.setEnabled(False)  # drawn in the palette's disabled (muted) colour
        self.title_label = QLabel(self)
        self.title_label.setTextFormat(Qt.TextFormat.PlainText)
        self.title_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title_label.setWordWrap(True)
        f = QFont(self.title_label.font())
        f.setPointSizeF(f.pointSizeF() * 1.3)
        self.title_label.setFont(f)
        self.text_label = QLabel(self)
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        self.text_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text_label.setWordWrap(True)
        self.buttons: list[_ActionButton] = []
        self._shown: tuple[object, ...] | None = None
        self._row = QHBoxLayout()
        self._row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 16, 16, 16)
        lay.addStretch(2)
        lay.addWidget(self.icon_label)
        lay.addWidget(self.title_label)
        lay.addWidget(self.text_label)
        lay.addSpacing(8)
        lay.addLayout(self._row)
        lay.addStretch(3)
        self.set_content(title, text, actions)

    def set_content(self, title: str, text: str = "", actions: Iterable[EmptyAction] = ()) -> None:
        """``actions``: QActions, or (QAction, button label) pairs."""
        actions = list(actions)
        key = (title, text, *(id(a) for a in actions))
        if key == self._shown:
            return
        self._shown = key
        self.title_label.setText(title)
        self.text_label.setText(text)
        self.text_label.setVisible(bool(text))
        for b in self.buttons:
            self._row.removeWidget(b)
            b.deleteLater()
        self.buttons = []
        while self._row.count():  # the stretches
            self._row.takeAt(0)
        self._row.addStretch(1)
        for item in actions:
            a, label = item if isinstance(item, tuple) else (item, item.text())
            b = _ActionButton(a, label, self)
            self._row.addWidget(b)
            self.buttons.append(b)
        self._row.addStretch(1)


class _ActionButton(QPushButton):
    """A push button for an action with its own label: enabled when the action is."""

    def __init__(self, action: QAction, label: str, parent: QWidget) -> None:
        super().__init__(action.icon(), label, parent)
        self.action = action
        self.setToolTip(action.toolTip())
        self.setEnabled(action.isEnabled())
        self.clicked.connect(action.trigger)
        action.changed.connect(self._on_action_changed)  # disconnected when we are deleted

    @Slot()
    def _on_action_changed(self) -> None:
        self.setEnabled(self.action.isEnabled())
        self.setIcon(self.action.icon())
