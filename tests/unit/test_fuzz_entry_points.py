"""Mutation fuzzing of every entry point that reads files (tests/fuzz.py makes the files).

A few hundred damaged copies of pydicom's shipped files and of generated CT, MR, RGB,
multi-frame and RLE images go through the archive import (in process and once through the
CLI), render (in process, ``main()`` and the CLI), the viewer's loader (scan, decode and
fill, headless), the fast header reader, and the storage SCP (raw data sets over the wire).
Each test asserts that no exception escapes, that every file gets a success or a one-line
reason, and that valid files in the same batch still get in.  A per-file time limit turns a
hang into a failure naming the file.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from pacsadmin.core.archive import Archive, fastmeta, meta
from pacsadmin.core.archive.importer import import_paths
from pacsadmin.core.imaging.errors import ImageError
from tests import fuzz
from tests.conftest import SCP_AET
from tests.peers import app_cli

# damaged files per entry point, and the seed: a longer run by hand with
# PACSADMIN_FUZZ_COUNT=5000 PACSADMIN_FUZZ_SEED=soak-1 pytest tests/unit/test_fuzz_entry_points.py
COUNT = int(os.environ.get("PACSADMIN_FUZZ_COUNT", "300"))
SEED = os.environ.get("PACSADMIN_FUZZ_SEED", "ci")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydicom")  # pydicom's notes
PER_FILE = 15.0  # seconds one file may take (shared 2-core machine), else it is a hang


class Hang(BaseException):
    """A file took longer than PER_FILE: BaseException, so no boundary swallows it."""


class Guard:
    """A per-file time limit (SIGALRM, main thread): :meth:`arm` before each file.  Also a
    job context (``cancelled``/``progress``/``report``): the importer reads ``cancelled``
    once per file, which re-arms the limit for that file."""

    def __init__(self, limit: float = PER_FILE) -> None:
        self.limit = limit
        self.label = ""
        self.reports: list[tuple] = []

    def arm(self, label: str = "") -> None:
        self.label = label
        signal.setitimer(signal.ITIMER_REAL, self.limit)

    @property
    def cancelled(self) -> bool:
        self.arm(self.label)
        return False

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        if message:
            self.label = message

    def report(self, item: tuple) -> None:
        self.reports.append(item)


@contextmanager
def per_file_limit(limit: float = PER_FILE) -> Iterator[Guard]:
    guard = Guard(limit)

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {guard.limit:g} s for {guard.label or 'a file'}")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        guard.arm()
        yield guard
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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


def one_line(text: str) -> bool:
    text = text.strip()
    return bool(text) and "\n" not in text and "Traceback" not in text


def sop_uid(path: Path) -> str:
    import pydicom

    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_archive(archive: Archive, inputs: list[Path]) -> None:
    """Index and files agree, no temp file is left, and every archived file is a complete
    byte-for-byte copy of one of the inputs (never half of one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = archive.verify()
    assert rep.ok, rep.to_json()
    assert not list(archive.layout.tmp_dir.iterdir())
    given = {sha(p) for p in inputs}
    for rel in archive.layout.iter_files():
        assert sha(archive.path_of(rel)) in given, rel


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


# ------------------------------------------------------------------ storage SCP
def _unique_copy(src: Path, k: int) -> bytes:
    """``src`` with a SOP Instance UID of the same length that no other copy has."""
    data = src.read_bytes()
    old = sop_uid(src).encode()
    digits = max(1, len(old) - 5)
    new = f"2.25.{10 ** (digits - 1) + k}".encode()[: len(old)]
    return data.replace(old, new)


def _wire_corpus(folder: Path, sources: list[Path], count: int) -> list[Path]:
    """Damaged data sets behind an intact file meta group (what a sender puts on the wire:
    the SCU reads the group to choose a context, then sends the rest byte for byte)."""
    folder.mkdir()
    out = []
    for k in range(count):
        src = sources[k % len(sources)]
        data = _unique_copy(src, k)
        end = fuzz.meta_end(data)
        body, _ = fuzz.mutate(b"\0" * 128 + data[end:], f"scp-{SEED}:{k}")
        path = folder / f"{k:03d}-{src.stem}.dcm"
        path.write_bytes(data[:end] + body[128:])
        out.append(path)
    return out


def test_storage_scp_answers_each_damaged_data_set(tmp_path, archive, start_scp, monkeypatch):
    from pydicom.filereader import read_file_meta_info
    from pynetdicom import AE, _config
    from pynetdicom.sop_class import Verification

    from pacsadmin.core.logs import quiet_pynetdicom

    quiet_pynetdicom()
    from pydicom.data import get_testdata_file

    names = ("CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "rtplan.dcm")
    sources = fuzz.generated_files(tmp_path / "gen") + [
        Path(str(get_testdata_file(n))) for n in names
    ]
    damaged = _wire_corpus(tmp_path / "wire", sources, max(40, COUNT // 8))
    valid = fuzz.generated_files(tmp_path / "valid")
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)  # raw bytes, no re-encode
    scp = start_scp()
    ae = AE("FUZZ")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    contexts = set()
    for p in damaged + valid:
        fm = read_file_meta_info(p)
        contexts.add((str(fm.MediaStorageSOPClassUID), str(fm.TransferSyntaxUID)))
    for cls, ts in sorted(contexts):
        ae.add_requested_context(cls, ts)
    ae.add_requested_context(Verification)
    statuses: dict[Path, int] = {}
    files = damaged + valid
    assoc = None
    for path in files:
        if assoc is None or not assoc.is_established:
            assoc = ae.associate("127.0.0.1", scp.port, ae_title=SCP_AET)
            assert assoc.is_established, "the SCP stopped accepting after a damaged data set"
        rsp = assoc.send_c_store(path)
        assert "Status" in rsp, f"no answer to {path.name}"
        statuses[path] = int(rsp.Status)
    if assoc.is_established:
        assert assoc.send_c_echo().Status == 0
        assoc.release()
    assert all(statuses[p] == 0 for p in valid)
    failed = [p for p in damaged if statuses[p] not in (0, 0xB000, 0xB007, 0xB006)]
    assert failed, "no damaged data set was refused: the corpus is too kind"
    assert all(statuses[p] in (0xC210, 0xA700, 0xC211) for p in failed), statuses
    stored = sum(1 for p in files if statuses[p] == 0)
    assert archive.counts()["instances"] == stored
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = archive.verify()
    assert rep.ok, rep.to_json()
    assert not list(archive.layout.tmp_dir.iterdir())
    _get_everything_back(archive, scp.port, contexts)


def _get_everything_back(archive: Archive, port: int, contexts: set[tuple[str, str]]) -> None:
    """C-GET of each archived study, damaged instances among them: every C-GET gets a final
    status (sub-operations may fail: the data set cannot be encoded), and the SCP goes on."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, build_role, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

    ae = AE("FUZZGET")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    ae.add_requested_context(GET)
    classes = sorted({cls for cls, _ in contexts})
    for cls in classes:
        ae.add_requested_context(cls, [ts for c, ts in sorted(contexts) if c == cls])
    roles = [build_role(cls, scp_role=True) for cls in classes]
    handlers = [(evt.EVT_C_STORE, lambda event: 0x0000)]
    studies = [s["study_uid"] for s in archive.studies()]
    assert studies
    for uid in studies:
        assoc = ae.associate(
            "127.0.0.1", port, ae_title=SCP_AET, ext_neg=roles, evt_handlers=handlers
        )
        assert assoc.is_established, "the SCP stopped accepting after a C-GET"
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.StudyInstanceUID = uid
        statuses = [int(s.Status) for s, _ in assoc.send_c_get(q, GET) if "Status" in s]
        assert statuses and statuses[-1] in (0x0000, 0xB000, 0xA702, 0xC000), statuses
        if assoc.is_established:
            assoc.release()


# ------------------------------------------------------------------ what the fuzzing found
def _testdata(name: str = "CT_small.dcm") -> bytes:
    from pydicom.data import get_testdata_file

    return Path(str(get_testdata_file(name))).read_bytes()


def test_a_meta_uid_with_another_vr_is_declined_by_the_fast_reader(tmp_path):
    """(0002,0010) with VR SL: pydicom raises BytesLengthException; the fast reader indexed
    the file anyway (it read the UID by tag), so import took a file nothing could open."""
    data = _testdata("MR_small_implicit.dcm")  # "1.2.840.10008.1.2\0": 18 bytes
    j = data.index(b"\x02\x00\x10\x00UI")
    bad = data[: j + 4] + b"SL" + data[j + 6 :]
    assert fastmeta.parse(data) is not None and fastmeta.parse(bad) is None
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.dcm").write_bytes(bad)
    archive = Archive(tmp_path / "archive")
    try:
        report = import_paths(archive, [tmp_path / "in"])
        assert report.stored == 0
        ((_, reason),) = report.errors
        assert reason.startswith("the file is damaged: the value of (0002,0010) (VR SL)")
    finally:
        archive.close()


def test_an_absurd_number_of_frames_makes_one_slot(tmp_path):
    """Number of Frames 2,000,000,000 on a one-frame image: the scan said 2e9 frames and the
    viewer built a slot for each on the GUI thread."""
    import pydicom

    from pacsadmin.core.imaging.series import scan

    ds = pydicom.dcmread(io.BytesIO(_testdata()))
    ds.NumberOfFrames = 2_000_000_000
    path = tmp_path / "frames.dcm"
    ds.save_as(path)
    (info,) = scan([path]).series[0].instances
    assert info.frames == 1 and "Number of Frames 2000000000 is out of range" in str(
        info.pixel_problem
    )


@pytest.mark.parametrize(
    "exc",
    [
        EOFError(),
        __import__("struct").error("unpack requires a buffer of 4 bytes"),
        ValueError("invalid literal for int() with base 10: '1\x00\xff\n2'"),
        KeyError((0x0028, 0x0010)),
        MemoryError(),
        RecursionError("maximum recursion depth exceeded"),
        OverflowError("Python int too large to convert to C long"),
        __import__("zlib").error("Error -3 while decompressing data: invalid block type"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        OSError("No tag to read at file position 90DC"),
        FileNotFoundError(2, "No such file or directory"),
        NotImplementedError("x" * 500),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_reason_is_one_printable_line(exc):
    from pacsadmin.core.damaged import reason

    text = reason(exc)
    assert one_line(text) and text.isprintable() and len(text) < 240, text
    assert "\x00" not in text


def test_bytes_length_reason_names_the_element_not_the_bytes():
    from pydicom.errors import BytesLengthException

    from pacsadmin.core.damaged import reason

    exc = BytesLengthException(
        "Expected total bytes to be an even multiple of bytes per value. Instead received "
        "b'\\xee\\x00DOE^JOHN' with length 90 and struct format 'L' which corresponds to bytes "
        "per value of 4. This occurred while trying to parse (0002,0000) according to VR 'UL'."
    )
    assert reason(exc) == (
        "the file is damaged: the value of (0002,0000) (VR UL) is not a whole number of "
        "4-byte values (it is 90 bytes long)"
    )


def test_damaged_dicomdirs(tmp_path):
    """A damaged DICOMDIR (its records, its Referenced File IDs): the importer and the
    viewer's scan report it, import what it still points to, and go on."""
    import shutil

    from pydicom.data import get_testdata_file

    from pacsadmin.core.imaging.series import scan

    tree = tmp_path / "cd"
    shutil.copytree(Path(str(get_testdata_file("DICOMDIR"))).parent, tree)
    original = (tree / "DICOMDIR").read_bytes()
    archive = Archive(tmp_path / "archive")
    try:
        with per_file_limit() as guard, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k in range(25):
                data, how = fuzz.mutate(original, f"dicomdir-{SEED}:{k}")
                (tree / "DICOMDIR").write_bytes(data)
                guard.arm(how)
                report = import_paths(archive, [tree / "DICOMDIR"])
                assert all(one_line(r) for _, r in report.errors), how
                result = scan([str(tree / "DICOMDIR")])
                assert all(one_line(m) for _, m in result.errors), how
                assert result.series or result.errors, how
        check_archive(archive, sorted(p for p in tree.rglob("*") if p.is_file()))
    finally:
        archive.close()
