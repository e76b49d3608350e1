"""The archive browser's model: a patient / study / series tree over plain Python nodes.

:func:`load_tree` is the worker's function (one SQL pass at series level, grouped in
Python, no Qt); :class:`ArchiveTreeModel` is a thin QAbstractItemModel adapter over the
immutable :class:`TreeNode` it returns, swapped in whole on the GUI thread.  Sorting and
search live in :class:`ArchiveFilterProxy`.  Every value is shown as plain text (it comes
from files and peers: RELIABILITY rule 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from pacsadmin.gui.text import one_line, plain_tooltip

_Index = QModelIndex | QPersistentModelIndex
_TOP = QModelIndex()
SORT_ROLE = Qt.ItemDataRole.UserRole + 20
NODE_ROLE = Qt.ItemDataRole.UserRole + 21

HEADERS = ("Patient / study / series", "Date", "Modality", "Studies", "Series", "Images",
           "Size", "Patient ID", "Accession")  # fmt: skip
(COL_NAME, COL_DATE, COL_MOD, COL_STUDIES, COL_SERIES, COL_IMAGES, COL_SIZE, COL_PID,
 COL_ACC) = range(len(HEADERS))  # fmt: skip
_NUMERIC = (COL_STUDIES, COL_SERIES, COL_IMAGES, COL_SIZE)


@dataclass(eq=False)
class TreeNode:
    """One row: level is "root", "patient", "study" or "series"; ``uid`` keys it (the
    patient ID for a patient, the instance UID for a study or series)."""

    level: str
    uid: str = ""
    name: str = ""
    patient_id: str = ""
    date: str = ""
    modality: str = ""
    accession: str = ""
    studies: int = 0
    series: int = 0
    images: int = 0
    size: int = 0
    children: list[TreeNode] = field(default_factory=list)
    parent: TreeNode | None = field(default=None, repr=False)
    search: str = ""  # casefolded text the search box matches
    birth_date: str = ""

    def add(self, child: TreeNode) -> TreeNode:
        child.parent = self
        self.children.append(child)
        return child


def fmt_date(d: str) -> str:
    d = (d or "").strip()
    if len(d) == 8 and d.isdigit():
        return f"{d[:4]}-{d[4:6]}-{d[6:]}"
    return d


def fmt_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def pn_text(name: str) -> str:
    """A DICOM person name for a person: ``DOE^JOHN`` -> ``DOE, JOHN``."""
    parts = [p for p in (name or "").split("=")[0].split("^") if p]
    if not parts:
        return "(no name)"
    return parts[0] + (", " + " ".join(parts[1:]) if len(parts) > 1 else "")


_SQL = (
    "SELECT p.pk, p.patient_id, p.patient_name, p.birth_date,"
    " st.pk, st.study_uid, st.study_date, st.accession, st.description,"
    " se.series_uid, se.modality, se.series_number, se.description, se.series_date,"
    " COUNT(i.pk), COALESCE(SUM(i.size), 0)"
    " FROM series se JOIN studies st ON se.study_pk = st.pk"
    " JOIN patients p ON st.patient_pk = p.pk"
    " LEFT JOIN instances i ON i.series_pk = se.pk"
    " GROUP BY se.pk ORDER BY p.patient_name, st.study_date DESC, se.series_number"
)


def load_tree(con: Any) -> TreeNode:
    """The whole tree from a read connection of the index (worker thread; no Qt)."""
    root = TreeNode("root")
    patients: dict[int, TreeNode] = {}
    studies: dict[int, TreeNode] = {}
    for (ppk, pid, pname, birth, spk, suid, sdate, acc, sdesc,
         seuid, mod, senum, sedesc, sedate, n, size) in con.execute(_SQL):  # fmt: skip
        pat = patients.get(ppk)
        if pat is None:
            pat = patients[ppk] = root.add(TreeNode("patient", pid, pn_text(pname), pid))
            pat.birth_date = fmt_date(birth)
            pat.search = f"{pname} {pn_text(pname)} {pid}".casefold()
        st = studies.get(spk)
        if st is None:
            st = studies[spk] = pat.add(
                TreeNode("study", suid, sdesc or "(no description)", pid, fmt_date(sdate))
            )
            st.accession = acc
            st.search = f"{sdesc} {acc} {sdate} {fmt_date(sdate)}".casefold()
            pat.studies += 1
            st.studies = 1
        label = f"#{senum} " if senum is not None else ""
        se = st.add(TreeNode("series", seuid, label + (sedesc or "(no description)")))
        se.patient_id, se.date, se.modality = pid, fmt_date(sedate or sdate), mod
        se.series, se.images, se.size = 1, n, size
        se.search = f"{sedesc} {mod}".casefold()
        for up in (st, pat):
            up.series += 1
            up.images += n
            up.size += size
            if mod and mod not in up.modality.split("\\"):
                up.modality = "\\".join(sorted(filter(None, [*up.modality.split("\\"), mod])))
    root.studies = len(studies)
    root.series = sum(p.series for p in root.children)
    root.images = sum(p.images for p in root.children)
    root.size = sum(p.size for p in root.children)
    return root


def _value(n: TreeNode, col: int) -> Any:
    return (n.name, n.date, n.modality, n.studies, n.series, n.images, n.size,
            n.patient_id, n.accession)[col]  # fmt: skip


class ArchiveTreeModel(QAbstractItemModel):
    """Read-only tree over a :class:`TreeNode`; :meth:`set_tree` swaps it in whole."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.root = TreeNode("root")

    def set_tree(self, root: TreeNode) -> None:
        self.beginResetModel()
        self.root = root
        self.endResetModel()

    def node(self, index: _Index) -> TreeNode:
        if index.isValid():
            n = index.internalPointer()
            assert isinstance(n, TreeNode)
            return n
        return self.root

    # ------------------------------------------------------------------ Qt model API
    def index(self, row: int, column: int, parent: _Index = _TOP) -> QModelIndex:
        p = self.node(parent)
        if 0 <= row < len(p.children) and 0 <= column < len(HEADERS):
            return self.createIndex(row, column, p.children[row])
        return QModelIndex()

    def parent(self, *args: Any) -> Any:  # parent(index), or QObject.parent()
        if not args:
            return super().parent()
        index = args[0]
        if not index.isValid():
            return QModelIndex()
        p = self.node(index).parent
        if p is None or p is self.root or p.parent is None:
            return QModelIndex()
        return self.createIndex(p.parent.children.index(p), 0, p)

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
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        n, col = self.node(index), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_SIZE:
                return fmt_size(n.size)
            if col in _NUMERIC:
                v = _value(n, col)
                # a series row counts its images only; a study its series and images
                hide = (n.level == "series" and col != COL_IMAGES) or (
                    n.level == "study" and col == COL_STUDIES
                )
                return "" if hide else str(v)
            if col == COL_PID and n.level != "patient":
                return ""  # said once, on the patient row
            if col == COL_DATE and n.level == "series" and n.parent and n.date == n.parent.date:
                return ""
            return one_line(_value(n, col), 120)
        if role == SORT_ROLE:
            v = _value(n, col)
            return v if col in _NUMERIC else str(v).casefold()
        if role == Qt.ItemDataRole.ToolTipRole and col in (COL_NAME, COL_ACC, COL_PID):
            tip = str(_value(n, col))
            if n.level == "patient" and col == COL_NAME:
                tip += f"\nPatient ID: {n.patient_id}" + (
                    f"\nBirth date: {n.birth_date}" if n.birth_date else ""
                )
            return plain_tooltip(tip)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == NODE_ROLE:
            return n
        return None


class ArchiveFilterProxy(QSortFilterProxyModel):
    """Sort by raw values; a row shows when every search word is in it or an ancestor
    (so a matching patient keeps its studies), or in a descendant (recursive filtering)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setRecursiveFilteringEnabled(True)
        self._words: list[str] = []

    def set_search(self, text: str) -> None:
        self.beginFilterChange()
        self._words = text.casefold().split()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        if not self._words:
            return True
        model = self.sourceModel()
        assert isinstance(model, ArchiveTreeModel)
        n: TreeNode | None = model.node(model.index(source_row, 0, source_parent))
        text = ""
        while n is not None and n.level != "root":
            text += " " + n.search
            n = n.parent
        return all(w in text for w in self._words)
