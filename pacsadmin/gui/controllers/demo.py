"""The window's "Start demo PACS": ``pacsadmin serve --demo`` in its own process.

The same process handling as the local SCP (:class:`~pacsadmin.gui.controllers.scp.ScpProcess`:
events on stdout, ``--exit-with-parent``, terminate then kill), with ``serve --demo``'s
command line.  The demo adds itself to the node directory when it listens and removes
itself when it stops; the controller asks the node list to look at the file then, rather
than waiting for its timer.  At the window's start a background job removes a "Demo PACS"
entry left by a demo that crashed (:func:`pacsadmin.core.demo.registry.remove_stale`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction

from pacsadmin.core.appfiles import self_command
from pacsadmin.core.demo import DEMO_AE_TITLE, DEMO_NODE_NAME, demo_port
from pacsadmin.core.jobs import JobContext
from pacsadmin.core.nodes import NodeDirectory
from pacsadmin.core.paths import AppPaths
from pacsadmin.gui.controllers.scp import ScpProcess
from pacsadmin.gui.errors import ErrorPresenter
from pacsadmin.gui.job_bridge import JobBridge

log = logging.getLogger("pacsadmin.gui.demo")

START_TEXT, STOP_TEXT = "Start demo PACS", "Stop demo PACS"


class DemoProcess(ScpProcess):
    """``serve --demo`` (AE title DEMOPACS, its own archive and directory)."""

    def arguments(self) -> list[str]:
        args = [*self_command()[1:], "--config-dir", str(self.home), "serve", "--demo"]
        return [*args, "--events", "--exit-with-parent", "--port", str(self.port)]


class DemoController(QObject):
    """Runs the demo PACS for the window; ``action`` starts it and stops it."""

    def __init__(
        self,
        *,
        paths: AppPaths,
        local_port: int,
        nodes: NodeDirectory,
        action: QAction,
        bridge: JobBridge,
        errors: ErrorPresenter,
        nodes_changed: Callable[[], None],
        show_nodes: Callable[[], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.paths, self.nodes, self.action = paths, nodes, action
        self.bridge, self.errors = bridge, errors
        # nodes_changed: another process changed nodes.json (look at the file);
        # show_nodes: this process's directory changed (show it, from memory)
        self.nodes_changed, self.show_nodes = nodes_changed, show_nodes
        self.process = DemoProcess(paths.home, DEMO_AE_TITLE, demo_port(local_port), self)
        self.process.listening.connect(self._on_process_listening)
        self.process.failed.connect(self._on_process_failed)
        self.process.stopped.connect(self._on_process_stopped)
        self.action.triggered.connect(self.toggle)
        self._closed = False

    @property
    def running(self) -> bool:
        return self.process.running

    @Slot()
    def toggle(self) -> None:
        if self.process.running:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        if self._closed or self.process.running:
            return
        self.process.start()
        self._show()
        self.errors.info(
            f"{DEMO_NODE_NAME} starting on port {self.process.port} (the first start "
            "generates its studies: a few seconds)…"
        )

    def stop(self) -> None:
        if self.process.running:
            self.process.stop()
        self._show()

    def close(self) -> None:
        """The window closes: the demo stops with it."""
        self._closed = True
        self.process.stop()

    def remove_stale_entry(self) -> None:
        """In the background: drop a "Demo PACS" entry left by a demo that crashed."""
        from pacsadmin.core.demo.registry import remove_stale

        def work(ctx: JobContext) -> bool:
            return remove_stale(self.paths, self.nodes)

        self.bridge.submit(
            work,
            name="Demo PACS: check the node directory",
            lane="io",
            quiet=True,
            summarize=lambda removed: (
                "a leftover Demo PACS entry removed" if removed else "nothing to do",
                True,
            ),
            on_done=lambda ev: self.show_nodes() if ev.result is True else None,
        )

    # ------------------------------------------------------------------ the process
    def _show(self) -> None:
        on = self.process.running
        self.action.setText(STOP_TEXT if on else START_TEXT)
        tip = (
            f"Stop the demo PACS ({self.process.status})"
            if on
            else "Run a demo PACS on this computer (AE title DEMOPACS) with generated "
            "studies, to try every feature"
        )
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)

    @Slot(str, int)
    def _on_process_listening(self, ae_title: str, port: int) -> None:
        self._show()
        self.errors.info(
            f"{DEMO_NODE_NAME} running: {ae_title} on port {port}, in the node list as "
            f"'{DEMO_NODE_NAME}'"
        )
        self.nodes_changed()

    @Slot(str)
    def _on_process_failed(self, message: str) -> None:
        self._show()
        if not self._closed:
            self.errors.present(message.replace(f"SCP {DEMO_AE_TITLE}", DEMO_NODE_NAME, 1))
        self.nodes_changed()

    @Slot()
    def _on_process_stopped(self) -> None:
        self._show()
        if not self._closed:
            self.errors.info(f"{DEMO_NODE_NAME} stopped")
        self.nodes_changed()
