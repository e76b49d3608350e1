"""Files for the send tests: uncompressed CT, JPEG 2000 and RLE (pydicom's test files,
each given fresh UIDs so every send stores new instances), and generated series."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from tests.unit.archive.dsgen import make_ds, write

SAMPLES = {  # pydicom test file -> its transfer syntax
    "CT_small.dcm": "1.2.840.10008.1.2.1",
    "MR_small_jp2klossless.dcm": "1.2.840.10008.1.2.4.90",
    "MR_small_RLE.dcm": "1.2.840.10008.1.2.5",
}


def fresh_copy(name: str, dest: Path) -> Path:
    """A pydicom test file with new study, series and instance UIDs (the pixel data as it
    is: compressed files stay compressed)."""
    src = get_testdata_file(name)
    assert src, f"pydicom's test file {name} is missing"
    ds = dcmread(src)
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    dest.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dest, enforce_file_format=True)
    return dest


@pytest.fixture
def samples(tmp_path) -> dict[str, Path]:
    """One uncompressed CT, one JPEG 2000 and one RLE MR in ``tmp_path/in``."""
    return {name: fresh_copy(name, tmp_path / "in" / name) for name in SAMPLES}


def make_series(folder: Path, n: int, *, rows: int = 64, columns: int = 64) -> list[Path]:
    study, series = generate_uid(), generate_uid()
    return [
        write(
            make_ds(
                study_uid=study,
                series_uid=series,
                instance_number=i + 1,
                rows=rows,
                columns=columns,
                seed=i,
            ),
            folder / f"img{i:04d}.dcm",
        )
        for i in range(n)
    ]


def received(peer) -> dict[str, Path]:
    """SOP Instance UID -> file, of what storescp wrote."""
    out = {}
    for p in peer.storage[0].rglob("*"):
        if p.is_file():
            ds = dcmread(p, stop_before_pixels=True)
            out[str(ds.SOPInstanceUID)] = p
    return out
