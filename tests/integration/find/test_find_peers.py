"""C-FIND as SCU against Orthanc and DCMTK dcmqrscp: every level of both roots,
wildcards, date ranges, a Latin-1 and a UTF-8 name, and an identifier that cannot be decoded."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.find import find
from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.jobs import CancelToken, JobContext, JobPartial

from .conftest import LATIN1_NAME

pytestmark = pytest.mark.integration


def run(peer, query, **node_kw):
    seen = []
    ctx = JobContext(
        1, CancelToken(), lambda e: seen.append(e.item) if isinstance(e, JobPartial) else None
    )
    r = find(LocalAE(), peer.node(**node_kw), query, ctx=ctx, timeout=30)
    assert r.outcome is Outcome.SUCCESS, (r.sentence, r.advice, peer.log()[-2000:])
    assert list(r.matches) == seen  # every match was streamed through ctx.report, in order
    assert not r.unreadable, [m.unreadable for m in r.matches]
    return r


def test_study_root_every_level(pacs, dataset):
    studies, _ = dataset
    r = run(pacs, FindQuery("study", "STUDY"))
    assert sorted(m.get("StudyInstanceUID") for m in r.matches) == sorted(s.uid for s in studies)
    john = next(s for s in studies if s.patient_id == "PID1")
    r = run(pacs, FindQuery("study", "SERIES", keys=(("StudyInstanceUID", john.uid),)))
    assert sorted(m.get("SeriesInstanceUID") for m in r.matches) == sorted(john.series)
    assert {m.get("Modality") for m in r.matches} == {"CT"}
    keys = (("StudyInstanceUID", john.uid), ("SeriesInstanceUID", john.series[0]))
    r = run(pacs, FindQuery("study", "IMAGE", keys=keys))
    assert sorted(m.get("SOPInstanceUID") for m in r.matches) == sorted(john.instances[:2])
    assert r.status == 0x0000 and not r.capped and r.first_ms is not None


def test_patient_root_every_level(pacs, dataset):
    studies, _ = dataset
    r = run(pacs, FindQuery("patient", "PATIENT"))
    assert sorted(m.get("PatientID") for m in r.matches) == ["PID1", "PID2", "PID3"]
    r = run(pacs, FindQuery("patient", "STUDY", keys=(("PatientID", "PID2"),)))
    jane = [s for s in studies if s.patient_id == "PID2"]
    assert sorted(m.get("StudyInstanceUID") for m in r.matches) == sorted(s.uid for s in jane)
    first = jane[0]
    keys = (("PatientID", "PID2"), ("StudyInstanceUID", first.uid))
    r = run(pacs, FindQuery("patient", "SERIES", keys=keys))
    assert [m.get("SeriesInstanceUID") for m in r.matches] == list(first.series)
    keys += (("SeriesInstanceUID", first.series[0]),)
    r = run(pacs, FindQuery("patient", "IMAGE", keys=keys))
    assert sorted(m.get("SOPInstanceUID") for m in r.matches) == sorted(first.instances)
    assert {m.get("InstanceNumber") for m in r.matches} == {"1", "2", "3"}


@pytest.mark.parametrize(
    "key,value,expected",
    [
        ("PatientName", "DOE^J*", {"PID1", "PID2"}),
        ("PatientName", "DOE^JAN?", {"PID2"}),
        ("PatientID", "PID*", {"PID1", "PID2", "PID3"}),
        ("StudyDate", "20240101-20240131", {"PID1", "PID2"}),
        ("StudyDate", "20240201-", {"PID2", "PID3"}),
        ("StudyDate", "-20240110", {"PID1"}),
        ("00100020", "PID1", {"PID1"}),  # a key by tag number
    ],
)
def test_wildcards_and_date_ranges(pacs, key, value, expected):
    r = run(pacs, FindQuery("study", "STUDY", keys=((key, value),)))
    assert {m.get("PatientID") for m in r.matches} == expected


def test_a_latin1_name_is_sent_and_shown(pacs, dataset):
    # the node's query character set is used when the query names none
    q = FindQuery("study", "STUDY", keys=(("PatientName", "Müller*"),))
    r = run(pacs, q, query_charset="ISO_IR 100")
    assert [m.get("PatientName") for m in r.matches] == [LATIN1_NAME]
    # returned to a query sent in the default repertoire as well
    r = run(pacs, FindQuery("patient", "PATIENT", keys=(("PatientID", "PID3"),), charset=""))
    assert [m.get("PatientName") for m in r.matches] == [LATIN1_NAME]


UTF8_NAME = (
    "Łukasiewicz^Zoë=王^小明"  # Polish and Greek letters Latin-1 lacks; a CJK ideographic group
)


def _store(peer, path) -> None:
    """One file into ``peer`` (Orthanc by its REST API, dcmqrscp by storescu)."""
    if peer.kind == "orthanc":
        from tests.peers import orthanc_rest

        orthanc_rest(peer, "POST", "/instances", path.read_bytes())
        return
    p = subprocess.run(
        ["storescu", "-aec", peer.aet, "127.0.0.1", str(peer.port), str(path)],
        capture_output=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr


@pytest.fixture(params=["orthanc", "dcmqrscp"])
def utf8_pacs(request, tmp_path_factory):
    """dcmqrscp answers with the stored bytes and character set; Orthanc answers every
    C-FIND in its DefaultEncoding whatever the query asks (Latin1 by default: a name
    Latin-1 cannot carry comes back with those letters dropped, declared ISO_IR 100), so
    a site with such names sets DefaultEncoding to Utf8, as this Orthanc does."""
    if request.param == "dcmqrscp":
        return request.getfixturevalue("dcmqrscp_loaded")
    from tests.peers import PeerUnavailable, start_orthanc

    from .conftest import _unavailable

    try:
        peer = start_orthanc(
            tmp_path_factory.mktemp("orthanc-utf8"), extra_config={"DefaultEncoding": "Utf8"}
        )
    except PeerUnavailable as exc:
        _unavailable(exc)
        raise
    request.addfinalizer(peer.stop)
    return peer


def test_a_utf8_name_is_sent_and_shown(utf8_pacs, tmp_path):
    """A name stored in UTF-8 (ISO_IR 192) that Latin-1 cannot carry: matched by a UTF-8
    query (non-ASCII bytes in the key) and shown as stored."""
    from tests.unit.archive.dsgen import make_ds, write

    pacs = utf8_pacs
    ds = make_ds(patient_name=UTF8_NAME, patient_id="PIDUTF8", charset="ISO_IR 192")
    _store(pacs, write(ds, tmp_path / "utf8.dcm"))
    q = FindQuery("study", "STUDY", keys=(("PatientName", "Łukasiewicz*"),), charset="ISO_IR 192")
    r = run(pacs, q)
    assert [m.get("PatientID") for m in r.matches] == ["PIDUTF8"]
    assert [m.get("PatientName") for m in r.matches] == [UTF8_NAME]
    # and by its ID, the name returned as stored
    r = run(
        pacs, FindQuery("study", "STUDY", keys=(("PatientID", "PIDUTF8"),), charset="ISO_IR 192")
    )
    assert [m.get("PatientName") for m in r.matches] == [UTF8_NAME]


def test_a_name_that_the_charset_cannot_carry_is_refused_before_sending(dataset, orthanc_loaded):
    from pacsadmin.core.errors import ValidationError

    q = FindQuery("study", "STUDY", keys=(("PatientName", "Müller*"),), charset="")
    with pytest.raises(ValidationError, match="character set"):
        find(LocalAE(), orthanc_loaded.node(), q, ctx=JobContext(1, CancelToken(), print))


def test_an_identifier_that_cannot_be_decoded_is_an_unreadable_match(dcmqrscp_loaded, tmp_path):
    """dcmqrscp returns the stored bytes and character set as they are: a file that
    declares UTF-8 but holds Latin-1 bytes gives a match marked unreadable, not an error,
    and the other matches of the query still arrive."""
    from pydicom.dataelem import DataElement

    from tests.unit.archive.dsgen import make_ds, write

    ds = make_ds(patient_id="BADCS1", charset="ISO_IR 192", study_date="20230101")
    ds["PatientName"] = DataElement(0x00100010, "PN", b"M\xfcller^J\xfcrgen")
    f = write(ds, tmp_path / "bad.dcm")
    good = write(make_ds(patient_id="BADCS2", study_date="20230101"), tmp_path / "good.dcm")
    p = subprocess.run(
        [
            "storescu",
            "-aec",
            dcmqrscp_loaded.aet,
            "127.0.0.1",
            str(dcmqrscp_loaded.port),
            str(f),
            str(good),
        ],
        capture_output=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    ctx = JobContext(1, CancelToken(), lambda e: None)
    q = FindQuery("study", "STUDY", keys=(("PatientID", "BADCS*"),))
    r = find(LocalAE(), dcmqrscp_loaded.node(), q, ctx=ctx, timeout=30)
    assert r.outcome is Outcome.SUCCESS, r.sentence
    by_id = {m.get("PatientID"): m for m in r.matches}
    assert set(by_id) == {"BADCS1", "BADCS2"}
    assert "ISO_IR 192 cannot carry" in by_id["BADCS1"].unreadable
    assert by_id["BADCS1"].get("PatientName").startswith("M")  # shown as far as it goes
    assert by_id["BADCS2"].unreadable == ""
    assert r.unreadable == 1 and "1 unreadable" in r.summary


def test_a_level_the_model_lacks_is_refused(orthanc_loaded):
    from pacsadmin.core.errors import ValidationError

    with pytest.raises(ValidationError, match="no level 'PATIENT'"):
        find(
            LocalAE(),
            orthanc_loaded.node(),
            FindQuery("study", "PATIENT"),
            ctx=JobContext(1, CancelToken(), print),
        )


def test_a_model_the_peer_does_not_support_fails_with_a_sentence(start_peer, tmp_path):
    """dcmqrscp has no Modality Worklist: the context is rejected, outcome failure."""
    from tests.peers import start_dcmqrscp

    qr = start_peer(start_dcmqrscp, tmp_path / "qr")
    r = find(
        LocalAE(),
        qr.node(),
        FindQuery("worklist", None),
        ctx=JobContext(1, CancelToken(), print),
        timeout=10,
    )
    assert r.outcome is Outcome.FAILURE and not r.ok
    assert "presentation context was rejected" in r.sentence


def test_an_unknown_called_ae_is_diagnosed(orthanc_loaded):
    r = find(
        LocalAE(),
        replace(orthanc_loaded.node(), ae_title="NOTORTHANC"),
        FindQuery(),
        ctx=JobContext(1, CancelToken(), print),
        timeout=10,
    )
    assert r.outcome is Outcome.FAILURE
    assert "called AE title not recognized" in r.sentence, r.sentence
