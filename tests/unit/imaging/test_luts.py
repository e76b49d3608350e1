"""The VOI and modality transforms against PS3.3 C.11 and against pydicom."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_windowing

from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.luts import LookupTable, Rescale, Window, parse_lut, window


def test_linear_follows_the_standard_formula():
    # PS3.3 C.11.2.1.2.1: c=50, w=101 -> x <= -0.5 min, x > 99.5 max
    c, w = 50.0, 101.0
    x = np.array([-1.0, -0.5, 0.0, 49.5, 99.0, 99.5, 100.0])
    y = window(x, c, w, "LINEAR", 0, 255)
    expected = [
        0,
        0,
        ((0 - 49.5) / 100 + 0.5) * 255,
        127.5,
        ((99 - 49.5) / 100 + 0.5) * 255,
        255,
        255,
    ]
    assert np.allclose(y, expected)


def test_linear_exact_and_sigmoid_formulas():
    x = np.array([-10.0, 0.0, 5.0, 10.0, 20.0])
    assert np.allclose(window(x, 5, 10, "LINEAR_EXACT"), [0, 0, 0.5, 1, 1])
    sig = window(x, 5, 10, "SIGMOID", 0, 100)
    assert np.allclose(sig, 100 / (1 + np.exp(-4 * (x - 5) / 10)))
    assert sig[2] == pytest.approx(50)


def test_linear_width_one_is_a_step():
    assert list(window(np.array([9.0, 9.5, 9.6, 10.0]), 10, 1)) == [0, 0, 1, 1]


@pytest.mark.parametrize(
    ("center", "width", "function"),
    [(0, 0.5, "LINEAR"), (0, 0, "LINEAR_EXACT"), (0, -1, "SIGMOID"), (0, 10, "CUBIC")],
)
def test_invalid_windows_are_refused(center, width, function):
    with pytest.raises(ImageError):
        Window(center, width, function)


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize(("signed", "bits"), [(False, 12), (True, 16), (False, 8)])
def test_window_matches_pydicom_apply_windowing(function, signed, bits):
    rng = np.random.default_rng(1)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    arr = rng.integers(lo, hi, size=(40, 40), endpoint=True).astype(np.int32)
    ds = Dataset()
    ds.BitsStored, ds.PixelRepresentation = bits, int(signed)
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 100.0, 300.0, function
    ds.RescaleSlope, ds.RescaleIntercept = 2.0, -1024.0
    modality = Rescale(2.0, -1024.0).apply(arr)
    # pydicom takes modality values and scales its output range by the rescale too
    theirs = apply_windowing(modality.copy(), ds)
    ymin, ymax = lo * 2.0 - 1024, hi * 2.0 - 1024
    ours = window(modality, 100.0, 300.0, function, ymin, ymax)
    assert np.allclose(ours, theirs)


def test_rescale_and_lookup_table():
    assert list(Rescale(2, -1024).apply([0, 1024])) == [-1024, 1024]
    lut = LookupTable(first=-2, bits=8, data=np.array([10, 20, 30]))
    assert list(lut.apply([-5, -2, -1, 0, 5])) == [10, 10, 20, 30, 30]


def test_parse_lut_checks_descriptor_against_data():
    item = Dataset()
    item.LUTDescriptor = [4, 0, 12]
    item.LUTData = [0, 100, 200, 4095]
    item.LUTExplanation = "TEST"
    lut = parse_lut(item, "VOI")
    assert (lut.first, lut.bits, list(lut.data), lut.explanation) == (
        0,
        12,
        [0, 100, 200, 4095],
        "TEST",
    )
    item.LUTData = [0, 100, 200]
    with pytest.raises(ImageError, match="says 4 entries, LUT Data holds 3"):
        parse_lut(item, "VOI")
    item.LUTDescriptor = [3, 0, 4]
    with pytest.raises(ImageError, match="4 bits"):
        parse_lut(item, "VOI")


def test_parse_lut_zero_entries_means_65536_and_signed_first():
    item = Dataset()
    item.LUTDescriptor = [0, 65535 - 99, 16]  # first mapped value -100 stored as US
    item.LUTData = np.arange(65536, dtype="<u2").tobytes()
    lut = parse_lut(item, "Modality", signed_input=True)
    assert len(lut.data) == 65536 and lut.first == -100
