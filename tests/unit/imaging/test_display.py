"""The 8-bit lookup table, display-resolution sampling, auto window, presets, PNG."""

from __future__ import annotations

import numpy as np
import pytest

from pacsadmin.core.imaging.display import DisplayBuffer, auto_window, fit_indices
from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.luts import Window
from pacsadmin.core.imaging.png import encode_png, read_png
from pacsadmin.core.imaging.presets import PRESETS, find_preset, presets_for
from pacsadmin.core.imaging.render import open_frame

from .conftest import make_ds, save


@pytest.fixture
def ct_frame(tmp_path):
    rng = np.random.default_rng(3)
    arr = rng.integers(-1024, 3000, size=(64, 48)).astype(np.int16)
    arr[:4] = -2000
    ds = make_ds(
        arr,
        RescaleSlope=1,
        RescaleIntercept=-1024,
        PixelPaddingValue=-2000,
        Modality="CT",
        WindowCenter=40,
        WindowWidth=400,
    )
    ds["PixelPaddingValue"].VR = "SS"
    return open_frame(save(ds, tmp_path / "ct.dcm"))


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize("invert", [False, True])
def test_lookup_table_equals_the_direct_computation(ct_frame, function, invert):
    pipe = ct_frame.pipeline.with_voi(Window(-500, 1500, function)).with_user_invert(invert)
    lut = pipe.display_lut()
    assert lut.dtype == np.uint8 and lut.shape == (65536,)
    via_lut = pipe.to_uint8(ct_frame.stored)
    direct = np.rint(pipe.display_float(ct_frame.stored) * 255).astype(np.uint8)
    direct[ct_frame.stored == -2000] = 0
    assert np.array_equal(via_lut, direct)


def test_eight_bit_lut(tmp_path):
    arr = np.arange(256, dtype=np.uint8).reshape(16, 16)
    frame = open_frame(save(make_ds(arr, WindowCenter=128, WindowWidth=256), tmp_path / "a.dcm"))
    assert frame.pipeline.display_lut().shape == (256,)
    assert np.array_equal(
        frame.pipeline.to_uint8(arr),
        np.rint(frame.pipeline.display_float(arr) * 255).astype(np.uint8),
    )


def test_fit_indices_keep_aspect_and_view_size():
    ri, ci = fit_indices(4096, 3328, 1024, 1024)
    assert len(ri) == 1024 and len(ci) == 832
    assert ri[0] == 2 and ri[-1] == 4094  # pixel centres
    ri, ci = fit_indices(512, 512, 1024, 1024)  # magnified: each pixel twice
    assert len(ri) == 1024 and list(ri[:4]) == [0, 0, 1, 1]
    ri, ci = fit_indices(512, 512, 100, 100, region=(100, 150, 200, 250))
    assert ri[0] == 100 and ri[-1] == 149 and ci[0] == 200


def test_display_buffer_renders_the_sampled_pixels(ct_frame):
    buf = DisplayBuffer.for_view(ct_frame.pipeline, ct_frame.stored, 32, 32)
    assert buf.samples.shape == (32, 24) and buf.samples.dtype == np.int16
    out = buf.render(Window(0, 100))
    assert out.shape == (32, 24) and out.dtype == np.uint8
    full = ct_frame.pipeline.with_voi(Window(0, 100)).to_uint8(ct_frame.stored)
    ri, ci = fit_indices(64, 48, 32, 32)
    assert np.array_equal(out, full[np.ix_(ri, ci)])


def test_auto_window_min_max_and_percentile(ct_frame):
    pipe = ct_frame.pipeline
    body = ct_frame.stored[ct_frame.stored != -2000].astype(float) - 1024
    w = auto_window(pipe, ct_frame.stored)
    assert (w.low, w.high) == (body.min(), body.max())
    p = auto_window(pipe, ct_frame.stored, (5, 95))
    assert abs(p.low - np.percentile(body, 5)) < 20 and abs(p.high - np.percentile(body, 95)) < 20
    assert p.source == "auto" and "percentile" in p.explanation


def test_presets():
    assert {p.name for p in presets_for("CT")} == {
        "brain",
        "subdural",
        "stroke",
        "lung",
        "mediastinum",
        "abdomen",
        "liver",
        "bone",
    }
    assert find_preset("Lung").window() == Window(-600, 1500, "LINEAR", "Lung", "preset")
    assert presets_for("MR") == ()
    with pytest.raises(ImageError, match="unknown preset 'kidney'"):
        find_preset("kidney")
    assert all(p.width >= 1 for p in PRESETS)


def test_png_round_trip():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    w, h, ct, px = read_png(encode_png(gray))
    assert (w, h, ct) == (4, 3, 0) and np.array_equal(px, gray)
    rgb = np.arange(36, dtype=np.uint8).reshape(3, 4, 3)
    w, h, ct, px = read_png(encode_png(rgb))
    assert (w, h, ct) == (4, 3, 2) and np.array_equal(px, rgb)
    with pytest.raises(ValueError):
        encode_png(gray.astype(np.uint16))
