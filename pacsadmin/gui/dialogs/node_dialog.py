"""Add / edit / duplicate a node.

Validation messages appear next to the field they concern (``ValidationError.field``
routes them).  **Test** echoes the unsaved node in the background and shows the answer
inline (the caller's ``test_fn`` audits it like any echo; :attr:`NodeDialog.tested` tells
the caller, which keeps it as the node's last echo); a host that does not resolve is a
warning, never a reason to refuse the node.  Saving runs ``save_fn`` in the background
too (it takes the node directory's file lock and talks to the keyring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pacsadmin.core.dimse.echo_result import EchoSeries
from pacsadmin.core.errors import DuplicateNode, PacsAdminError, ValidationError
from pacsadmin.core.jobs import Job, JobContext, JobFinished, JobState
from pacsadmin.core.nodes import (
    QUERY_CHARSETS,
    RETRIEVE_METHODS,
    DicomNode,
    NodeTimeouts,
    TlsSettings,
    validate_ae_title,
    validate_name,
    validate_port,
)
from pacsadmin.gui.icons import icon
from pacsadmin.gui.job_bridge import JobBridge
from pacsadmin.gui.text import escape_controls, plain_label
from pacsadmin.gui.widgets.lights import Light, light_pixmap

TIMEOUT_FIELDS = ("connect", "acse", "dimse", "network")
# save(node, passphrase or None) -> None, or the reason the passphrase was not stored;
# runs on a worker thread and may raise DuplicateNode, ValidationError, PacsAdminError
SaveFn = Callable[[DicomNode, str | None], str | None]
# test(node, passphrase or None, ctx) -> the echo's series; runs on a worker thread
TestFn = Callable[[DicomNode, str | None, JobContext], EchoSeries]


def _save_job(save_fn: SaveFn, node: DicomNode, passphrase: str | None) -> Any:
    """The save job: the outcome as plain values (field, message) for the dialog."""

    def run(ctx: JobContext) -> tuple[str, str, str | None]:
        try:
            return ("saved", "", save_fn(node, passphrase))
        except DuplicateNode as exc:
            return ("error", "name", str(exc))
        except ValidationError as exc:
            return ("error", exc.field, exc.message)
        except PacsAdminError as exc:  # a damaged nodes.json, a lock held too long
            return ("error", "", str(exc))

    return run


def _error_label() -> QLabel:
    lab = plain_label("", wrap=True)
    lab.setStyleSheet("color: #c62828;")
    lab.setVisible(False)
    return lab


class NodeDialog(QDialog):
    tested = Signal(object, object)  # (DicomNode, EchoSeries): a Test ran to its end

    def __init__(
        self,
        *,
        bridge: JobBridge,
        test_fn: TestFn,
        save_fn: SaveFn,
        node: DicomNode | None = None,
        title: str = "Add node",
        sites: list[str] | None = None,
        keyring_name: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(520)
        self.bridge = bridge
        self._test_fn, self._save_fn = test_fn, save_fn
        self.saved_node: DicomNode | None = None
        self.secret_warning: str | None = None
        self.last_test: tuple[DicomNode, EchoSeries] | None = None  # the last Test's answer
        self._saving = False  # a save job runs: the dialog stays until it ends
        self._probes: list[Job[Any]] = []  # Test and host look-ups, cancelled on close
        self._closed = False  # a callback may arrive after the dialog is gone
        self.errors: dict[str, QLabel] = {}
        self._field_tab: dict[str, int] = {}
        self._field_widget: dict[str, QWidget] = {}

        self.tabs = QTabWidget(self)
        # ---- General
        self.name_edit = QLineEdit()
        self.ae_edit = QLineEdit()
        self.ae_edit.setPlaceholderText("e.g. ORTHANC (1-16 characters)")
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("host name or IP address")
        self.port_edit = QLineEdit()
        self.port_edit.setPlaceholderText("104 or 11112")
        self.port_edit.setMaximumWidth(110)
        self.site_combo = QComboBox()
        self.site_combo.setEditable(True)
        self.site_combo.addItems(sorted({s for s in (sites or []) if s}))
        self.site_combo.setEditText("")
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("comma-separated, e.g. research, radiology")
        self.calling_edit = QLineEdit()
        self.calling_edit.setPlaceholderText("default: the local AE title")
        self.desc_edit = QPlainTextEdit()
        self.desc_edit.setFixedHeight(56)
        self.host_warning = plain_label("", wrap=True)
        self.host_warning.setStyleSheet("color: #a66400;")
        self.host_warning.setVisible(False)
        general = self._form(
            0,
            [
                ("Name", "name", self.name_edit),
                ("AE title", "ae_title", self.ae_edit),
                ("Host", "host", self.host_edit),
                ("Port", "port", self.port_edit),
                ("Site", "site", self.site_combo),
                ("Tags", "tags", self.tags_edit),
                ("Calling AE title", "calling_ae_title", self.calling_edit),
                ("Description", "description", self.desc_edit),
            ],
        )
        general.insertRow(3, "", self.host_warning)  # under the host
        # ---- Security (TLS)
        self.tls_check = QCheckBox("Use TLS (DICOM over TLS, PS3.15 B.1)")
        self.ca_edit, ca_row = self._file_row("CA bundle (PEM); empty: system trust store")
        self.cert_edit, cert_row = self._file_row("client certificate (PEM), for mutual TLS")
        self.key_edit, key_row = self._file_row("client key (PEM)")
        self.pass_edit = QLineEdit()
        self.pass_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pass_edit.setPlaceholderText(
            "leave empty to keep the stored one" if node else "stored in the OS keyring"
        )
        self.verify_check = QCheckBox("Verify the peer's host name (recommended)")
        self.verify_check.setChecked(True)
        self.keyring_label = plain_label(
            f"Passphrases go to the OS keyring ({keyring_name}), never into files."
            if keyring_name
            else "Passphrases go to the OS keyring, never into files.",
            wrap=True,
        )
        self.keyring_label.setStyleSheet("color: palette(mid);")
        sec = self._form(
            1,
            [
                ("", "tls_enabled", self.tls_check),
                ("CA bundle", "tls_ca_bundle", ca_row),
                ("Client certificate", "tls_client_cert", cert_row),
                ("Client key", "tls_client_key", key_row),
                ("Key passphrase", "tls_passphrase", self.pass_edit),
                ("", "tls_verify_hostname", self.verify_check),
            ],
        )
        sec.addRow("", self.keyring_label)
        self.tls_check.toggled.connect(self._on_tls_check_toggled)
        # ---- Advanced
        self.timeout_edits: dict[str, QLineEdit] = {}
        rows: list[tuple[str, str, QWidget]] = []
        for k in TIMEOUT_FIELDS:
            e = QLineEdit()
            e.setPlaceholderText("default from settings")
            e.setMaximumWidth(180)
            self.timeout_edits[k] = e
            rows.append(
                (f"{k.upper() if k != 'network' else 'Network'} timeout (s)", f"timeout_{k}", e)
            )
        self.pdu_edit = QLineEdit()
        self.pdu_edit.setPlaceholderText("default from settings (0 = unlimited)")
        self.retrieve_combo = QComboBox()
        self.retrieve_combo.addItems(list(RETRIEVE_METHODS))
        self.charset_combo = QComboBox()
        for cs in QUERY_CHARSETS:
            self.charset_combo.addItem(cs or "default repertoire (ASCII)", cs)
        rows += [
            ("Max PDU (bytes)", "max_pdu", self.pdu_edit),
            ("Retrieve method", "retrieve_method", self.retrieve_combo),
            ("Query character set", "query_charset", self.charset_combo),
        ]
        self._form(2, rows)

        # ---- Test + buttons
        self.test_button = QPushButton(icon("test"), "Test")
        self.test_button.setToolTip("Echo this node as it is now, without saving it")
        self.test_button.clicked.connect(self._on_test_button_clicked)
        self.test_light = QLabel()
        self.test_light.setPixmap(light_pixmap(Light.UNKNOWN, 16))
        self.test_label = plain_label("Not tested yet.", wrap=True, selectable=True)
        self.test_advice = plain_label("", wrap=True, selectable=True)
        self.test_advice.setStyleSheet("color: palette(mid);")
        self.general_error = _error_label()
        self.saved_label = plain_label("", wrap=True)
        self.saved_label.setStyleSheet("color: #c62828; font-weight: bold;")
        self.saved_label.setVisible(False)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.test_light, 0, Qt.AlignmentFlag.AlignTop)
        tv = QVBoxLayout()
        tv.setSpacing(1)
        tv.addWidget(self.test_label)
        tv.addWidget(self.test_advice)
        test_row.addLayout(tv, 1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Save")
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.tabs)
        lay.addLayout(test_row)
        lay.addWidget(self.general_error)
        lay.addWidget(self.saved_label)
        lay.addWidget(self.buttons)

        # live checks of the fields with rules
        self.name_edit.textEdited.connect(self._on_name_edit_text_edited)
        self.ae_edit.textEdited.connect(self._on_ae_edit_text_edited)
        self.port_edit.textEdited.connect(self._on_port_edit_text_edited)
        self.calling_edit.textEdited.connect(self._on_calling_edit_text_edited)
        self.host_edit.editingFinished.connect(self._on_host_edit_editing_finished)

        if node is not None:
            self.set_node(node)
        self._on_tls_check_toggled(self.tls_check.isChecked())

    # ------------------------------------------------------------------ building
    def _form(self, tab: int, rows: list[tuple[str, str, QWidget]]) -> QFormLayout:
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, fieldname, widget in rows:
            err = _error_label()
            self.errors[fieldname] = err
            self._field_tab[fieldname] = tab
            self._field_widget[fieldname] = widget
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            v.setSpacing(1)
            v.addWidget(widget)
            v.addWidget(err)
            form.addRow(label, box)
        self.tabs.addTab(page, ("General", "Security", "Advanced")[tab])
        return form

    def _file_row(self, placeholder: str) -> tuple[QLineEdit, QWidget]:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        browse = QToolButton()
        browse.setText("...")
        browse.setToolTip("Browse")
        browse.clicked.connect(lambda: self._browse(edit))  # GUI thread only
        w = QWidget()
        h = QHBoxLayout(w)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(edit, 1)
        h.addWidget(browse)
        return edit, w

    def _browse(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a PEM file", edit.text(), "PEM (*.pem *.crt *.key);;All files (*)"
        )
        if path:
            edit.setText(path)

    def set_node(self, n: DicomNode) -> None:
        self.name_edit.setText(n.name)
        self.ae_edit.setText(n.ae_title)
        self.host_edit.setText(n.host)
        self.port_edit.setText(str(n.port))
        self.site_combo.setEditText(n.site)
        self.tags_edit.setText(", ".join(n.tags))
        self.calling_edit.setText(n.calling_ae_title)
        self.desc_edit.setPlainText(n.description)
        self.tls_check.setChecked(n.tls.enabled)
        self.ca_edit.setText(n.tls.ca_bundle)
        self.cert_edit.setText(n.tls.client_cert)
        self.key_edit.setText(n.tls.client_key)
        self.verify_check.setChecked(n.tls.verify_hostname)
        for k, e in self.timeout_edits.items():
            v = getattr(n.timeouts, k)
            e.setText("" if v is None else f"{v:g}")
        self.pdu_edit.setText("" if n.max_pdu is None else str(n.max_pdu))
        self.retrieve_combo.setCurrentText(n.retrieve_method)
        self.charset_combo.setCurrentIndex(max(0, self.charset_combo.findData(n.query_charset)))

    def build_node(self, *, for_test: bool = False) -> DicomNode:
        """The node as entered, validated; raises ValidationError naming the field."""
        name = self.name_edit.text()
        if for_test and not name.strip():
            name = "unsaved node"
        port = validate_port(self.port_edit.text())
        pdu_text = self.pdu_edit.text().strip()
        if pdu_text and not pdu_text.isdigit():
            raise ValidationError("max_pdu", f"{pdu_text!r} is not a whole number of bytes.")
        node = DicomNode(
            name=name,
            ae_title=self.ae_edit.text(),
            host=self.host_edit.text(),
            port=port,
            description=self.desc_edit.toPlainText(),
            site=self.site_combo.currentText(),
            tags=tuple(t.strip() for t in self.tags_edit.text().split(",") if t.strip()),
            calling_ae_title=self.calling_edit.text(),
            tls=TlsSettings(
                enabled=self.tls_check.isChecked(),
                ca_bundle=self.ca_edit.text().strip(),
                client_cert=self.cert_edit.text().strip(),
                client_key=self.key_edit.text().strip(),
                verify_hostname=self.verify_check.isChecked(),
            ),
            timeouts=NodeTimeouts(
                **{k: e.text().strip() or None for k, e in self.timeout_edits.items()}  # type: ignore[arg-type]
            ),
            max_pdu=int(pdu_text) if pdu_text else None,
            retrieve_method=self.retrieve_combo.currentText(),
            query_charset=self.charset_combo.currentData() or "",
        )
        return node.validated()

    # ------------------------------------------------------------------ errors
    def show_error(self, fieldname: str, message: str, *, focus: bool = True) -> None:
        label = self.errors.get(fieldname, self.general_error)
        label.setText(escape_controls(message))
        label.setVisible(bool(message))
        if message and focus and fieldname in self._field_tab:
            self.tabs.setCurrentIndex(self._field_tab[fieldname])
            self._field_widget[fieldname].setFocus()

    def clear_errors(self) -> None:
        for label in [*self.errors.values(), self.general_error]:
            label.clear()
            label.setVisible(False)

    def visible_errors(self) -> dict[str, str]:
        return {f: lab.text() for f, lab in self.errors.items() if lab.text()}

    def _check(self, fieldname: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except ValidationError as exc:
            self.show_error(fieldname, exc.message, focus=False)
        else:
            self.show_error(fieldname, "", focus=False)

    @Slot()
    def _on_name_edit_text_edited(self) -> None:
        self._check("name", lambda: validate_name(self.name_edit.text()))

    @Slot()
    def _on_ae_edit_text_edited(self) -> None:
        self._check("ae_title", lambda: validate_ae_title(self.ae_edit.text()))

    @Slot()
    def _on_port_edit_text_edited(self) -> None:
        self._check("port", lambda: validate_port(self.port_edit.text()))

    @Slot()
    def _on_calling_edit_text_edited(self) -> None:
        text = self.calling_edit.text()
        self._check(
            "calling_ae_title",
            lambda: validate_ae_title(text, "calling_ae_title") if text.strip() else "",
        )

    @Slot(bool)
    def _on_tls_check_toggled(self, on: bool) -> None:
        for w in ("tls_ca_bundle", "tls_client_cert", "tls_client_key", "tls_passphrase"):
            self._field_widget[w].setEnabled(on)
        self.verify_check.setEnabled(on)

    # ------------------------------------------------------------------ save
    @Slot()
    def _on_buttons_accepted(self) -> None:
        if self._saving:  # one save at a time
            return
        if self.saved_node is not None:  # saved already; the passphrase note was shown
            self.accept()
            return
        self.clear_errors()
        try:
            node = self.build_node()
        except ValidationError as exc:
            self.show_error(exc.field, exc.message)
            return
        passphrase = self.pass_edit.text() or None
        self.ok_button.setEnabled(False)  # and reject() waits: a save runs to its end
        self._saving = True
        self.bridge.submit(
            _save_job(self._save_fn, node, passphrase),
            name=f"Save node {node.name}",
            lane="priority",  # quick; the io lane may be busy with an archive import
            quiet=True,
            on_done=lambda ev: self._on_saved(node, ev),
        )

    def _on_saved(self, node: DicomNode, ev: JobFinished) -> None:
        if self._closed:
            return
        self._saving = False
        self.ok_button.setEnabled(True)
        if ev.state is not JobState.SUCCEEDED or ev.result is None:
            self.show_error("", ev.error or "The node was not saved.")
            return
        outcome, fieldname, text = ev.result
        if outcome == "error":
            self.show_error(fieldname, text or "The node was not saved.")
            return
        reason = text
        self.saved_node = node
        if reason:
            # saved, but say clearly where the secret is (not) kept before closing
            self.secret_warning = reason
            self.saved_label.setText(f"Node saved. Key passphrase not stored: {reason}")
            self.saved_label.setVisible(True)
            self.ok_button.setText("Close")
            self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setVisible(False)
            return
        self.accept()

    # ------------------------------------------------------------------ background work
    @Slot()
    def _on_test_button_clicked(self) -> None:
        self.clear_errors()
        try:
            node = self.build_node(for_test=True)
        except ValidationError as exc:
            self.show_error(exc.field, exc.message)
            return
        passphrase = self.pass_edit.text() or None
        test_fn = self._test_fn  # the job must not hold the dialog (a QObject)
        job = self.bridge.submit(
            lambda ctx: test_fn(node, passphrase, ctx),
            name=f"Test {node.address}",
            node=node.name,
            lane="priority",
            on_done=lambda ev: self._on_tested(node, ev),
        )
        self._probes.append(job)
        self.test_button.setEnabled(False)
        self.test_light.setPixmap(light_pixmap(Light.RUNNING, 16))
        self.test_label.setText(f"Testing {node.address}...")
        self.test_advice.clear()

    @Slot()
    def _on_host_edit_editing_finished(self) -> None:
        host = self.host_edit.text().strip()
        try:
            from pacsadmin.core.nodes import validate_host

            host = validate_host(host)
        except ValidationError as exc:
            self.show_error("host", exc.message, focus=False)
            return
        self.show_error("host", "", focus=False)
        job = self.bridge.submit(
            lambda ctx: _resolve(host),
            name=f"Resolve {host}",
            lane="priority",
            on_done=self._on_resolved,
        )
        self._probes.append(job)

    def _on_resolved(self, ev: JobFinished) -> None:
        if self._closed:
            return
        warning = ev.result if ev.state is JobState.SUCCEEDED else ""
        self.host_warning.setText(escape_controls(warning or ""))
        self.host_warning.setVisible(bool(warning))

    def _on_tested(self, node: DicomNode, ev: JobFinished) -> None:
        if self._closed:
            return
        self.test_button.setEnabled(True)
        series = ev.result if isinstance(ev.result, EchoSeries) else None
        if ev.state is not JobState.SUCCEEDED or series is None or not series.results:
            self.test_light.setPixmap(light_pixmap(Light.FAILED, 16))
            self.test_label.setText(ev.error or "The test did not run.")
            return
        r = series.results[-1]
        self.test_light.setPixmap(light_pixmap(Light.OK if r.ok else Light.FAILED, 16))
        self.test_label.setText(escape_controls(r.summary))
        self.test_advice.setText(escape_controls(r.advice))
        self.last_test = (node, series)
        self.tested.emit(node, series)

    def reject(self) -> None:
        if not self._saving:  # Cancel or Esc while saving: wait for the save
            super().reject()

    def done(self, result: int) -> None:
        self._closed = True
        for job in self._probes:  # a save under way is never cancelled: it finishes
            job.cancel()
        super().done(result)

    # for tests and the composition root
    def test_result_text(self) -> str:
        return self.test_label.text()


def _resolve(host: str) -> str:
    """'' when ``host`` resolves (or is an IP address), else the warning to show."""
    from pacsadmin.core.netutil import host_warning

    warning = host_warning(host, timeout=5.0)
    return f"Warning: {warning} You can still save the node." if warning else ""


def with_name(node: DicomNode, name: str) -> DicomNode:
    return replace(node, name=name)
