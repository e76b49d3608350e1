"""Modality Worklist queries against DCMTK wlmscpfs and Orthanc's Modality Worklists
plugin, each answering from .wl files written with pydicom: scheduled step keys
(modality, station AE, date range), patient keys, a Latin-1 name."""

from __future__ import annotations

import os

import pytest

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.find import find
from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.jobs import CancelToken, JobContext
from tests.peers import PeerUnavailable, start_wlmscpfs

pytestmark = pytest.mark.integration

# (patient name, id, accession, modality, station AE, start date, charset)
ITEMS = (
    ("DOE^JOHN", "W1", "WACC1", "CT", "CT01", "20240105", None),
    ("DOE^JANE", "W2", "WACC2", "MR", "MR01", "20240106", None),
    ("Müller^Jürgen", "W3", "WACC3", "CT", "CT02", "20240210", "ISO_IR 100"),
)


def _write_wl(folder, i, name, pid, acc, modality, station, date, cs):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    if cs:
        ds.SpecificCharacterSet = cs
    ds.PatientName = name
    ds.PatientID = pid
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.AccessionNumber = acc
    ds.RequestedProcedureID = f"RP{i}"
    ds.RequestedProcedureDescription = f"{modality} PROCEDURE"
    ds.StudyInstanceUID = generate_uid()
    sps = Dataset()
    sps.Modality = modality
    sps.ScheduledStationAETitle = station
    sps.ScheduledProcedureStepStartDate = date
    sps.ScheduledProcedureStepStartTime = "090000"
    sps.ScheduledProcedureStepDescription = f"{modality} STEP"
    sps.ScheduledProcedureStepID = f"SPS{i}"
    sps.ScheduledPerformingPhysicianName = ""
    ds.ScheduledProcedureStepSequence = [sps]
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.31"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(folder / f"item{i}.wl", enforce_file_format=True)


ORTHANC_WL_PLUGIN = "/usr/share/orthanc/plugins/libModalityWorklists.so"


def _start_orthanc_wl(workdir):
    """Orthanc with its Modality Worklists plugin (Debian package orthanc) answering from
    the .wl files in ``peer.storage[1]``."""
    import os.path

    from tests.peers import start_orthanc

    if not os.path.exists(ORTHANC_WL_PLUGIN):
        raise PeerUnavailable(f"{ORTHANC_WL_PLUGIN} is not installed (Debian package orthanc)")
    folder = workdir / "worklists"
    folder.mkdir(parents=True)
    peer = start_orthanc(
        workdir,
        extra_config={
            "Plugins": [ORTHANC_WL_PLUGIN],
            "Worklists": {"Enable": True, "Database": str(folder)},
        },
    )
    peer.storage.append(folder)
    return peer


@pytest.fixture(scope="module", params=["wlmscpfs", "orthanc"])
def wlm(request, tmp_path_factory):
    try:
        if request.param == "wlmscpfs":
            # -csk: answer with each file's own character set (the default, -cs0, declares
            # none, so a Latin-1 name would arrive undeclared and be marked unreadable)
            peer = start_wlmscpfs(tmp_path_factory.mktemp("wlm"), extra_args=["-csk"])
        else:
            peer = _start_orthanc_wl(tmp_path_factory.mktemp("orthanc-wl"))
    except PeerUnavailable as exc:
        if os.environ.get("PACSADMIN_REQUIRE_PEERS") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        for i, item in enumerate(ITEMS):
            _write_wl(peer.storage[-1], i, *item)
        yield peer
    finally:
        peer.stop()


def _wl(peer, *keys, charset=None):
    ctx = JobContext(1, CancelToken(), lambda e: None)
    r = find(
        LocalAE(),
        peer.node(),
        FindQuery("worklist", None, keys=keys, charset=charset),
        ctx=ctx,
        timeout=30,
    )
    assert r.outcome is Outcome.SUCCESS, (r.sentence, peer.log()[-2000:])
    assert not r.unreadable
    return r


@pytest.mark.parametrize(
    "keys,expected",
    [
        ((), {"W1", "W2", "W3"}),
        ((("Modality", "CT"),), {"W1", "W3"}),
        ((("ScheduledStationAETitle", "MR01"),), {"W2"}),
        ((("ScheduledProcedureStepStartDate", "20240101-20240131"),), {"W1", "W2"}),
        ((("PatientName", "DOE^*"),), {"W1", "W2"}),
        ((("AccessionNumber", "WACC3"),), {"W3"}),
        ((("Modality", "CT"), ("ScheduledProcedureStepStartDate", "20240201-")), {"W3"}),
    ],
)
def test_worklist_keys(wlm, keys, expected):
    r = _wl(wlm, *keys)
    assert {m.get("PatientID") for m in r.matches} == expected


def test_worklist_returns_the_scheduled_step_and_a_latin1_name(wlm):
    r = _wl(wlm, ("PatientID", "W3"), charset="ISO_IR 100")
    [m] = r.matches
    assert m.get("PatientName") == "Müller^Jürgen"
    [sps] = m.get("ScheduledProcedureStepSequence")
    assert sps["Modality"] == "CT" and sps["ScheduledStationAETitle"] == "CT02"
    assert sps["ScheduledProcedureStepStartDate"] == "20240210"
    assert m.get("RequestedProcedureID") == "RP2"
