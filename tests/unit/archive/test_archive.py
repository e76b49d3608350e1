from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pacsadmin.core.archive import Archive, DuplicatePolicy, OutsideArchive, StoreOutcome
from pacsadmin.core.archive.importer import import_paths
from pacsadmin.core.jobs import null_context

from .dsgen import make_ds, write

pytestmark = pytest.mark.filterwarnings(
    "ignore:Invalid value for VR:UserWarning", "ignore:The value length:UserWarning"
)


@pytest.fixture
def archive(tmp_path):
    a = Archive(tmp_path / "archive")
    yield a
    a.close()


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_add_file_is_byte_identical_and_indexed(archive, tmp_path):
    src = write(make_ds(), tmp_path / "in" / "a.dcm")
    res = archive.add_file(src)
    assert res.outcome is StoreOutcome.STORED
    stored = archive.path_of(res.path)
    assert sha(stored) == sha(src)
    assert stored.is_relative_to(archive.root / "data")
    c = archive.counts()
    assert (c["patients"], c["studies"], c["series"], c["instances"]) == (1, 1, 1, 1)
    assert c["bytes"] == src.stat().st_size
    assert archive.verify().ok


@pytest.mark.parametrize(
    "uid",
    ["../../etc/x", "1.2/../../../x", "..\\..\\windows\\x", "1.2\x003", "/etc/passwd", "a" * 300],
)
def test_hostile_uids_land_inside_the_archive(archive, tmp_path, uid):
    ds = make_ds(sop_uid=uid, study_uid=uid + "s", series_uid=uid + "e")
    src = write(ds, tmp_path / "in" / "h.dcm")
    res = archive.add_file(src)
    p = archive.path_of(res.path)
    assert p.is_file() and p.resolve().is_relative_to(archive.root)
    # the file name is the app's, never the UID
    assert uid not in str(p) and ".." not in res.path
    outside = [f for f in all_files(tmp_path) if not f.is_relative_to(tmp_path / "archive")]
    assert sorted(outside) == [src]


def test_resolve_refuses_escapes(archive):
    for bad in ("../x", "data/../../x", "/etc/passwd", "data/a\x00b", "index.sqlite3"):
        with pytest.raises(OutsideArchive):
            archive.layout.resolve(bad)


def test_duplicate_keep_first(archive, tmp_path):
    ds = make_ds()
    a = write(ds, tmp_path / "a.dcm")
    ds.StudyDescription = "CHANGED"
    b = write(ds, tmp_path / "b.dcm")
    r1 = archive.add_file(a)
    r2 = archive.add_file(b)
    assert r2.outcome is StoreOutcome.DUPLICATE and r2.path == r1.path
    assert sha(archive.path_of(r1.path)) == sha(a)
    assert archive.counts()["instances"] == 1
    assert len(list(archive.layout.iter_files())) == 1
    assert not list(archive.layout.tmp_dir.iterdir())


def test_duplicate_overwrite(tmp_path):
    with Archive(tmp_path / "ar", duplicate_policy=DuplicatePolicy.OVERWRITE) as archive:
        ds = make_ds()
        a = write(ds, tmp_path / "a.dcm")
        ds.StudyDescription = "CHANGED"
        b = write(ds, tmp_path / "b.dcm")
        archive.add_file(a)
        r2 = archive.add_file(b)
        assert r2.outcome is StoreOutcome.OVERWRITTEN
        files = list(archive.layout.iter_files())
        assert files == [r2.path]
        assert sha(archive.path_of(r2.path)) == sha(b)
        assert archive.verify().ok


def test_failed_write_leaves_nothing(archive, tmp_path, monkeypatch):
    src = write(make_ds(), tmp_path / "a.dcm")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pacsadmin.core.archive.archive.shutil.copyfile", boom)
    with pytest.raises(OSError):
        archive.add_file(src)
    assert not list(archive.layout.iter_files())
    assert not list(archive.layout.tmp_dir.iterdir())
    assert archive.counts()["instances"] == 0


def test_index_failure_removes_the_file(archive, tmp_path, monkeypatch):
    src = write(make_ds(), tmp_path / "a.dcm")

    def boom(*a, **k):
        raise RuntimeError("index broke")

    monkeypatch.setattr("pacsadmin.core.archive.index.insert_instance", boom)
    with pytest.raises(RuntimeError):
        archive.add_file(src)
    assert not list(archive.layout.iter_files())
    assert not list(archive.layout.tmp_dir.iterdir())


