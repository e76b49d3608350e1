"""One place that shows errors to a person (docs/architecture.md section 5).

Background failures go to the status bar and the activity log; a dialog (with
"Details...") opens only when an action the user started failed outright.  Unhandled
exceptions (``sys.excepthook`` on the GUI thread, ``threading.excepthook`` on workers,
which reach the GUI thread through the job bridge) are logged and presented, never printed
at the user.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Qt, QThread, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QMessageBox, QPlainTextEdit, QStatusBar, QWidget

from pacsadmin.core.logs import redact
from pacsadmin.gui.job_bridge import BackgroundError, JobBridge
from pacsadmin.gui.text import escape_controls

log = logging.getLogger("pacsadmin.gui")


class ActivityLog(QPlainTextEdit):
    """A read-only, monospace, bounded log of what happened (plain text only)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(5000)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

    def add(self, level: str, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.appendPlainText(f"{stamp}  {level:<7} {escape_controls(message)}")

    def add_many(self, level: str, messages: list[str]) -> None:
        """Several lines in one append (one layout and repaint, not one per line)."""
        if messages:
            stamp = time.strftime("%H:%M:%S")
            self.appendPlainText(
                "\n".join(f"{stamp}  {level:<7} {escape_controls(m)}" for m in messages)
            )


class ErrorPresenter(QObject):
    def __init__(
        self,
        status_bar: QStatusBar,
        activity: ActivityLog,
        dialog_parent: QWidget | None,
        bridge: JobBridge,
    ) -> None:
        super().__init__(status_bar)
        self.status_bar, self.activity = status_bar, activity
        self.dialog_parent = dialog_parent
        self.bridge = bridge
        self.dialogs_enabled = True  # tests switch modal dialogs off
        self.presented: list[tuple[str, str, bool]] = []  # (message, details, dialog)
        bridge.backgroundError.connect(self._on_bridge_background_error)
        self._old_hooks: tuple[object, object] | None = None

    # ------------------------------------------------------------------ presenting
    def info(self, message: str, timeout_ms: int = 8000) -> None:
        self.status_bar.showMessage(escape_controls(message), timeout_ms)
        self.activity.add("info", message)

    def present(self, message: str, details: str = "", *, user_action: bool = False) -> None:
        """Tell the user; ``user_action``: an action they started failed outright."""
        details = redact(details)
        self.presented.append((message, details, user_action))
        log.warning("%s", message)
        self.status_bar.showMessage(escape_controls(message), 15000)
        self.activity.add("error", message + (f"\n{details}" if details else ""))
        if user_action and self.dialogs_enabled:
            box = QMessageBox(self.dialog_parent)
            box.setIcon(QMessageBox.Icon.Warning)
            box.setWindowTitle("pacsadmin")
            box.setTextFormat(Qt.TextFormat.PlainText)
            box.setText(escape_controls(message))
            if details:
                box.setDetailedText(details)
            box.open()  # not exec(): never a nested event loop

    # ------------------------------------------------------------------ hooks
    def install_hooks(self) -> None:
        self._old_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._excepthook
        threading.excepthook = self._threading_excepthook

    def uninstall_hooks(self) -> None:
        if self._old_hooks is not None:
            sys.excepthook, threading.excepthook = self._old_hooks  # type: ignore[assignment]
            self._old_hooks = None

    def _excepthook(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unhandled exception\n%s", redact(details))
        message = f"Unexpected error: {exc_type.__name__}: {exc}"
        if QThread.currentThread() is self.thread():
            self.present(message, details)
        else:
            self.bridge.post(BackgroundError(message, details))

    def _threading_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        details = "".join(
            traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
        )
        name = args.thread.name if args.thread else "?"
        log.error("unhandled exception in thread %s\n%s", name, redact(details))
        self.bridge.post(
            BackgroundError(
                f"Unexpected error in background thread {name}: "
                f"{args.exc_type.__name__}: {args.exc_value}",
                details,
            )
        )

    @Slot(object)
    def _on_bridge_background_error(self, err: BackgroundError) -> None:
        self.present(err.message, err.details)
