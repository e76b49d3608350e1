"""Many files at once: one row per file, the chosen attributes as columns, the values that
differ from the column's usual one highlighted; set, delete or replace a value across the
selected files as one batch (validated on every file first: one refusal and nothing is
written; Edit > Undo last change restores the batch byte for byte)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.jobs import JobContext, JobFinished, JobState

DEFAULT_COLUMNS = [
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "AccessionNumber",
    "StudyDate",
    "StudyDescription",
    "Modality",
    "SeriesDescription",
    "InstanceNumber",
]
MAX_SHOWN = 200  # characters of a value in a cell (elided beyond; the tooltip has more)


def read_values(paths: list[str], keywords: list[str], ctx: JobContext) -> list[list[str]]:
    """The top-level values of ``keywords`` in each file ("" when absent; the reason
    when the file cannot be read)."""
    from pacsadmin.core.editing import load
    from pacsadmin.core.editing.correction import top_value
    from pacsadmin.core.editing.tagpath import TagPath

    tags = [TagPath.parse(k).tag for k in keywords]
    out = []
    for i, p in enumerate(paths):
        if ctx.cancelled:
            break
        try:
            df = load(p)
            out.append([(top_value(df, t) or "")[:MAX_SHOWN] for t in tags])
        except Exception as exc:  # a damaged file: shown, not fatal
            out.append([f"<unreadable: {type(exc).__name__}>"] + [""] * (len(tags) - 1))
        if i % 50 == 0:
            ctx.progress(i, len(paths), f"{i} of {len(paths)} files")
    return out


def expand(paths: list[str]) -> list[str]:
    """Files as they are; folders walked (sorted), hidden files and folders left out (run
    it on a worker: it reads the disk)."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out += [os.path.join(root, n) for n in sorted(names) if not n.startswith(".")]
        else:
            out.append(p)
    return out


