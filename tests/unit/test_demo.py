"""The demo PACS's contents (issue 12 section 1) and its node directory entries."""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless

from pacsadmin.core.archive import Archive
from pacsadmin.core.demo import registry
from pacsadmin.core.demo.generate import ensure_contents
from pacsadmin.core.nodes import DicomNode, NodeDirectory
from pacsadmin.core.paths import AppPaths


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo")
    archive = Archive(home / "archive")
    t0 = time.monotonic()
    got = ensure_contents(home, archive)
    seconds = time.monotonic() - t0
    files = [pydicom.dcmread(p) for p in sorted((home / "archive" / "data").rglob("*.dcm"))]
    yield home, archive, got, seconds, files
    archive.close()


def _studies(files):
    out = defaultdict(list)
    for ds in files:
        out[ds.StudyDescription].append(ds)
    return out


def test_generated_in_a_few_seconds_once(generated):
    home, archive, got, seconds, files = generated
    assert got.fresh and got.studies >= 6 and got.instances == len(files) == 169
    assert seconds < 30  # about 2-3 s on an idle 2-core machine
    again = ensure_contents(home, archive)
    assert not again.fresh and again.instances == got.instances


def test_ct_phantom_has_realistic_hounsfield_units(generated):
    ct = sorted(_studies(generated[4])["CT abdomen phantom"], key=lambda d: d.InstanceNumber)
    assert len(ct) >= 100
    ds = ct[len(ct) // 4]  # the abdomen: fat, water, liver, bone
    assert (ds.RescaleSlope, ds.RescaleIntercept) == (1, -1024)
    assert list(ds.WindowCenterWidthExplanation) == ["SOFT TISSUE", "LUNG", "BONE"]
    hu = ds.pixel_array.astype(float) * ds.RescaleSlope + ds.RescaleIntercept
    mid = ds.Rows // 2

    def at(dy_mm, dx_mm, r=2):  # the mean of a (2r+1)² patch, millimetres from the centre
        y, x = mid + round(dy_mm / 0.9), mid + round(dx_mm / 0.9)
        return float(hu[y - r : y + r + 1, x - r : x + r + 1].mean())

    assert at(-120, -120) == pytest.approx(-1000, abs=30)  # air
    assert at(0, 60) == pytest.approx(0, abs=15)  # water
    assert at(0, 101) == pytest.approx(-100, abs=15)  # subcutaneous fat
    assert at(50, 0) == pytest.approx(300, abs=15)  # cancellous bone
    assert at(50, 11.5, r=1) == pytest.approx(1000, abs=20)  # cortical bone
    lung = sorted(ct, key=lambda d: d.InstanceNumber)[-10]
    hl = lung.pixel_array.astype(float) - 1024
    assert float(hl[mid - 5 : mid, mid - 55 : mid - 50].mean()) == pytest.approx(-850, abs=15)


def test_every_kind_of_image(generated):
    st = _studies(generated[4])
    cr = st["Chest PA"][0]
    assert cr.Modality == "CR" and cr.pixel_array.shape == (1024, 880)
    dx = st["Hand left"][0]
    assert dx.file_meta.TransferSyntaxUID == JPEG2000Lossless
    assert dx.pixel_array.max() > 2000  # decodes: the phalanges
    xa = st["Coronary angiography"][0]
    assert xa.NumberOfFrames == 30 and xa.pixel_array.shape == (30, 512, 512)
    us = st["Carotid ultrasound"][0]
    assert us.PhotometricInterpretation == "RGB" and us.pixel_array.shape == (480, 640, 3)
    mr = st["MR head"]
    assert len(mr) == 24 and {d.Modality for d in mr} == {"MR"}


def test_character_sets(generated):
    files = generated[4]
    by_name = {str(d.PatientName): d for d in files}
    assert by_name["Müller^Jürgen"].SpecificCharacterSet == "ISO_IR 100"
    assert by_name["Παπαδόπουλος^Γιώργος"].SpecificCharacterSet == "ISO_IR 192"
    assert by_name["Yamada^Taro=山田^太郎=やまだ^たろう"].SpecificCharacterSet == "ISO_IR 192"


def test_the_mislabelled_study_and_the_qc_series(generated):
    st = _studies(generated[4])
    wrong = st["Chest PA follow-up"][0]
    right = st["Chest PA"][0]
    assert (str(wrong.PatientName), wrong.PatientID) == ("Deo^Jnae", "DEMO-0020")
    assert (str(right.PatientName), right.PatientID) == ("Doe^Jane", "DEMO-0002")
    assert wrong.PatientBirthDate == right.PatientBirthDate
    qc = st["MR head (QC practice)"]
    numbers = sorted(d.InstanceNumber for d in qc)
    assert 12 not in numbers and numbers.count(7) == 2 and max(numbers) == 20
    sevens = [d for d in qc if d.InstanceNumber == 7]
    assert sevens[0].SOPInstanceUID != sevens[1].SOPInstanceUID
    assert sevens[0].ImagePositionPatient == sevens[1].ImagePositionPatient
    assert np.array_equal(sevens[0].pixel_array, sevens[1].pixel_array)


# ------------------------------------------------------------------ the node directories
def test_register_update_unregister(tmp_path):
    nodes = NodeDirectory(tmp_path / "nodes.json")
    a = registry.register(nodes, 11113)
    assert (a.name, a.ae_title, a.host, a.port) == ("Demo PACS", "DEMOPACS", "127.0.0.1", 11113)
    b = registry.register(nodes, 4242)  # the next start on another port: the same entry
    assert b.name == "Demo PACS" and b.port == 4242 and len(nodes) == 1
    assert registry.unregister(nodes) is not None and len(nodes) == 0


def test_a_users_node_of_that_name_is_left_alone(tmp_path):
    nodes = NodeDirectory(tmp_path / "nodes.json")
    mine = nodes.add(DicomNode(name="Demo PACS", ae_title="OTHER", host="10.0.0.1", port=104))
    ours = registry.register(nodes, 11113)
    assert ours.name != "Demo PACS"
    registry.unregister(nodes)
    assert nodes.list() == [mine]


def test_a_stale_entry_is_removed_only_when_no_demo_runs(tmp_path):
    user = AppPaths(tmp_path / "home")
    nodes = NodeDirectory(user.nodes_file)
    registry.register(nodes, 11113)  # left by a demo that was killed
    demo_home = registry.demo_paths(user).home
    running = registry.hold_running_lock(demo_home)  # a demo runs: its entry is current
    assert running is not None and registry.is_running(demo_home)
    assert registry.remove_stale(user, nodes) is False and len(nodes) == 1
    running.close()  # it ended (a crash ends it the same way: the kernel drops the lock)
    assert not registry.is_running(demo_home)
    assert registry.remove_stale(user, nodes) is True and len(nodes) == 0


def test_the_local_node_is_the_demos_move_destination(tmp_path):
    nodes = NodeDirectory(tmp_path / "nodes.json")
    registry.add_move_destination(nodes, "PACSADMIN", 11112)
    registry.add_move_destination(nodes, "MYWS", 2000)  # settings changed since
    assert [(n.ae_title, n.port) for n in nodes.find_by_ae_title("MYWS")] == [("MYWS", 2000)]
    assert len(nodes) == 1


def test_the_demo_port_avoids_the_local_scps():
    from pacsadmin.core.demo import demo_port

    assert demo_port(11112) == 11113 and demo_port(11113) == 11114