def test_temp_files_swept_at_start(tmp_path):
    """By default only stale temp files go (a running serve may be writing the others);
    the process holding the serve lock clears them all."""
    from pacsadmin.core.archive.archive import serve_lock

    root = tmp_path / "ar"
    Archive(root).close()
    fresh = root / "tmp" / "fresh.part"
    stale = root / "tmp" / "stale.part"
    fresh.write_bytes(b"partial")
    stale.write_bytes(b"partial")
    os.utime(stale, (1, 1))
    a = Archive(root)
    try:
        assert a.swept == 1 and fresh.exists() and not stale.exists()
    finally:
        a.close()
    lock = serve_lock(root)
    assert lock is not None
    assert serve_lock(root) is None  # one SCP owner at a time
    a = Archive(root, sweep="all")
    try:
        assert a.swept == 1
        assert [p.name for p in (root / "tmp").iterdir()] == []
    finally:
        a.close()
        lock.close()
    assert serve_lock(root) is not None


def test_import_folder_reports_bad_files_and_goes_on(archive, tmp_path):
    d = tmp_path / "in"
    study = make_ds().StudyInstanceUID
    for i in range(5):
        write(make_ds(study_uid=study, instance_number=i), d / "sub" / f"{i}.dcm")
    (d / "notes.txt").write_text("not dicom")
    (d / "sub" / "trunc.dcm").write_bytes((d / "sub" / "0.dcm").read_bytes()[:200])
    events = []
    from pacsadmin.core.jobs import CancelToken, JobContext

    ctx = JobContext(1, CancelToken(), events.append)
    rep = import_paths(archive, [d], ctx)
    assert rep.stored == 5
    reasons = dict(rep.errors)
    assert "not a DICOM file" in reasons[str(d / "notes.txt")]
    assert str(d / "sub" / "trunc.dcm") in reasons
    assert events and archive.counts()["instances"] == 5
    assert archive.verify().ok


def test_import_cancel(archive, tmp_path):
    d = tmp_path / "in"
    for i in range(5):
        write(make_ds(), d / f"{i}.dcm")
    ctx = null_context()
    ctx.token.cancel()
    rep = import_paths(archive, [d], ctx)
    assert rep.cancelled and rep.stored == 0


def test_import_dicomdir_refuses_escaping_references(archive, tmp_path):
    from pydicom.fileset import FileSet

    media = tmp_path / "media"
    fs = FileSet()
    for i in range(3):
        fs.add(make_ds(instance_number=i))
    fs.write(media)
    rep = import_paths(archive, [media / "DICOMDIR"], null_context())
    assert rep.stored == 3 and not rep.errors
    # tamper: make one reference escape the folder
    from pydicom import dcmread

    dd = dcmread(media / "DICOMDIR")
    recs = [r for r in dd.DirectoryRecordSequence if "ReferencedFileID" in r]
    recs[0].ReferencedFileID = ["..", "..", "etc", "passwd"]
    dd.save_as(media / "DICOMDIR")
    rep = import_paths(archive, [media / "DICOMDIR"], null_context())
    assert any("refused" in r for _, r in rep.errors)


def test_verify_reports_and_repairs(archive, tmp_path):
    paths = [archive.add_file(write(make_ds(), tmp_path / f"{i}.dcm")).path for i in range(3)]
    archive.path_of(paths[0]).unlink()  # row without file
    stray = archive.root / "data" / "zz" / "stray.dcm"
    stray.parent.mkdir()
    stray.write_bytes((tmp_path / "1.dcm").read_bytes())  # a duplicate of an indexed one
    orphan = archive.root / "data" / "zz" / "orphan.dcm"
    write(make_ds(), orphan)
    (archive.root / "data" / "zz" / "junk.dcm").write_bytes(b"junk")
    rep = archive.verify()
    assert not rep.ok
    assert rep.missing_files == [paths[0]]
    assert set(rep.unindexed) == {"data/zz/stray.dcm", "data/zz/orphan.dcm", "data/zz/junk.dcm"}
    rep = archive.verify(repair=True)
    assert any("indexed data/zz/orphan.dcm" in r for r in rep.repaired)
    assert archive.counts()["instances"] == 3


def test_delete_study_removes_files_and_rows(archive, tmp_path):
    study = make_ds().StudyInstanceUID
    for i in range(3):
        archive.add_file(write(make_ds(study_uid=study, instance_number=i), tmp_path / f"{i}.dcm"))
    other = archive.add_file(write(make_ds(), tmp_path / "o.dcm"))
    assert archive.delete("study", [study]) == 3
    assert list(archive.layout.iter_files()) == [other.path]
    c = archive.counts()
    assert (c["studies"], c["instances"]) == (1, 1)
    assert archive.verify().ok


def test_latin1_and_utf8_names_indexed(archive, tmp_path):
    archive.add_file(
        write(make_ds(patient_name="MÜLLER^JÖRG", charset="ISO_IR 100"), tmp_path / "l.dcm")
    )
    archive.add_file(
        write(
            make_ds(patient_name="Wang^XiaoDong=王^小東", charset="ISO_IR 192"), tmp_path / "u.dcm"
        )
    )
    names = {s["patient_name"] for s in archive.studies()}
    assert names == {"MÜLLER^JÖRG", "Wang^XiaoDong=王^小東"}


