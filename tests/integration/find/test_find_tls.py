"""The fast C-FIND path (find_fast.py) over TLS: a pynetdicom SCP behind TLS (certificates
made with openssl as in tests/integration/test_tls.py) answers a stream of matches; the
fast path reads them all, value for value what the pynetdicom path reads, and a cancel
in the middle sends the C-CANCEL through the TLS connection and reads on to the 0xFE00."""

from __future__ import annotations

import shutil
import ssl
import time

import pytest

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.find import find
from pacsadmin.core.dimse.find_query import FindQuery
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.jobs import CancelToken, JobContext, JobPartial
from pacsadmin.core.nodes import DicomNode, TlsSettings
from tests.integration.test_tls import pki  # noqa: F401 - the fixture (openssl CA + server)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]
N = 3000


@pytest.fixture
def tls_find_scp(pki):  # noqa: F811
    """A TLS Study Root C-FIND SCP answering N matches (a Latin-1 name among them),
    slowly enough (0.5 ms a match) for a cancel to land in the middle; it stops at a
    C-CANCEL, as a PACS honouring it does."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    from pacsadmin.core.dimse.association import quiet_pynetdicom

    quiet_pynetdicom()
    seen: dict[str, int] = {}

    def on_find(event):
        seen["find_msg_id"] = int(event.request.MessageID)
        for k in range(N):
            if event.is_cancelled:
                seen["cancelled_at"] = k
                yield 0xFE00, None
                return
            ds = Dataset()
            ds.SpecificCharacterSet = "ISO_IR 100"
            ds.QueryRetrieveLevel = "STUDY"
            ds.PatientName = "Müller^Jürgen" if k == 7 else f"TLS^{k}"
            ds.PatientID = f"T{k}"
            ds.StudyInstanceUID = f"1.2.3.{k}"
            ds.StudyDate = "20240101"
            time.sleep(0.0005)
            yield 0xFF00, ds

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
    ae = AE("TLSFIND")
    ae.add_supported_context(FIND)
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, ssl_context=ctx, evt_handlers=[(evt.EVT_C_FIND, on_find)]
    )
    node = DicomNode(
        name="tlsfind",
        ae_title="TLSFIND",
        host="localhost",
        port=server.server_address[1],
        tls=TlsSettings(enabled=True, ca_bundle=str(pki / "ca.pem")),
    ).validated()
    yield node, seen
    server.shutdown()


QUERY = FindQuery("study", "STUDY", keys=(("PatientID", ""),), charset="ISO_IR 100")


def _fast_path_used(r) -> bool:
    return any("fast path" in line.text for line in r.transcript)


def test_fast_path_over_tls_reads_every_match(tls_find_scp):
    node, _ = tls_find_scp
    out = {}
    for engine in ("fast", "pynetdicom"):
        r = find(
            LocalAE(),
            node,
            QUERY,
            ctx=JobContext(1, CancelToken(), lambda e: None),
            timeout=60,
            engine=engine,
        )
        assert r.outcome is Outcome.SUCCESS, (engine, r.sentence, r.advice)
        out[engine] = r
    fast, slow = out["fast"], out["pynetdicom"]
    assert _fast_path_used(fast), "the fast path fell back to pynetdicom over TLS"
    assert len(fast.matches) == N and fast.matches == slow.matches
    assert fast.matches[7].get("PatientName") == "Müller^Jürgen"
    assert [m.get("PatientID") for m in fast.matches[:3]] == ["T0", "T1", "T2"]


def test_fast_path_cancel_over_tls(tls_find_scp):
    node, seen = tls_find_scp
    token = CancelToken()
    got: list = []

    def listener(e):
        if isinstance(e, JobPartial):
            got.append(e.item)
            if len(got) == 50:
                token.cancel()  # on the worker, between two responses

    r = find(LocalAE(), node, QUERY, ctx=JobContext(1, token, listener), timeout=60, engine="fast")
    assert _fast_path_used(r)
    assert r.cancelled and r.outcome is Outcome.CANCEL, r.sentence
    assert r.status == 0xFE00 and not r.aborted, r.sentence
    assert r.cancel_msg_id == r.msg_id == seen["find_msg_id"]
    assert 50 <= len(r.matches) <= seen["cancelled_at"] < N
    assert list(r.matches) == got
    # the association was released cleanly: the next query over TLS works
    again = find(
        LocalAE(),
        node,
        FindQuery(keys=(("PatientID", "T1"),)),
        ctx=JobContext(1, CancelToken(), lambda e: None),
        timeout=60,
    )
    assert again.outcome is Outcome.SUCCESS, again.sentence
