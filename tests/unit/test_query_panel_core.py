"""The Qt-free parts of the Query panel: the cap rule, the form, the day-by-day split,
table rows and CSV, the archive marks, the recent queries in the settings."""

from __future__ import annotations

import json
from datetime import date

import pytest

from pacsadmin.core.dimse.find_form import (
    RECENT_LIMIT,
    QueryForm,
    parse_extra_keys,
    remember,
    save_recent,
)
from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.dimse.find_result import FindMatch, FindResult, cap_warning, looks_capped
from pacsadmin.core.dimse.find_split import day_queries, find_by_day, match_key
from pacsadmin.core.dimse.find_table import (
    columns_for,
    make_row,
    remote_count,
    retrieve_item,
    sort_key,
    to_csv,
    to_tsv,
)
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.errors import ValidationError
from pacsadmin.core.jobs import CancelToken, JobContext, JobPartial
from pacsadmin.core.settings import Settings, load_settings, save_settings

TODAY = date(2024, 3, 10)


# ------------------------------------------------------------------ the cap rule
@pytest.mark.parametrize("n", [100, 200, 250, 500, 1000, 1500, 2000, 5000, 10000, 25000, 100000])
def test_round_counts_look_capped(n):
    assert looks_capped(n)
    assert "probably capped" in cap_warning(n, Outcome.SUCCESS)


@pytest.mark.parametrize("n", [0, 1, 99, 101, 150, 499, 501, 999, 1001, 1234, 9999, 10001])
def test_other_counts_do_not(n):
    assert not looks_capped(n)
    assert cap_warning(n, Outcome.SUCCESS) == ""


def test_a_failed_or_cancelled_query_is_never_called_capped():
    assert cap_warning(1000, Outcome.FAILURE) == "" and cap_warning(1000, Outcome.CANCEL) == ""


# ------------------------------------------------------------------ the form
def test_the_form_builds_the_keys_admins_use():
    f = QueryForm(
        node="PACS",
        patient_name="DOE*",
        patient_id="P1",
        birth_date="19700101-19801231",
        date_preset="last7",
        modality="CT",
        accession="A1",
        study_description="*HEAD*",
        referring_physician="WHO^",
        study_uid="1.2.3",
        extra_keys="InstitutionName=X; 00081090",
        return_keys="StudyID, 0020000D",
    )
    q = f.to_query(TODAY)
    assert q.model == "study" and q.level == "STUDY" and q.charset is None
    keys = dict(q.keys)
    assert keys["PatientName"] == "DOE*" and keys["StudyDate"] == "20240304-20240310"
    assert keys["ModalitiesInStudy"] == "CT" and keys["PatientBirthDate"] == "19700101-19801231"
    assert keys["InstitutionName"] == "X" and keys["00081090"] == ""
    assert q.return_keys == ("StudyID", "0020000D")


@pytest.mark.parametrize(
    ("preset", "value"),
    [
        ("any", None),
        ("today", "20240310"),
        ("yesterday", "20240309"),
        ("last7", "20240304-20240310"),
    ],
)
def test_date_presets(preset, value):
    q = QueryForm(date_preset=preset).to_query(TODAY)
    assert dict(q.keys).get("StudyDate") == value


def test_custom_ranges_and_series_level_modality():
    f = QueryForm(level="SERIES", date_preset="custom", date_from="20240101", modality="MR")
    keys = dict(f.to_query(TODAY).keys)
    assert keys["StudyDate"] == "20240101-" and keys["Modality"] == "MR"
    f = QueryForm(date_preset="custom", date_from="20240105", date_to="20240105")
    assert dict(f.to_query(TODAY).keys)["StudyDate"] == "20240105"


def test_the_worklist_form():
    f = QueryForm(model="worklist", date_preset="today", modality="CT", station_ae="CT1")
    q = f.to_query(TODAY)
    assert q.level is None and q.model == "worklist"
    keys = dict(q.keys)
    assert keys["ScheduledProcedureStepStartDate"] == "20240310"
    assert keys["Modality"] == "CT" and keys["ScheduledStationAETitle"] == "CT1"


