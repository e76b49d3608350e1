"""The send tool against real peers: DCMTK storescp and Orthanc, every transfer syntax
the files have; a peer taking uncompressed data only, with and without
decompress-if-needed; more than 128 presentation contexts; bad files in a folder."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.send import resend_failed, send
from pacsadmin.core.dimse.send_result import FileState
from tests.peers import orthanc_rest, start_storescp
from tests.unit.archive.dsgen import make_ds, write

from .conftest import SAMPLES, make_series, received

pytestmark = pytest.mark.integration
EXPLICIT = "1.2.840.10008.1.2.1"


def _by_name(result):
    return {f.path.rsplit("/", 1)[-1]: f for f in result.files}


def test_all_syntaxes_to_storescp_as_they_are(start_peer, tmp_path, samples):
    peer = start_peer(start_storescp, tmp_path / "scp", extra_args=["+xa"])
    result = send(LocalAE(), peer.node(), [tmp_path / "in"])
    assert result.ok, [(f.path, f.meaning) for f in result.files]
    rows = _by_name(result)
    for name, ts in SAMPLES.items():
        assert rows[name].transfer_syntax == ts
        assert rows[name].accepted_syntax == ts  # sent as it is, not re-encoded
        assert rows[name].status == 0 and not rows[name].decompressed
    assert rows["CT_small.dcm"].sop_class_name == "CT Image Storage"
    got = received(peer)
    for f in result.files:
        assert str(dcmread(got[f.sop_instance]).file_meta.TransferSyntaxUID) == f.transfer_syntax


def test_all_syntaxes_to_orthanc(orthanc, tmp_path, samples):
    result = send(LocalAE(), orthanc.node(), list(samples.values()))
    assert result.ok, [(f.path, f.meaning) for f in result.files]
    assert {f.accepted_syntax for f in result.files} == set(SAMPLES.values())
    for f in result.files:
        found = orthanc_rest(orthanc, "POST", "/tools/lookup", f.sop_instance.encode("ascii"))
        assert [x["Type"] for x in found] == ["Instance"], f.path


def test_uncompressed_only_peer_fails_loudly_without_decompress(start_peer, tmp_path, samples):
    peer = start_peer(start_storescp, tmp_path / "scp", extra_args=["+xe"])
    result = send(LocalAE(), peer.node(), [tmp_path / "in"])
    rows = _by_name(result)
    assert rows["CT_small.dcm"].state is FileState.STORED
    for name in ("MR_small_jp2klossless.dcm", "MR_small_RLE.dcm"):
        r = rows[name]
        assert r.state is FileState.FAILED and r.status is None and r.accepted_syntax == ""
        assert "refused" in r.meaning and "--decompress-if-needed" in r.meaning
    assert not result.ok and len(result.failed) == 2
    assert set(received(peer)) == {rows["CT_small.dcm"].sop_instance}
    # resend the failed ones only, now decompressing: the CT is not sent again
    again = resend_failed(result, decompress_if_needed=True)
    assert again.ok and len(again.files) == 2
    assert {f.path for f in again.files} == {f.path for f in result.failed}


def test_uncompressed_only_peer_gets_decompressed_pixels(start_peer, tmp_path, samples):
    peer = start_peer(start_storescp, tmp_path / "scp", extra_args=["+xe"])
    result = send(LocalAE(), peer.node(), [tmp_path / "in"], decompress_if_needed=True)
    assert result.ok, [(f.path, f.meaning) for f in result.files]
    got = received(peer)
    for f in result.files:
        if f.transfer_syntax == EXPLICIT:
            assert not f.decompressed
            continue
        assert f.decompressed and f.accepted_syntax == EXPLICIT
        ds = dcmread(got[f.sop_instance])
        assert ds.file_meta.TransferSyntaxUID == EXPLICIT
        assert np.array_equal(ds.pixel_array, dcmread(f.path).pixel_array), f.path


def test_more_than_128_pairs_take_several_associations(start_peer, tmp_path):
    peer = start_peer(start_storescp, tmp_path / "scp", extra_args=["-pm"])
    folder = tmp_path / "many"
    study = generate_uid()
    for i in range(140):
        ds = make_ds(study_uid=study, rows=4, columns=4, seed=i)
        ds.SOPClassUID = f"1.2.826.0.1.3680043.8.498.777.{i + 1}"  # a private class each
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        write(ds, folder / f"f{i:03d}.dcm")
    result = send(LocalAE(), peer.node(), [folder])
    assert result.ok, [(f.path, f.meaning) for f in result.failed][:3]
    assert result.associations == 2
    assert len({f.sop_class for f in result.files}) == 140
    assert set(received(peer)) == {f.sop_instance for f in result.files}


def test_bad_files_are_skipped_and_the_rest_go(storescp, tmp_path):
    folder = tmp_path / "mixed"
    good = make_series(folder / "sub", 3)
    (folder / "notes.txt").write_text("not dicom")
    (folder / "empty.dcm").write_bytes(b"")
    whole = good[0].read_bytes()
    (folder / "cut_in_pixels.dcm").write_bytes(whole[: len(whole) - 100])
    (folder / "cut_in_header.dcm").write_bytes(whole[:200])
    result = send(LocalAE(), storescp.node(), [folder, tmp_path / "missing.dcm"])
    rows = _by_name(result)
    skipped = {n for n, f in rows.items() if f.state is FileState.SKIPPED}
    assert skipped == {
        "notes.txt",
        "empty.dcm",
        "cut_in_pixels.dcm",
        "cut_in_header.dcm",
        "missing.dcm",
    }
    assert "truncated" in rows["cut_in_pixels.dcm"].meaning
    assert "Not a DICOM file" in rows["notes.txt"].meaning
    assert "No such file" in rows["missing.dcm"].meaning
    assert all(rows[p.name].state is FileState.STORED for p in good)
    assert len(received(storescp)) == 3
    assert not result.ok and len(result.failed) == 5
