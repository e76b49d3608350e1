"""Relabel a 1,000-file CT study (patient name and ID) with every safety step, vs pydicom."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from common import Result, workdir, write_ct_images

NAME = "relabel"
N = 1000


def _pydicom_loop(folder: Path, name: str) -> float:
    """The bare reference: dcmread, set the two attributes, save_as over the same file."""
    import pydicom

    t0 = time.perf_counter()
    for p in sorted(folder.iterdir()):
        ds = pydicom.dcmread(p)
        ds.PatientName, ds.PatientID = name, name.replace("^", "-")
        ds.save_as(p)
    return time.perf_counter() - t0


def _app(folder: Path, home: Path, name: str) -> tuple[float, float]:
    """The correction workflow as the GUI and the CLI run it: plan (every file's header
    read, validated, previewed), then the batch (each file read whole, stat-checked and
    SHA-256 hashed, rewritten by the byte-preserving writer with the Original Attributes
    Sequence, re-parsed and compared, backup, journal, temp file, syncfs, read back,
    os.replace, folder fsync) and the audit record."""
    from pacsadmin.core.audit import AuditLog
    from pacsadmin.core.editing.batch import BatchStore
    from pacsadmin.core.editing.correction import (
        Correction,
        PatientFields,
        apply_correction,
        plan_correction,
    )

    files = sorted(folder.iterdir())
    t0 = time.perf_counter()
    c = Correction(patient=PatientFields(name=name, id=name.replace("^", "-")))
    cp = plan_correction(c, files=files)
    t_plan = time.perf_counter() - t0
    res = apply_correction(cp, BatchStore(home), audit=AuditLog(home / "audit.sqlite3"))
    total = time.perf_counter() - t0
    assert res.ok and len(res.changed) == N, res.stopped
    return total, t_plan


def run() -> list[Result]:
    work = workdir("relabel-")
    try:
        src = work / "study"
        write_ct_images(src, N, "BENCH^PATIENT")
        os.sync()
        refs, apps, plans = [], [], []
        for k in range(2):  # interleaved: reference, app, reference, app
            refs.append(_pydicom_loop(src, f"REF^{k}"))
            total, t_plan = _app(src, work / "home", f"APP^{k}")
            apps.append(total)
            plans.append(t_plan)
        ref, app = min(refs), min(apps)
        load = os.getloadavg()
        rate, ref_rate = N / app, N / ref
        return [
            Result(
                "relabel.1000ct",
                rate,
                "files/s",
                ref_rate,
                "pydicom dcmread+save_as",
                ">= 0.5x",
                rate >= 0.5 * ref_rate,
                notes=f"app {app:.2f} s of which plan {min(plans):.2f} s; pydicom "
                f"{ref:.2f} s; runs {[round(x, 2) for x in apps]} vs "
                f"{[round(x, 2) for x in refs]}; load average {load[0]:.2f} {load[1]:.2f}",
            )
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
