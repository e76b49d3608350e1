"""The local archive: files on disk under app-chosen names, a SQLite index, import, verify."""

from pacsadmin.core.archive.archive import (
    Archive,
    DuplicatePolicy,
    StoreOutcome,
    StoreResult,
    VerifyReport,
    is_disk_full,
)
from pacsadmin.core.archive.layout import Layout, OutsideArchive
from pacsadmin.core.archive.meta import InstanceMeta, NotIndexable, read_meta

__all__ = [
    "Archive",
    "DuplicatePolicy",
    "InstanceMeta",
    "Layout",
    "NotIndexable",
    "OutsideArchive",
    "StoreOutcome",
    "StoreResult",
    "VerifyReport",
    "is_disk_full",
    "read_meta",
]
