"""The viewer's fast load path gives exactly what pydicom gives, and steps aside otherwise.

``native_array`` (np.frombuffer on native Pixel Data) against pydicom's ``pixel_array``;
``fast_get`` (raw header values) against ``ds.get``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian, RLELossless

from pacsadmin.core.imaging.decode import NATIVE_DECODER, decode_frame, native_array
from pacsadmin.core.imaging.fastattrs import FAST_KEYWORDS, fast_get
from pacsadmin.core.imaging.geometry import read_geometry
from tests.unit.imaging.conftest import make_ds, sample, save

RNG = np.random.default_rng(7)


def _read(ds, tmp_path, name="x.dcm", **save_kw):
    path = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=True, **save_kw)
    return pydicom.dcmread(path)


def _same_as_pydicom(ds):
    """Every frame through the fast path equals pixel_array (values, dtype, shape)."""
    geo = read_geometry(ds)
    ref = ds.pixel_array
    if geo.frames == 1:
        ref = ref[np.newaxis]
    for k in range(geo.frames):
        got = native_array(ds.PixelData, geo, k)
        assert got is not None
        # pydicom keeps big endian data big endian ('>i2'); the fast path gives native order
        assert got.dtype == ref[k].dtype.newbyteorder("=") and got.dtype.isnative
        assert got.shape == ref[k].shape
        np.testing.assert_array_equal(got, ref[k])
        frame = decode_frame(ds, k, geometry=geo)
        assert frame.decoder == NATIVE_DECODER
        np.testing.assert_array_equal(frame.array, ref[k])


@pytest.mark.parametrize(
    ("dtype", "bits_stored"),
    [
        (np.int16, None),
        (np.uint16, None),
        (np.uint8, None),
        (np.int8, None),
        (np.uint32, None),
        (np.int32, None),
        (np.uint16, 12),  # high bits hold garbage: masked
        (np.int16, 12),  # sign-extended from bit 11
        (np.uint8, 6),
        (np.int32, 20),
    ],
)
@pytest.mark.parametrize("shape", [(64, 48), (7, 5), (1, 1)])  # odd sizes pad Pixel Data
def test_native_array_equals_pixel_array(tmp_path, dtype, bits_stored, shape):
    info = np.iinfo(dtype)
    pixels = RNG.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    ds = _read(make_ds(pixels, bits_stored=bits_stored), tmp_path)
    _same_as_pydicom(ds)


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.uint8])
@pytest.mark.parametrize("bits_stored", [None, 7])
def test_native_array_multi_frame(tmp_path, dtype, bits_stored):
    info = np.iinfo(dtype)
    pixels = RNG.integers(info.min, info.max, size=(5, 9, 7), endpoint=True).astype(dtype)
    ds = _read(make_ds(pixels, frames=5, bits_stored=bits_stored), tmp_path)
    _same_as_pydicom(ds)
    assert native_array(ds.PixelData, read_geometry(ds), 5) is None  # no sixth frame


def test_native_array_implicit_vr(tmp_path):
    pixels = RNG.integers(-2000, 3000, size=(33, 17)).astype(np.int16)
    ds = make_ds(pixels, ts=ImplicitVRLittleEndian)
    _same_as_pydicom(_read(ds, tmp_path))


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint32])
@pytest.mark.parametrize("bits_stored", [None, 12])
def test_native_array_big_endian(tmp_path, dtype, bits_stored):
    info = np.iinfo(dtype)
    pixels = RNG.integers(info.min, info.max, size=(2, 11, 9), endpoint=True).astype(dtype)
    ds = make_ds(pixels, frames=2, ts=ExplicitVRBigEndian, bits_stored=bits_stored)
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder(">")).tobytes()
    ds = _read(ds, tmp_path, little_endian=False, implicit_vr=False)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRBigEndian
    _same_as_pydicom(ds)


@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
        "MR_small_expb.dcm",
        "MR_small_padded.dcm",
        "image_dfl.dcm",  # deflated: pydicom inflates on reading
        "examples_palette.dcm",
        "rtdose.dcm",  # 32-bit, multi-frame
        "rtdose_expb.dcm",
    ],
)
def test_native_array_on_pydicom_samples(name):
    _same_as_pydicom(pydicom.dcmread(sample(name)))


@pytest.mark.parametrize(
    "name",
    [
        "liver_1frame.dcm",  # 1 bit
        "ExplVR_BigEnd.dcm",  # RGB, big endian
        "SC_rgb_small_odd.dcm",
        "SC_ybr_full_422_uncompressed.dcm",
    ],
)
def test_pydicom_decodes_what_the_fast_path_does_not_take(name):
    ds = pydicom.dcmread(sample(name))
    geo = read_geometry(ds)
    assert native_array(ds.PixelData, geo, 0) is None
    frame = decode_frame(ds, 0, geometry=geo)
    assert frame.decoder != NATIVE_DECODER
    ref = ds.pixel_array
    np.testing.assert_array_equal(frame.array, ref if geo.frames == 1 else ref[0])


def test_fast_path_steps_aside_where_it_does_not_apply(tmp_path):
    rgb = RNG.integers(0, 255, size=(6, 5, 3)).astype(np.uint8)
    ds = _read(make_ds(rgb, photometric="RGB"), tmp_path, "rgb.dcm")
    geo = read_geometry(ds)
    assert native_array(ds.PixelData, geo, 0) is None
    frame = decode_frame(ds, 0, geometry=geo)
    assert frame.decoder != NATIVE_DECODER
    np.testing.assert_array_equal(frame.array, ds.pixel_array)

    # 8-bit big endian (may be byte-swapped OW): pydicom's job
    gray8 = RNG.integers(0, 255, size=(3, 5)).astype(np.uint8)
    be = make_ds(gray8, ts=ExplicitVRBigEndian)
    be = _read(be, tmp_path, "be8.dcm", little_endian=False, implicit_vr=False)
    geo = read_geometry(be)
    assert native_array(be.PixelData, geo, 0) is None
    frame = decode_frame(be, 0, geometry=geo)
    np.testing.assert_array_equal(frame.array, be.pixel_array)

    # encapsulated data never takes it
    rle = pydicom.dcmread(sample("MR_small_RLE.dcm"))
    assert native_array(rle.PixelData, read_geometry(rle), 0) is None
    assert read_geometry(rle).transfer_syntax == RLELossless

    # too little data for the frame asked for: no view (the geometry check reports it)
    gray = RNG.integers(0, 4000, size=(8, 8)).astype(np.uint16)
    ds = make_ds(gray)
    geo = read_geometry(ds)
    assert native_array(ds.PixelData[:-2], geo, 0) is None


def test_fast_view_is_read_only_and_no_float():
    pixels = RNG.integers(-1000, 2000, size=(16, 16)).astype(np.int16)
    ds = make_ds(pixels)
    arr = native_array(ds.PixelData, read_geometry(ds), 0)
    assert arr is not None and arr.dtype == np.int16 and not arr.flags.writeable
    np.testing.assert_array_equal(arr, pixels)


# ---------------------------------------------------------------------------- fast_get


def _norm(value):
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip(" \x00")
    if hasattr(value, "__iter__"):
        return [v.strip() if isinstance(v, str) else float(v) for v in value]
    return float(value)


def _check_fast_get(path):
    fast = pydicom.dcmread(path)
    slow = pydicom.dcmread(path)
    for keyword in FAST_KEYWORDS:
        got = fast_get(fast, keyword)
        want = slow.get(keyword)
        assert _norm(got) == _norm(want), keyword
    # the dataset was not converted or changed by fast_get
    for keyword in FAST_KEYWORDS:
        assert fast.get(keyword) == slow.get(keyword)


@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
        "SC_rgb_small_odd.dcm",
        "examples_palette.dcm",
        "liver_1frame.dcm",
        "image_dfl.dcm",
        "reportsi_with_empty_number_tags.dcm",
        "rtdose_expb.dcm",
        "JPEG2000.dcm",
        "rtdose.dcm",
    ],
)
def test_fast_get_equals_pydicom_on_samples(name):
    _check_fast_get(sample(name))


@pytest.mark.parametrize("ts", [ImplicitVRLittleEndian, ExplicitVRBigEndian, None])
def test_fast_get_equals_pydicom_on_generated(tmp_path, ts):
    pixels = RNG.integers(0, 4000, size=(4, 4)).astype(np.uint16)
    attrs = dict(
        Modality="CT",
        RescaleSlope="1.5",
        RescaleIntercept="-1024",
        WindowCenter=["40", "300"],
        WindowWidth=["400", "1500"],
        ImagePositionPatient=[-125.5, 0, 12.25],
        ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
        PixelSpacing=[0.5, 0.5],
        SliceThickness="1.25",
        InstanceNumber=" 17",
        VOILUTFunction="SIGMOID",
        PresentationLUTShape="IDENTITY",
        BurnedInAnnotation="NO",
        RescaleType="HU",
        WindowCenterWidthExplanation=["SOFT TISSUE", "BONE "],
    )
    ds = make_ds(pixels, **({"ts": ts} if ts else {}), **attrs)
    kw = {}
    if ts == ExplicitVRBigEndian:
        ds.PixelData = pixels.astype(">u2").tobytes()
        kw = {"little_endian": False, "implicit_vr": False}
    elif ts == ImplicitVRLittleEndian:
        kw = {"implicit_vr": True}
    path = tmp_path / "g.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=True, **kw)
    _check_fast_get(path)
    ds = pydicom.dcmread(path)
    assert fast_get(ds, "RescaleSlope") == 1.5
    assert fast_get(ds, "WindowCenter") == [40.0, 300.0]
    assert fast_get(ds, "InstanceNumber") == 17
    assert fast_get(ds, "Rows") == 4
    assert fast_get(ds, "Modality") == "CT"
    assert fast_get(ds, "RescaleType") == "HU"


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("ISO_IR 100", "Fenêtre os"),
        ("ISO_IR 192", "窗口 骨"),
        ("ISO 2022 IR 87", "ｳｨﾝﾄﾞｳ"),
        (None, "PLAIN WINDOW "),
    ],
)
def test_fast_get_text_in_any_character_set(tmp_path, charset, text):
    ds = make_ds(np.zeros((2, 2), np.uint16))
    if charset:
        ds.SpecificCharacterSet = charset
    ds.WindowCenterWidthExplanation = text
    ds.RescaleType = text
    path = tmp_path / "t.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=True)
        fast, slow = pydicom.dcmread(path), pydicom.dcmread(path)
        for keyword in ("WindowCenterWidthExplanation", "RescaleType"):
            assert fast_get(fast, keyword) == slow.get(keyword)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("RescaleSlope", ""),  # empty
        ("InstanceNumber", ["1", "2"]),  # multi-valued IS
        ("RescaleIntercept", "nan"),  # not a plain number
        ("Modality", "C\\T"),
    ],
)
def test_fast_get_leaves_odd_values_to_pydicom(tmp_path, keyword, value):
    pixels = np.zeros((2, 2), np.uint16)
    ds = make_ds(pixels)
    setattr(ds, keyword, value)
    path = save(ds, tmp_path / "odd.dcm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = pydicom.dcmread(path)
        slow = pydicom.dcmread(path)
        got, want = fast_get(fast, keyword), slow.get(keyword)
    assert str(got) == str(want) or (got in (None, "") and want in (None, ""))  # nan != nan


def test_fast_get_on_deferred_and_absent(tmp_path):
    pixels = np.zeros((2, 2), np.uint16)
    ds = make_ds(pixels, Modality="MR", ImagePositionPatient=[1, 2, 3])
    path = save(ds, tmp_path / "d.dcm")
    deferred = pydicom.dcmread(path, defer_size=2)  # every value over 2 bytes deferred
    assert fast_get(deferred, "ImagePositionPatient") == [1.0, 2.0, 3.0]
    assert fast_get(deferred, "Rows") == 2
    assert fast_get(deferred, "WindowCenter") is None
    assert fast_get(deferred, "WindowCenter", "x") == "x"
    assert fast_get(deferred, "PatientName") == "TEST^IMAGING"  # not a fast keyword


def test_big_endian_renders_like_little_endian():
    """pydicom keeps big endian arrays big endian ('>i2'); the 8-bit LUT indexes a native
    uint16 view of the stored values, so those rendered wrong before the fast path."""
    from pacsadmin.core.imaging.render import open_frame, render_frame

    le = render_frame(open_frame(sample("MR_small.dcm")))
    be = render_frame(open_frame(sample("MR_small_bigendian.dcm")))
    np.testing.assert_array_equal(le, be)


def test_open_job_notes_executable_preamble_and_uses_scanned_attrs(tmp_path):
    """The viewer's one-pass open job: preamble checked from ``ds.preamble`` (no second
    open), frame 0's attributes from the scan, the native fast path, frames in batches."""
    from pathlib import Path

    from pacsadmin.core.imaging.render import Frame
    from pacsadmin.core.jobs import CancelToken, JobContext, JobPartial
    from pacsadmin.gui.viewer.loading import open_job

    pixels = RNG.integers(-1000, 2000, size=(8, 8)).astype(np.int16)
    paths = []
    for k in range(3):
        ds = make_ds(
            pixels,
            Modality="CT",
            RescaleIntercept=-1024,
            RescaleSlope=1,
            WindowCenter=40,
            WindowWidth=400,
            ImagePositionPatient=[0, 0, float(k)],
            ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
        )
        ds.SeriesInstanceUID = "1.2.3.4"
        paths.append(save(ds, tmp_path / f"s{k}.dcm"))
    data = bytearray(Path(paths[1]).read_bytes())
    data[:2] = b"MZ"
    Path(paths[1]).write_bytes(bytes(data))
    events = []
    result = open_job(JobContext(1, CancelToken(), events.append), [str(tmp_path)])
    batches = [e.item for e in events if isinstance(e, JobPartial)]
    assert all(isinstance(b, tuple) for b in batches)
    entries = {path: entry for b in batches for path, _k, entry in b}
    assert set(entries) == set(paths) and all(isinstance(f, Frame) for f in entries.values())
    for path, frame in entries.items():
        assert any("Windows executable" in n for n in frame.pipeline.notes) == (path == paths[1])
        assert frame.pipeline.decoder == NATIVE_DECODER
        assert frame.pipeline.voi.center == 40 and frame.pipeline.modality.intercept == -1024
        np.testing.assert_array_equal(frame.stored, pixels)
    assert [i.path for i in result.series[0].instances] == paths
