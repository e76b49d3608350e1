"""The main window: lays out the widgets it is given; the composition root wires them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QToolBar, QWidget

from pacsadmin.gui.icons import icon, set_icon
from pacsadmin.gui.metrics import chars


class MainWindow(QMainWindow):
    def __init__(self, settings_file: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("pacsadmin")
        self.setWindowIcon(icon("app"))
        self.resize(1440, 900)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
        )
        self.qsettings = QSettings(str(settings_file), QSettings.Format.IniFormat)
        self.on_close: Callable[[], object] | None = None  # called when the window closes
        self.docks: dict[str, QDockWidget] = {}
        self._default_layout = True
        self.local_label = QLabel()
        self.jobs_label = QLabel()
        self.statusBar().addPermanentWidget(self.jobs_label)
        self.statusBar().addPermanentWidget(self.local_label)

    def make_action(
        self, text: str, icon_name: str, tip: str, shortcut: str | QKeySequence.StandardKey = ""
    ) -> QAction:
        a = QAction(text, self)
        set_icon(a, icon_name)
        a.setToolTip(tip)
        a.setStatusTip(tip)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        return a

    def add_dock(
        self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea
    ) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{key}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        return dock

    def build(
        self,
        *,
        central: QWidget,
        nodes: QWidget,
        jobs: QWidget,
        activity: QWidget,
        audit: QWidget,
        archive: QWidget | None = None,
        received: QWidget | None = None,
        retrieve: QWidget | None = None,
        toolbar_actions: list[QAction | None],
        menus: dict[str, list[QAction | None]],
    ) -> None:
        self.setCentralWidget(central)
        tb = QToolBar("Main", self)
        tb.setObjectName("toolbar-main")
        tb.setIconSize(QSize(22, 22))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setMovable(False)
        for a in toolbar_actions:
            if a is None:
                tb.addSeparator()
            else:
                tb.addAction(a)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)

        self.add_dock("nodes", "Nodes", nodes, Qt.DockWidgetArea.LeftDockWidgetArea)
        jobs_dock = self.add_dock("jobs", "Jobs", jobs, Qt.DockWidgetArea.BottomDockWidgetArea)
        act_dock = self.add_dock(
            "activity", "Activity", activity, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        audit_dock = self.add_dock(
            "audit", "Audit log", audit, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.tabifyDockWidget(jobs_dock, act_dock)
        self.tabifyDockWidget(act_dock, audit_dock)
        if archive is not None:  # beside the nodes: both are lists to pick from
            arch = self.add_dock(
                "archive", "Archive", archive, Qt.DockWidgetArea.LeftDockWidgetArea
            )
            self.tabifyDockWidget(self.docks["nodes"], arch)
            self.docks["nodes"].raise_()
        if received is not None:
            rec = self.add_dock(
                "received", "Received", received, Qt.DockWidgetArea.BottomDockWidgetArea
            )
            self.tabifyDockWidget(audit_dock, rec)
        if retrieve is not None:  # beside Jobs: both list work under way
            ret = self.add_dock(
                "retrieve", "Retrieve", retrieve, Qt.DockWidgetArea.BottomDockWidgetArea
            )
            self.tabifyDockWidget(jobs_dock, ret)
        jobs_dock.raise_()
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._default_layout = True

        mb = self.menuBar()
        for title, actions in menus.items():
            m = mb.addMenu(title)
            for a in actions:
                if a is None:
                    m.addSeparator()
                else:
                    m.addAction(a)
        view = mb.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())

    # ------------------------------------------------------------------ geometry (QSettings)
    def restore_geometry(self) -> None:
        geo = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        if geo is not None:
            self.restoreGeometry(geo)
        if state is not None:
            self._default_layout = not self.restoreState(state)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._default_layout:  # first start: size the docks once the window has a size
            self._default_layout = False
            # the lists on the left as wide as the centre leaves them (up to 40%): the
            # node table's status and the archive's columns without a scroll bar at 1440
            central = self.centralWidget()
            spare = self.width() - (central.minimumSizeHint().width() if central else 0) - 16
            w = max(chars(self, 40), min(spare, self.width() * 40 // 100))
            self.resizeDocks([self.docks["nodes"]], [w], Qt.Orientation.Horizontal)
            # the bottom docks: a header and about eight rows (Jobs, Received)
            rows = self.fontMetrics().height() + 8
            h = max(self.height() // 4, 11 * rows)
            self.resizeDocks([self.docks["jobs"]], [h], Qt.Orientation.Vertical)

    def save_geometry(self) -> None:
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/state", self.saveState())
        self.qsettings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_geometry()
        if self.on_close is not None:
            self.on_close()
        event.accept()
