"""C-FIND matching over the index, without the network."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from pacsadmin.core.archive import Archive
from pacsadmin.core.archive import index as idx
from pacsadmin.core.archive.query import (
    QueryError,
    build_find,
    build_retrieve,
    parse_identifier,
    pn_match,
    run_find,
)

from .dsgen import make_ds, write


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    d = tmp_path_factory.mktemp("q")
    a = Archive(d / "ar")
    specs = [
        # name, id, date, time, modality, charset, accession
        ("DOE^JOHN", "P1", "20240115", "101500", "CT", None, "A1"),
        ("DOE^JANE", "P2", "20240220", "143000", "MR", None, "A2"),
        ("MÜLLER^JÖRG", "P3", "20231231", "235959", "CT", "ISO_IR 100", "A3"),
        ("Wang^XiaoDong=王^小東", "P4", "20240301", "080000", "MR", "ISO_IR 192", "A4"),
        ("SMITH[1]^BOB", "P5", "20240110", "120030", "CT", None, "A5"),
    ]
    studies = {}
    for n, (name, pid, date, time, mod, cs, acc) in enumerate(specs):
        study = make_ds().StudyInstanceUID
        studies[pid] = study
        for s in range(2):
            series = make_ds().SeriesInstanceUID
            for i in range(2):
                ds = make_ds(
                    patient_name=name,
                    patient_id=pid,
                    study_uid=study,
                    series_uid=series,
                    modality=mod if s == 0 else "SR" if pid == "P1" else mod,
                    study_date=date,
                    study_time=time,
                    charset=cs,
                    accession=acc,
                    series_number=s + 1,
                    instance_number=i + 1,
                )
                a.add_file(write(ds, d / "src" / f"{n}-{s}-{i}.dcm"))
    a.studies_by_pid = studies
    yield a
    a.close()


def find(archive, level, model="STUDY", **keys):
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for k, v in keys.items():
        setattr(ds, k, v)
    lvl, parsed = parse_identifier(ds, model)
    con = idx.connect(archive.layout.index_path, readonly=True)
    try:
        return list(run_find(con, build_find(lvl, parsed)))
    finally:
        con.close()


def ids(rows):
    return sorted(r["PatientID"] for r in rows)


def test_universal_matching_returns_all_studies(archive):
    rows = find(archive, "STUDY", PatientID="", StudyInstanceUID="")
    assert ids(rows) == ["P1", "P2", "P3", "P4", "P5"]


def test_single_value_and_wildcards(archive):
    assert ids(find(archive, "STUDY", PatientID="P2")) == ["P2"]
    assert ids(find(archive, "STUDY", PatientID="", PatientName="DOE^*")) == ["P1", "P2"]
    assert ids(find(archive, "STUDY", PatientID="", PatientName="doe^ja?e")) == ["P2"]
    assert ids(find(archive, "STUDY", PatientID="", AccessionNumber="A?")) == [
        "P1",
        "P2",
        "P3",
        "P4",
        "P5",
    ]
    assert ids(find(archive, "STUDY", PatientID="", PatientName="SMITH[1]*")) == ["P5"]
    assert find(archive, "STUDY", PatientID="", PatientName="NOBODY") == []


def test_date_and_time_ranges(archive):
    assert ids(find(archive, "STUDY", PatientID="", StudyDate="20240101-20240228")) == [
        "P1",
        "P2",
        "P5",
    ]
    assert ids(find(archive, "STUDY", PatientID="", StudyDate="-20231231")) == ["P3"]
    assert ids(find(archive, "STUDY", PatientID="", StudyDate="20240220-")) == ["P2", "P4"]
    assert ids(find(archive, "STUDY", PatientID="", StudyTime="1000-1200")) == ["P1", "P5"]
    assert ids(find(archive, "STUDY", PatientID="", StudyDate="20240115")) == ["P1"]


def test_uid_list(archive):
    s = archive.studies_by_pid
    rows = find(archive, "STUDY", PatientID="", StudyInstanceUID=[s["P1"], s["P4"]])
    assert ids(rows) == ["P1", "P4"]


def test_latin1_and_utf8_names(archive):
    rows = find(archive, "STUDY", PatientID="", PatientName="MÜLLER*")
    assert [r["PatientName"] for r in rows] == ["MÜLLER^JÖRG"]
    assert ids(find(archive, "STUDY", PatientID="", PatientName="müller^jörg")) == ["P3"]
    assert ids(find(archive, "STUDY", PatientID="", PatientName="Wang^XiaoDong")) == ["P4"]
    assert ids(find(archive, "STUDY", PatientID="", PatientName="*=王^小東")) == ["P4"]


def test_levels_and_computed_attributes(archive):
    pats = find(
        archive,
        "PATIENT",
        "PATIENT",
        PatientID="P1",
        NumberOfPatientRelatedStudies="",
        NumberOfPatientRelatedInstances="",
    )
    assert pats == [
        {
            "PatientID": "P1",
            "NumberOfPatientRelatedStudies": 1,
            "NumberOfPatientRelatedInstances": 4,
        }
    ]
    st = find(
        archive,
        "STUDY",
        PatientID="P1",
        ModalitiesInStudy="",
        NumberOfStudyRelatedSeries="",
        NumberOfStudyRelatedInstances="",
    )
    assert st[0]["ModalitiesInStudy"] == "CT\\SR"
    assert st[0]["NumberOfStudyRelatedSeries"] == 2
    assert st[0]["NumberOfStudyRelatedInstances"] == 4
    assert ids(find(archive, "STUDY", PatientID="", ModalitiesInStudy="SR")) == ["P1"]
    se = find(
        archive,
        "SERIES",
        StudyInstanceUID=archive.studies_by_pid["P1"],
        Modality="",
        SeriesNumber="",
        NumberOfSeriesRelatedInstances="",
    )
    assert sorted((r["Modality"], r["SeriesNumber"]) for r in se) == [("CT", 1), ("SR", 2)]
    im = find(
        archive,
        "IMAGE",
        StudyInstanceUID=archive.studies_by_pid["P1"],
        SOPInstanceUID="",
        InstanceNumber="1",
    )
    assert len(im) == 2


def test_returned_attributes_follow_the_request(archive):
    rows = find(archive, "STUDY", PatientID="P1", StudyDescription="", OperatorsName="")
    assert set(rows[0]) == {"PatientID", "StudyDescription", "OperatorsName"}
    assert rows[0]["OperatorsName"] is None
    # an attribute below the level is returned empty and never matched
    rows = find(archive, "STUDY", PatientID="P1", SOPInstanceUID="1.2.3")
    assert rows and rows[0]["SOPInstanceUID"] is None


def test_bad_identifiers():
    ds = Dataset()
    ds.QueryRetrieveLevel = "PATIENT"
    with pytest.raises(QueryError):
        parse_identifier(ds, "STUDY")
    ds.QueryRetrieveLevel = "NONSENSE"
    with pytest.raises(QueryError):
        parse_identifier(ds, "PATIENT")
    with pytest.raises(QueryError):
        build_retrieve("STUDY", [("StudyInstanceUID", "")])


def test_pn_match():
    assert pn_match("DOE^JOHN", "doe*")
    assert not pn_match("DOE^JOHN", "DOE")
    assert pn_match("a[b]c", "a[b]*")
    assert not pn_match(None, "*")
