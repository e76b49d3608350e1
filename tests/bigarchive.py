"""A big archive index built in seconds: rows inserted directly with executemany.

The browser reads only the index (files are read when a study is opened in the viewer),
so a 100,000-study archive needs no files.  Patients have 1-3 studies; every study has
one series of one instance; names, dates, modalities and accessions vary so that a search
or a sort has work to do.  Deterministic (a fixed seed).
"""

from __future__ import annotations

import random
from pathlib import Path

from pacsadmin.core.archive import Archive
from pacsadmin.core.archive import index as idx
from pacsadmin.core.archive.layout import Layout

FAMILY = ("SMITH", "JONES", "MÜLLER", "GARCIA", "NGUYEN", "KOWALSKI", "ROSSI", "TANAKA",
          "DUBOIS", "OKAFOR", "HANSEN", "SILVA", "COHEN", "IVANOV", "OBRIEN", "PATEL")  # fmt: skip
GIVEN = ("ANNA", "JOHN", "MARIA", "WEI", "JÖRG", "FATIMA", "LUCA", "EMMA", "NOAH", "SARA")
DESCRIPTIONS = ("CT HEAD", "CT CHEST", "MR KNEE", "MR BRAIN", "CR THORAX", "US ABDOMEN",
                "CT ABDOMEN PELVIS", "MR SPINE", "NM BONE", "XA CORONARY")  # fmt: skip


def build_index(root: Path, n_studies: int, *, seed: int = 8) -> Path:
    """An archive at ``root`` whose index holds ``n_studies`` one-image studies."""
    Archive(root, sweep=False).close()  # layout and schema
    rnd = random.Random(seed)
    patients, studies, series, instances = [], [], [], []
    ppk = 0
    for s in range(1, n_studies + 1):
        if ppk == 0 or rnd.random() < 0.6:
            ppk += 1
            name = f"{rnd.choice(FAMILY)}^{rnd.choice(GIVEN)}^{ppk}"
            birth = f"{rnd.randint(1930, 2020)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}"
            patients.append((ppk, f"PID{ppk:07d}", name, birth, rnd.choice("MFO")))
        desc = rnd.choice(DESCRIPTIONS)
        date = f"{rnd.randint(2000, 2026)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}"
        studies.append(
            (s, ppk, f"1.2.826.0.1.3680043.10.999.{s}", date, f"{rnd.randint(0, 235959):06d}",
             f"ACC{s:08d}", str(s), desc)
        )  # fmt: skip
        mod = desc.split()[0]
        series.append((s, s, f"1.2.826.0.1.3680043.10.999.{s}.1", mod, 1, desc + " SERIES", date))
        instances.append(
            (s, s, f"1.2.826.0.1.3680043.10.999.{s}.1.1", "1.2.840.10008.5.1.4.1.1.2", 1,
             f"data/{s % 256:02x}/{s:08d}.dcm", rnd.randint(20_000, 600_000))
        )  # fmt: skip
    con = idx.connect(Layout.create(root).index_path)
    try:
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO patients(pk, patient_id, patient_name, birth_date, sex)"
            " VALUES (?,?,?,?,?)",
            patients,
        )
        con.executemany(
            "INSERT INTO studies(pk, patient_pk, study_uid, study_date, study_time, accession,"
            " study_id, description) VALUES (?,?,?,?,?,?,?,?)",
            studies,
        )
        con.executemany(
            "INSERT INTO series(pk, study_pk, series_uid, modality, series_number, description,"
            " series_date) VALUES (?,?,?,?,?,?,?)",
            series,
        )
        con.executemany(
            "INSERT INTO instances(pk, series_pk, sop_uid, sop_class_uid, instance_number,"
            " path, size) VALUES (?,?,?,?,?,?,?)",
            instances,
        )
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return root
