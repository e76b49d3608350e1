"""How long the demo PACS takes to generate its studies at its first start.

The figure: ``ensure_contents`` into a fresh archive (pixels drawn with numpy, each data
set written to a temp file of the archive, moved into place and indexed a series per
transaction; the DX hand encoded in JPEG 2000 Lossless), median of 3 rounds.  The
reference, interleaved: the same data sets built and written with a bare
``save_as`` loop into a plain folder (no archive), what the images and files cost alone.
Goal: under 10 s ("a few seconds" at the first start, issue 12).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Result, workdir

NAME = "demo"
ROUNDS = 3
GOAL_S = 10.0


def _generate(folder: Path) -> float:
    from pacsadmin.core.archive import Archive
    from pacsadmin.core.demo.generate import ensure_contents

    t0 = time.perf_counter()
    archive = Archive(folder / "archive")
    try:
        got = ensure_contents(folder, archive)
    finally:
        archive.close()
    assert got.fresh and got.instances == 169
    return time.perf_counter() - t0


def _bare(folder: Path) -> float:
    from pacsadmin.core.demo import studies

    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    for i, ds in enumerate(studies.datasets()):
        ds.save_as(folder / f"{i}.dcm", enforce_file_format=True)
    return time.perf_counter() - t0


def run() -> list[Result]:
    base = workdir("demo")
    figures, refs = [], []
    try:
        for r in range(ROUNDS):
            refs.append(_bare(base / f"bare{r}"))
            figures.append(_generate(base / f"demo{r}"))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    fig, ref = statistics.median(figures), statistics.median(refs)
    rounds = ", ".join(f"{f:.1f}" for f in figures)
    return [
        Result(
            "demo.generate",
            fig,
            "s",
            ref,
            "bare build + save_as",
            f"< {GOAL_S:g} s",
            fig < GOAL_S,
            notes=f"rounds {rounds} s; 8 studies, 169 images, 33 MB",
        )
    ]
