"""The first start: what this computer is as a DICOM node (its AE title and port,
checked: a valid AE title, a port that is free), where the archive lives, and an offer
to start the demo PACS so every feature can be tried with no PACS in reach."""

from __future__ import annotations

import functools
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.errors import ValidationError
from pacsadmin.core.node_validation import validate_ae_title
from pacsadmin.gui.icons import icon
from pacsadmin.gui.metrics import chars


class WelcomeDialog(QDialog):
    """``ae_title()``, ``port()``, ``start_demo()`` after ``Accepted``.

    ``port_check(port, on_answer)`` answers off the GUI thread ("" = free), as in
    :class:`~pacsadmin.gui.dialogs.preferences.PreferencesDialog`; ``demo_available``
    enables the demo offer (the demo PACS needs a free port of its own, which its
    starter finds)."""

    def __init__(
        self,
        ae_title: str,
        port: int,
        archive_dir: str,
        parent: QWidget | None = None,
        *,
        port_check: Callable[[int, Callable[[str], None]], None] | None = None,
        demo_available: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("welcomeDialog")
        self.setWindowTitle("Welcome to pacsadmin")
        self.setWindowIcon(icon("scp"))
        self._port_check = port_check
        self._port_ok = True

        title = QLabel("Welcome to pacsadmin")
        f = QFont(title.font())
        f.setPointSizeF(f.pointSizeF() * 1.5)
        f.setBold(True)
        title.setFont(f)
        intro = QLabel(
            "pacsadmin is a workstation for PACS administrators: it tests connections, "
            "queries and retrieves studies, sends them, fixes mislabeled studies and shows "
            "images for QC. This computer is a DICOM node of its own: PACS send and move "
            "studies to it under the AE title and port below."
        )
        intro.setWordWrap(True)

        self.ae = QLineEdit(ae_title)
        self.ae.setObjectName("welcomeAeTitle")
        self.ae.setMaxLength(16)
        self.ae.setToolTip("1 to 16 characters: letters, digits, spaces, _ - . (no backslash).")
        self.port_box = QSpinBox()
        self.port_box.setObjectName("welcomePort")
        self.port_box.setRange(1, 65535)
        self.port_box.setValue(port)
        self.port_box.setMaximumWidth(chars(self.port_box, 14))
        self.ae.setMaximumWidth(chars(self.ae, 26))
        self.ae_status = QLabel("")
        self.port_status = QLabel("")
        for lab in (self.ae_status, self.port_status):
            lab.setTextFormat(Qt.TextFormat.PlainText)
            lab.setWordWrap(True)
        archive = QLabel(archive_dir)
        archive.setObjectName("welcomeArchive")
        archive.setTextFormat(Qt.TextFormat.PlainText)
        archive.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        archive.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Local AE title", self.ae)
        form.addRow("", self.ae_status)
        form.addRow("Listening port", self.port_box)
        form.addRow("", self.port_status)
        form.addRow("Local archive", archive)

        self.demo = QCheckBox("Start the demo PACS now (a practice PACS on this computer)")
        self.demo.setObjectName("welcomeDemo")
        self.demo.setToolTip(
            "A second DICOM node, DEMOPACS, with generated sample studies (CT, MR, CR, "
            "ultrasound, a mislabeled study to correct, a series with a missing slice). "
            "Every feature works against it; start or stop it later from the Tools menu."
        )
        self.demo.setChecked(demo_available)
        self.demo.setEnabled(demo_available)
        hint = QLabel("Everything here can be changed later in Tools > Preferences.")
        hint.setEnabled(False)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Get started")
        self.buttons.accepted.connect(self.accept)

        lay = QVBoxLayout(self)
        lay.addWidget(title)
        lay.addWidget(intro)
        lay.addSpacing(8)
        lay.addLayout(form)
        lay.addWidget(self.demo)
        lay.addStretch(1)
        lay.addWidget(hint)
        lay.addWidget(self.buttons)
        self.resize(560, 360)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._check_port)
        self.port_box.valueChanged.connect(lambda _v: self._timer.start())
        self.ae.textChanged.connect(self._check_ae)
        self._check_ae()
        self._timer.start()

    # ------------------------------------------------------------------ values
    def ae_title(self) -> str:
        return self.ae.text().strip()

    def port(self) -> int:
        return self.port_box.value()

    def start_demo(self) -> bool:
        return self.demo.isEnabled() and self.demo.isChecked()

    # ------------------------------------------------------------------ checks
    def _ae_problem(self) -> str:
        try:
            validate_ae_title(self.ae_title(), field="local_ae_title")
        except ValidationError as exc:
            return exc.message
        return ""

    def _check_ae(self) -> None:
        problem = self._ae_problem()
        self.ae_status.setText(problem or "A valid AE title.")
        self._update_ok()

    def _check_port(self) -> None:
        if self._port_check is None:
            return
        port = self.port()
        self.port_status.setText(f"Checking port {port}...")
        self._port_check(port, functools.partial(self._on_port_answer, port))

    def _on_port_answer(self, port: int, message: str) -> None:
        if port != self.port():
            return
        self._port_ok = not message
        self.port_status.setText(message or f"Port {port} is free.")
        self._update_ok()

    def _update_ok(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not self._ae_problem() and self._port_ok)

    def accept(self) -> None:
        if self._ae_problem() or not self._port_ok:
            return
        super().accept()
