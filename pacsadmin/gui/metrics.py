"""Sizes from the font, not from pixels: a column is as wide as the text it must show,
whatever the font, its size and the screen's scaling."""

from __future__ import annotations

from PySide6.QtWidgets import QTableView, QTreeView, QWidget


def text_width(widget: QWidget, sample: str, pad: int = 16) -> int:
    """Pixels ``sample`` takes in ``widget``'s font, plus ``pad`` (cell margins, a sort
    arrow)."""
    return widget.fontMetrics().horizontalAdvance(sample) + pad


def chars(widget: QWidget, n: float) -> int:
    """Pixels of ``n`` average characters in ``widget``'s font."""
    return round(widget.fontMetrics().averageCharWidth() * n)


def fit_columns(view: QTableView | QTreeView, samples: dict[int, str], pad: int = 16) -> None:
    """Set each column to fit the widest of its header and its sample text (a typical
    long value: ``"2024-03-05 14:30"``, ``"1234 ms, 59 min ago"``)."""
    model = view.model()
    header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
    for col, sample in samples.items():
        title = str(model.headerData(col, header.orientation()) or "") if model else ""
        width = max(text_width(view, sample, pad), text_width(header, title, pad + 8))
        view.setColumnWidth(col, width)