@pytest.mark.parametrize(
    ("form", "words"),
    [
        (QueryForm(birth_date="1970-01-01"), "Birth date: '1970-01-01' is not a date"),
        (QueryForm(birth_date="19701301"), "is not a date"),
        (QueryForm(birth_date="19800101-19700101"), "ends before it begins"),
        (QueryForm(date_preset="custom", date_from="2024013"), "Study date: '2024013'"),
        (QueryForm(date_preset="custom", date_from="20240201", date_to="20240101"), "ends before"),
        (QueryForm(extra_keys="PatientNme=X"), "Extra key: 'PatientNme' is not a DICOM keyword"),
        (QueryForm(extra_keys="=X"), "the key is missing"),
        (QueryForm(return_keys="Bogus"), "Return key: 'Bogus'"),
        (QueryForm(model="patient", level="PATIENT", modality="CT"), "choose the STUDY level"),
        (QueryForm(level="PATIENT"), "has no level 'PATIENT'"),
    ],
)
def test_bad_input_is_a_readable_message(form, words):
    with pytest.raises(ValidationError) as exc:
        form.to_query(TODAY)
    assert words in str(exc.value)


def test_extra_keys_by_tag_number():
    assert parse_extra_keys("(0010,0020)=P9\n00100010") == (("(0010,0020)", "P9"), ("00100010", ""))


def test_recent_queries_newest_first_without_repeats_and_bounded():
    a, b = QueryForm(node="A", patient_name="X*"), QueryForm(node="B")
    recent = remember(remember(remember((), a), b), a)
    assert [QueryForm.from_json(r) for r in recent] == [a, b]
    for k in range(30):
        recent = remember(recent, QueryForm(node=f"N{k}"))
    assert len(recent) == RECENT_LIMIT and QueryForm.from_json(recent[0]).node == "N29"
    assert QueryForm.from_json({"model": "nonsense"}) is None and QueryForm.from_json(3) is None
    assert a.describe() == "A · Study Root STUDY · name X*"
    nocs = QueryForm(charset="")
    assert QueryForm.from_json(json.loads(json.dumps(nocs.to_json()))) == nocs


def test_recent_queries_live_in_the_settings_file(tmp_path):
    p = tmp_path / "settings.json"
    save_settings(p, Settings(local_ae_title="KEEPME"))
    save_recent(p, QueryForm(node="A"))
    recent = save_recent(p, QueryForm(node="B"))
    s = load_settings(p)
    assert s.local_ae_title == "KEEPME" and s.recent_queries == recent
    assert [r["node"] for r in s.recent_queries] == ["B", "A"]
    p.write_text(json.dumps({"schema_version": 1, "recent_queries": 5}))
    with pytest.raises(ValidationError):
        load_settings(p)


# ------------------------------------------------------------------ the split
def test_day_queries_replace_the_range_by_each_day():
    q = FindQuery(keys=(("PatientName", "A*"), ("StudyDate", "20240227-20240302")))
    key, qs = day_queries(q, TODAY)
    assert key == "StudyDate"
    assert [dict(x.keys)["StudyDate"] for x in qs] == [
        "20240227",
        "20240228",
        "20240229",
        "20240301",
        "20240302",
    ]
    assert all(dict(x.keys)["PatientName"] == "A*" for x in qs)
    _, qs = day_queries(FindQuery(keys=(("00080020", "20240308-"),)), TODAY)
    assert len(qs) == 3  # an open end: up to today
    wl = FindQuery(
        "worklist", None, keys=(("ScheduledProcedureStepStartDate", "20240101-20240102"),)
    )
    assert day_queries(wl, TODAY)[0] == "ScheduledProcedureStepStartDate"


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ((("PatientName", "A*"),), "needs a date range"),
        ((("StudyDate", "-20240101"),), "has no first day"),
        ((("StudyDate", "20200101-20240101"),), "at most 1000 days"),
    ],
)
def test_what_cannot_be_split(keys, words):
    with pytest.raises(ValidationError) as exc:
        day_queries(FindQuery(keys=keys), TODAY)
    assert words in str(exc.value)


def _result(matches, outcome=Outcome.SUCCESS, cancelled=False):
    return FindResult(
        "n",
        "A@h:1",
        "ME",
        "Study Root",
        tuple(matches),
        outcome,
        0,
        "Completed (Success).",
        cancelled=cancelled,
    )


def _fake_peer(per_day, fail_on=None):
    """A find function over a dict day -> study UIDs (the merge logic only: real peers are
    in tests/integration and tests/gui)."""
    asked = []

    def find_fn(local, node, q, *, ctx, **kw):
        day = dict(q.keys)["StudyDate"]
        asked.append(day)
        if day == fail_on:
            return _result([], Outcome.FAILURE)
        ms = [FindMatch(i, 0xFF00, {"StudyInstanceUID": u}) for i, u in enumerate(per_day[day])]
        for m in ms:
            ctx.report(m)
        return _result(ms)

    return find_fn, asked


