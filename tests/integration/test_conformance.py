"""docs/conformance.md says what the code does: the SOP classes and transfer syntaxes its
tables list (those marked *(checked)*) are the ones the SCU proposes on the wire (recorded
by a real pynetdicom acceptor: every A-ASSOCIATE-RQ of echo, find in each model, move
and get) and the ones the local SCP accepts (its AE as started, and a real association
proposing a class it does not list)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"
UID = re.compile(r"`(1\.2\.840\.10008[0-9.]*)`")
STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(title)
    nxt = re.search(r"\n#{2,4} ", text[start + len(title) :])
    end = start + len(title) + nxt.start() if nxt else len(text)
    return text[start:end]


def _tables(section: str) -> list[list[str]]:
    """The UIDs of each markdown table of ``section``, in order."""
    tables: list[list[str]] = []
    current: list[str] | None = None
    for line in section.splitlines():
        if line.startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            current += UID.findall(line)
        else:
            current = None
    return tables


def _doc():
    scu_classes, scu_ts = _tables(_section("#### 3.2.1 SOP classes, SCU"))[:2]
    scp = _tables(_section("#### 3.2.2 SOP classes, SCP"))
    scp_classes, scp_ts = scp[0], scp[1]
    annex = _tables(_section("## Annex A. Storage SOP classes"))[0]
    return scu_classes, scu_ts, scp_classes, scp_ts, annex


def test_the_document_is_complete():
    scu_classes, scu_ts, scp_classes, scp_ts, annex = _doc()
    assert len(scu_classes) == 6 and len(scu_ts) == 2
    assert len(scp_classes) == 7 and len(scp_ts) == 16
    assert len(annex) > 100 and len(set(annex)) == len(annex)


# ------------------------------------------------------------------ SCP side
def test_the_scp_accepts_what_the_document_lists(start_scp):
    from pynetdicom import AE

    _, _, scp_classes, scp_ts, annex = _doc()
    scp = start_scp()
    contexts = {str(c.abstract_syntax): c for c in scp.ae.supported_contexts}
    storage = {uid for uid in contexts if uid in set(annex) or uid.startswith(STORAGE_PREFIX)}
    assert storage == set(annex)
    assert set(contexts) - storage == set(scp_classes)
    for uid in annex:
        assert list(map(str, contexts[uid].transfer_syntax)) == scp_ts, uid
    for uid in scp_classes:
        if uid == "1.2.840.10008.1.1":
            continue
        assert list(map(str, contexts[uid].transfer_syntax)) == scp_ts[:3], uid

    # on the wire: a listed class is accepted, an unlisted one (worklist FIND) refused
    ae = AE(ae_title="CONFTEST")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.2.2.1", scp_ts[:1])  # Study Root FIND
    ae.add_requested_context("1.2.840.10008.5.1.4.31", scp_ts[:1])  # MWL FIND: not an SCP
    ae.add_requested_context(annex[0], ["1.2.840.10008.1.2.4.90"])  # storage, JPEG 2000
    assoc = ae.associate("127.0.0.1", scp.port, ae_title=scp.config.ae_title)
    try:
        assert assoc.is_established
        accepted = {str(c.abstract_syntax) for c in assoc.accepted_contexts}
        assert accepted == {"1.2.840.10008.5.1.4.1.2.2.1", annex[0]}
    finally:
        assoc.release()
        ae.shutdown()


# ------------------------------------------------------------------ SCU side
@pytest.fixture
def recorder():
    """A pynetdicom acceptor that records every presentation context proposed to it and
    answers FIND/MOVE/GET with an empty success."""
    from pynetdicom import AE, evt

    _, _, _, _, annex = _doc()
    proposed: list[tuple[str, tuple[str, ...]]] = []
    lock = threading.Lock()

    def on_requested(event):
        with lock:
            for cx in event.assoc.requestor.requested_contexts:
                proposed.append((str(cx.abstract_syntax), tuple(map(str, cx.transfer_syntax))))

    def empty(event):
        yield 0x0000, None

    def empty_retrieve(event):
        yield 0
        yield 0x0000, None

    def move(event):
        yield "127.0.0.1", 9  # never used: no sub-operations
        yield 0
        yield 0x0000, None

    ae = AE(ae_title="RECORDER")
    ts = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]
    for uid in [
        "1.2.840.10008.1.1",
        "1.2.840.10008.5.1.4.1.2.2.1",
        "1.2.840.10008.5.1.4.1.2.1.1",
        "1.2.840.10008.5.1.4.31",
        "1.2.840.10008.5.1.4.1.2.2.2",
        "1.2.840.10008.5.1.4.1.2.2.3",
    ]:
        ae.add_supported_context(uid, ts)
    for uid in annex[:100]:
        ae.add_supported_context(uid, ts, scu_role=True, scp_role=True)
    server = ae.start_server(
        ("127.0.0.1", 0),
        block=False,
        evt_handlers=[
            (evt.EVT_REQUESTED, on_requested),
            (evt.EVT_C_FIND, empty),
            (evt.EVT_C_MOVE, move),
            (evt.EVT_C_GET, empty_retrieve),
        ],
    )
    yield server.server_address[1], proposed
    server.shutdown()


def test_the_scu_proposes_what_the_document_lists(recorder, tmp_path):
    from pacsadmin.core.archive import Archive
    from pacsadmin.core.dimse.association import LocalAE
    from pacsadmin.core.dimse.echo import echo
    from pacsadmin.core.dimse.find import find
    from pacsadmin.core.dimse.find_query import FindQuery
    from pacsadmin.core.dimse.retrieve import get, move
    from pacsadmin.core.dimse.retrieve_model import Expected, Item, Selection
    from pacsadmin.core.jobs import null_context
    from pacsadmin.core.nodes import DicomNode

    scu_classes, scu_ts, _, _, annex = _doc()
    port, proposed = recorder
    local = LocalAE("CONFSCU", 0)
    node = DicomNode(name="rec", ae_title="RECORDER", host="127.0.0.1", port=port)
    assert echo(local, node).ok
    for model, level in (("study", "STUDY"), ("patient", "PATIENT"), ("worklist", None)):
        for engine in ("fast", "pynetdicom"):
            r = find(
                local, node, FindQuery(model=model, level=level), ctx=null_context(), engine=engine
            )
            assert r.ok, (model, engine, r.sentence)
    item = Item("STUDY", study="1.2.3.4")
    sel = Selection((item,))
    exp = Expected((item,), (), 0, how="test")
    archive = Archive(tmp_path / "archive")
    try:
        move(local, node, sel, ctx=null_context(), dest_ae="ELSEWHERE", expected=exp)
        get(local, node, sel, archive=archive, ctx=null_context(), expected=exp)
    finally:
        archive.close()

    storage = set(annex)
    classes = {uid for uid, _ in proposed}
    assert classes - storage == set(scu_classes)  # get's sub-operation classes are storage
    for uid, ts in proposed:
        assert sorted(ts) == sorted(scu_ts), (uid, ts)
        if uid != "1.2.840.10008.1.1":
            assert list(ts) == scu_ts, (uid, ts)  # explicit VR first
