"""Every icon of the window, from one set that follows the light or dark palette.

The glyphs are Material Design Icons (Apache 2.0), the font ``qtawesome`` (MIT; the icon
library Spyder uses) installs.  They are drawn by :class:`_GlyphEngine` when Qt paints
them, in the palette's colours of that moment (text, disabled, selected), so a switch
between light and dark needs no reloading, and they are crisp at any size.  The font is
found in qtawesome's package folder without importing it: its import pulls QtPy and
costs 250-500 ms at start-up (measured), for nothing we need.  Names are ours
(``icon("echo")``); :data:`GLYPHS` maps them to glyphs, so swapping one is one line.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import QAbstractButton

log = logging.getLogger("pacsadmin.gui")

GLYPHS: dict[str, str] = {
    "app": "radiology-box-outline",
    "add": "server-plus",
    "edit": "pencil-outline",
    "duplicate": "content-copy",
    "delete": "delete-outline",
    "import": "file-import-outline",
    "export": "file-export-outline",
    "echo": "access-point",
    "echo-all": "access-point-network",
    "doctor": "stethoscope",
    "open-images": "image-multiple-outline",
    "open-folder": "folder-open-outline",
    "archive-import": "database-import-outline",
    "scp": "server-network",
    "demo": "flask-outline",
    "quit": "exit-to-app",
    "refresh": "refresh",
    "view": "eye-outline",
    "run": "play",
    "stop": "stop",
    "copy": "content-copy",
    "save": "content-save-outline",
    "cancel": "close-circle-outline",
    "clear": "broom",
    "test": "lan-connect",
    "help": "help-circle-outline",
    "shortcuts": "keyboard-outline",
    "about": "information-outline",
    "image": "image-outline",
    "failed": "alert-circle-outline",
    "settings": "cog-outline",
    "anonymize": "incognito",
    "tags": "tag-text-outline",
    "correct": "account-edit-outline",
    "undo": "undo",
    "retry": "backup-restore",
    "move-to": "send-outline",
    "archive-show": "database-search-outline",
    # the Query panel
    "query": "table-search",
    "back": "arrow-left",
    "drill": "subdirectory-arrow-right",
    "retrieve": "database-arrow-down-outline",
    "move": "send-outline",
    "split": "calendar-range",
}
FALLBACK = "help-circle-outline"
_FONT = "materialdesignicons6-webfont-*.ttf"  # MDI 6: the code points are stable within it
_CHARMAP = "materialdesignicons6-webfont-charmap-*.json"


class _Font:
    """The icon font, loaded once (on the GUI thread, at the first icon)."""

    family: str | None = None
    codes: dict[str, str] = {}
    tried = False

    @classmethod
    def load(cls) -> bool:
        if cls.tried:
            return cls.family is not None
        cls.tried = True
        try:
            spec = importlib.util.find_spec("qtawesome")
            places = list(spec.submodule_search_locations or []) if spec else []
            fonts = Path(places[0]) / "fonts"
            ttf = max(fonts.glob(_FONT))
            charmap = max(fonts.glob(_CHARMAP))
            codes = json.loads(charmap.read_text(encoding="utf-8"))
        except (IndexError, ValueError, OSError) as exc:
            log.warning("icon font not found (is qtawesome installed?): %s", exc)
            return False
        font_id = QFontDatabase.addApplicationFont(str(ttf))
        families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
        if not families:
            log.warning("icon font %s could not be loaded", ttf)
            return False
        cls.family = families[0]
        cls.codes = {k: chr(int(v, 16)) for k, v in codes.items()}
        return True


class _GlyphEngine(QIconEngine):
    """Paints one glyph in the application palette's colour for the icon's mode."""

    def __init__(self, char: str, family: str) -> None:
        super().__init__()
        self.char = char
        self.family = family

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        pal = QGuiApplication.palette()
        if mode == QIcon.Mode.Disabled:
            color = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        elif mode == QIcon.Mode.Selected:
            color = pal.color(QPalette.ColorGroup.Active, QPalette.ColorRole.HighlightedText)
        else:
            color = pal.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
        font = QFont(self.family)
        font.setPixelSize(max(1, round(min(rect.width(), rect.height()) * 0.92)))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        painter.setFont(font)
        painter.setPen(color)
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), self.char)
        painter.restore()

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        pm = QPixmap(size)
        pm.fill(QColor(0, 0, 0, 0))
        p = QPainter(pm)
        self.paint(p, QRect(QPoint(0, 0), size), mode, state)
        p.end()
        return pm

    def clone(self) -> QIconEngine:
        return _GlyphEngine(self.char, self.family)


def icon(name: str) -> QIcon:
    """The icon called ``name`` (see :data:`GLYPHS`); it paints itself in the palette's
    colours whenever Qt draws it.  An empty icon when the font is missing."""
    if not _Font.load() or _Font.family is None:
        return QIcon()
    char = _Font.codes.get(GLYPHS.get(name, FALLBACK)) or _Font.codes.get(FALLBACK, "?")
    return QIcon(_GlyphEngine(char, _Font.family))


def set_icon(target: QAction | QAbstractButton, name: str) -> None:
    """Give ``target`` the icon ``name`` (it follows the palette by itself)."""
    target.setIcon(icon(name))


def app_icon() -> QIcon:
    """The application's own icon (pacsadmin/resources/icons/), in every size drawn; empty
    when the files are missing (a broken install: the window still opens)."""
    from pacsadmin.core.appfiles import resource

    ic = QIcon()
    for png in sorted(resource("icons").glob("pacsadmin-*.png")):
        ic.addFile(str(png))
    return ic
