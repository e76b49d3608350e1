"""Every icon of the window, from one set that follows the light or dark palette.

The glyphs are Material Design Icons (Apache 2.0) drawn by ``qtawesome`` (MIT; the icon
font library Spyder uses), so they are vector, crisp at any scale and painted in the
palette's text colour, not the fixed colours of Qt's standard pixmaps.  Names are ours
(``icon("echo")``); the table below maps them to glyphs, so swapping a glyph is one line.

Icons set with :func:`set_icon` are repainted when the application palette changes (a
switch between light and dark): :class:`_PaletteWatcher` re-colours them.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

os.environ.setdefault("QT_API", "pyside6")  # qtawesome reaches Qt through QtPy

import qtawesome as qta
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QIcon, QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget

GLYPHS: dict[str, str] = {
    "app": "mdi6.radiology-box-outline",
    "add": "mdi6.server-plus",
    "edit": "mdi6.pencil-outline",
    "duplicate": "mdi6.content-copy",
    "delete": "mdi6.delete-outline",
    "import": "mdi6.file-import-outline",
    "export": "mdi6.file-export-outline",
    "echo": "mdi6.access-point",
    "echo-all": "mdi6.access-point-network",
    "doctor": "mdi6.stethoscope",
    "open-images": "mdi6.image-multiple-outline",
    "open-folder": "mdi6.folder-open-outline",
    "archive-import": "mdi6.database-import-outline",
    "scp": "mdi6.server-network",
    "quit": "mdi6.exit-to-app",
    "refresh": "mdi6.refresh",
    "view": "mdi6.eye-outline",
    "run": "mdi6.play",
    "stop": "mdi6.stop",
    "copy": "mdi6.content-copy",
    "save": "mdi6.content-save-outline",
    "cancel": "mdi6.close-circle-outline",
    "clear": "mdi6.broom",
    "test": "mdi6.lan-connect",
    "help": "mdi6.help-circle-outline",
    "shortcuts": "mdi6.keyboard-outline",
    "about": "mdi6.information-outline",
    "image": "mdi6.image-outline",
    "failed": "mdi6.alert-circle-outline",
}
FALLBACK = "mdi6.help-circle-outline"


def _colors() -> dict[str, Any]:
    app = QApplication.instance()
    pal = app.palette() if isinstance(app, QApplication) else QPalette()
    text = pal.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
    return {
        "color": text,
        "color_active": text,
        "color_disabled": pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText),
        "color_selected": pal.color(QPalette.ColorGroup.Active, QPalette.ColorRole.HighlightedText),
    }


def icon(name: str) -> QIcon:
    """The icon called ``name`` (see :data:`GLYPHS`), in the current palette's colours."""
    glyph = GLYPHS.get(name, FALLBACK)
    try:
        ic = qta.icon(glyph, **_colors())
    except Exception:  # a glyph missing from an older font: never fail to build a window
        ic = qta.icon(FALLBACK, **_colors())
    return ic if isinstance(ic, QIcon) else QIcon()


_registered: weakref.WeakKeyDictionary[QObject, str] = weakref.WeakKeyDictionary()


def set_icon(target: QAction | QAbstractButton, name: str) -> None:
    """Give ``target`` the icon ``name``, and repaint it when the palette changes."""
    target.setIcon(icon(name))
    _registered[target] = name
    _PaletteWatcher.install()


def recolor() -> int:
    """Repaint every icon set with :func:`set_icon`; returns how many."""
    n = 0
    for target, name in list(_registered.items()):
        try:
            target.setIcon(icon(name))  # type: ignore[attr-defined]
            n += 1
        except RuntimeError:  # its C++ object is gone
            _registered.pop(target, None)
    return n


class _PaletteWatcher(QWidget):
    """A hidden widget: Qt tells every widget when the application palette changes (light
    <-> dark), and this one re-colours the icons then.  (An event filter on the
    application would run Python for every event of the program.)"""

    _instance: _PaletteWatcher | None = None

    @classmethod
    def install(cls) -> None:
        if cls._instance is None and QApplication.instance() is not None:
            cls._instance = cls()

    def event(self, ev: QEvent) -> bool:
        if ev.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange):
            recolor()
        return super().event(ev)
