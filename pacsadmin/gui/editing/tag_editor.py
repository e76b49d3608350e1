"""The tag editor for one file: the whole data set as a tree (file meta, sequences and
their items, private elements with their creators), search, edits validated against the
element's VR before anything is written, undo/redo, and Save as one batch (the original
kept as a backup in the app's folder; Edit > Undo last change restores it byte-exact).

Every file read, render and write runs on the io lane; the GUI thread only applies an
edit to the session (a validation and a list append) and shows rows.  Values are plain
text (a name of ``<b>x</b>`` is text) and long ones are elided.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.editing import DicomFile, EditRefused, EditSession, load, parse
from pacsadmin.core.editing.tree import Row, rows
from pacsadmin.core.errors import PacsAdminError
from pacsadmin.core.jobs import JobFinished, JobState
from pacsadmin.gui.icons import icon

COLUMNS = ["Tag", "Keyword", "VR", "VM", "Length", "Value"]
VALUE_COL = 5
VRS = [
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF",
    "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN",
    "UR", "US", "UT", "UV",
]  # fmt: skip


def _problems_text(exc: EditRefused | PacsAdminError) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        return "\n".join(p.message for p in problems)
    return str(exc)


class TagEditor(QDialog):
    """One file.  ``save(path, session, on_done)`` is given by the controller: it runs the
    batch on the io lane and calls ``on_done(message, ok)`` on the GUI thread."""

    saved = Signal(str)  # the file's path, after a successful save

    def __init__(
        self,
        path: str,
        *,
        bridge: Any,
        save: Callable[[str, EditSession, Callable[[str, bool], None]], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("tagEditor")
        self.setWindowTitle(f"Tags: {Path(path).name}")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.path, self.bridge, self._save = path, bridge, save
        self.df: DicomFile | None = None
        self.session: EditSession | None = None
        self.rows: list[Row] = []
        self.changed_paths: set[str] = set()
        self._refreshing = False
        self.note = ""  # the last save's outcome
        # asked before closing with unsaved edits, and before upgrading the character set
        # to UTF-8 for a value the file's cannot hold; tests replace them
        self.confirm_discard: Callable[[], bool] = self._ask_discard
        self.confirm_upgrade: Callable[[str], bool] = self._ask_upgrade

        self.search = QLineEdit()
        self.search.setObjectName("tagSearch")
        self.search.setPlaceholderText("Search a tag (0010,0010), a keyword or a value")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._apply_filter)
        self.tree = QTreeWidget()
        self.tree.setObjectName("tagTree")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        hh = self.tree.header()
        hh.setStretchLastSection(True)
        for col, width in enumerate((190, 230, 40, 40, 70)):
            hh.resizeSection(col, width)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.tree.currentItemChanged.connect(self._on_current_changed)

        # the edit panel: the selected element's path, its VR and its value
        self.where = QLabel("Select an element")
        self.where.setTextFormat(Qt.TextFormat.PlainText)
        self.vr = QLabel("")  # the selected element's VR
        self.value = QLineEdit()
        self.value.setObjectName("tagValue")
        self.value.returnPressed.connect(self.apply_value)
        self.tree.itemDoubleClicked.connect(lambda *_: self.value.setFocus())
        self.apply_btn = QPushButton("Set value")
        self.apply_btn.clicked.connect(self.apply_value)
        self.new_path = QLineEdit()
        self.new_path.setObjectName("newElementPath")
        self.new_path.setPlaceholderText("keyword, (gggg,eeee) or Sequence[0].Keyword")
        self.new_vr = QComboBox()
        self.new_vr.addItems(["(from the dictionary)", *VRS])
        self.add_btn = QPushButton("Add / set element")
        self.add_btn.clicked.connect(self.add_element)
        self.message = QLabel("")
        self.message.setObjectName("tagMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        form = QFormLayout()
        row1 = QHBoxLayout()
        row1.addWidget(self.value, 1)
        row1.addWidget(self.apply_btn)
        form.addRow(self.where, self.vr)
        form.addRow("Value", row1)
        row2 = QHBoxLayout()
        row2.addWidget(self.new_path, 1)
        row2.addWidget(self.new_vr)
        row2.addWidget(self.add_btn)
        form.addRow("New element", row2)

        self.delete_btn = QPushButton(icon("delete"), "Delete")
        self.delete_btn.clicked.connect(self.delete_current)
        self.add_item_btn = QPushButton("Add item")
        self.add_item_btn.clicked.connect(self.add_item)
        self.undo_btn = QPushButton("Undo")
        self.undo_btn.clicked.connect(self.undo)
        self.redo_btn = QPushButton("Redo")
        self.redo_btn.clicked.connect(self.redo)
        self.save_btn = QPushButton(icon("save"), "Save")
        self.save_btn.setObjectName("tagSave")
        self.save_btn.clicked.connect(self.save)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for b in (self.delete_btn, self.add_item_btn, self.undo_btn, self.redo_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.save_btn)
        buttons.addWidget(close)
        QShortcut(QKeySequence.StandardKey.Undo, self, self.undo)
        QShortcut(QKeySequence.StandardKey.Redo, self, self.redo)
        QShortcut(QKeySequence.StandardKey.Save, self, self.save)

        self.status = QLabel("Reading the file...")
        self.status.setObjectName("tagStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.search)
        lay.addWidget(self.tree, 1)
        lay.addLayout(form)
        lay.addWidget(self.message)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        self.resize(1000, 760)
        self._update_buttons()
        QTimer.singleShot(0, self.reload)

    # ------------------------------------------------------------------ loading
    def reload(self) -> None:
        path = self.path
        self.status.setText((self.note + "\n" if self.note else "") + "Reading the file...")
        self.bridge.submit(
            lambda ctx: (lambda df: (df, rows(df)))(load(path)),
            name=f"Read tags of {Path(path).name}",
            lane="io",
            quiet=True,
            on_done=self._on_loaded,
        )

    def _on_loaded(self, ev: JobFinished) -> None:
        if ev.state is not JobState.SUCCEEDED:
            self.status.setText(f"Cannot read {self.path}: {ev.error}")
            self.df = None
            self._update_buttons()
            return
        self.df, new_rows = ev.result
        self.session = EditSession(self.df)
        self.changed_paths.clear()
        self._show(new_rows)
        self._update_buttons()

    def _describe(self) -> str:
        df = self.df
        if df is None:
            return ""
        parts = [f"{self.path}", f"{len(self.rows)} rows"]
        uid = getattr(getattr(df, "syntax", None), "uid", "")
        if uid:
            from pydicom.uid import UID

            parts.append(f"{UID(uid).name} ({uid})")
        text = " · ".join(parts)
        if self.note:
            text = self.note + "\n" + text
        if df.problems:
            text += " · READING STOPPED: " + "; ".join(df.problems[:3])
        if not df.complete:
            text += " · this file cannot be saved (it was not read to its end)."
        return text

    # ------------------------------------------------------------------ the tree
    def _show(self, new_rows: list[Row]) -> None:
        current = self.tree.currentItem()
        keep = current.data(0, Qt.ItemDataRole.UserRole) if current else None
        self.rows = new_rows
        self.tree.setUpdatesEnabled(False)
        self.tree.clear()
        parents: list[QTreeWidgetItem] = []
        changed_brush = QBrush(QColor(255, 200, 0, 90))
        select = None
        for r in new_rows:
            length = "undef." if r.length is None else str(r.length)
            vm = str(r.vm) if r.vr else ""
            keyword = r.keyword or (f"private: {r.private_creator}" if r.private_creator else "")
            item = QTreeWidgetItem([r.tag, keyword, r.vr, vm, length, r.value])
            item.setData(0, Qt.ItemDataRole.UserRole, r.path)
            item.setToolTip(VALUE_COL, r.value)
            if r.meta:
                for c in range(len(COLUMNS)):
                    item.setForeground(c, QBrush(QColor(120, 120, 120)))
            if r.path and r.path in self.changed_paths:
                for c in range(len(COLUMNS)):
                    item.setBackground(c, changed_brush)
            del parents[r.depth :]
            if parents:
                parents[-1].addChild(item)
            else:
                self.tree.addTopLevelItem(item)
            parents.append(item)
            if keep and r.path == keep:
                select = item
        self.tree.expandAll()
        self.tree.setUpdatesEnabled(True)
        if select is not None:
            self.tree.setCurrentItem(select)
        self._apply_filter(self.search.text())
        self.status.setText(self._describe())

    def _apply_filter(self, text: str) -> None:
        t = text.casefold().strip()
        compact = t.replace("(", "").replace(")", "").replace(",", "")

        def visit(item: QTreeWidgetItem) -> bool:
            tag = item.text(0).replace("(", "").replace(")", "").replace(",", "").casefold()
            hit = not t or compact in tag or t in item.text(1).casefold()
            hit = hit or (bool(t) and t in item.text(VALUE_COL).casefold())
            child_hit = False
            for i in range(item.childCount()):
                child = item.child(i)
                if child is not None:
                    child_hit = visit(child) or child_hit
            item.setHidden(not (hit or child_hit))
            return hit or child_hit

        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            if top is not None:
                visit(top)

    def _on_current_changed(self, item: QTreeWidgetItem | None, _prev: Any = None) -> None:
        if item is None:
            self.where.setText("Select an element")
            return
        path = item.data(0, Qt.ItemDataRole.UserRole) or ""
        self.where.setText(f"{item.text(1) or item.text(0)} {path}".strip())
        vr = item.text(2)
        self.vr.setText(f"VR {vr}" if vr else "")
        self.value.setText(
            "" if vr == "SQ" or item.text(VALUE_COL).startswith("<") else item.text(VALUE_COL)
        )
        self._update_buttons()

    def _current_path(self) -> str:
        item = self.tree.currentItem()
        return (item.data(0, Qt.ItemDataRole.UserRole) or "") if item else ""

    # ------------------------------------------------------------------ edits
    def _edit(self, what: Callable[[EditSession], Any], touched: str) -> bool:
        if self.session is None or self._refreshing:
            return False
        try:
            what(self.session)
        except EditRefused as exc:
            charset = [p for p in exc.problems if p.rule == "character set"]
            if (
                charset
                and not self.session.upgrade_charset
                and self.confirm_upgrade(charset[0].message)
            ):
                self.session.upgrade_charset = True  # UTF-8, every text re-encoded
                return self._edit(what, touched)
            self.message.setText(_problems_text(exc))
            self.message.setStyleSheet("color: #c0392b;")
            return False
        except (PacsAdminError, ValueError) as exc:
            self.message.setText(
                _problems_text(exc) if isinstance(exc, PacsAdminError) else str(exc)
            )
            self.message.setStyleSheet("color: #c0392b;")
            return False
        self.message.setText("")
        if touched:
            self.changed_paths.add(touched)
        self._refresh()
        return True

    def apply_value(self) -> None:
        path = self._current_path()
        item = self.tree.currentItem()
        if not path or item is None or not item.text(2):
            self.message.setText("Select an element (not an item) to set its value.")
            return
        self._edit(lambda s: s.set(path, self.value.text()), path)

    def add_element(self) -> None:
        path = self.new_path.text().strip()
        if not path:
            self.message.setText("Type the new element's keyword, tag or path.")
            return
        vr = self.new_vr.currentText() if self.new_vr.currentIndex() > 0 else None
        if self._edit(lambda s: s.set(path, self.value.text(), vr), path):
            self.new_path.clear()

    def delete_current(self) -> None:
        path = self._current_path()
        if not path:
            return
        self._edit(lambda s: s.delete(path), "")

    def add_item(self) -> None:
        path = self._current_path()
        item = self.tree.currentItem()
        if not path or item is None or item.text(2) != "SQ":
            self.message.setText("Select a sequence (VR SQ) to add an item to it.")
            return
        self._edit(lambda s: s.add_item(path), path)

    def undo(self) -> None:
        if self.session is not None and self.session.undo():
            self._refresh()

    def redo(self) -> None:
        if self.session is not None and self.session.redo():
            self._refresh()

    def _refresh(self) -> None:
        """The session's data set as rows again (rendered and parsed on the io lane)."""
        session = self.session
        if session is None:
            return
        self._refreshing = True
        self._update_buttons()

        def work(ctx: Any) -> list[Row]:
            return rows(parse(session.render()))

        self.bridge.submit(work, name="Show edits", lane="io", quiet=True,
                           on_done=self._on_refreshed)  # fmt: skip

    def _on_refreshed(self, ev: JobFinished) -> None:
        self._refreshing = False
        if ev.state is JobState.SUCCEEDED:
            self._show(ev.result)
        else:
            self.message.setText(f"Cannot show the edits: {ev.error}")
        self._update_buttons()

    def _update_buttons(self) -> None:
        s, busy = self.session, self._refreshing
        ok = s is not None and not busy
        for b in (self.apply_btn, self.add_btn, self.delete_btn, self.add_item_btn):
            b.setEnabled(ok)
        self.undo_btn.setEnabled(ok and s is not None and s.can_undo)
        self.redo_btn.setEnabled(ok and s is not None and s.can_redo)
        can_save = ok and s is not None and s.can_undo and self.df is not None and self.df.complete
        self.save_btn.setEnabled(bool(can_save))

    # ------------------------------------------------------------------ saving
    def save(self) -> None:
        s = self.session
        if s is None or not s.can_undo:
            return
        self.save_btn.setEnabled(False)
        self.status.setText("Saving (a backup of the original is kept)...")
        self._save(self.path, s, self._on_saved)

    def _on_saved(self, message: str, ok: bool) -> None:
        self.status.setText(message)
        self.note = message  # kept under the file's description after the reload
        if ok:
            self.saved.emit(self.path)
            self.reload()
        else:
            self._update_buttons()

    def closeEvent(self, event: Any) -> None:
        if self.session is not None and self.session.can_undo and not self.confirm_discard():
            event.ignore()
            return
        super().closeEvent(event)

    def _ask_upgrade(self, why: str) -> bool:
        box = QMessageBox(self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Character set")
        box.setText(
            why + "\n\nUpgrade this file to UTF-8 (ISO_IR 192)? Every text of the file is "
            "re-encoded; nothing is written until you save. No: the value is refused."
        )
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    def _ask_discard(self) -> bool:
        box = QMessageBox(self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Unsaved edits")
        box.setText("Close without saving? The file on disk stays as it is.")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes
