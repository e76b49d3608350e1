"""Preferences and the first-start welcome: the dialogs, the port check off the GUI
thread, and saving the settings on the io lane.  ``applied(new, old)`` tells the app
what changed; it restarts what has to be restarted (the local SCP on a new AE title or
port)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget

from pacsadmin.core.errors import PacsAdminError
from pacsadmin.core.jobs import JobFinished, JobState
from pacsadmin.core.netutil import port_problem
from pacsadmin.core.settings import Settings, load_settings, save_settings
from pacsadmin.gui.dialogs.preferences import PreferencesDialog
from pacsadmin.gui.dialogs.welcome import WelcomeDialog

# settings read once at start-up: a change is saved and takes effect at the next start
NEEDS_RESTART = ("worker_count", "per_node_limit")


def changed_fields(new: Settings, old: Settings) -> list[str]:
    """The names of the settings that differ (timeouts as ``timeouts.<name>``)."""
    out = []
    for f in dataclasses.fields(Settings):
        a, b = getattr(new, f.name), getattr(old, f.name)
        if f.name == "timeouts":
            out += [
                f"timeouts.{t.name}"
                for t in dataclasses.fields(a)
                if getattr(a, t.name) != getattr(b, t.name)
            ]
        elif a != b:
            out.append(f.name)
    return out


class PreferencesController(QObject):
    applied = Signal(object, object)  # new Settings, old Settings (saved)

    def __init__(
        self,
        *,
        settings_file: Path,
        archive_dir: Path,
        bridge: Any,
        errors: Any,
        current: Callable[[], Settings],
        own_port: Callable[[], int | None],
        parent_widget: QWidget,
        secrets: Any = None,
        parent: QObject | None = None,
    ) -> None:
        """``current()``: the settings in use; ``own_port()``: the port this window's
        local SCP listens on now (None when it is not running): that port is "free" for
        the settings, since the SCP is restarted on a change."""
        super().__init__(parent)
        self.settings_file = settings_file
        self.archive_dir = archive_dir
        self.bridge = bridge
        self.errors = errors
        self.current = current
        self.own_port = own_port
        self.parent_widget = parent_widget
        self.secrets = secrets
        self.dialog: QDialog | None = None  # the open one (tests drive it)

    # ------------------------------------------------------------------ the port check
    def port_check(self, port: int, on_answer: Callable[[str], None]) -> None:
        if port == self.own_port():
            on_answer("")
            return

        def done(ev: JobFinished) -> None:
            if ev.state is JobState.SUCCEEDED and isinstance(ev.result, str):
                on_answer(ev.result)
            else:
                on_answer(f"Could not check port {port}: {ev.error}")

        self.bridge.submit(
            lambda ctx: port_problem(port), name="Check port", lane="io", quiet=True, on_done=done
        )

    # ------------------------------------------------------------------ dialogs
    def open(self) -> None:
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        dlg = PreferencesDialog(self.current(), self.parent_widget, port_check=self.port_check)
        self.dialog = dlg
        dlg.finished.connect(lambda code: self._on_preferences_finished(dlg, code))
        dlg.open()

    def _on_preferences_finished(self, dlg: PreferencesDialog, code: int) -> None:
        self.dialog = None
        new = dlg.result_settings()
        passphrase = dlg.passphrase.text()
        dlg.deleteLater()
        if code == QDialog.DialogCode.Accepted and new is not None:
            if passphrase and self.secrets is not None:
                self._store_passphrase(passphrase)
            self.save(new)

    def _store_passphrase(self, passphrase: str) -> None:
        """Into the OS keyring on the io lane (a keyring call may wait on a D-Bus)."""
        from pacsadmin.core.secrets import SCP_TLS_PASSPHRASE_KEY

        secrets = self.secrets

        def done(ev: JobFinished) -> None:
            if ev.state is not JobState.SUCCEEDED:
                self.errors.present(f"The TLS key passphrase was not stored: {ev.error}")
            elif ev.result:  # kept for this session only: the SCP process cannot read it
                self.errors.present(
                    f"The TLS key passphrase could not go to the keyring ({ev.result}); the "
                    "local SCP, a process of its own, will not be able to read it."
                )

        self.bridge.submit(
            lambda ctx: secrets.set(SCP_TLS_PASSPHRASE_KEY, passphrase),
            name="Store the TLS passphrase",
            lane="io",
            quiet=True,
            on_done=done,
        )

    def welcome(self, on_demo: Callable[[], None] | None) -> None:
        """The first-start dialog; saves the AE title and port (the file then exists,
        so it is shown once) and starts the demo PACS when asked."""
        s = self.current()
        dlg = WelcomeDialog(
            s.local_ae_title,
            s.scp_port,
            str(self.archive_dir),
            self.parent_widget,
            port_check=self.port_check,
            demo_available=on_demo is not None,
        )
        self.dialog = dlg

        def finished(code: int) -> None:
            self.dialog = None
            dlg.deleteLater()
            new = dataclasses.replace(s, local_ae_title=dlg.ae_title(), scp_port=dlg.port())
            if code != QDialog.DialogCode.Accepted:
                new = s  # closed with the window's button: keep the defaults, once
            demo = code == QDialog.DialogCode.Accepted and dlg.start_demo() and on_demo
            try:  # the demo starts once the settings are saved (it reads our port there)
                self.save(new, after=on_demo if demo else None)
            except RuntimeError:  # the window closed with the welcome open: ask next time
                return

        dlg.finished.connect(finished)
        dlg.open()

    # ------------------------------------------------------------------ saving
    def save(self, new: Settings, after: Callable[[], None] | None = None) -> None:
        """Save on the io lane, then ``applied`` and ``after()`` (GUI thread)."""
        old = self.current()
        path = self.settings_file

        def done(ev: JobFinished) -> None:
            if ev.state is not JobState.SUCCEEDED:
                self.errors.present(f"The settings could not be saved to {path}: {ev.error}")
                return
            self.applied.emit(new, old)
            if after is not None:
                after()
            changed = changed_fields(new, old)
            later = [c for c in changed if c in NEEDS_RESTART]
            if later:
                self.errors.info(
                    "Settings saved; " + ", ".join(later) + " take effect at the next start."
                )
            elif changed:
                self.errors.info("Settings saved.")

        def work(ctx: Any) -> None:
            # the Query panel writes its recent queries into the same file: keep the
            # file's, not the ones read at start-up
            try:
                on_disk = load_settings(path)
            except PacsAdminError:
                on_disk = None
            final = new
            if on_disk is not None:
                final = dataclasses.replace(new, recent_queries=on_disk.recent_queries)
            save_settings(path, final)

        self.bridge.submit(
            work,
            name="Save settings",
            lane="io",
            quiet=True,
            on_done=done,
        )
