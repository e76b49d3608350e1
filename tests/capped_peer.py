"""Orthanc with a limit on C-FIND answers (``LimitFindResults``), holding studies on
three days, none of them reaching the limit alone: the real shape of "the PACS caps its
answers" (Orthanc then ends the C-FIND with 0xFE00 though no C-CANCEL was sent)."""

from __future__ import annotations

from pathlib import Path

from tests.peers import Peer, orthanc_rest, start_orthanc

LIMIT = 100
DAYS = (("20240101", 60), ("20240102", 70), ("20240103", 80))  # 210 studies
RANGE = "20240101-20240103"


def start_capped_orthanc(workdir: Path) -> tuple[Peer, dict[str, str]]:
    """(the peer, study UID -> its date), loaded by the REST API."""
    from pydicom.uid import generate_uid

    from tests.unit.archive.dsgen import make_ds, write

    peer = start_orthanc(workdir / "orthanc", extra_config={"LimitFindResults": LIMIT})
    studies: dict[str, str] = {}
    try:
        n = 0
        for day, count in DAYS:
            for _ in range(count):
                uid = generate_uid()
                ds = make_ds(patient_name=f"CAP^{n}", patient_id=f"CAP{n:04d}", study_uid=uid,
                             series_uid=generate_uid(), study_date=day, seed=n)  # fmt: skip
                f = write(ds, workdir / f"cap{n}.dcm")
                orthanc_rest(peer, "POST", "/instances", f.read_bytes())
                f.unlink()
                studies[uid] = day
                n += 1
    except BaseException:
        peer.stop()
        raise
    return peer, studies
