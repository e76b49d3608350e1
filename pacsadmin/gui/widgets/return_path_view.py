"""The Connectivity Doctor's return-path verdict: can the PACS connect back to us?

Fed with a :class:`~pacsadmin.core.dimse.return_path.ReturnPathResult`: success with the
time from the C-MOVE request to the first inbound association; the PACS does not know
our AE title; a wrong address or port at the PACS, or a firewall; NAT (which address the
PACS must have for us).  The sentences and advice are the core's.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from pacsadmin.core.dimse.return_path import ReturnPathResult
from pacsadmin.gui.text import escape_controls, plain_label, plain_tooltip
from pacsadmin.gui.widgets.lights import Light, light_pixmap

COLOURS = {  # background, border (the Doctor's banner colours)
    Light.OK: ("#eaf6ee", "#9fd3b0"),
    Light.FAILED: ("#fbeaea", "#e6a3a3"),
    Light.WARNING: ("#fdf5e1", "#eccd83"),
    Light.RUNNING: ("#e9f1fb", "#a9c8ec"),
}


class ReturnPathView(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rpBanner")
        self.light = QLabel(self)
        self.title = plain_label("Return path (C-MOVE back to this computer)")
        tf = self.title.font()
        tf.setBold(True)
        self.title.setFont(tf)
        self.sentence = plain_label("", wrap=True, selectable=True)
        self.advice = plain_label("", wrap=True, selectable=True)
        self.stats = plain_label("", wrap=True, selectable=True)
        self.stats.setStyleSheet("color: #5b6470;")
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        row.addWidget(self.light, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        for w in (self.title, self.sentence, self.advice, self.stats):
            texts.addWidget(w)
        row.addLayout(texts, 1)
        self.set_state(Light.UNKNOWN, "")

    def set_state(self, light: Light, sentence: str, advice: str = "", stats: str = "") -> None:
        self.light.setPixmap(light_pixmap(light, 18))
        self.sentence.setText(escape_controls(sentence))
        self.advice.setText(escape_controls(advice))
        self.advice.setVisible(bool(advice))
        self.stats.setText(escape_controls(stats))
        self.stats.setVisible(bool(stats))
        bg, border = COLOURS.get(light, ("#f3f4f6", "#d5d9de"))
        self.setStyleSheet(
            f"#rpBanner {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
            " #rpBanner QLabel { color: #1d232a; }"
        )

    def show_result(self, r: ReturnPathResult) -> None:
        light = {"ok": Light.OK, "nat": Light.WARNING}.get(r.verdict, Light.FAILED)
        stats = []
        if r.inbound_address:
            stats.append(f"inbound association from {r.inbound_address}")
        if r.local_address:
            stats.append(f"this computer as the PACS sees it: {r.local_address}, port {r.port}")
        if r.status is not None:
            stats.append(f"C-MOVE status 0x{r.status:04X}")
        self.set_state(light, r.sentence, r.advice, " · ".join(stats))
        self.setToolTip(plain_tooltip(r.receiver.detail if r.receiver is not None else ""))
