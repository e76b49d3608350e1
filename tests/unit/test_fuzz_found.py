"""The bugs the fuzzing found, each as a test of its own; damaged DICOMDIRs; the reasons."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest

from pacsadmin.core.archive import Archive, fastmeta
from pacsadmin.core.archive.importer import import_paths
from tests import fuzz
from tests.fuzz_guard import SEED, check_archive, one_line, per_file_limit

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydicom")  # pydicom's notes


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


@pytest.mark.parametrize(
    ("name", "lie", "message"),
    [
        ("MR_small_RLE.dcm", {"Rows": 4096, "Columns": 4096}, "cannot be in"),
        ("JPGExtended.dcm", {"Rows": 2048}, "the compressed frame is 1024 x 256 pixels"),
        ("MR_small_jp2klossless.dcm", {"Columns": 128}, "the compressed frame is 64 x 64"),
        ("SC_rgb_jls_lossy_line.dcm", {"Rows": 60000}, "the compressed frame is 100 x 100"),
    ],
)
def test_a_compressed_frame_is_checked_against_the_header_before_decoding(
    tmp_path, name, lie, message
):
    """Rows x Columns of a compressed image cannot be compared with the bytes present; the
    decoders allocated what the header claimed (up to 1 GiB) for a frame of a few KB."""
    import pydicom

    from pacsadmin.core.imaging.errors import ImageError
    from pacsadmin.core.imaging.render import open_frame

    ds = pydicom.dcmread(io.BytesIO(_testdata(name)))
    for key, value in lie.items():
        setattr(ds, key, value)
    path = tmp_path / name
    ds.save_as(path)
    with pytest.raises(ImageError, match=message) as e:
        open_frame(path, 0, isolate=False)
    assert e.value.kind == "geometry"
