"""Orthanc moves a study into the app's SCP (whitelist on, Orthanc in the directory)."""

from __future__ import annotations

import time

import pytest

from pacsadmin.core.dimse.scp import LocalScp, ScpConfig
from pacsadmin.core.nodes import DicomNode
from tests.peers import free_port, orthanc_rest, start_orthanc
from tests.unit.archive.dsgen import make_ds, write

from .conftest import AET, run

pytestmark = pytest.mark.integration


def test_orthanc_moves_a_study_into_the_scp(archive, nodes, start_peer, tmp_path):
    scp = LocalScp(
        archive, ScpConfig(ae_title=AET, port=0, bind="127.0.0.1", whitelist=True), nodes=nodes
    ).start()
    try:
        move_port = free_port()
        orthanc = start_peer(
            start_orthanc,
            tmp_path / "orthanc",
            modalities={
                "pacs": (AET, "127.0.0.1", scp.port),
                "movescu": ("MOVESCU", "127.0.0.1", move_port),
            },
        )
        nodes.add(DicomNode("orthanc", orthanc.aet, "127.0.0.1", orthanc.port))
        study = make_ds().StudyInstanceUID
        sent = set()
        for i in range(4):
            ds = make_ds(study_uid=study, instance_number=i, patient_name="ORTHANC^MOVE", seed=i)
            f = write(ds, tmp_path / "src" / f"{i}.dcm")
            orthanc_rest(orthanc, "POST", "/instances", f.read_bytes())
            sent.add(ds.SOPInstanceUID)
        p = run(
            [
                "movescu",
                "-S",
                "-aet",
                "MOVESCU",
                "-aec",
                orthanc.aet,
                "-aem",
                AET,
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                f"StudyInstanceUID={study}",
                "127.0.0.1",
                str(orthanc.port),
            ]
        )
        assert p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and archive.counts()["instances"] < 4:
            time.sleep(0.1)
        got = {r[0] for r in archive.reader().execute("SELECT sop_uid FROM instances").fetchall()}
        assert got == sent
        assert archive.verify().ok
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not scp.finished:
            time.sleep(0.05)
        assert any(r.calling_ae == orthanc.aet and r.stored == 4 for r in scp.finished)
    finally:
        scp.stop()
