"""The archive browser's model: one row per study, its series below, filled lazily.

Nothing here reads the index.  The model holds the rows loaded so far (pages of
:class:`~pacsadmin.core.archive.browse.StudyRow`) and asks for more with signals, which the
controller answers with background queries: ``moreWanted`` when the view scrolls near the
end of the loaded rows (:meth:`ArchiveTreeModel.load_more`), ``seriesWanted`` when a study
is expanded (Qt's ``canFetchMore``/``fetchMore``), ``orderChanged`` when a column header
is clicked.  Search and sort are done by SQLite (``ORDER BY`` over the whole archive),
not by a sort proxy: a proxy could only sort the rows loaded so far.  Every slot does work
in proportion to one page.

Every value is shown as plain text (it comes from files and peers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from pacsadmin.core.archive.browse import SeriesRow, StudyRow, Totals
from pacsadmin.core.format import format_da, format_pn, format_size
from pacsadmin.gui.text import one_line, plain_tooltip

_Index = QModelIndex | QPersistentModelIndex
_TOP = QModelIndex()
NODE_ROLE = Qt.ItemDataRole.UserRole + 21

HEADERS = ("Patient / series", "Study", "Date", "Modality", "Series", "Images", "Size",
           "Patient ID", "Accession")  # fmt: skip
(COL_NAME, COL_STUDY, COL_DATE, COL_MOD, COL_SERIES, COL_IMAGES, COL_SIZE, COL_PID,
 COL_ACC) = range(len(HEADERS))  # fmt: skip
_NUMERIC = (COL_SERIES, COL_IMAGES, COL_SIZE)
_NCOLS = len(HEADERS)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
# column -> the order key of core.archive.browse.list_studies
ORDER_KEYS = ("patient", "description", "date", "modality", "series", "images", "size",
              "patient_id", "accession")  # fmt: skip


@dataclass(eq=False)
class TreeNode:
    """One row: a "study" (top level) or a "series"; ``uid`` is its instance UID."""

    level: str
    uid: str = ""
    name: str = ""  # the first column: the patient's name, or "#n description"
    description: str = ""
    patient_id: str = ""
    birth_date: str = ""
    date: str = ""
    modality: str = ""
    accession: str = ""
    series: int = 0
    images: int = 0
    size: int = 0
    children: list[TreeNode] = field(default_factory=list)
    parent: TreeNode | None = field(default=None, repr=False)
    row: int = 0  # its row under its parent
    fetched: bool = False  # a study's series are loaded
    fetching: bool = False
    texts: tuple[str, ...] = ()  # the cells as shown (filled on first paint)


def pn_text(name: str) -> str:
    """A DICOM person name for a person (``Doe^John`` -> ``Doe, John``), or "(no name)".
    The letters stay as stored: the archive shows what a query will match."""
    return format_pn(name, upper_family=False) or "(no name)"


def study_node(r: StudyRow) -> TreeNode:
    return TreeNode(
        "study", r.study_uid, pn_text(r.patient_name), r.description or "(no description)",
        r.patient_id, format_da(r.birth_date), format_da(r.date), r.modalities, r.accession,
        r.series, r.images, r.size,
    )  # fmt: skip


def series_node(r: SeriesRow) -> TreeNode:
    label = f"#{r.number} " if r.number is not None else ""
    return TreeNode(
        "series", r.series_uid, label + (r.description or "(no description)"),
        date=format_da(r.date), modality=r.modality, series=1, images=r.images, size=r.size,
        fetched=True,
    )  # fmt: skip


def _value(n: TreeNode, col: int) -> Any:
    return (n.name, n.description, n.date, n.modality, n.series, n.images, n.size,
            n.patient_id, n.accession)[col]  # fmt: skip


class ArchiveTreeModel(QAbstractItemModel):
    """Studies loaded page by page, series loaded on expand (see the module docstring)."""

    moreWanted = Signal()  # the next page of studies, after len(root.children)
    seriesWanted = Signal(object)  # TreeNode of a study whose series are not loaded
    orderChanged = Signal()  # order_by / descending changed: query again

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.root = TreeNode("root", fetched=True)
        self.totals = Totals()
        self.generation = 0  # of the query the rows came from; older answers are dropped
        self.order_by, self.descending = "patient", False
        self._short = False

    # ------------------------------------------------------------------ filled by the controller
    def reset(self, generation: int, rows: list[StudyRow], totals: Totals) -> None:
        """The first page of a new query (search, order or reload)."""
        self.beginResetModel()
        self.generation, self.totals = generation, totals
        self.root = TreeNode("root", fetched=True)
        self._append_nodes(rows)
        self.endResetModel()

    def append(self, generation: int, offset: int, rows: list[StudyRow]) -> bool:
        """The next page; False (and nothing changes) when it answers an older query."""
        if generation != self.generation or offset != len(self.root.children):
            return False
        self.root.fetching = False
        if not rows:  # the archive shrank since the count: stop asking
            self._short = True
            return True
        first = len(self.root.children)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._append_nodes(rows)
        self.endInsertRows()
        return True

    def set_series(self, generation: int, study: TreeNode, rows: list[SeriesRow]) -> bool:
        study.fetching = False
        if generation != self.generation or study.fetched:
            return False
        study.fetched = True
        if not rows:
            return True
        idx = self.createIndex(study.row, 0, study)
        self.beginInsertRows(idx, 0, len(rows) - 1)
        for i, r in enumerate(rows):
            n = series_node(r)
            n.parent, n.row, n.patient_id = study, i, study.patient_id
            if n.date == study.date:
                n.date = ""  # said once, on the study row
            study.children.append(n)
        self.endInsertRows()
        return True

    def fetch_failed(self, generation: int, study: TreeNode | None = None) -> None:
        """A page or a study's series could not be read: let the view ask again later."""
        if study is not None:
            study.fetching = False
        elif generation == self.generation:
            self.root.fetching = False

    def _append_nodes(self, rows: list[StudyRow]) -> None:
        self._short = False
        for r in rows:
            n = study_node(r)
            n.parent, n.row = self.root, len(self.root.children)
            self.root.children.append(n)

    def studies(self) -> list[TreeNode]:
        return self.root.children

    def node(self, index: _Index) -> TreeNode:
        if index.isValid():
            n = index.internalPointer()
            assert isinstance(n, TreeNode)
            return n
        return self.root

    def index_of(self, n: TreeNode, column: int = 0) -> QModelIndex:
        return self.createIndex(n.row, column, n)

    # ------------------------------------------------------------------ lazy loading
    def more_to_load(self) -> bool:
        r = self.root
        return not (r.fetching or self._short) and len(r.children) < self.totals.studies

    def load_more(self) -> None:
        """Ask for the next page of studies (the view calls this near the end of the list)."""
        if self.more_to_load():
            self.root.fetching = True
            self.moreWanted.emit()

    def canFetchMore(self, parent: _Index) -> bool:
        # Only a study's series.  Not the next page: QTreeView calls fetchMore(root) on
        # every layout, assuming an answer at once; with answers from a worker each page
        # would lay the view out again and ask for the next one, until every study of the
        # archive was loaded.  The browser asks with load_more() when scrolled near the end.
        n = self.node(parent)
        return n.level == "study" and not n.fetched and not n.fetching

    def fetchMore(self, parent: _Index) -> None:
        if self.canFetchMore(parent):
            n = self.node(parent)
            n.fetching = True
            self.seriesWanted.emit(n)

    def hasChildren(self, parent: _Index = _TOP) -> bool:
        n = parent.internalPointer() if parent.isValid() else self.root
        return bool(n.children) or (n.level == "study" and not n.fetched)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """A header click: the controller queries again with this ORDER BY."""
        if not 0 <= column < len(ORDER_KEYS):
            return
        key, desc = ORDER_KEYS[column], order == Qt.SortOrder.DescendingOrder
        if (key, desc) != (self.order_by, self.descending):
            self.order_by, self.descending = key, desc
            self.orderChanged.emit()

    # ------------------------------------------------------------------ Qt model API
    # index(), flags() and hasChildren() are called by QTreeView for every loaded row each
    # time it lays the rows out (after a page arrives or a study expands): kept lean
    def index(self, row: int, column: int, parent: _Index = _TOP) -> QModelIndex:
        rows = (parent.internalPointer() if parent.isValid() else self.root).children
        if 0 <= row < len(rows) and 0 <= column < _NCOLS:
            return self.createIndex(row, column, rows[row])
        return QModelIndex()

    def parent(self, *args: Any) -> Any:  # parent(index), or QObject.parent()
        if not args:
            return super().parent()
        index = args[0]
        if not index.isValid():
            return QModelIndex()
        p = self.node(index).parent
        if p is None or p is self.root:
            return QModelIndex()
        return self.createIndex(p.row, 0, p)

    def rowCount(self, parent: _Index = _TOP) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node(parent).children)

    def columnCount(self, parent: _Index = _TOP) -> int:
        return len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # a repaint asks ~8 roles of every visible cell: unasked roles answer at once
        if role not in _ROLES or not index.isValid():
            return None
        n, col = index.internalPointer(), index.column()
        if role == _DISPLAY:
            texts = n.texts or _texts(n)
            return texts[col]
        if role == _ALIGN:
            return _RIGHT if col in _NUMERIC else None
        if role == _NODE:
            return n
        if col in (COL_NAME, COL_STUDY, COL_ACC, COL_PID):  # the tooltip
            tip = str(_value(n, col))
            if n.level == "study" and col == COL_NAME:
                tip += f"\nPatient ID: {n.patient_id}" + (
                    f"\nBirth date: {n.birth_date}" if n.birth_date else ""
                )
            return plain_tooltip(tip)
        return None


_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole.value)
_NODE = int(NODE_ROLE)
_ROLES = frozenset((_DISPLAY, _ALIGN, _NODE, int(Qt.ItemDataRole.ToolTipRole.value)))
_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)


def _texts(n: TreeNode) -> tuple[str, ...]:
    """A row's cells as shown, computed once (a repaint reads them many times)."""
    series = n.level == "series"
    out = tuple(
        format_size(n.size) if col == COL_SIZE
        else ("" if series and col != COL_IMAGES else str(_value(n, col))) if col in _NUMERIC
        else one_line(_value(n, col), 120)
        for col in range(_NCOLS)
    )  # fmt: skip
    n.texts = out
    return out
