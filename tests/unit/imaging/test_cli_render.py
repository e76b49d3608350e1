"""``pacsadmin render``: exit codes, PNG size/mode, a few pixel values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from pacsadmin.cli.main import main
from pacsadmin.core.imaging.png import read_png

from .conftest import make_ds, sample, save


def _png(path):
    return read_png(open(path, "rb").read())


def test_ct_with_preset(tmp_path, capsys):
    out = tmp_path / "ct.png"
    assert main(["render", sample("CT_small.dcm"), "-o", str(out), "--preset", "abdomen"]) == 0
    w, h, ct, px = _png(out)
    assert (w, h, ct) == (128, 128, 0)
    ds = pydicom.dcmread(sample("CT_small.dcm"))
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    # abdomen: center 50, width 400 LINEAR: HU <= -150 black, HU > 249 white
    assert (px[hu <= -150.5] == 0).all() and (px[hu > 249.5] == 255).all()
    assert "Abdomen" in capsys.readouterr().out


def test_explicit_window_and_pixel_values(tmp_path):
    arr = np.array([[0, 100, 200, 300]], dtype=np.uint16)
    path = save(make_ds(arr, WindowCenter=999, WindowWidth=10), tmp_path / "a.dcm")
    out = tmp_path / "a.png"
    assert main(["render", path, "-o", str(out), "--window", "150,201"]) == 0
    _, _, _, px = _png(out)
    # LINEAR c=150 w=201: y = ((x - 149.5) / 200 + 0.5) * 255
    assert px.tolist() == [[0, 64, 192, 255]]  # 64.4 and 191.9 rounded
    assert main(["render", path, "-o", str(out)]) == 0  # file window 999/10: all black
    assert _png(out)[3].tolist() == [[0, 0, 0, 0]]
    assert main(["render", path, "-o", str(out), "--auto"]) == 0  # min/max
    assert _png(out)[3].tolist() == [[0, 85, 170, 255]]
    assert main(["render", "--auto-percentile", path, "-o", str(out)]) == 0
    assert _png(out)[3].tolist() == [[0, 85, 170, 255]]  # 4 pixels: 1st-99th = min-max


def test_color_multiframe_with_frame_number(tmp_path):
    out = tmp_path / "c.png"
    assert main(["render", sample("examples_ybr_color.dcm"), "-o", str(out), "--frame", "30"]) == 0
    w, h, ct, px = _png(out)
    assert (w, h, ct) == (320, 240, 2)
    assert np.array_equal(px, pydicom.dcmread(sample("examples_ybr_color.dcm")).pixel_array[29])


def test_json_output(tmp_path, capsys):
    out = tmp_path / "m.png"
    assert main(["render", sample("MR_small_RLE.dcm"), "-o", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["width"] == 64 and info["transfer_syntax"].startswith("RLE Lossless")
    assert "worker process" in info["decoder"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--frame", "2"], 1, "frame 2 does not exist"),
        (["--preset", "kidney"], 2, "unknown preset"),
        (["--frame", "0"], 2, "frames are numbered from 1"),
        (["--window", "40"], 2, "is not CENTER,WIDTH"),
        (["--window", "40,0.5"], 2, "at least 1"),
        (["--window", "40,400", "--auto"], 2, "not allowed with"),
    ],
)
def test_exit_codes(tmp_path, capsys, args, code, message):
    out = tmp_path / "x.png"
    try:
        rc = main(["render", sample("CT_small.dcm"), "-o", str(out), *args])
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    assert rc == code
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unrenderable_files_exit_1(tmp_path, capsys):
    out = tmp_path / "x.png"
    assert main(["render", sample("test-SR.dcm"), "-o", str(out)]) == 1
    assert "no pixel data" in capsys.readouterr().err
    assert main(["render", sample("MR_truncated.dcm"), "-o", str(out)]) == 1
    assert "inconsistent image geometry" in capsys.readouterr().err
    assert not out.exists()


def test_subprocess_help_documents_frames_and_imports_no_qt(tmp_path):
    code = (
        "import sys; from pacsadmin.cli.main import main; rc = main(sys.argv[1:]); "
        "assert 'PySide6' not in sys.modules and 'pyqtgraph' not in sys.modules; "
        "raise SystemExit(rc)"
    )
    out = tmp_path / "s.png"
    r = subprocess.run(
        [sys.executable, "-c", code, "render", sample("MR_small.dcm"), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert _png(out)[:3] == (64, 64, 0)
    r = subprocess.run(
        [sys.executable, "-m", "pacsadmin", "render", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "numbered from 1" in r.stdout


def test_negative_center_with_equals_form(tmp_path):
    out = tmp_path / "lung.png"
    assert main(["render", sample("CT_small.dcm"), "-o", str(out), "--window=-600,1500"]) == 0
    ds = pydicom.dcmread(sample("CT_small.dcm"))
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    px = _png(out)[3]
    assert (px[hu <= -1350.5] == 0).all() and (px[hu > 149.5] == 255).all()


def test_missing_output_folder_is_not_created(tmp_path, capsys):
    missing = tmp_path / "missing" / "dir"
    rc = main(["render", sample("CT_small.dcm"), "-o", str(missing / "x.png")])
    assert rc == 1
    assert capsys.readouterr().err.strip() == (
        f"pacsadmin render: the folder {missing} does not exist"
    )
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    "spelling", [["--window", "-600,1500"], ["--window=-600,1500"]], ids=["space", "equals"]
)
def test_negative_window_in_both_spellings(tmp_path, capsys, spelling):
    out = tmp_path / "lung.png"
    assert main(["render", sample("CT_small.dcm"), "-o", str(out), *spelling]) == 0
    assert "center -600, width 1500" in capsys.readouterr().out
    assert main(["render", *spelling, sample("CT_small.dcm"), "-o", str(out)]) == 0


@pytest.mark.parametrize("after", [[], ["--auto"], ["-o", "y.png"]], ids=["end", "option", "-o"])
def test_window_without_a_value_is_still_a_usage_error(tmp_path, capsys, after):
    out = tmp_path / "x.png"
    with pytest.raises(SystemExit) as e:
        main(["render", sample("CT_small.dcm"), "-o", str(out), "--window", *after])
    assert e.value.code == 2
    assert "--window: expected one argument" in capsys.readouterr().err
    assert not out.exists()


def test_a_damaged_file_is_one_line_on_stderr(tmp_path):
    """The issue's file: a file meta group pydicom cannot convert (BytesLengthException)."""
    data = bytearray(Path(sample("CT_small.dcm")).read_bytes())
    assert data[132:138] == b"\x02\x00\x00\x00UL"
    data[138:140] = (90).to_bytes(2, "little")  # (0002,0000) UL of 90 bytes
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(bytes(data))
    out = tmp_path / "bad.png"
    r = subprocess.run(
        [sys.executable, "-m", "pacsadmin", "render", str(bad), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "(0002,0000) (VR UL) is not a whole number of 4-byte values" in r.stderr
    assert not out.exists()
