"""The Help menu: the keyboard shortcuts (read from the window's actions, so the list is
never out of date) and the About box (the versions a bug report needs, selectable)."""

from __future__ import annotations

import platform
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QObject, Qt, qVersion
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pacsadmin import __version__
from pacsadmin.core.jobs import JobContext, JobFinished
from pacsadmin.gui.icons import icon, set_icon
from pacsadmin.gui.metrics import chars

# distributions shown in the About box when installed: (distribution, label)
LIBRARIES = (
    ("pydicom", "pydicom"),
    ("pynetdicom", "pynetdicom"),
    ("numpy", "numpy"),
    ("pyqtgraph", "pyqtgraph"),
    ("qtawesome", "qtawesome"),
    ("keyring", "keyring"),
)
CODECS = (
    ("pylibjpeg", "pylibjpeg"),
    ("pylibjpeg-libjpeg", "pylibjpeg-libjpeg (JPEG, JPEG-LS)"),
    ("pylibjpeg-openjpeg", "pylibjpeg-openjpeg (JPEG 2000)"),
    ("pylibjpeg-rle", "pylibjpeg-rle (RLE)"),
    ("python-gdcm", "GDCM"),
)


# ------------------------------------------------------------------ versions
def base_versions() -> list[tuple[str, str]]:
    """What is known without reading a file: this program, Python, Qt."""
    return [
        ("pacsadmin", __version__),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("Qt", qVersion()),
        ("PySide6", pyside_version),
        ("Platform", f"{platform.system()} {platform.release()} {platform.machine()}".strip()),
    ]


def library_versions(ctx: JobContext | None = None) -> list[tuple[str, str]]:
    """The libraries and codecs, from their installed metadata (file reads: run on the io
    lane).  A codec that is not installed says so."""
    from importlib.metadata import PackageNotFoundError, version

    out: list[tuple[str, str]] = []
    for dist, label in LIBRARIES + CODECS:
        try:
            out.append((label, version(dist)))
        except PackageNotFoundError:
            if (dist, label) in CODECS:
                out.append((label, "not installed"))
        except Exception as exc:  # a broken installation: say so, never fail the box
            out.append((label, f"unreadable ({type(exc).__name__})"))
    return out


def versions_text(rows: list[tuple[str, str]]) -> str:
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


