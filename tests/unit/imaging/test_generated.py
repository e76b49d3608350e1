"""Generated cases: presentation, padding, VOI/modality LUT sequences, enhanced multi-frame."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.sequence import Sequence

from pacsadmin.core.imaging.luts import LookupTable, Window
from pacsadmin.core.imaging.render import open_frame, probe, render_frame

from .conftest import make_ds, save

RAMP = np.arange(0, 4096, 16, dtype=np.uint16).reshape(16, 16)


def _open(ds, tmp_path, index=0):
    return open_frame(save(ds, tmp_path / "img.dcm"), index)


def test_monochrome1_is_inverted(tmp_path):
    frame = _open(make_ds(RAMP, photometric="MONOCHROME1", bits_stored=12), tmp_path)
    image = render_frame(frame)
    assert image[0, 0] == 255 and image[-1, -1] == 0  # minimum shown white
    assert frame.pipeline.describe().presentation.startswith("MONOCHROME1: inverted")


def test_monochrome1_with_inverse_shape_is_inverted_once(tmp_path):
    ds = make_ds(RAMP, photometric="MONOCHROME1", bits_stored=12, PresentationLUTShape="INVERSE")
    frame = _open(ds, tmp_path)
    image = render_frame(frame)
    assert image[0, 0] == 255 and image[-1, -1] == 0
    assert "inverted once" in frame.pipeline.describe().presentation


def test_monochrome2_with_inverse_shape_is_inverted(tmp_path):
    ds = make_ds(RAMP, bits_stored=12, PresentationLUTShape="INVERSE")
    image = render_frame(_open(ds, tmp_path))
    assert image[0, 0] == 255 and image[-1, -1] == 0
    plain = render_frame(_open(make_ds(RAMP, bits_stored=12), tmp_path))
    assert np.array_equal(image, 255 - plain)


def test_user_invert_toggles_on_top(tmp_path):
    frame = _open(make_ds(RAMP, photometric="MONOCHROME1", bits_stored=12), tmp_path)
    pipe = frame.pipeline.with_user_invert(True)
    assert pipe.to_uint8(frame.stored)[0, 0] == 0


def test_signed_with_padding_value_and_range(tmp_path):
    arr = np.full((8, 8), -2000, dtype=np.int16)  # padding around the body
    arr[2:6, 2:6] = np.arange(16, dtype=np.int16).reshape(4, 4) * 100 - 500
    ds = make_ds(arr, RescaleSlope=1, RescaleIntercept=-1024, PixelPaddingValue=-2000)
    ds["PixelPaddingValue"].VR = "SS"
    frame = _open(ds, tmp_path)
    pipe = frame.pipeline
    assert pipe.padding == (-2000, -2000)
    assert pipe.stored_range == (-500, 1000)  # padding excluded
    assert pipe.modality_range == (-1524.0, -24.0)
    image = render_frame(frame)
    assert (image[arr == -2000] == 0).all()
    assert image[2, 2] == 0 and image[5, 5] == 255
    assert probe(frame, 5, 5) == {"row": 5, "col": 5, "stored": 1000, "modality": -24.0}
    # a padding range limit: -2000..-1900 is background too
    arr[0, 0] = -1950
    ds2 = make_ds(arr, PixelPaddingValue=-2000, PixelPaddingRangeLimit=-1900)
    ds2["PixelPaddingValue"].VR = ds2["PixelPaddingRangeLimit"].VR = "SS"
    frame2 = _open(ds2, tmp_path)
    assert frame2.pipeline.padding == (-2000, -1900)
    assert render_frame(frame2)[0, 0] == 0


def test_unsigned_padding_in_mammography_style_image(tmp_path):
    arr = RAMP.copy()
    arr[0, :4] = 0
    ds = make_ds(arr, bits_stored=12, PixelPaddingValue=0, PhotometricInterpretation="MONOCHROME1")
    frame = _open(ds, tmp_path)
    image = render_frame(frame)
    assert (image[0, :4] == 0).all()  # background black even though MONOCHROME1
    assert image[0, 4] == 255


def test_sigmoid_voi(tmp_path):
    ds = make_ds(
        RAMP, bits_stored=12, WindowCenter=2000, WindowWidth=1000, VOILUTFunction="SIGMOID"
    )
    frame = _open(ds, tmp_path)
    assert frame.pipeline.voi == Window(2000, 1000, "SIGMOID", "", "file")
    image = render_frame(frame)
    x = RAMP.astype(float)
    expected = np.rint(255 / (1 + np.exp(-4 * (x - 2000) / 1000))).astype(np.uint8)
    assert np.array_equal(image, expected)
    theirs = apply_voi_lut(RAMP.astype(float), ds)  # range 0..4095
    assert np.allclose(theirs / 4095 * 255, 255 / (1 + np.exp(-4 * (x - 2000) / 1000)))


def test_linear_exact_voi(tmp_path):
    ds = make_ds(
        RAMP, bits_stored=12, WindowCenter=2048, WindowWidth=4096, VOILUTFunction="LINEAR_EXACT"
    )
    image = render_frame(_open(ds, tmp_path))
    assert np.array_equal(image, np.rint(RAMP / 4096 * 255).astype(np.uint8))


def _voi_lut_item(first=0, entries=256, bits=12, explanation="NORMAL"):
    item = Dataset()
    item.LUTDescriptor = [entries, first, bits]
    item.LUTExplanation = explanation
    item.LUTData = [int(v) for v in np.linspace(0, (1 << bits) - 1, entries)]
    item["LUTData"].VR = item["LUTDescriptor"].VR = "US"
    return item


def test_voi_lut_sequence_matches_pydicom(tmp_path):
    ds = make_ds(RAMP, bits_stored=12)
    ds.VOILUTSequence = Sequence([_voi_lut_item(first=1024, entries=2048)])
    frame = _open(ds, tmp_path)
    voi = frame.pipeline.voi
    assert isinstance(voi, LookupTable) and voi.explanation == "NORMAL"
    theirs = apply_voi_lut(RAMP, ds)
    assert np.array_equal(voi.apply(RAMP), theirs)
    assert np.array_equal(render_frame(frame), np.rint(theirs / 4095 * 255).astype(np.uint8))
    assert "VOI LUT 'NORMAL': 2048 entries from 1024" in frame.pipeline.describe().voi


def test_window_is_default_but_voi_lut_is_offered(tmp_path):
    ds = make_ds(
        RAMP,
        bits_stored=12,
        WindowCenter=[1000, 3000],
        WindowWidth=[500, 800],
        WindowCenterWidthExplanation=["SOFT", "HARD"],
    )
    ds.VOILUTSequence = Sequence([_voi_lut_item()])
    pipe = _open(ds, tmp_path).pipeline
    assert pipe.voi == Window(1000, 500, "LINEAR", "SOFT", "file")
    kinds = [type(v).__name__ for v in pipe.voi_choices]
    assert kinds == ["Window", "Window", "LookupTable"]
    assert pipe.voi_choices[1].explanation == "HARD"


def test_invalid_file_window_is_skipped_with_a_note(tmp_path):
    ds = make_ds(RAMP, bits_stored=12, WindowCenter=[100, 200], WindowWidth=[0, 50])
    pipe = _open(ds, tmp_path).pipeline
    assert pipe.voi == Window(200, 50, "LINEAR", "", "file")
    assert any("window 1 of the file ignored" in n for n in pipe.notes)


def test_modality_lut_sequence_matches_pydicom(tmp_path):
    ds = make_ds(RAMP, bits_stored=12)
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.ModalityLUTType = "OD"
    item.LUTData = [int(v) for v in (np.arange(4096) * 3 // 2)]
    item["LUTData"].VR = item["LUTDescriptor"].VR = "US"
    ds.ModalityLUTSequence = Sequence([item])
    frame = _open(ds, tmp_path)
    assert isinstance(frame.pipeline.modality, LookupTable)
    assert np.array_equal(frame.pipeline.modality_values(RAMP), apply_modality_lut(RAMP, ds))
    assert frame.pipeline.describe().modality.startswith("Modality LUT")


def test_bits_stored_high_bits_are_masked_and_sign_extended(tmp_path):
    raw = np.array([[0xF001, 0x0FFF], [0x1000, 0x0005]], dtype=np.uint16)
    frame = _open(make_ds(raw, bits_stored=12), tmp_path)
    assert frame.stored.tolist() == [[1, 4095], [0, 5]]
    signed = make_ds(raw.view(np.int16), bits_stored=12)
    frame = _open(signed, tmp_path)
    assert frame.stored.tolist() == [[1, -1], [0, 5]]


def _enhanced(tmp_path):
    frames = np.stack([RAMP.astype(np.int16) + i for i in range(3)])
    ds = make_ds(frames, frames=3)
    shared = Dataset()
    pvt = Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = 1, -1024, "HU"
    shared.PixelValueTransformationSequence = Sequence([pvt])
    meas = Dataset()
    meas.PixelSpacing, meas.SliceThickness = [0.5, 0.5], 1.0
    shared.PixelMeasuresSequence = Sequence([meas])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    for i in range(3):
        item = Dataset()
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = 40 + 100 * i, 400 + i
        voi.WindowCenterWidthExplanation = f"FRAME{i + 1}"
        item.FrameVOILUTSequence = Sequence([voi])
        pos = Dataset()
        pos.ImagePositionPatient = [0, 0, 2.0 * i]
        item.PlanePositionSequence = Sequence([pos])
        if i == 2:  # frame 3 overrides the shared rescale
            own = Dataset()
            own.RescaleSlope, own.RescaleIntercept, own.RescaleType = 2, -2048, "HU"
            item.PixelValueTransformationSequence = Sequence([own])
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    return frames, save(ds, tmp_path / "enhanced.dcm")


def test_enhanced_multiframe_per_frame_window_and_rescale(tmp_path):
    frames, path = _enhanced(tmp_path)
    f2 = open_frame(path, 1)
    assert np.array_equal(f2.stored, frames[1])
    assert f2.pipeline.voi == Window(140, 401, "LINEAR", "FRAME2", "file")
    assert f2.pipeline.modality.slope == 1 and f2.pipeline.modality.intercept == -1024
    f3 = open_frame(path, 2)
    assert f3.pipeline.voi.explanation == "FRAME3"
    assert (f3.pipeline.modality.slope, f3.pipeline.modality.intercept) == (2, -2048)
    desc = f3.pipeline.describe()
    assert desc.frame == 3 and desc.frames == 3
    assert "x 2 - 2048 (HU)" in desc.modality


def test_enhanced_frame_attributes(tmp_path):
    import pydicom

    from pacsadmin.core.imaging.frames import frame_attrs

    _, path = _enhanced(tmp_path)
    ds = pydicom.dcmread(path)
    attrs = frame_attrs(ds, 2)
    assert attrs.enhanced and attrs.position == (0, 0, 4.0) and attrs.pixel_spacing == (0.5, 0.5)
    assert attrs.slice_thickness == 1.0


def test_bad_palette_descriptor_is_reported(tmp_path):
    from pacsadmin.core.imaging.errors import ImageError

    ds = make_ds(np.arange(64, dtype=np.uint8).reshape(8, 8), photometric="PALETTE COLOR")
    for ch in ("Red", "Green", "Blue"):
        setattr(ds, f"{ch}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{ch}PaletteColorLookupTableData", np.arange(128, dtype="<u2").tobytes())
    with pytest.raises(
        ImageError, match="says 256 entries of 16 bits, the LUT Data holds 256 bytes"
    ):
        _open(ds, tmp_path)
    for ch in ("Red", "Green", "Blue"):
        setattr(ds, f"{ch}PaletteColorLookupTableData", np.arange(256, dtype="<u2").tobytes())
    image = render_frame(_open(ds, tmp_path))
    assert image.shape == (8, 8, 3) and image[0, 0].tolist() == [0, 0, 0]