class BatchGrid(QDialog):
    """``apply(paths, recipe, label, on_done)`` is the controller's: plan, then the batch
    (on_done(message, ok) on the GUI thread)."""

    def __init__(
        self,
        inputs: list[str],
        *,
        bridge: Any,
        apply: Callable[[list[str], Any, str, Callable[[str, bool], None]], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("batchGrid")
        self.setWindowTitle("Tags of many files")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.inputs, self.bridge, self._apply = list(inputs), bridge, apply
        self.paths: list[str] = []
        self.values: list[list[str]] = []
        self.columns = list(DEFAULT_COLUMNS)

        self.add_col = QLineEdit()
        self.add_col.setPlaceholderText("add a column: keyword or gggg,eeee")
        self.add_col.returnPressed.connect(self._add_column)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("batchTable")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.attr = QComboBox()
        self.attr.setObjectName("batchAttribute")
        self.attr.setEditable(True)
        self.only_where = QLineEdit()
        self.only_where.setPlaceholderText("only where the value is (empty: any)")
        self.value = QLineEdit()
        self.value.setObjectName("batchValue")
        self.value.setPlaceholderText("new value")
        self.set_btn = QPushButton("Set on selected")
        self.del_btn = QPushButton("Delete on selected")
        self.set_btn.clicked.connect(self.set_selected)
        self.del_btn.clicked.connect(self.delete_selected)
        edit = QHBoxLayout()
        edit.addWidget(QLabel("Attribute"))
        edit.addWidget(self.attr)
        edit.addWidget(self.only_where, 1)
        edit.addWidget(QLabel("→"))
        edit.addWidget(self.value, 1)
        edit.addWidget(self.set_btn)
        edit.addWidget(self.del_btn)

        self.status = QLabel("Reading the files...")
        self.status.setObjectName("batchStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.add_col)
        lay.addWidget(self.table, 1)
        lay.addLayout(edit)
        lay.addWidget(self.status)
        self.resize(1100, 700)
        self._update_buttons()
        QTimer.singleShot(0, self.reload)

    # ------------------------------------------------------------------ loading
    def reload(self, note: str = "") -> None:
        inputs, cols = self.inputs, list(self.columns)

        def work(ctx: JobContext) -> tuple[list[str], list[list[str]]]:
            paths = expand(inputs)
            return paths, read_values(paths, cols, ctx)

        self.status.setText((note + "\n" if note else "") + "Reading the files...")
        self.bridge.submit(work, name="Read tags of many files", lane="io", quiet=True,
                           on_done=lambda ev: self._on_loaded(ev, note))  # fmt: skip

    def _on_loaded(self, ev: JobFinished, note: str) -> None:
        if ev.state is not JobState.SUCCEEDED:
            self.status.setText(f"Cannot read the files: {ev.error}")
            return
        self.paths, self.values = ev.result
        self._fill()
        self.status.setText(
            (note + "\n" if note else "")
            + f"{len(self.paths)} file(s). Highlighted: values that differ from the column's "
            "most common one."
        )

    def _add_column(self) -> None:
        from pacsadmin.core.editing.tagpath import TagPath

        text = self.add_col.text().strip()
        try:
            TagPath.parse(text)
        except Exception as exc:
            self.status.setText(f"Not an attribute: {text} ({exc})")
            return
        if text not in self.columns:
            self.columns.append(text)
        self.add_col.clear()
        self.reload()

    def _fill(self) -> None:
        t = self.table
        t.setUpdatesEnabled(False)
        t.clear()
        t.setColumnCount(len(self.columns) + 1)
        t.setHorizontalHeaderLabels(["File", *self.columns])
        t.setRowCount(len(self.paths))
        odd = QBrush(QColor(255, 190, 0, 110))
        usual = []
        for c in range(len(self.columns)):
            counts = Counter(row[c] for row in self.values)
            usual.append(counts.most_common(1)[0][0] if counts else "")
        for r, (path, row) in enumerate(zip(self.paths, self.values, strict=True)):
            name = QTableWidgetItem(Path(path).name)
            name.setToolTip(path)
            t.setItem(r, 0, name)
            for c, v in enumerate(row):
                item = QTableWidgetItem(v)  # plain text: values from files are not markup
                item.setToolTip(v)
                if v != usual[c]:
                    item.setBackground(odd)
                t.setItem(r, c + 1, item)
        t.resizeColumnsToContents()
        for c in range(t.columnCount()):
            t.setColumnWidth(c, min(t.columnWidth(c), 260))
        t.setUpdatesEnabled(True)
        current = self.attr.currentText()
        self.attr.clear()
        self.attr.addItems(self.columns)
        if current:
            self.attr.setCurrentText(current)
        self._update_buttons()

    def _selected(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectedIndexes()})

    def _update_buttons(self) -> None:
        on = bool(self._selected())
        self.set_btn.setEnabled(on)
        self.del_btn.setEnabled(on)

    # ------------------------------------------------------------------ edits
    def _targets(self) -> tuple[str, list[str]]:
        """The attribute and the selected files it applies to (only those holding the
        'only where' value when one is given)."""
        kw = self.attr.currentText().strip()
        rows = self._selected()
        where = self.only_where.text()
        if where and kw in self.columns:
            c = self.columns.index(kw)
            rows = [r for r in rows if self.values[r][c] == where]
        return kw, [self.paths[r] for r in rows]

    def set_selected(self) -> None:
        kw, paths = self._targets()
        value = self.value.text()
        if not kw or not paths:
            self.status.setText("Nothing to change: select files (and check 'only where').")
            return

        def recipe(session: Any) -> None:
            session.set(kw, value)

        self._run(paths, recipe, f"set {kw}")

    def delete_selected(self) -> None:
        kw, paths = self._targets()
        if not kw or not paths:
            self.status.setText("Nothing to change: select files (and check 'only where').")
            return

        def recipe(session: Any) -> None:
            session.delete(kw)

        self._run(paths, recipe, f"delete {kw}")

    def _run(self, paths: list[str], recipe: Any, label: str) -> None:
        self.set_btn.setEnabled(False)
        self.del_btn.setEnabled(False)
        self.status.setText(f"{label} on {len(paths)} file(s): checking every file first...")
        self._apply(paths, recipe, label, self._on_applied)

    def _on_applied(self, message: str, ok: bool) -> None:
        if ok:
            self.reload(message)
        else:
            self.status.setText(message)
            self._update_buttons()