class AboutDialog(QDialog):
    """Name, purpose and versions; the versions are plain text to select or copy."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About pacsadmin")
        self.rows = base_versions()
        logo = QLabel(self)
        logo.setPixmap(icon("app").pixmap(64, 64))
        title = QLabel(f"pacsadmin {__version__}", self)
        f = title.font()
        f.setPointSizeF(f.pointSizeF() * 1.5)
        f.setBold(True)
        title.setFont(f)
        blurb = QLabel(
            "A desktop workstation for PACS administrators: node directory, Connectivity "
            "Doctor, local archive and SCP, image viewer.  MIT licence.  Icons: Material "
            "Design Icons (Apache 2.0) via qtawesome.",
            self,
        )
        blurb.setWordWrap(True)
        blurb.setTextFormat(Qt.TextFormat.PlainText)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)  # selectable, copyable
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = self.text.font()
        mono.setStyleHint(mono.StyleHint.Monospace)
        mono.setFamily("monospace")
        self.text.setFont(mono)
        self.set_versions([])
        copy = QPushButton(icon("copy"), "Copy", self)
        copy.setToolTip("Copy the versions, for a bug report")
        copy.clicked.connect(self._on_copy_clicked)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        head = QHBoxLayout()
        head.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        words = QVBoxLayout()
        words.addWidget(title)
        words.addWidget(blurb)
        head.addLayout(words, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addWidget(self.text, 1)
        lay.addWidget(buttons)

    def set_versions(self, libraries: list[tuple[str, str]]) -> None:
        rows = self.rows + (libraries or [("libraries", "reading their versions...")])
        text = versions_text(rows)
        self.text.setPlainText(text)
        # every line in view, without scroll bars (within reason)
        fm = self.text.fontMetrics()
        lines = text.splitlines()
        width = max(fm.horizontalAdvance(line) for line in lines) + 32
        height = fm.lineSpacing() * (len(lines) + 1) + 16
        self.text.setMinimumSize(min(width, chars(self, 120)), min(height, chars(self, 80)))
        self.adjustSize()

    def versions(self) -> str:
        return self.text.toPlainText()

    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.versions())


# ------------------------------------------------------------------ shortcuts
def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(where, action, shortcut) for every action of ``window`` that has a shortcut: the
    menus' first, in menu order, then the others (toolbars, panels), then QShortcuts."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def add(where: str, a: QAction) -> None:
        if id(a) in seen or a.isSeparator():
            return
        seen.add(id(a))
        keys = [k for k in a.shortcuts() if not k.isEmpty()]
        if keys:
            text = a.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
            joined = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
            rows.append((where, text.rstrip(".…"), joined))

    def walk(menu: QMenu, where: str) -> None:
        for a in menu.actions():
            sub = a.menu()
            if isinstance(sub, QMenu):
                walk(sub, f"{where} > {sub.title().replace('&', '')}")
            else:
                add(where, a)

    for a in window.menuBar().actions():
        menu = a.menu()
        if isinstance(menu, QMenu):
            walk(menu, menu.title().replace("&", ""))
    for a in window.findChildren(QAction):
        add("Window", a)
    for sc in window.findChildren(QShortcut):
        if not sc.key().isEmpty():
            what = sc.whatsThis() or sc.objectName() or "Shortcut"
            key = sc.key().toString(QKeySequence.SequenceFormat.NativeText)
            rows.append(("Window", what, key))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(window)
        counts: dict[str, int] = {}
        for _, _, key in rows:
            counts[key] = counts.get(key, 0) + 1
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Shortcut", "Action", "Menu"])
        for r, (where, text, key) in enumerate(rows):
            for c, value in enumerate((key, text, where)):
                item = QTableWidgetItem(value)
                if c == 0 and counts[key] > 1:
                    item.setToolTip("This shortcut is given to more than one action.")
                    item.setText(f"{key}  (conflict)")
                self.table.setItem(r, c, item)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a list to read, not to edit
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        note = QLabel(
            "In the viewer (keys, not actions): Up/Down one image, Page Up/Page Down ten, "
            "Home/End the first and last; the mouse wheel scrolls the stack, Ctrl+wheel "
            "zooms, a right-drag sets the window.",
            self,
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(note)
        lay.addWidget(buttons)
        self.resize(chars(self, 75), chars(self, 70))

    def rows(self) -> list[tuple[str, str, str]]:
        t = self.table
        out = []
        for r in range(t.rowCount()):
            key, text, where = (t.item(r, c) for c in range(3))
            if key is not None and text is not None and where is not None:
                out.append((key.text(), text.text(), where.text()))
        return out


# ------------------------------------------------------------------ the menu
class HelpMenu(QObject):
    """Adds Help > Keyboard shortcuts and Help > About to ``window``'s menu bar."""

    def __init__(self, window: QMainWindow, bridge: Any = None) -> None:
        super().__init__(window)
        self.window = window
        self.bridge = bridge  # JobBridge: the About box reads versions on the io lane
        self.about_dialog: AboutDialog | None = None
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.act_shortcuts = QAction("Keyboard shortcuts", window)
        set_icon(self.act_shortcuts, "shortcuts")
        self.act_shortcuts.setShortcut(QKeySequence("Ctrl+/"))
        self.act_shortcuts.setStatusTip("Every keyboard shortcut of the window")
        self.act_shortcuts.triggered.connect(self.show_shortcuts)
        self.act_about = QAction("About pacsadmin", window)
        set_icon(self.act_about, "about")
        self.act_about.setMenuRole(QAction.MenuRole.AboutRole)
        self.act_about.setStatusTip("Versions of pacsadmin, Python, Qt and the libraries")
        self.act_about.triggered.connect(self.show_about)
        self.menu = window.menuBar().addMenu("&Help")
        self.menu.addAction(self.act_shortcuts)
        self.menu.addSeparator()
        self.menu.addAction(self.act_about)

    def show_shortcuts(self) -> ShortcutsDialog:
        if self.shortcuts_dialog is not None:
            self.shortcuts_dialog.close()
            self.shortcuts_dialog.deleteLater()
        self.shortcuts_dialog = ShortcutsDialog(self.window)  # rebuilt: actions may change
        self.shortcuts_dialog.show()
        return self.shortcuts_dialog

    def show_about(self) -> AboutDialog:
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(self.window)
            if self.bridge is not None:
                self.bridge.submit(
                    library_versions,
                    name="About: versions",
                    lane="io",
                    quiet=True,
                    on_done=self._on_versions_done,
                )
            else:  # no job runner (a bare window): read them here, once
                self.about_dialog.set_versions(library_versions())
        self.about_dialog.show()
        self.about_dialog.raise_()
        return self.about_dialog

    def _on_versions_done(self, ev: JobFinished) -> None:
        if self.about_dialog is not None and isinstance(ev.result, list):
            self.about_dialog.set_versions(ev.result)


def install_help(window: QMainWindow, bridge: Any = None) -> HelpMenu:
    """The one hook the composition root calls, after the window's menus are built."""
    return HelpMenu(window, bridge)
