"""The pipeline on the files pydicom ships, against pydicom's own transforms.

Compressed frames go through the worker process (the ``pool`` fixture), as in the app.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.luts import Window, window
from pacsadmin.core.imaging.render import open_frame, render_frame

from .conftest import sample

MR_VARIANTS = [
    "MR_small_bigendian.dcm",
    "MR_small_expb.dcm",
    "MR_small_implicit.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_padded.dcm",
]


def _read(name):
    return pydicom.dcmread(sample(name))


def test_ct_small_modality_values_match_pydicom(pool):
    frame = open_frame(sample("CT_small.dcm"), pool=pool)
    ds = _read("CT_small.dcm")
    theirs = apply_modality_lut(ds.pixel_array, ds)
    assert np.array_equal(frame.stored, ds.pixel_array)
    assert np.allclose(frame.pipeline.modality_values(frame.stored), theirs)
    desc = frame.pipeline.describe()
    assert "1024" in desc.modality and "HU" in desc.modality
    # no window in the file: the full range of modality values, padding excluded
    assert frame.pipeline.voi.source == "range"
    lo, hi = frame.pipeline.modality_range
    pad = frame.stored == -2000
    assert lo == theirs[~pad].min() and hi == theirs[~pad].max()
    image = render_frame(frame)
    assert image.dtype == np.uint8 and image.shape == (128, 128)
    assert image[~pad].min() == 0 and image[~pad].max() == 255


def test_mr_small_window_matches_pydicom_apply_voi_lut(pool):
    frame = open_frame(sample("MR_small.dcm"), pool=pool)
    ds = _read("MR_small.dcm")
    voi = frame.pipeline.voi
    assert isinstance(voi, Window) and (voi.center, voi.width) == (
        float(ds.WindowCenter),
        float(ds.WindowWidth),
    )
    arr = apply_modality_lut(ds.pixel_array, ds)
    theirs = apply_voi_lut(arr.astype(np.float64), ds)
    ymin, ymax = -(2**15), 2**15 - 1  # signed 16-bit output range used by pydicom
    ours = window(arr, voi.center, voi.width, voi.function, ymin, ymax)
    assert np.allclose(ours, theirs)
    # and the 8-bit image is that window scaled to 0..255
    expected = np.rint((ours - ymin) / (ymax - ymin) * 255).astype(np.uint8)
    assert np.abs(render_frame(frame).astype(int) - expected).max() <= 1


@pytest.mark.parametrize("name", MR_VARIANTS)
def test_mr_small_variants_decode_to_the_same_values(name, pool):
    reference = _read("MR_small.dcm").pixel_array
    frame = open_frame(sample(name), pool=pool)
    assert np.array_equal(frame.stored, reference), name
    assert frame.pipeline.describe().voi.startswith("Window")


@pytest.mark.parametrize(
    "name",
    [
        "JPEG2000.dcm",
        "693_J2KI.dcm",
        "JPEGLSNearLossless_16.dcm",
        "JPGExtended.dcm",
    ],
)
def test_compressed_grayscale_matches_pydicom(name, pool):
    ds = _read(name)
    frame = open_frame(sample(name), pool=pool)
    assert np.array_equal(frame.stored, ds.pixel_array)
    assert "worker process" in frame.pipeline.decoder
    assert render_frame(frame).shape == ds.pixel_array.shape


def test_undecodable_jpeg_gives_a_message_not_a_traceback(pool):
    # pylibjpeg's libjpeg refuses this file (pydicom's own pixel_array fails the same way)
    with pytest.raises(Exception):  # noqa: B017
        _ = _read("JPEG-lossy.dcm").pixel_array
    with pytest.raises(ImageError, match=r"JPEG Extended \(1.2.840.10008.1.2.4.51\) frame could"):
        open_frame(sample("JPEG-lossy.dcm"), pool=pool)
    # the worker survived: the next file decodes
    assert open_frame(sample("MR_small_RLE.dcm"), pool=pool).stored.shape == (64, 64)


@pytest.mark.parametrize(
    "name",
    [
        "SC_rgb_dcmtk_+eb+cr.dcm",
        "SC_rgb_dcmtk_+eb+cy+n1.dcm",
        "SC_rgb_dcmtk_+eb+cy+np.dcm",
        "SC_rgb_dcmtk_+eb+cy+s4.dcm",
        "SC_rgb_gdcm_KY.dcm",
        "SC_rgb_jpeg_gdcm.dcm",
        "SC_rgb_rle.dcm",
        "SC_rgb_small_odd.dcm",
        "SC_rgb_small_odd_big_endian.dcm",
        "SC_ybr_full_422_uncompressed.dcm",
        "examples_rgb_color.dcm",
        "ExplVR_BigEnd.dcm",
        "SC_rgb_jls_lossy_line.dcm",
    ],
)
def test_color_files_match_pydicom(name, pool):
    ds = _read(name)
    frame = open_frame(sample(name), pool=pool)
    theirs = ds.pixel_array
    if ds.get("NumberOfFrames", 1) > 1:
        theirs = theirs[0]
    image = render_frame(frame)
    assert image.dtype == np.uint8 and image.shape == (ds.Rows, ds.Columns, 3)
    assert np.array_equal(image, theirs)
    assert frame.pipeline.describe().voi.startswith("none: color")


def test_rgb_16_bit_is_scaled_to_8_bits(pool):
    ds = _read("SC_rgb_rle_16bit.dcm")
    image = render_frame(open_frame(sample("SC_rgb_rle_16bit.dcm"), pool=pool))
    assert np.array_equal(image, (ds.pixel_array >> 8).astype(np.uint8))


def test_rgb_planar_configuration(tmp_path):
    from .conftest import make_ds, save

    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    rgb[1, 2] = (200, 100, 50)
    ds = make_ds(rgb, photometric="RGB")
    ds.PlanarConfiguration = 1
    ds.PixelData = np.moveaxis(rgb, 2, 0).tobytes()  # R plane, G plane, B plane
    frame = open_frame(save(ds, tmp_path / "planar.dcm"))
    assert np.array_equal(render_frame(frame), rgb)
    assert "planar" in frame.pipeline.describe().photometric


def test_ybr_multiframe_last_frame(pool):
    ds = _read("examples_ybr_color.dcm")
    frame = open_frame(sample("examples_ybr_color.dcm"), 29, pool=pool)
    assert np.array_equal(render_frame(frame), ds.pixel_array[29])
    assert "YBR_FULL_422 (decoded to RGB)" in frame.pipeline.describe().photometric


def test_rle_multiframe_second_frame(pool):
    ds = _read("SC_rgb_rle_2frame.dcm")
    frame = open_frame(sample("SC_rgb_rle_2frame.dcm"), 1, pool=pool)
    assert np.array_equal(render_frame(frame), ds.pixel_array[1])


def test_rtdose_32_bit_multiframe(pool):
    ds = _read("rtdose.dcm")
    frame = open_frame(sample("rtdose.dcm"), 7, pool=pool)
    assert np.array_equal(frame.stored, ds.pixel_array[7])
    image = render_frame(frame)
    assert image.min() == 0 and image.max() == 255  # full-range default window
    rle = open_frame(sample("rtdose_rle.dcm"), 7, pool=pool)
    assert np.array_equal(rle.stored, frame.stored)


def test_palette_color_matches_pydicom():
    ds = _read("examples_palette.dcm")
    frame = open_frame(sample("examples_palette.dcm"))
    theirs = apply_color_lut(ds.pixel_array, ds)
    assert np.array_equal(render_frame(frame), (theirs >> 8).astype(np.uint8))


def test_overlay_file_two_windows_and_bits_stored_12():
    ds = _read("examples_overlay.dcm")
    frame = open_frame(sample("examples_overlay.dcm"))
    pipe = frame.pipeline
    assert len(pipe.voi_choices) == 2
    assert [v.explanation for v in pipe.voi_choices] == list(ds.WindowCenterWidthExplanation)
    assert frame.stored.max() < 4096
    assert "bits above Bits Stored ignored" in pipe.describe().bits


def test_deflated_file(pool):
    frame = open_frame(sample("image_dfl.dcm"), pool=pool)
    assert frame.stored.shape == (512, 512)
    assert "Deflated" in frame.pipeline.describe().transfer_syntax
