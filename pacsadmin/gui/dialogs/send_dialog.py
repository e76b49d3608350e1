"""Send to…: the node to send to, and what to do when it refuses a compressed transfer
syntax, chosen before the send starts (never decided silently during it)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.nodes import DicomNode
from pacsadmin.gui.icons import icon
from pacsadmin.gui.text import plain_label


@dataclass(frozen=True)
class SendRequest:
    """What is about to be sent, for the dialog: a sentence and the node if already chosen
    (files dropped onto a node)."""

    what: str
    nodes: tuple[DicomNode, ...]
    node: DicomNode | None = None


@dataclass(frozen=True)
class SendChoice:
    node: DicomNode
    decompress_if_needed: bool


class SendDialog(QDialog):
    def __init__(self, request: SendRequest, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Send to node")
        self.setWindowIcon(icon("export"))
        self.request = request
        self.what = plain_label(request.what)
        self.what.setWordWrap(True)
        self.node_combo = QComboBox()
        nodes = list(request.nodes)
        if request.node is not None and request.node not in nodes:
            nodes.insert(0, request.node)
        self._nodes = nodes
        for n in nodes:
            self.node_combo.addItem(f"{n.name}  —  {n.address}", n.name)
        if request.node is not None:
            self.node_combo.setCurrentIndex(nodes.index(request.node))
        self.node_combo.setMinimumContentsLength(36)

        box = QGroupBox("If the node refuses a file's compressed transfer syntax")
        self.opt_decompress = QRadioButton(
            "Decompress it to Explicit VR Little Endian and send it again"
        )
        self.opt_fail = QRadioButton("Do not send it: list it as failed, with the reason")
        self.opt_fail.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.opt_decompress)
        group.addButton(self.opt_fail)
        note = QLabel(
            "Decompressing changes the file's transfer syntax on the receiving node "
            "(the pixel data stays the same for lossless syntaxes)."
        )
        note.setWordWrap(True)
        note.setEnabled(False)
        bl = QVBoxLayout(box)
        bl.addWidget(self.opt_decompress)
        bl.addWidget(self.opt_fail)
        bl.addWidget(note)

        form = QFormLayout()
        form.addRow("Send:", self.what)
        form.addRow("To:", self.node_combo)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Send")
        ok.setIcon(icon("export"))
        ok.setEnabled(bool(nodes))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(box)
        if not nodes:
            lay.addWidget(plain_label("No node in the directory: add one first (Nodes > Add)."))
        lay.addWidget(buttons)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 72)

    def choice(self) -> SendChoice | None:
        i = self.node_combo.currentIndex()
        if i < 0:
            return None
        return SendChoice(self._nodes[i], self.opt_decompress.isChecked())


def ask_send(request: SendRequest, parent: QWidget | None) -> SendChoice | None:
    dlg = SendDialog(request, parent)
    if dlg.exec() != QDialog.DialogCode.Accepted:
        return None
    return dlg.choice()