def _ctx():
    seen = []
    token = CancelToken()
    return JobContext(
        1, token, lambda e: seen.append(e.item) if isinstance(e, JobPartial) else None
    ), seen


def test_find_by_day_merges_and_drops_duplicates():
    per_day = {
        "20240101": ["1", "2"],
        "20240102": ["2", "3"] + [f"x{k}" for k in range(98)],
        "20240103": [],
    }
    fn, asked = _fake_peer(per_day)
    ctx, seen = _ctx()
    q = FindQuery(keys=(("StudyDate", "20240101-20240103"),))
    s = find_by_day(None, None, q, ctx=ctx, find_fn=fn, today=TODAY)
    assert asked == ["20240101", "20240102", "20240103"]
    uids = [m.get("StudyInstanceUID") for m in s.result.matches]
    assert uids[:3] == ["1", "2", "3"] and len(uids) == 101 and s.duplicates == 1
    assert [m.index for m in s.result.matches] == list(range(101))
    assert seen == list(s.result.matches)  # reported as they arrived, deduplicated
    assert s.result.outcome is Outcome.SUCCESS and "3 day(s), 101 match(es)" in s.result.sentence
    assert [(d.day, d.count, d.new, d.capped) for d in s.days] == [
        ("20240101", 2, 2, False),
        ("20240102", 100, 99, True),
        ("20240103", 0, 0, False),
    ]
    assert "Still capped on 1 day(s): 20240102 (100)" in s.result.capped


def test_find_by_day_stops_at_the_first_failed_day():
    fn, asked = _fake_peer({"20240101": ["1"], "20240102": ["2"]}, fail_on="20240102")
    ctx, _ = _ctx()
    q = FindQuery(keys=(("StudyDate", "20240101-20240105"),))
    s = find_by_day(None, None, q, ctx=ctx, find_fn=fn, today=TODAY)
    assert asked == ["20240101", "20240102"] and s.planned == 5
    assert (
        s.result.outcome is Outcome.FAILURE and "20240102 (day 2 of 5) failed" in s.result.sentence
    )
    assert [m.get("StudyInstanceUID") for m in s.result.matches] == ["1"]


def test_match_keys_by_level():
    m = FindMatch(0, 0xFF00, {"StudyInstanceUID": "1", "SeriesInstanceUID": "2", "PatientID": "P"})
    assert match_key(FindQuery(level="SERIES"), m) == "2"
    assert match_key(FindQuery("patient", "PATIENT"), m) == "P"
    wl = FindMatch(
        0,
        0xFF00,
        {
            "StudyInstanceUID": "1",
            "ScheduledProcedureStepSequence": [{"ScheduledProcedureStepID": "S"}],
        },
    )
    assert match_key(FindQuery("worklist", None), wl) == "1|S"
    assert match_key(FindQuery(), FindMatch(0, 0xFF00, {})) is None


# ------------------------------------------------------------------ rows and CSV
def test_rows_show_names_and_dates_and_sort_numbers_as_numbers():
    q = QueryForm(extra_keys="InstitutionName").to_query(TODAY)
    cols = columns_for(q)
    kws = [c.keyword for c in cols]
    assert kws[:3] == ["PatientName", "PatientID", "PatientBirthDate"] and "InstitutionName" in kws
    assert kws[-1] == "StudyInstanceUID"
    assert "SpecificCharacterSet" not in kws and "QueryRetrieveLevel" not in kws
    m = FindMatch(
        0,
        0xFF00,
        {
            "PatientName": "DOE^JOHN",
            "StudyDate": "20240105",
            "NumberOfStudyRelatedInstances": "12",
            "StudyInstanceUID": "1.2",
            "ModalitiesInStudy": ["CT", "SR"],
        },
    )
    r = make_row(m, cols, "STUDY")
    cell = dict(zip(kws, r.cells, strict=True))
    assert cell["PatientName"] == "DOE, JOHN" and cell["StudyDate"] == "2024-01-05"
    assert cell["ModalitiesInStudy"] == "CT\\SR" and r.uid == "1.2"
    i = kws.index("NumberOfStudyRelatedInstances")
    m2 = FindMatch(1, 0xFF00, {"NumberOfStudyRelatedInstances": "9"})
    assert sort_key(make_row(m2, cols, "STUDY"), cols, i) < sort_key(r, cols, i)  # 9 < 12
    d = kws.index("StudyDate")
    assert sort_key(r, cols, d) == (0, "20240105")
    assert "doe, john" in r.hay
    assert remote_count("STUDY", m) == 12 and remote_count("SERIES", m) is None
    assert retrieve_item("STUDY", m).study == "1.2" and retrieve_item("PATIENT", m) is None


