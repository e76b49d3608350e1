"""Browsing the index: search, order, pages and counts done by SQLite (core, no Qt)."""

from __future__ import annotations

import pytest

from pacsadmin.core.archive import Archive
from pacsadmin.core.archive.browse import (
    ORDERS,
    Totals,
    count_studies,
    list_series,
    list_studies,
    search_words,
)
from tests.bigarchive import build_index

from .dsgen import make_ds, write


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Four studies of three patients, imported from real files."""
    d = tmp_path_factory.mktemp("browse")
    a = Archive(d / "ar")
    specs = [
        # name, id, study date, description, accession, [(modality, series desc, images)]
        ("DOE^JANE", "P1", "20240101", "HEAD CT", "ACC1", [("CT", "AXIAL", 3), ("CT", "COR", 2)]),
        ("DOE^JANE", "P1", "20240305", "KNEE", "ACC2", [("MR", "T1 SAG", 4)]),
        ("MÜLLER^JÖRG", "P3", "20231212", "CHEST", "A_3", [("CR", "PA", 1)]),
        ("ROE^RICK", "P2", "20220707", "", "ACC%4", [("US", "", 2), ("CT", "LOW DOSE", 1)]),
    ]
    uids = {}
    for n, (name, pid, date, desc, acc, series) in enumerate(specs):
        study = make_ds().StudyInstanceUID
        uids[acc] = study
        for s, (mod, sdesc, images) in enumerate(series):
            se = make_ds().SeriesInstanceUID
            for i in range(images):
                ds = make_ds(patient_name=name, patient_id=pid, modality=mod, charset="ISO_IR 192")
                ds.StudyInstanceUID, ds.SeriesInstanceUID = study, se
                ds.StudyDate, ds.StudyDescription, ds.AccessionNumber = date, desc, acc
                ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber = sdesc, s + 1, i + 1
                a.add_file(write(ds, d / "src" / f"{n}-{s}-{i}.dcm"))
    yield a, uids
    a.close()


def _accs(rows):
    return [r.accession for r in rows]


def test_search_words():
    assert search_words("  DOE,  jane ") == ["DOE", "jane"]
    assert search_words(" , ") == []


def test_rows_carry_their_counts_sizes_and_modalities(small):
    a, _ = small
    rows = {r.accession: r for r in list_studies(a.reader())}
    head = rows["ACC1"]
    assert (head.patient_name, head.patient_id, head.date) == ("DOE^JANE", "P1", "20240101")
    assert (head.series, head.images, head.modalities) == (2, 5, "CT")
    assert rows["ACC%4"].modalities == "CT\\US"
    assert head.size > 0 and head.size == sum(
        a.path_of(rel).stat().st_size for _, rel in a.instance_paths("study", [head.study_uid])
    )


def test_filter_matches_every_word_in_the_study_its_patient_or_a_series(small):
    con = small[0].reader()
    assert _accs(list_studies(con, "doe", "date")) == ["ACC1", "ACC2"]
    assert _accs(list_studies(con, "Doe, Jane knee")) == ["ACC2"]  # every word
    assert _accs(list_studies(con, "t1")) == ["ACC2"]  # a series description
    assert _accs(list_studies(con, "us")) == ["ACC%4"]  # a series modality
    assert _accs(list_studies(con, "2024-03")) == ["ACC2"]  # the date as shown
    assert _accs(list_studies(con, "p2")) == ["ACC%4"]  # patient ID
    assert _accs(list_studies(con, "müller")) == ["A_3"]  # not ASCII: casefold
    assert _accs(list_studies(con, "JÖRG")) == ["A_3"]
    # LIKE's wildcards are characters here
    assert _accs(list_studies(con, "acc%")) == ["ACC%4"]
    assert _accs(list_studies(con, "a_")) == ["A_3"]
    assert list_studies(con, "nothing-like-this") == []
    assert count_studies(con, "nothing-like-this") == Totals()


def test_order_by_every_key_both_ways(small):
    con = small[0].reader()
    assert _accs(list_studies(con, "", "date")) == ["ACC%4", "A_3", "ACC1", "ACC2"]
    assert _accs(list_studies(con, "", "date", descending=True)) == [
        "ACC2",
        "ACC1",
        "A_3",
        "ACC%4",
    ]
    # by patient, then the newest study first
    assert _accs(list_studies(con, "", "patient")) == ["ACC2", "ACC1", "A_3", "ACC%4"]
    assert _accs(list_studies(con, "", "images", descending=True)) == [
        "ACC1",
        "ACC2",
        "ACC%4",
        "A_3",
    ]
    assert _accs(list_studies(con, "", "series"))[-2:] == ["ACC1", "ACC%4"]
    assert _accs(list_studies(con, "", "modality"))[0] == "A_3"  # CR
    for key in ORDERS:
        for desc in (False, True):
            rows = list_studies(con, "", key, descending=desc)
            assert len(rows) == 4, key
    with pytest.raises(ValueError, match="cannot order"):
        list_studies(con, "", "pixel; DROP TABLE studies")


def test_pages_and_counts(small):
    con = small[0].reader()
    pages = [_accs(list_studies(con, "", "date", offset=o, limit=3)) for o in (0, 3, 6)]
    assert pages == [["ACC%4", "A_3", "ACC1"], ["ACC2"], []]
    assert count_studies(con) == Totals(4, 3, 6, 13, count_studies(con).size)
    t = count_studies(con, "doe")
    assert (t.studies, t.patients, t.series, t.images) == (2, 1, 3, 9)


def test_series_of_a_study(small):
    a, uids = small
    rows = list_series(a.reader(), uids["ACC1"])
    assert [(r.number, r.description, r.modality, r.images) for r in rows] == [
        (1, "AXIAL", "CT", 3),
        (2, "COR", "CT", 2),
    ]
    assert list_series(a.reader(), "1.2.3.404") == []


def test_paging_through_a_big_archive_sees_every_study_once(tmp_path):
    """10,000 studies in pages of 700, ordered by size: every study exactly once, in order."""
    root = build_index(tmp_path / "big", 10_000)
    with Archive(root, sweep=False) as a:
        con = a.reader()
        assert count_studies(con).studies == 10_000
        seen, sizes = [], []
        for offset in range(0, 10_000, 700):
            page = list_studies(con, "", "size", descending=True, offset=offset, limit=700)
            seen += [r.pk for r in page]
            sizes += [r.size for r in page]
        assert len(seen) == len(set(seen)) == 10_000
        assert sizes == sorted(sizes, reverse=True)
        smith = count_studies(con, "smith")
        assert 0 < smith.studies < 10_000
        assert len(list_studies(con, "smith", limit=20_000)) == smith.studies
