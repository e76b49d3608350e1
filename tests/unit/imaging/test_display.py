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


def test_user_presets_round_trip_and_bad_entries(tmp_path):
    import json

    from pacsadmin.core.imaging.presets import Preset, load_user_presets, save_user_presets

    path = tmp_path / "presets.json"
    assert load_user_presets(path) == ((), [])
    mine = (
        Preset("temporal bone", 700, 4000, "CT", "Temporal bone", user=True),
        Preset("t1 brain", 500, 900, "MR", "", "SIGMOID", user=True),
    )
    save_user_presets(path, mine)
    loaded, problems = load_user_presets(path)
    assert problems == [] and [p.name for p in loaded] == ["temporal bone", "t1 brain"]
    assert loaded[1].window() == Window(500, 900, "SIGMOID", "t1 brain", "preset")
    assert [p.name for p in presets_for("MR", loaded)] == ["t1 brain"]
    assert find_preset("Temporal Bone", loaded).center == 700
    data = json.loads(path.read_text())
    data["presets"].append({"name": "bad", "center": 1, "width": 0})
    data["presets"].append({"center": 1})
    path.write_text(json.dumps(data))
    loaded, problems = load_user_presets(path)
    assert len(loaded) == 2 and len(problems) == 2 and "preset 3 skipped" in problems[0]
    path.write_text("{not json")
    assert load_user_presets(path)[0] == () and "cannot be read" in load_user_presets(path)[1][0]


def test_cli_finds_user_presets(tmp_path, pacs_home):
    from pacsadmin.cli.main import main
    from pacsadmin.core.imaging.presets import Preset, save_user_presets

    from .conftest import sample

    save_user_presets(pacs_home / "presets.json", (Preset("wide", 0, 4000, "CT", user=True),))
    out = tmp_path / "w.png"
    assert main(["render", sample("CT_small.dcm"), "-o", str(out), "--preset", "wide"]) == 0
