"""Coloured status lights and step icons, drawn once and cached (no image files needed)."""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap, QRadialGradient


class Light(StrEnum):
    OK = "ok"
    FAILED = "failed"
    WARNING = "warning"
    RUNNING = "running"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


COLOURS = {
    Light.OK: "#2e9d4f",
    Light.FAILED: "#d23b3b",
    Light.WARNING: "#e0a100",
    Light.RUNNING: "#2f7fd6",
    Light.SKIPPED: "#a7adb4",
    Light.UNKNOWN: "#c7ccd1",
}

_cache: dict[tuple[Light, int], QIcon] = {}


def light_pixmap(light: Light, size: int = 14) -> QPixmap:
    ratio = 2.0  # crisp on high-DPI screens
    pm = QPixmap(int(size * ratio), int(size * ratio))
    pm.setDevicePixelRatio(ratio)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    base = QColor(COLOURS[light])
    r = QRectF(1.5, 1.5, size - 3, size - 3)
    if light in (Light.UNKNOWN, Light.SKIPPED):
        p.setPen(QPen(base.darker(125), 1.2))
        p.setBrush(QBrush(QColor("#f1f3f5")))
        p.drawEllipse(r)
    else:
        grad = QRadialGradient(QPointF(size * 0.38, size * 0.35), size * 0.6)
        grad.setColorAt(0.0, base.lighter(150))
        grad.setColorAt(1.0, base)
        p.setPen(QPen(base.darker(140), 1.0))
        p.setBrush(QBrush(grad))
        p.drawEllipse(r)
    p.end()
    return pm


def light_icon(light: Light, size: int = 14) -> QIcon:
    key = (light, size)
    icon = _cache.get(key)
    if icon is None:
        icon = _cache[key] = QIcon(light_pixmap(light, size))
    return icon


def step_light(status: str) -> Light:
    """The light for a Connectivity Doctor step status (ok/failed/warning/skipped)."""
    return {
        "ok": Light.OK,
        "failed": Light.FAILED,
        "warning": Light.WARNING,
        "skipped": Light.SKIPPED,
    }.get(status, Light.UNKNOWN)
