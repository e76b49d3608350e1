"""Mutation fuzzing of every entry point that reads files (tests/fuzz.py makes the files).

A few hundred damaged copies of pydicom's shipped files and of generated CT, MR, RGB,
multi-frame and RLE images go through the archive import (in process and once through the
CLI), render (in process, ``main()`` and the CLI), the viewer's loader (scan, decode and
fill, headless) and the fast header reader; the storage SCP is in test_fuzz_scp.py, the bugs
the fuzzing found in test_fuzz_found.py.
Each test asserts that no exception escapes, that every file gets a success or a one-line
reason, and that valid files in the same batch still get in.  A per-file time limit turns a
hang into a failure naming the file.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from pacsadmin.core.archive import Archive, fastmeta, meta
from pacsadmin.core.archive.importer import import_paths
from pacsadmin.core.imaging.errors import ImageError
from tests import fuzz
from tests.fuzz_guard import COUNT, SEED, check_archive, one_line, per_file_limit, sop_uid
from tests.peers import app_cli

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydicom")  # pydicom's notes


@pytest.fixture(scope="module")
def pool():
    """The decoder worker process the viewer and render use (compressed frames)."""
    from pacsadmin.core.imaging.worker import default_pool

    return default_pool()


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def sources(work) -> list[Path]:
    """pydicom's shipped files and generated CT/MR/RLE/RGB/multi-frame images."""
    return fuzz.pydicom_files() + fuzz.generated_files(work / "sources")


@pytest.fixture(scope="module")
def damaged(work, sources) -> list[Path]:
    return [p for p, _ in fuzz.corpus(work / "damaged", COUNT, seed=SEED, sources=sources)]


@pytest.fixture(scope="module")
def valid(work) -> list[Path]:
    """Valid files with UIDs of their own (no damaged copy shares them)."""
    return fuzz.generated_files(work / "valid")


# ------------------------------------------------------------------ archive import
def test_import_in_process(tmp_path, damaged, valid):
    archive = Archive(tmp_path / "archive")
    inputs = sorted(damaged + valid)
    try:
        with per_file_limit() as guard, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = import_paths(archive, [p.parent for p in (damaged[0], valid[0])], guard)
        assert not report.cancelled
        accounted = report.stored + report.duplicates + report.overwritten + len(report.errors)
        assert accounted == len(inputs), report.to_json()
        assert all(one_line(reason) for _, reason in report.errors)
        assert {p for p, _ in report.errors} <= {str(p) for p in inputs}
        indexed = {r[0] for r in archive.reader().execute("SELECT sop_uid FROM instances")}
        assert {sop_uid(p) for p in valid} <= indexed
        assert report.errors and report.stored > len(valid)  # the corpus is a mix
        check_archive(archive, inputs)
    finally:
        archive.close()


def test_import_cli_reports_each_file_and_goes_on(tmp_path, sources):
    """The issue's reproduction: 120 damaged copies of pydicom's files, one CLI run."""
    folder = tmp_path / "in"
    files = [p for p, _ in fuzz.corpus(folder, 120, seed="issue-8", sources=fuzz.pydicom_files())]
    home = tmp_path / "home"
    r = app_cli(home, "archive", "import", str(folder), timeout=120)
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 1, err  # documented: 1 when a file could not be imported
    assert "Traceback" not in err
    summary = out.strip().splitlines()[-1]
    stored, dups, _, errors = (int(w) for w in summary.replace(",", "").split() if w.isdigit())
    lines = err.rstrip().splitlines()
    assert len(lines) == errors > 0
    assert all(line.startswith(f"  {folder}/") and ": " in line for line in lines), err
    assert stored > 0 and stored + dups + errors == len(files)
    assert any("(0002,0000)" in line for line in lines)  # the file meta group of the issue
    v = app_cli(home, "archive", "verify", timeout=120)
    assert v.returncode == 0, v.stdout.decode() + v.stderr.decode()
    assert v.stderr == b""


