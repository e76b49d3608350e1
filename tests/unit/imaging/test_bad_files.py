"""Files that lie, are cut short, have no pixels, need a missing codec, or are not DICOM."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate

from pacsadmin.core.imaging import codecs
from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.geometry import read_geometry
from pacsadmin.core.imaging.render import open_frame, render_frame
from pacsadmin.core.imaging.worker import DecoderProcessPool

from .conftest import make_ds, sample, save

CT = np.zeros((16, 16), dtype=np.int16)


def test_geometry_lie_is_caught_before_any_allocation(tmp_path):
    ds = make_ds(CT)
    ds.Rows = 4096  # claims 4096 x 16 but holds 16 x 16
    with pytest.raises(
        ImageError, match="inconsistent image geometry: Rows 4096 x Columns 16"
    ) as e:
        open_frame(save(ds, tmp_path / "lie.dcm"))
    assert e.value.kind == "geometry"
    assert "needs 131072 bytes of pixel data, the file holds 512" in str(e.value)


def test_absurd_geometry_is_refused_without_allocating(tmp_path):
    ds = make_ds(CT)
    ds.Rows = ds.Columns = 65535
    ds.NumberOfFrames = 90000  # 770 TB if anyone believed it
    with pytest.raises(ImageError, match="inconsistent image geometry"):
        read_geometry(ds)
    ds.NumberOfFrames = 0
    with pytest.raises(ImageError, match="Number of Frames 0 is out of range"):
        read_geometry(ds)


def test_geometry_of_encapsulated_data_is_checked(tmp_path):
    from pydicom.uid import JPEG2000Lossless

    ds = make_ds(CT, ts=JPEG2000Lossless)
    ds.NumberOfFrames = 5
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\0" * 20] * 2)
    with pytest.raises(ImageError, match="Number of Frames is 5 but the compressed pixel data"):
        read_geometry(ds)
    ds.NumberOfFrames = 1
    ds.PixelData = encapsulate([b"\0" * 64])[:-10]  # item runs past the end
    with pytest.raises(ImageError, match="truncated"):
        read_geometry(ds)
    ds.Rows = ds.Columns = 30000  # 30000 x 30000 x 16 bits = 1.7 GiB per frame
    with pytest.raises(ImageError, match="over the 1024 MiB limit"):
        read_geometry(ds)


def test_truncated_pixel_data_sample():
    with pytest.raises(ImageError, match=r"inconsistent image geometry.*holds 8130") as e:
        open_frame(sample("MR_truncated.dcm"))
    assert "truncated" in str(e.value)


def test_file_cut_in_the_middle(tmp_path):
    path = save(make_ds(np.arange(4096, dtype=np.uint16).reshape(64, 64)), tmp_path / "cut.dcm")
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) - 3000])
    with pytest.raises(ImageError):
        open_frame(path)


def test_sr_without_pixels():
    with pytest.raises(ImageError, match="no pixel data \\(a SR object\\)") as e:
        open_frame(sample("test-SR.dcm"))
    assert e.value.kind == "no-pixels"


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"hello, not an image\n" * 20, "not a DICOM file"), (b"", "not")],
)
def test_not_dicom(tmp_path, content, match):
    path = tmp_path / "x.dcm"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=match):
        open_frame(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        open_frame(tmp_path / "nope.dcm")
    with pytest.raises(ImageError, match="folder"):
        open_frame(tmp_path)


def test_preamble_with_executable_header_is_noted(tmp_path):
    path = save(make_ds(CT), tmp_path / "pe.dcm")
    data = bytearray(Path(path).read_bytes())
    data[:2] = b"MZ"
    Path(path).write_bytes(bytes(data))
    frame = open_frame(path)
    assert any("Windows executable" in n for n in frame.pipeline.notes)


def test_unknown_transfer_syntax_has_no_decoder(tmp_path):
    ds = make_ds(CT, ts="1.2.840.10008.1.2.4.100")  # MPEG2 video: pydicom has no decoder
    ds.PixelData = encapsulate([b"\0\0\1\xb3" + b"\0" * 30])
    with pytest.raises(ImageError) as e:
        open_frame(save(ds, tmp_path / "mpeg2.dcm"))
    assert str(e.value).startswith(
        "this image uses MPEG2 (1.2.840.10008.1.2.4.100); no decoder is installed"
    )
    assert codecs.ts_name("1.2.840.10008.1.2.4.110") == "JPEG XL Lossless (1.2.840.10008.1.2.4.110)"
    assert e.value.kind == "codec"


def test_missing_jpeg2000_plugin_message(monkeypatch):
    from pydicom.pixels.decoders import base

    real = base.get_decoder("1.2.840.10008.1.2.4.91")

    class Unavailable:
        is_available = False
        missing_dependencies = real.missing_dependencies
        available_plugins = ()

    monkeypatch.setattr(base, "get_decoder", lambda uid: Unavailable())
    with pytest.raises(ImageError) as e:
        open_frame(sample("JPEG2000.dcm"))
    assert str(e.value).startswith(
        "this image uses JPEG 2000 (1.2.840.10008.1.2.4.91); no decoder is installed"
    )
    assert codecs.ts_name("1.2.840.10008.1.2.4.91") == "JPEG 2000 (1.2.840.10008.1.2.4.91)"


def test_frame_out_of_range():
    with pytest.raises(ImageError, match="frame 31 does not exist: the image has 30"):
        open_frame(sample("examples_ybr_color.dcm"), 30)


def _sleep_then(seconds):
    time.sleep(seconds)
    return "slept"


def test_worker_timeout_and_crash_do_not_take_the_caller_down():
    pool = DecoderProcessPool(workers=1, timeout=5)
    try:
        assert pool.run(_sleep_then, 0) == "slept"
        t0 = time.monotonic()
        with pytest.raises(ImageError, match=r"longer than 0\.5 s") as e:
            pool.run(_sleep_then, 30, timeout=0.5)
        assert e.value.kind == "timeout" and time.monotonic() - t0 < 5
        with pytest.raises(ImageError, match="decoder crashed \\(worker exit code 7\\)") as e:
            pool.run(os._exit, 7)
        assert e.value.kind == "crash"
        # the pool replaces the dead worker: decoding goes on
        frame = open_frame(sample("MR_small_jp2klossless.dcm"), pool=pool)
        assert frame.stored.shape == (64, 64)
    finally:
        pool.close()


def test_one_bad_file_never_stops_a_batch(tmp_path, pool):
    names = ["CT_small.dcm", "test-SR.dcm", "MR_truncated.dcm", "MR_small_RLE.dcm"]
    paths = [sample(n) for n in names]
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\0" * 500)
    paths.insert(2, str(junk))
    ok, failed = [], []
    for p in paths:
        try:
            ok.append(render_frame(open_frame(p, pool=pool)).shape)
        except ImageError as exc:
            failed.append((os.path.basename(p), exc.kind))
    assert ok == [(128, 128), (64, 64)]
    assert [k for _, k in failed] == ["no-pixels", "not-dicom", "geometry"]


def test_dataset_element_damage_is_an_image_error(tmp_path):
    path = save(make_ds(CT), tmp_path / "bad.dcm")
    ds = pydicom.dcmread(path)
    assert ds.Rows == 16
    data = bytearray(Path(path).read_bytes())
    i = data.find(b"\x28\x00\x10\x00")  # (0028,0010) Rows: make its length absurd
    data[i + 6 : i + 8] = b"\xff\x7f"
    Path(path).write_bytes(bytes(data))
    with pytest.raises(ImageError):
        open_frame(path)


def test_deflate_bomb_opened_in_the_viewer_is_refused(tmp_path, monkeypatch):
    """A deflated file from outside the archive (a CD, a share) is inflated as a bounded
    stream before pydicom reads it: a bomb is an ImageError saying why, not a dead app;
    an ordinary deflated image opens."""
    from pacsadmin.core import deflate
    from pacsadmin.core.imaging.series import read_info
    from tests.unit.test_deflate import bomb, deflated_bytes

    monkeypatch.setattr(deflate, "MAX_INFLATED", 8 << 20)  # the test stays small
    path = tmp_path / "bomb.dcm"
    path.write_bytes(bomb(40 << 20))
    with pytest.raises(ImageError, match="inflates past 8 MiB: refused"):
        open_frame(path)
    with pytest.raises(ImageError, match="refused"):
        read_info(str(path))
    ok = tmp_path / "ok.dcm"
    ds = make_ds(np.arange(256, dtype=np.int16).reshape(16, 16))
    ok.write_bytes(deflated_bytes(ds))
    assert (open_frame(ok).stored == ds.pixel_array).all()