def test_file_permissions_private(archive):
    assert os.stat(archive.root).st_mode & 0o077 == 0


def test_series_cache_survives_a_delete_by_another_process(archive, tmp_path):
    """Another process deletes a series (its pk may be reused): the writer's cache must
    not link new instances to the wrong series."""
    from pacsadmin.core.archive import index as idx

    series = make_ds().SeriesInstanceUID
    archive.add_file(write(make_ds(series_uid=series), tmp_path / "a.dcm"))
    other = idx.connect(archive.layout.index_path)  # "another process"
    pks = [r[0] for r in other.execute("SELECT pk FROM instances")]
    other.execute("BEGIN IMMEDIATE")
    idx.delete_instance_rows(other, pks)
    other.execute("COMMIT")
    archive.add_file(write(make_ds(), tmp_path / "b.dcm"))  # a new series takes the pk
    archive.add_file(write(make_ds(series_uid=series), tmp_path / "c.dcm"))
    rows = other.execute(
        "SELECT se.series_uid FROM instances i JOIN series se ON i.series_pk = se.pk"
    ).fetchall()
    other.close()
    assert sorted(r[0] for r in rows).count(series) == 1
    assert archive.counts()["series"] == 2


def test_fast_header_path_matches_pydicom(monkeypatch):
    """read_meta (the fast reader, and its raw-ASCII shortcut) gives what pydicom's own
    parse and conversion give."""
    import warnings
    from dataclasses import asdict

    from pydicom.data import get_testdata_file

    from pacsadmin.core.archive import meta as meta_mod

    names = [
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "JPEG2000.dcm",
        "SC_rgb_rle.dcm",
        "rtplan.dcm",
        "chr_japanese.dcm",
        "chr_arab.dcm",
        "chr_german.dcm",
        "chr_russian.dcm",
        "chr_greek.dcm",
        "chr_h31.dcm",
        "chr_korean.dcm",
    ]
    checked = 0
    for name in names:
        path = get_testdata_file(name)
        if path is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fast = meta_mod.read_meta(path)
            except meta_mod.NotIndexable:
                continue
            with monkeypatch.context() as m:
                m.setattr(meta_mod, "_ascii_raw", lambda ds, kw: None)
                slow = meta_mod.read_meta_pydicom(path)
        assert asdict(fast) == asdict(slow), name
        checked += 1
    assert checked >= 6


def test_import_batches_and_one_failing_row(archive, tmp_path, monkeypatch):
    from pacsadmin.core.archive import index as idx

    d = tmp_path / "in"
    bad = None
    for i in range(70):
        ds = make_ds(instance_number=i)
        if i == 66:
            bad = ds.SOPInstanceUID
        write(ds, d / f"{i:03d}.dcm")
    real = idx.insert_instance

    def insert(con, m, **kw):
        if m.sop_instance_uid == bad:
            raise RuntimeError("row refused")
        return real(con, m, **kw)

    monkeypatch.setattr(idx, "insert_instance", insert)
    rep = import_paths(archive, [d], null_context())
    assert rep.stored == 69 and len(rep.errors) == 1
    assert rep.errors[0][0].endswith("066.dcm") and "row refused" in rep.errors[0][1]
    assert archive.counts()["instances"] == 69
    assert len(list(archive.layout.iter_files())) == 69
    assert not list(archive.layout.tmp_dir.iterdir())
    assert archive.verify().ok


def test_resolve_new_accepts_only_names_the_archive_made(archive):
    lay = archive.layout
    for _ in range(50):
        rel = lay.new_relpath()
        p = lay.resolve_new(rel)
        assert p == lay.resolve(rel)  # same answer as the full resolve, without syscalls
        assert p.is_relative_to(archive.root / "data")
    ok = "data/ab/ab" + "0" * 30 + ".dcm"
    assert lay.resolve_new(ok) == archive.root / ok
    for bad in (
        "../x",
        "data/../../x",
        "data/ab/../../../etc/passwd",
        "data/ab/ab" + "0" * 30 + ".dcm/../../../x",
        "/etc/passwd",
        "data/ab/ab" + "0" * 29 + "\x00.dcm",
        "data/ab/cd" + "0" * 30 + ".dcm",  # folder does not match the name
        "data/AB/AB" + "0" * 30 + ".dcm",
        "data/ab/ab" + "0" * 30 + ".dcm\n",
        "index.sqlite3",
        "tmp/x.part",
        "",
    ):
        with pytest.raises(OutsideArchive):
            lay.resolve_new(bad)
