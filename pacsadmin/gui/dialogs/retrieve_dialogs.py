"""Two small dialogs of the retrieve: "Retrieve by UID…" and "Move to…".

Neither touches the network or a file: the node list they show is the one the window
already holds (the node table's model).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.dimse.retrieve_model import Item
from pacsadmin.core.nodes import DicomNode
from pacsadmin.gui.text import plain_label

LEVELS = (("Study", "STUDY"), ("Series", "SERIES"), ("Instance", "IMAGE"))
THIS_COMPUTER = "__local__"


def parse_uids(text: str) -> tuple[list[str], str]:
    """The UIDs in ``text`` (separated by spaces, commas or new lines), and a sentence
    for the first one that is not a DICOM UID ("" when all are)."""
    uids = [t for t in text.replace(",", " ").split() if t]
    for u in uids:
        parts = u.split(".")
        if (
            len(u) > 64
            or not all(p.isdigit() and p.isascii() for p in parts)
            or any(len(p) > 1 and p[0] == "0" for p in parts)
        ):
            return uids, f"{u[:70]!r} is not a DICOM UID (digits and dots, at most 64 characters)."
    return uids, ""


def destination_text(node: DicomNode) -> str:
    return f"{node.name} — {node.address}"


class RetrieveByUidDialog(QDialog):
    """What to retrieve from ``node`` (level and UIDs) and where to: this computer (C-MOVE
    or C-GET per the node's setting) or another node of the directory (third party)."""

    def __init__(
        self,
        node: DicomNode,
        others: list[DicomNode],
        local_ae: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.node = node
        self.setWindowTitle(f"Retrieve from {node.name}")
        self.level_combo = QComboBox(self)
        for text, level in LEVELS:
            self.level_combo.addItem(text, level)
        self.uid_edit = QPlainTextEdit(self)
        self.uid_edit.setPlaceholderText("1.2.840.113619.2.55.3.604688119… (one or more UIDs)")
        self.uid_edit.setTabChangesFocus(True)
        self.uid_edit.setFixedHeight(self.fontMetrics().height() * 4 + 12)
        self.dest_combo = QComboBox(self)
        how = "C-GET" if node.retrieve_method == "C-GET" else f"C-MOVE to {local_ae}"
        self.dest_combo.addItem(f"This computer's archive ({how})", THIS_COMPUTER)
        for n in others:
            if n.name != node.name:
                self.dest_combo.addItem(f"{destination_text(n)} (C-MOVE)", n.ae_title)
        self.problem = plain_label("", wrap=True)
        self.problem.setStyleSheet("color: #c62828;")
        form = QFormLayout()
        form.addRow("From:", plain_label(node.address))
        form.addRow("Level:", self.level_combo)
        form.addRow("UID(s):", self.uid_edit)
        form.addRow("To:", self.dest_combo)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Retrieve")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.problem)
        lay.addWidget(self.buttons)
        self.uid_edit.textChanged.connect(self._on_uid_edit_text_changed)
        self._on_uid_edit_text_changed()
        self.resize(max(self.sizeHint().width(), 560), self.sizeHint().height())

    def items(self) -> tuple[Item, ...]:
        uids, problem = parse_uids(self.uid_edit.toPlainText())
        if problem:
            return ()
        level = self.level_combo.currentData()
        key = {"STUDY": "study", "SERIES": "series", "IMAGE": "instance"}[level]
        return tuple(Item(level, **{key: u}) for u in dict.fromkeys(uids))

    def dest_ae(self) -> str | None:
        """None: this computer; else the destination node's AE title."""
        d = self.dest_combo.currentData()
        return None if d == THIS_COMPUTER else str(d)

    @Slot()
    def _on_uid_edit_text_changed(self) -> None:
        uids, problem = parse_uids(self.uid_edit.toPlainText())
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(uids) and not problem)


class MoveToDialog(QDialog):
    """Pick the destination of a third-party C-MOVE from the node directory."""

    def __init__(
        self,
        source: DicomNode,
        nodes: list[DicomNode],
        what: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Move to…")
        self.list = QListWidget(self)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for n in nodes:
            if n.name == source.name:
                continue
            it = QListWidgetItem(destination_text(n))
            it.setData(Qt.ItemDataRole.UserRole, n)
            self.list.addItem(it)
        intro = plain_label(
            f"Move {what} from {source.name} to:\n(the PACS sends it there directly; it must "
            "know the destination's AE title, host and port)",
            wrap=True,
        )
        empty = QLabel("No other node in the directory: add the destination first.")
        empty.setVisible(self.list.count() == 0)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Move")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.itemSelectionChanged.connect(self._update)
        self.list.itemDoubleClicked.connect(lambda _: self.accept())
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.list, 1)
        lay.addWidget(empty)
        lay.addWidget(self.buttons)
        if self.list.count():
            self.list.setCurrentRow(0)
        self._update()
        self.resize(480, 320)

    def chosen(self) -> DicomNode | None:
        it = self.list.currentItem()
        return None if it is None else it.data(Qt.ItemDataRole.UserRole)

    @Slot()
    def _update(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self.chosen() is not None)