def test_csv_has_keywords_raw_values_the_local_mark_and_unreadable_rows():
    q = FindQuery(defaults=False, keys=(("PatientName", "*"), ("StudyDate", "")))
    cols = columns_for(q)
    rows = [
        make_row(
            FindMatch(0, 0xFF00, {"PatientName": "DOE^J, R", "StudyDate": "20240105"}),
            cols,
            "STUDY",
        ),
        make_row(
            FindMatch(
                1, 0xFF00, {"PatientName": "M\ufffdller"}, "bytes that ISO_IR 6 cannot carry"
            ),
            cols,
            "STUDY",
        ),
    ]
    text = to_csv(cols, rows, ["all", "none"])
    assert text.splitlines() == [
        "PatientName,StudyDate,Local,Unreadable",
        '"DOE^J, R",20240105,all,',
        "M\ufffdller,,none,bytes that ISO_IR 6 cannot carry",
    ]
    assert to_tsv(["A", "B"], [["1\t", "2"]]) == "A\tB\n1 \t2\n"


def test_worklist_columns_come_from_the_step_sequence():
    q = QueryForm(model="worklist").to_query(TODAY)
    cols = columns_for(q)
    sps = [c.keyword for c in cols if c.in_sps]
    assert "ScheduledStationAETitle" in sps and "Modality" in sps
    m = FindMatch(0, 0xFF00, {"ScheduledProcedureStepSequence": [{"Modality": "CT"}]})
    r = make_row(m, cols, None)
    assert r.cells[[c.keyword for c in cols].index("Modality")] == "CT"


# ------------------------------------------------------------------ archive marks
def test_archive_marks_all_some_none(tmp_path):
    from pacsadmin.core.archive import Archive
    from pacsadmin.core.archive import index as idx
    from pacsadmin.core.archive.meta import InstanceMeta
    from pacsadmin.core.archive.presence import marks

    a = Archive(tmp_path / "archive")
    try:

        def fill(con):
            for k, (study, series) in enumerate([("S1", "S1.1"), ("S1", "S1.1"), ("S2", "S2.1")]):
                m = InstanceMeta(
                    f"I{k}", "1.2", study, series, "1.2.840.10008.1.2.1", patient_id="P"
                )
                idx.insert_instance(
                    con, m, path=f"data/00/{k}.dcm", size=1, received_at=0, source=""
                )

        a.writer.call(fill)
        con = a.reader()
        assert marks(con, "STUDY", [("S1", 2), ("S2", 3), ("S3", 4), ("S2", None), ("", 1)]) == [
            "all",
            "some",
            "none",
            "some",
            "none",
        ]
        assert marks(con, "SERIES", [("S1.1", 2)]) == ["all"]
        assert marks(con, "IMAGE", [("I0", None), ("I9", None)]) == ["all", "none"]
        assert marks(con, "PATIENT", [("P", 3)]) == ["all"]
        many = [(f"X{k}", 1) for k in range(1200)] + [("S1", 2)]
        assert marks(con, "STUDY", many)[-1] == "all"  # more than one statement's worth
    finally:
        a.close()


def test_drill_down_carries_the_unique_keys_above():
    from pacsadmin.core.dimse.find_table import drill_down

    m = FindMatch(0, 0xFF00, {"StudyInstanceUID": "1.2", "PatientID": "P"})
    q = drill_down(FindQuery(keys=(("PatientName", "A*"),), charset=""), m)
    assert (q.level, q.keys, q.charset) == ("SERIES", (("StudyInstanceUID", "1.2"),), "")
    q2 = drill_down(q, FindMatch(0, 0xFF00, {"SeriesInstanceUID": "1.2.3"}))
    assert q2.level == "IMAGE"
    assert q2.keys == (("StudyInstanceUID", "1.2"), ("SeriesInstanceUID", "1.2.3"))
    assert drill_down(q2, FindMatch(0, 0xFF00, {"SOPInstanceUID": "9"})) is None
    pq = drill_down(FindQuery("patient", "PATIENT"), FindMatch(0, 0xFF00, {"PatientID": "P"}))
    assert pq.level == "STUDY" and pq.keys == (("PatientID", "P"),)
    ps = drill_down(pq, m)
    assert ps.level == "SERIES" and ps.keys == (("PatientID", "P"), ("StudyInstanceUID", "1.2"))
    assert drill_down(FindQuery(), FindMatch(0, 0xFF00, {})) is None
    assert drill_down(FindQuery("worklist", None), m) is None
