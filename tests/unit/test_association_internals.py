"""The pynetdicom internals the Connectivity Doctor depends on (core/dimse/association.py).

The doctor connects (and wraps in TLS) its own socket so DNS, TCP and TLS are separate,
timed steps, then hands that socket to pynetdicom by overriding ``AE._create_socket`` with
a ``PreconnectedSocket`` that skips ``AssociationSocket.__init__``; echo tears down through
a faster copy of ``Association.kill``.  None of that is public API.  These tests fail
loudly when a pynetdicom upgrade changes any of it: then review association.py against
the new source, and only then update the expectations here.
"""

from __future__ import annotations

import hashlib
import inspect
import socket
import threading

import pytest

pynetdicom = pytest.importorskip("pynetdicom")

from pynetdicom import AE, evt  # noqa: E402
from pynetdicom.association import Association  # noqa: E402
from pynetdicom.dul import DULServiceProvider  # noqa: E402
from pynetdicom.sop_class import Verification  # noqa: E402
from pynetdicom.transport import AddressInformation, AssociationSocket  # noqa: E402

from pacsadmin.core.dimse import association as core_assoc  # noqa: E402
from pacsadmin.core.nodes import DicomNode  # noqa: E402
from pacsadmin.core.settings import Timeouts  # noqa: E402

REVIEW = (
    "pynetdicom changed an internal that pacsadmin/core/dimse/association.py relies on "
    "(PreconnectedSocket / _PreconnectedAE / _fast_kill): review that module against the "
    "new pynetdicom source, then update this test."
)

# The source of the pynetdicom 3.0.x functions association.py copies or overrides
# (whitespace-normalised sha256, first 16 hex digits).
SOURCE_DIGESTS = {
    "AE._create_socket": "ad0f612f96bcf135",
    "AE.associate": "2e2df71e6bdc8f27",
    "AssociationSocket.__init__": "79751bf48066432b",
    "AssociationSocket.connect": "770ad187abb89ec8",
    "Association.kill": "cbc4280ba560a31d",
    "DULServiceProvider.stop_dul": "e9795fe87bcba044",
    # the first-bytes tap: PreconnectedSocket.recv wraps recv, and relies on the DUL
    # reading a PDU's 6-byte header with its first recv (then dropping an unknown type)
    "AssociationSocket.recv": "e297b15d5ad9bee4",
    "DULServiceProvider._read_pdu_data": "722aabd08d31d5c7",
}


def _digest(obj) -> str:
    src = inspect.getsource(obj)
    norm = "\n".join(line.strip() for line in src.splitlines() if line.strip())
    return hashlib.sha256(norm.encode()).hexdigest()[:16]


def _objects():
    return {
        "AE._create_socket": AE._create_socket,
        "AE.associate": AE.associate,
        "AssociationSocket.__init__": AssociationSocket.__init__,
        "AssociationSocket.connect": AssociationSocket.connect,
        "Association.kill": Association.kill,
        "DULServiceProvider.stop_dul": DULServiceProvider.stop_dul,
        "AssociationSocket.recv": AssociationSocket.recv,
        "DULServiceProvider._read_pdu_data": DULServiceProvider._read_pdu_data,
    }


def test_pynetdicom_version_is_the_pinned_series():
    major, minor = (int(x) for x in pynetdicom.__version__.split(".")[:2])
    assert (major, minor) == (3, 0), f"pynetdicom {pynetdicom.__version__}: {REVIEW}"


@pytest.mark.parametrize("name", list(SOURCE_DIGESTS))
def test_source_of_the_overridden_internals_is_unchanged(name):
    got = _digest(_objects()[name])
    assert got == SOURCE_DIGESTS[name], f"{name} source digest {got}: {REVIEW}"


def test_create_socket_signature():
    sig = inspect.signature(AE._create_socket)
    assert list(sig.parameters) == ["self", "assoc", "address", "tls_args"], REVIEW
    assert "self._create_socket(assoc, local_address, tls_args)" in inspect.getsource(
        AE.associate
    ), REVIEW


def test_association_socket_instance_attributes():
    """PreconnectedSocket skips AssociationSocket.__init__ and sets its attributes itself:
    the set must be exactly what __init__ sets."""
    ae = AE()
    assoc = Association(ae, "requestor")
    real = AssociationSocket(assoc, address=AddressInformation("127.0.0.1", 0))
    try:
        expected = {"_assoc", "_ready", "socket", "_is_connected", "_tls_args", "select_timeout"}
        assert set(vars(real)) == expected, f"{sorted(vars(real))}: {REVIEW}"
        with socket.socket() as s:
            pre = core_assoc._preconnected_socket_class()(assoc, s)
            assert set(vars(pre)) == expected | {"_on_first_bytes"}, REVIEW  # ours
            assert isinstance(pre, AssociationSocket)
            assert pre.assoc is assoc
            assert pre.tls_args is None
    finally:
        if real.socket is not None:
            real.socket.close()


def test_association_socket_members_used():
    for name in ("assoc", "provider_queue", "event_queue", "ready", "tls_args"):
        assert isinstance(inspect.getattr_static(AssociationSocket, name), property), (
            name,
            REVIEW,
        )
    for name in ("_shutdown_socket", "connect", "close", "send", "recv"):
        assert callable(getattr(AssociationSocket, name)), (name, REVIEW)
    assert list(inspect.signature(AssociationSocket.connect).parameters) == ["self", "primitive"]
    assert callable(AddressInformation.from_tuple)
    assert hasattr(evt, "EVT_CONN_OPEN")


def test_association_and_dul_members_used_by_fast_kill():
    ae = AE()
    assoc = Association(ae, "requestor")
    for name in ("_reactor_checkpoint", "_kill", "is_established", "_is_paused", "dul"):
        assert hasattr(assoc, name), (name, REVIEW)
    assert isinstance(assoc._reactor_checkpoint, threading.Event)
    assert isinstance(assoc.dul, threading.Thread)
    assert callable(assoc.dul.stop_dul)
    assert isinstance(assoc.dul._run_loop_delay, float), REVIEW
    assert hasattr(assoc.dul, "to_provider_queue")


def test_preconnected_association_end_to_end():
    """The whole trick against a pynetdicom SCP: our socket carries the association, the
    echo succeeds, and the fast teardown releases cleanly."""
    core_assoc._init_pynetdicom()
    scp = AE("SCP")
    scp.add_supported_context(Verification)
    server = scp.start_server(("127.0.0.1", 0), block=False)
    try:
        port = server.server_address[1]
        node = DicomNode("scp", "SCP", "127.0.0.1", port)
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        local_port = sock.getsockname()[1]
        ae = core_assoc.make_ae(core_assoc.LocalAE(), node, Timeouts(5, 5, 5, 5), sock)
        from pynetdicom import build_context

        assoc = core_assoc.associate(
            ae, node, [build_context(Verification)], address="127.0.0.1", low_latency=True
        )
        try:
            assert assoc.is_established
            assert assoc.dul.socket.socket is sock  # our socket, not a new one
            assert assoc.requestor.address_info.port == local_port
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert assoc.dul._run_loop_delay == pytest.approx(0.0002)
            rsp = assoc.send_c_echo()
            assert rsp.Status == 0x0000
            assoc.release()
            assert assoc.is_released
        finally:
            if assoc.is_established:
                assoc.abort()
            assoc.join(5)
    finally:
        server.shutdown()
