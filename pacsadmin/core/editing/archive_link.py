"""Files of the local archive are corrected through it: after a batch, its undo or its
recovery, the archive's rows of those files are rebuilt from the files in one index
transaction, so the browser and Q/R answers show the new values and ``archive verify``
stays clean."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from pacsadmin.core.archive import Archive, read_meta
from pacsadmin.core.archive import index as idx


def archive_rel(archive_root: Path, path: Path) -> str | None:
    """``data/ab/<uuid>.dcm`` when ``path`` is a file of the archive at ``archive_root``."""
    try:
        rel = Path(path).resolve().relative_to(Path(archive_root).resolve())
    except ValueError:
        return None
    return rel.as_posix() if rel.parts and rel.parts[0] == "data" else None


def reindex(archive: Archive, rels: list[str]) -> None:
    """Drop the rows of ``rels`` and index the files again (one transaction)."""
    metas = []
    for rel in rels:
        p = archive.path_of(rel)
        metas.append((rel, read_meta(p), p.stat().st_size))

    def step(con: sqlite3.Connection) -> None:
        pks = []
        for rel, _, _ in metas:
            row = con.execute("SELECT pk FROM instances WHERE path = ?", (rel,)).fetchone()
            if row is not None:
                pks.append(int(row[0]))
        if pks:
            idx.delete_instance_rows(con, pks)
        now = time.time()
        for rel, m, size in metas:
            idx.insert_instance(con, m, path=rel, size=size, received_at=now, source="edit")

    archive.writer.call(step, 600)
