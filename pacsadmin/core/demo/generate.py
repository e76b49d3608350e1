"""Fill the demo PACS's archive with the studies of :mod:`studies`, once.

Each data set is written to a temp file of the archive and ingested (moved into place and
indexed), a series per index transaction.  A file ``generated.json`` beside the archive
records the content version, the instance count and how long it took; a start with that
file present and the archive holding as many instances skips the work.  An interrupted
generation leaves no marker, and the next start completes it (the UIDs are fixed: what is
there already is a duplicate, kept once).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pacsadmin.core.archive import Archive, InstanceMeta, read_meta
from pacsadmin.core.fileio import atomic_write_text

log = logging.getLogger("pacsadmin.demo")
CONTENT_VERSION = 1
MARKER = "generated.json"


@dataclass(frozen=True)
class Generated:
    instances: int
    studies: int
    seconds: float
    fresh: bool  # generated now (False: it was there already)


def _marker(home: Path) -> dict[str, object] | None:
    try:
        data = json.loads((home / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ensure_contents(
    home: Path, archive: Archive, progress: Callable[[int], None] | None = None
) -> Generated:
    """Generate the demo studies into ``archive`` unless the marker in ``home`` says they
    are there.  ``progress(n)`` after each series (n instances so far)."""
    from pacsadmin.core.demo import studies

    mark = _marker(home) or {}
    made = mark.get("instances")
    counts = archive.counts()
    if (
        mark.get("version") == CONTENT_VERSION
        and isinstance(made, int)
        and counts.get("instances", 0) >= made
    ):
        return Generated(counts["instances"], counts.get("studies", 0), 0.0, fresh=False)
    t0 = time.monotonic()
    done = 0
    batch: list[tuple[Path, InstanceMeta, int]] = []
    series = ""

    def flush() -> None:
        nonlocal done
        if not batch:
            return
        for r in archive.ingest_many(batch, source="demo"):
            if isinstance(r, BaseException):
                raise r
        done += len(batch)
        batch.clear()
        if progress is not None:
            progress(done)

    for ds in studies.datasets():
        if ds.SeriesInstanceUID != series:
            flush()
            series = ds.SeriesInstanceUID
        tmp = archive.new_temp()
        ds.save_as(tmp, enforce_file_format=True)
        batch.append((tmp, read_meta(tmp), tmp.stat().st_size))
    flush()
    seconds = time.monotonic() - t0
    counts = archive.counts()
    atomic_write_text(
        home / MARKER,
        json.dumps(
            {"version": CONTENT_VERSION, "instances": done, "seconds": round(seconds, 2)},
            indent=2,
        )
        + "\n",
    )
    log.info("demo: %d instances generated in %.1f s", done, seconds)
    return Generated(done, counts.get("studies", 0), seconds, fresh=True)