# ------------------------------------------------------------------ render
def test_render_in_process(damaged, valid, pool):
    from pacsadmin.core.imaging.render import open_frame, render_frame

    rendered, refused = 0, 0
    with per_file_limit() as guard, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in damaged + valid:
            guard.arm(str(path))
            try:
                image = render_frame(open_frame(path, 0, pool=pool, timeout=10))
            except ImageError as exc:
                assert one_line(str(exc)), path
                refused += 1
                continue
            assert image.dtype == np.uint8 and image.ndim in (2, 3)
            rendered += 1
    assert refused and rendered >= len(valid)
    for path in valid:
        assert render_frame(open_frame(path, 0, pool=pool)).size


def test_render_main_exit_codes(tmp_path, damaged, capsys):
    from pacsadmin.cli.main import main

    out = tmp_path / "x.png"
    codes = []
    with per_file_limit() as guard:
        for path in damaged[::6]:
            guard.arm(str(path))
            rc = main(["render", str(path), "-o", str(out)])
            err = capsys.readouterr().err
            assert rc in (0, 1), path
            if rc == 1:
                assert one_line(err) and err.startswith("pacsadmin render: "), err
            codes.append(rc)
    assert 1 in codes


def test_render_cli_of_damaged_files(tmp_path, damaged, valid):
    picked = [damaged[k] for k in (0, 42, 100, 157)] + [valid[0]]
    for path in picked:
        out = tmp_path / f"{path.stem}.png"
        r = app_cli(tmp_path / "home", "render", str(path), "-o", str(out), timeout=60)
        err = r.stderr.decode()
        assert r.returncode in (0, 1) and "Traceback" not in err, err
        assert r.returncode == 0 or (one_line(err) and not out.exists()), err
    assert r.returncode == 0  # the valid one


# ------------------------------------------------------------------ the viewer's loader
def test_viewer_loader(damaged, valid, pool):
    """What the viewer runs in its background jobs: scan and decode the first series, QC and
    fill every series; each file ends as frames or a per-file message."""
    from pacsadmin.core.imaging.series import qc
    from pacsadmin.gui.viewer.loading import fill, open_job

    files = damaged + valid
    with per_file_limit() as guard, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = open_job(guard, [str(damaged[0].parent), str(valid[0].parent)])
        seen = {i.path for s in result.series for i in s.instances} | {p for p, _ in result.errors}
        assert seen == {str(p) for p in files}
        assert all(one_line(m) for _, m in result.errors)
        for _, _, entry in (e for batch in guard.reports for e in batch):
            assert isinstance(entry, str) or entry.stored is not None
        frames = errors = 0
        for series in result.series:
            guard.arm(series.uid)
            for finding in qc(series):
                assert one_line(finding.message)
            slots = [(i.path, k) for i in series.instances for k in range(max(1, i.frames))]
            guard.reports.clear()
            fill(guard, slots[:40], 0, frozenset())
            for _, entry in (e for batch in guard.reports for e in batch):
                if isinstance(entry, str):
                    assert one_line(entry)
                    errors += 1
                else:
                    frames += 1
    assert errors and frames >= len(valid)
    assert {str(p) for p in valid} <= {i.path for s in result.series for i in s.instances}


# ------------------------------------------------------------------ fast header reader
def test_fast_header_reader_agrees_with_pydicom_or_declines(damaged):
    answered = 0
    with per_file_limit() as guard, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in damaged:
            guard.arm(str(path))
            data = path.read_bytes()
            try:
                ref = asdict(meta.read_meta_pydicom(io.BytesIO(data)))
            except Exception:
                ref = None
            for head, complete in ((data, True), (data[:2048], len(data) <= 2048)):
                got = fastmeta.parse(head, complete=complete)
                if got is not None:
                    assert ref is not None, f"{path}: accepted what pydicom refuses"
                    assert asdict(got) == ref, path
                    answered += 1
    assert answered > COUNT // 4
