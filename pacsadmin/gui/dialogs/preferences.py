"""Preferences: every setting of :class:`~pacsadmin.core.settings.Settings`, in groups,
with the same checks as the settings file (``Settings.validate``) and a live check that
the local port is free.

The form is built from the dataclass's fields, so a setting added to ``Settings`` shows
up here without touching this module (in the "Other" group, labelled from its name, until
``FIELDS`` gives it a place and a sentence); ``tests/gui/test_preferences.py`` checks that
every field has a widget.  Nothing here touches the network or the disk on the GUI
thread: the port check is a job on the io lane (``port_check``), the caller saves.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.errors import ValidationError
from pacsadmin.core.settings import Settings, Timeouts
from pacsadmin.gui.metrics import chars

# field -> (group, label, help sentence); timeouts are "timeouts.<name>"
FIELDS: dict[str, tuple[str, str, str]] = {
    "local_ae_title": (
        "This computer as a DICOM node",
        "Local AE title",
        "The AE title of this computer's node: the PACS must know it (with this computer's "
        "address and the port below) to C-MOVE studies here.",
    ),
    "scp_port": (
        "This computer as a DICOM node",
        "Listening port",
        "The TCP port the local storage and Q/R SCP listens on (104 needs privileges; "
        "11112 is the usual choice).",
    ),
    "scp_autostart": (
        "This computer as a DICOM node",
        "Start the local SCP with the window",
        "Receive C-STORE and answer C-FIND/C-MOVE/C-GET as soon as the window opens.",
    ),
    "timeouts.connect": (
        "Network",
        "Connect timeout (s)",
        "How long to wait for the TCP connection.",
    ),
    "timeouts.acse": (
        "Network",
        "Association timeout (s)",
        "How long to wait for the peer's answer to an association request.",
    ),
    "timeouts.dimse": (
        "Network",
        "DIMSE timeout (s)",
        "How long to wait for a response to a DICOM message (C-ECHO, C-FIND, C-STORE...).",
    ),
    "timeouts.network": (
        "Network",
        "Network timeout (s)",
        "How long an idle connection is kept before it is closed.",
    ),
    "max_pdu": (
        "Network",
        "Maximum PDU size (bytes)",
        "The largest PDU this computer accepts; 0 means unlimited (faster on a LAN).",
    ),
    "worker_count": (
        "Background jobs",
        "Worker threads",
        "How many network and disk jobs run at once (echo, find, retrieve, send...).",
    ),
    "per_node_limit": (
        "Background jobs",
        "Jobs per node at once",
        "How many jobs may talk to one node at the same time (most PACS limit this).",
    ),
    "retrieve_per_node_limit": (
        "Background jobs",
        "Retrieves per node at once",
        "How many C-MOVE/C-GET retrieves run at once from one node; more wait, queued.",
    ),
    "scp_association_deadline": (
        "Storage SCP: who may connect",
        "Association deadline (s)",
        "The longest an association may last, from its connection to its end: a peer "
        "that drips bytes cannot hold a slot for ever.",
    ),
    "scp_tls": (
        "Storage SCP: TLS",
        "Accept TLS only",
        "The local node speaks DICOM over TLS (1.2 or later) with the certificate below.",
    ),
    "scp_tls_cert": (
        "Storage SCP: TLS",
        "Certificate file (PEM)",
        "The local node's certificate (with its chain).",
    ),
    "scp_tls_key": (
        "Storage SCP: TLS",
        "Private key file (PEM)",
        "Empty when the key is in the certificate file. Its passphrase is kept in the "
        "operating system's keyring (below), never in a file.",
    ),
    "scp_tls_client_ca": (
        "Storage SCP: TLS",
        "Require client certificates from (CA file)",
        "When set, callers must present a certificate signed by this CA.",
    ),
    "scp_whitelist": (
        "Storage SCP: who may connect",
        "Only nodes in the directory",
        "Accept associations only from calling AE titles of nodes in the node directory.",
    ),
    "scp_check_address": (
        "Storage SCP: who may connect",
        "... and only from their addresses",
        "Also check that the association comes from the node's host address.",
    ),
    "scp_max_associations": (
        "Storage SCP: who may connect",
        "Simultaneous associations",
        "Associations the SCP serves at once; more wait or are refused.",
    ),
    "scp_worker_processes": (
        "Storage SCP: who may connect",
        "Worker processes (0: automatic)",
        "Processes that write received files; 0 uses the number of cores minus one.",
    ),
    "duplicate_policy": (
        "Local archive",
        "A received duplicate (same SOP Instance UID)",
        "Keep the first copy, or overwrite it with the newly received one.",
    ),
    "archive_fsync": (
        "Local archive",
        "fsync each received file",
        "Safer against power loss, slower: each file is flushed to the disk before it "
        "appears in the archive.",
    ),
}
CHOICES: dict[str, list[tuple[str, str]]] = {
    "duplicate_policy": [("keep_first", "Keep the first copy"), ("overwrite", "Overwrite it")],
}
HIDDEN = {"schema_version", "recent_queries"}  # the Query panel keeps those
GROUP_ORDER = [
    "This computer as a DICOM node",
    "Network",
    "Background jobs",
    "Storage SCP: who may connect",
    "Storage SCP: TLS",
    "Local archive",
]
OTHER = "Other"


def _fields() -> list[tuple[str, Any, Any]]:
    """(key, type, default) of every editable setting; timeouts flattened."""
    out: list[tuple[str, Any, Any]] = []
    defaults, tdefaults = Settings(), Timeouts()
    for f in dataclasses.fields(Settings):
        if f.name in HIDDEN:
            continue
        if f.name == "timeouts":
            for t in dataclasses.fields(Timeouts):
                out.append((f"timeouts.{t.name}", type(getattr(tdefaults, t.name)), None))
            continue
        out.append((f.name, type(getattr(defaults, f.name)), None))
    return out


def _label(key: str) -> tuple[str, str, str]:
    if key in FIELDS:
        return FIELDS[key]
    words = key.replace("timeouts.", "").replace("_", " ")
    return OTHER, words[:1].upper() + words[1:], ""


class PreferencesDialog(QDialog):
    """Edit a copy of the settings; ``result_settings()`` after ``Accepted``.

    ``port_check(port, on_answer)``: asks, off the GUI thread, whether ``port`` is free,
    calling ``on_answer(message_or_empty)`` on the GUI thread ("" = free); the caller
    passes one that knows the window's own SCP holds the current port."""

    portCheckWanted = Signal(int)

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        port_check: Callable[[int, Callable[[str], None]], None] | None = None,
        title: str = "Preferences",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("preferencesDialog")
        self._settings = settings
        self._result: Settings | None = None
        self._port_check = port_check
        self.editors: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}

        body = QWidget()
        col = QVBoxLayout(body)
        groups: dict[str, QFormLayout] = {}
        for key, kind, _ in _fields():
            group, label, help_text = _label(key)
            if group not in groups:
                groups[group] = QFormLayout()
            editor = self._editor(key, kind, self._value(key))
            editor.setToolTip(help_text)
            editor.setObjectName(f"pref_{key}")
            lab = QLabel(label)
            lab.setToolTip(help_text)
            lab.setBuddy(editor)
            self.editors[key] = editor
            self.labels[key] = lab
            groups[group].addRow(lab, editor)
        for name in [*GROUP_ORDER, OTHER]:
            if name not in groups:
                continue
            box = QGroupBox(name)
            box.setLayout(groups[name])
            groups[name].setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
            col.addWidget(box)
            if name == GROUP_ORDER[0]:
                self.port_status = QLabel("")
                self.port_status.setObjectName("portStatus")
                self.port_status.setTextFormat(Qt.TextFormat.PlainText)
                self.port_status.setWordWrap(True)
                groups[name].addRow("", self.port_status)
        tls_form = groups.get("Storage SCP: TLS")
        self.passphrase = QLineEdit()
        self.passphrase.setObjectName("pref_tls_passphrase")
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("unchanged (stored in the keyring)")
        self.passphrase.setToolTip(
            "The TLS key's passphrase: saved in the operating system's keyring, never in "
            "the settings file or a log. Leave empty to keep the stored one."
        )
        if tls_form is not None:
            lab = QLabel("Key passphrase")
            self.labels["tls_passphrase"] = lab
            tls_form.addRow(lab, self.passphrase)
        col.addStretch(1)
        # one label column across the groups, one width for the numbers: a form, not a collage
        width = max(lab.sizeHint().width() for lab in self.labels.values())
        for lab in self.labels.values():
            lab.setMinimumWidth(width)
        for ed in self.editors.values():
            if isinstance(ed, QSpinBox | QDoubleSpinBox | QComboBox):
                ed.setMinimumWidth(chars(ed, 22))
                ed.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        self.message = QLabel("")
        self.message.setObjectName("preferencesMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: palette(highlight); font-weight: bold;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        restore = self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(self.restore_defaults)
        lay = QVBoxLayout(self)
        lay.addWidget(scroll, 1)
        lay.addWidget(self.message)
        lay.addWidget(self.buttons)
        self.resize(560, 640)

        self._port_timer = QTimer(self)
        self._port_timer.setSingleShot(True)
        self._port_timer.setInterval(250)
        self._port_timer.timeout.connect(self._check_port)
        port = self.editors["scp_port"]
        assert isinstance(port, QSpinBox)
        port.valueChanged.connect(lambda _v: self._port_timer.start())
        self._port_timer.start()

    # ------------------------------------------------------------------ building
    def _value(self, key: str, settings: Settings | None = None) -> Any:
        s = settings or self._settings
        if key.startswith("timeouts."):
            return getattr(s.timeouts, key.split(".", 1)[1])
        return getattr(s, key)

    def _editor(self, key: str, kind: Any, value: Any) -> QWidget:
        if key in CHOICES:
            combo = QComboBox()
            for data, text in CHOICES[key]:
                combo.addItem(text, data)
            combo.setCurrentIndex(max(0, combo.findData(value)))
            return combo
        if kind is bool:
            box = QCheckBox()
            box.setChecked(bool(value))
            return box
        if kind is int:
            spin = QSpinBox()
            spin.setRange(0, 2**31 - 1)
            spin.setValue(int(value))
            spin.setAlignment(Qt.AlignmentFlag.AlignRight)
            return spin
        if kind is float:
            dspin = QDoubleSpinBox()
            dspin.setRange(0.0, 86400.0)
            dspin.setDecimals(1)
            dspin.setValue(float(value))
            dspin.setAlignment(Qt.AlignmentFlag.AlignRight)
            return dspin
        line = QLineEdit("" if value is None else str(value))
        if key == "local_ae_title":
            line.setMaxLength(16)
        return line

    def _read(self, key: str) -> Any:
        w = self.editors[key]
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox | QDoubleSpinBox):
            return w.value()
        assert isinstance(w, QLineEdit)
        return w.text().strip() if key == "local_ae_title" else w.text()

    def _write(self, key: str, value: Any) -> None:
        w = self.editors[key]
        if isinstance(w, QComboBox):
            w.setCurrentIndex(max(0, w.findData(value)))
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        elif isinstance(w, QDoubleSpinBox):
            w.setValue(float(value))
        elif isinstance(w, QLineEdit):
            w.setText("" if value is None else str(value))

    # ------------------------------------------------------------------ reading back
    def collect(self) -> Settings:
        """The settings the form holds, validated (raises ValidationError)."""
        top: dict[str, Any] = {}
        times: dict[str, Any] = {}
        for key in self.editors:
            if key.startswith("timeouts."):
                times[key.split(".", 1)[1]] = self._read(key)
            else:
                top[key] = self._read(key)
        timeouts = dataclasses.replace(self._settings.timeouts, **times)
        return dataclasses.replace(self._settings, timeouts=timeouts, **top).validate()

    def result_settings(self) -> Settings | None:
        return self._result

    def restore_defaults(self) -> None:
        defaults = Settings()
        for key in self.editors:
            self._write(key, self._value(key, defaults))
        self.message.setText("Defaults restored: OK saves them.")

    def _field_key(self, field: str) -> str:
        if field in self.editors:
            return field
        if f"timeouts.{field}" in self.editors:
            return f"timeouts.{field}"
        return ""

    def accept(self) -> None:
        try:
            settings = self.collect()
        except ValidationError as exc:
            self.show_error(exc.field, exc.message)
            return
        except (TypeError, ValueError) as exc:
            self.show_error("", str(exc))
            return
        self._result = settings
        super().accept()

    def show_error(self, field: str, message: str) -> None:
        self.message.setText(message)
        key = self._field_key(field)
        if key:
            w = self.editors[key]
            w.setFocus()
            self.labels[key].setStyleSheet("color: palette(highlight); font-weight: bold;")

    # ------------------------------------------------------------------ the port check
    def _check_port(self) -> None:
        if self._port_check is None:
            return
        port = self._read("scp_port")
        if not 1 <= port <= 65535:
            self.port_status.setText("The port must be between 1 and 65535.")
            return
        self.port_status.setText(f"Checking port {port}...")
        self._port_check(port, functools.partial(self._on_port_answer, port))

    def _on_port_answer(self, port: int, message: str) -> None:
        if port != self._read("scp_port"):
            return  # an answer for a value the user has changed since
        self.port_status.setText(message or f"Port {port} is free.")
