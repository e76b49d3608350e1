"""Guards of the library seams: what pacsadmin relies on inside pynetdicom and pydicom
(the pydicom seam's in test_library_seams_pydicom.py).

pacsadmin/core/dimse/_pynetdicom.py and pacsadmin/core/_pydicom.py are the only modules
that use private names of pynetdicom and pydicom (test_seams_single.py keeps it so).  Each
test here fails when an upgrade changes what one of their functions relies on: the
attribute or function exists, has the signature called, is what the library itself calls
(and on the thread assumed), behaves as relied upon, and, for code copied from the library,
has the same source.  When one fails: review the seam module against the new library
source, and only then update the expectation here (and the version bound in pyproject).
"""

from __future__ import annotations

import collections
import dis
import hashlib
import inspect
import socket
import tempfile
import threading
import tomllib
from pathlib import Path

import pytest

pynetdicom = pytest.importorskip("pynetdicom")

import pydicom  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pynetdicom import AE, build_context, evt  # noqa: E402
from pynetdicom.association import Association  # noqa: E402
from pynetdicom.dul import DULServiceProvider  # noqa: E402
from pynetdicom.sop_class import CTImageStorage, Verification  # noqa: E402
from pynetdicom.transport import AddressInformation, AssociationSocket  # noqa: E402

from pacsadmin.core.dimse import _pynetdicom  # noqa: E402
from pacsadmin.core.dimse import association as core_assoc  # noqa: E402
from pacsadmin.core.nodes import DicomNode  # noqa: E402
from pacsadmin.core.settings import Timeouts  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REVIEW_NET = (
    "pynetdicom changed an internal that pacsadmin/core/dimse/_pynetdicom.py relies on: "
    "review that module against the new pynetdicom source, then update this test."
)
REVIEW_DCM = (
    "pydicom changed an internal that pacsadmin/core/_pydicom.py relies on: review that "
    "module against the new pydicom source, then update this test."
)


def _series(version: str) -> tuple[int, int]:
    major, minor = (int(x) for x in version.split(".")[:2])
    return major, minor


def _bound(package: str) -> tuple[int, int]:
    """The ``<X.Y`` upper bound of ``package`` in pyproject.toml."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if d.split(">")[0].split("<")[0].strip() == package]
    upper = [p.strip()[1:] for p in spec.split(",") if p.strip().startswith("<")]
    assert upper, f"{package} has no upper bound in pyproject.toml"
    return _series(upper[0])


@pytest.mark.parametrize("module", [pynetdicom, pydicom], ids=["pynetdicom", "pydicom"])
def test_installed_version_is_the_series_below_the_bound(module):
    """The bound is the next minor release: the seams were reviewed against this series."""
    major, minor = _bound(module.__name__)
    assert _series(module.__version__) == (major, minor - 1), (
        f"{module.__name__} {module.__version__} outside the reviewed series: "
        f"{REVIEW_NET if module is pynetdicom else REVIEW_DCM}"
    )


def _digest(obj) -> str:
    src = inspect.getsource(obj)
    norm = "\n".join(line.strip() for line in src.splitlines() if line.strip())
    return hashlib.sha256(norm.encode()).hexdigest()[:16]


def _globals_loaded(fn) -> set[str]:
    """The global names ``fn`` looks up when it runs (so patching the module works)."""
    return {i.argval for i in dis.get_instructions(fn) if i.opname == "LOAD_GLOBAL"}


def _attrs_loaded(fn) -> set[str]:
    ops = ("LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR")
    return {i.argval for i in dis.get_instructions(fn) if i.opname in ops}


# ====================================================================== pynetdicom
# The source of the pynetdicom 3.0.x functions _pynetdicom.py copies or overrides
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
_OBJECTS = {
    "AE._create_socket": AE._create_socket,
    "AE.associate": AE.associate,
    "AssociationSocket.__init__": AssociationSocket.__init__,
    "AssociationSocket.connect": AssociationSocket.connect,
    "Association.kill": Association.kill,
    "DULServiceProvider.stop_dul": DULServiceProvider.stop_dul,
    "AssociationSocket.recv": AssociationSocket.recv,
    "DULServiceProvider._read_pdu_data": DULServiceProvider._read_pdu_data,
}


@pytest.mark.parametrize("name", list(SOURCE_DIGESTS))
def test_source_of_the_copied_or_overridden_internals_is_unchanged(name):
    got = _digest(_OBJECTS[name])
    assert got == SOURCE_DIGESTS[name], f"{name} source digest {got}: {REVIEW_NET}"


def test_config_settings_exist_and_are_read_where_assumed():
    from pynetdicom import _config, association, dimse_messages, service_class, transport

    for name, kind in (
        ("LOG_HANDLER_LEVEL", str),
        ("LOG_REQUEST_IDENTIFIERS", bool),
        ("LOG_RESPONSE_IDENTIFIERS", bool),
        ("STORE_RECV_CHUNKED_DATASET", bool),
        ("STORE_SEND_CHUNKED_DATASET", bool),
    ):
        assert isinstance(getattr(_config, name), kind), (name, REVIEW_NET)
    # each module reads the setting from the _config module at run time
    for module, name in (
        (dimse_messages, "STORE_RECV_CHUNKED_DATASET"),
        (association, "STORE_SEND_CHUNKED_DATASET"),
        (association, "LOG_REQUEST_IDENTIFIERS"),
        (service_class, "LOG_REQUEST_IDENTIFIERS"),
        (transport, "LOG_HANDLER_LEVEL"),
    ):
        assert f"_config.{name}" in inspect.getsource(module), (module.__name__, name, REVIEW_NET)
        assert module._config is _config, REVIEW_NET


def test_config_functions_round_trip():
    before = _pynetdicom.chunked_receive()
    try:
        assert _pynetdicom.set_chunked_receive(not before) is before
        assert _pynetdicom.chunked_receive() is (not before)
    finally:
        _pynetdicom.set_chunked_receive(before)
    previous = _pynetdicom.set_chunked_send(True)
    assert _pynetdicom.set_chunked_send(previous) is True
    _pynetdicom.quiet_logging()
    assert not _pynetdicom.logs_identifiers()


def test_create_socket_signature_and_call():
    sig = inspect.signature(AE._create_socket)
    assert list(sig.parameters) == ["self", "assoc", "address", "tls_args"], REVIEW_NET
    assert "self._create_socket(assoc, local_address, tls_args)" in inspect.getsource(
        AE.associate
    ), REVIEW_NET


def test_association_socket_instance_attributes():
    """PreconnectedSocket skips AssociationSocket.__init__ and sets its attributes itself:
    the set must be exactly what __init__ sets."""
    ae = AE()
    assoc = Association(ae, "requestor")
    real = AssociationSocket(assoc, address=AddressInformation("127.0.0.1", 0))
    try:
        expected = {"_assoc", "_ready", "socket", "_is_connected", "_tls_args", "select_timeout"}
        assert set(vars(real)) == expected, f"{sorted(vars(real))}: {REVIEW_NET}"
        with socket.socket() as s:
            pre = _pynetdicom._preconnected_socket_class()(assoc, s)
            assert set(vars(pre)) == expected | {"_on_first_bytes"}, REVIEW_NET  # ours
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
            REVIEW_NET,
        )
    for name in ("_shutdown_socket", "connect", "close", "send", "recv"):
        assert callable(getattr(AssociationSocket, name)), (name, REVIEW_NET)
    assert list(inspect.signature(AssociationSocket.connect).parameters) == ["self", "primitive"]
    assert callable(AddressInformation.from_tuple)
    assert hasattr(evt, "EVT_CONN_OPEN")


def test_association_and_dul_members_used():
    """kill_association's members; the DUL's poll interval (set_low_latency) and reading
    method (stall_reading) are instance attributes its run loop reads."""
    ae = AE()
    assoc = Association(ae, "requestor")
    for name in ("_reactor_checkpoint", "_kill", "is_established", "_is_paused", "dul"):
        assert hasattr(assoc, name), (name, REVIEW_NET)
    assert isinstance(assoc._reactor_checkpoint, threading.Event)
    assert isinstance(assoc.dul, threading.Thread)
    assert callable(assoc.dul.stop_dul)
    assert isinstance(assoc.dul._run_loop_delay, float), REVIEW_NET
    assert "_run_loop_delay" in _attrs_loaded(DULServiceProvider.run_reactor), REVIEW_NET
    assert "_read_pdu_data" in _attrs_loaded(DULServiceProvider._is_transport_event), REVIEW_NET
    assert list(inspect.signature(DULServiceProvider._read_pdu_data).parameters) == ["self"]
    assert isinstance(inspect.getattr_static(DULServiceProvider, "assoc"), property)
    assert isinstance(ae._servers, list), REVIEW_NET


def test_receive_patch_targets_are_what_the_chunked_receive_calls():
    """decode_msg looks the three names up as globals of dimse_messages at run time, and
    calls them as the seam's comment says (the arguments our replacements accept)."""
    from pynetdicom import dimse_messages
    from pynetdicom.dimse_messages import DIMSEMessage

    from pacsadmin.core.dimse import scp_receive

    loaded = _globals_loaded(DIMSEMessage.decode_msg)
    for name in _pynetdicom.RECEIVE_PATCHED:
        assert name in loaded, (name, REVIEW_NET)
        assert callable(getattr(dimse_messages, name)), (name, REVIEW_NET)
    src = inspect.getsource(DIMSEMessage.decode_msg)
    assert 'NamedTemporaryFile(delete=False, mode="wb", suffix=".dcm")' in src, REVIEW_NET
    assert "self._data_set_file.file.flush()" in src, REVIEW_NET  # _TempFile.file
    ours = inspect.signature(scp_receive._create_file_meta).parameters
    theirs = inspect.signature(dimse_messages.create_file_meta).parameters
    assert list(ours) == list(theirs), REVIEW_NET
    ours = inspect.signature(scp_receive._write_file_meta_info).parameters
    theirs = inspect.signature(dimse_messages.write_file_meta_info).parameters
    assert list(ours) == list(theirs), REVIEW_NET


def test_receive_patches_install_and_remove():
    from pynetdicom import dimse_messages

    assert not _pynetdicom.receive_patches_installed(), "an SCP of an earlier test still runs"
    originals = {n: getattr(dimse_messages, n) for n in _pynetdicom.RECEIVE_PATCHED}
    chunked = _pynetdicom.chunked_receive()

    def a(*args, **kw):
        return None

    def b(*args, **kw):
        return None

    try:
        _pynetdicom.install_receive_patches(a, a, a)
        _pynetdicom.install_receive_patches(b, b, b)  # again: replaces, originals kept
        assert _pynetdicom.receive_patches_installed()
        assert _pynetdicom.chunked_receive() is True
        assert all(getattr(dimse_messages, n) is b for n in _pynetdicom.RECEIVE_PATCHED)
    finally:
        _pynetdicom.remove_receive_patches()
    _pynetdicom.remove_receive_patches()  # again: nothing to do
    assert {n: getattr(dimse_messages, n) for n in _pynetdicom.RECEIVE_PATCHED} == originals
    assert _pynetdicom.chunked_receive() is chunked
    assert not _pynetdicom.receive_patches_installed()


def _ct() -> Dataset:
    from pydicom.uid import ImplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = "SEAM"
    return ds


def _scu(port: int, contexts, **kw):
    ae = AE("SEAMSCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    assoc = ae.associate("127.0.0.1", port, contexts=contexts, ae_title="SEAMSCP", **kw)
    assert assoc.is_established
    return assoc


def test_chunked_receive_calls_the_patches_on_the_dul_thread(tmp_path):
    """A real association: the three patched functions are called for a received C-STORE,
    with the arguments assumed, on a thread whose current_association() is the acceptor."""
    from pydicom import dcmread
    from pydicom.filewriter import write_file_meta_info
    from pynetdicom.dsutils import create_file_meta

    assert not _pynetdicom.receive_patches_installed(), "an SCP of an earlier test still runs"
    calls: list[tuple[str, object, dict]] = []

    def temp_file(*args, **kw):
        calls.append(("temp", _pynetdicom.current_association(), kw))
        return tempfile.NamedTemporaryFile(*args, dir=tmp_path, **kw)

    def meta(**kw):
        calls.append(("meta", None, kw))
        return create_file_meta(**kw)

    def write(fp, file_meta, *args):
        calls.append(("write", None, {"fp": fp}))
        write_file_meta_info(fp, file_meta, *args)

    received = []  # (path, data set): pynetdicom removes the file after the handler

    def on_store(event):
        received.append((Path(event.dataset_path), dcmread(event.dataset_path)))
        return 0x0000

    scp = AE("SEAMSCP")
    scp.add_supported_context(CTImageStorage)
    handlers = [(evt.EVT_C_STORE, on_store)]
    _pynetdicom.install_receive_patches(temp_file, meta, write)
    server = scp.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    try:
        assoc = _scu(server.server_address[1], [build_context(CTImageStorage)])
        ds = _ct()
        try:
            assert assoc.send_c_store(ds).Status == 0x0000
        finally:
            assoc.release()
    finally:
        server.shutdown()
        _pynetdicom.remove_receive_patches()
    kinds = [c[0] for c in calls]
    assert kinds == ["temp", "meta", "write"], (kinds, REVIEW_NET)
    assoc_seen = calls[0][1]
    assert isinstance(assoc_seen, Association) and assoc_seen.is_acceptor, REVIEW_NET
    assert calls[0][2] == {"delete": False, "mode": "wb", "suffix": ".dcm"}, REVIEW_NET
    assert set(calls[1][2]) == {"sop_class_uid", "sop_instance_uid", "transfer_syntax"}
    ((path, got),) = received
    assert path.parent == tmp_path
    assert got.SOPInstanceUID == ds.SOPInstanceUID
    assert got.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_acse_reads_require_calling_aet_on_the_association_thread():
    """scp_access.ScpAE's allow-list looks at the association current_association() gives
    while pynetdicom's ACSE reads ``require_calling_aet``."""
    seen = []

    class Probe(AE):
        @property
        def require_calling_aet(self):
            seen.append(_pynetdicom.current_association())
            return []

        @require_calling_aet.setter
        def require_calling_aet(self, value):
            pass

    scp = Probe("SEAMSCP")
    scp.add_supported_context(Verification)
    server = scp.start_server(("127.0.0.1", 0), block=False)
    try:
        assoc = _scu(server.server_address[1], [build_context(Verification)])
        assoc.release()
    finally:
        server.shutdown()
    acceptors = [a for a in seen if a is not None]
    assert acceptors and all(a.is_acceptor for a in acceptors), REVIEW_NET
    assert acceptors[0].requestor.address == "127.0.0.1", REVIEW_NET
    assert _pynetdicom.current_association() is None  # not on pynetdicom's threads


def test_registered_server_is_stopped_by_the_ae():
    """register_server: ``ae.shutdown()`` stops a server we started ourselves, and the
    server's own shutdown finds itself in the AE's list."""
    for stop in ("ae", "server"):
        ae = AE("SEAMSCP")
        ae.add_supported_context(Verification)
        server = ae.make_server(("127.0.0.1", 0))
        th = threading.Thread(target=server.serve_forever, daemon=True)
        th.start()
        _pynetdicom.register_server(ae, server)
        assoc = _scu(server.server_address[1], [build_context(Verification)])
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        if stop == "ae":
            ae.shutdown()
        else:
            server.shutdown()  # raises when the server is not in the AE's list
        th.join(5)
        assert not th.is_alive(), (stop, REVIEW_NET)


def test_preconnected_association_end_to_end():
    """Our socket carries the association (preconnected_ae_class), TCP_NODELAY and the low
    latency poll are set from EVT_CONN_OPEN, the echo succeeds, and the fast teardown
    (kill_association) releases cleanly and ends the DUL thread."""
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
        assoc = core_assoc.associate(
            ae, node, [build_context(Verification)], address="127.0.0.1", low_latency=True
        )
        try:
            assert assoc.is_established
            assert assoc.dul.socket.socket is sock  # our socket, not a new one
            assert assoc.requestor.address_info.port == local_port
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert assoc.dul._run_loop_delay == pytest.approx(_pynetdicom.LOW_LATENCY_POLL)
            assert assoc.send_c_echo().Status == 0x0000
            assoc.release()
            assert assoc.is_released
            assert not assoc.dul.is_alive()
        finally:
            if assoc.is_established:
                assoc.abort()
            assoc.join(5)
    finally:
        server.shutdown()


def test_stall_reading_stops_and_resumes_the_dul():
    """While stalled, the DUL calls the gate instead of reading the echo response that
    arrived; once out of the stall and the gate set, it reads it."""
    stalled = threading.Event()

    class Gate(threading.Event):
        def wait(self, timeout=None):
            stalled.set()
            return super().wait(timeout)

    scp = AE("SEAMSCP")
    scp.add_supported_context(Verification)
    server = scp.start_server(("127.0.0.1", 0), block=False)
    gate = Gate()
    try:
        assoc = _scu(server.server_address[1], [build_context(Verification)])
        statuses = []
        echo = threading.Thread(target=lambda: statuses.append(assoc.send_c_echo().Status))
        try:
            with _pynetdicom.stall_reading(assoc, gate):
                echo.start()
                assert stalled.wait(10), REVIEW_NET  # the response came; not read
                assert not statuses
            assert "_read_pdu_data" not in vars(assoc.dul)
            gate.set()
            echo.join(10)
            assert statuses == [0x0000]
        finally:
            gate.set()
            echo.join(10) if echo.is_alive() else None
            assoc.release()
    finally:
        server.shutdown()


def test_chunked_send_sends_the_file_bytes_without_decoding(tmp_path, monkeypatch):
    """set_chunked_send(True): send_c_store(path) reads the file meta group only and sends
    the data set's bytes as they are in the file (core/dimse/send.py relies on it: no
    decode, no re-encode); pydicom's dcmread is never called for the file."""
    from pynetdicom import association as assoc_module

    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.PatientID = "SEAM"
    ds.PixelData = bytes(range(256)) * 64
    ds["PixelData"].VR = "OW"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    path = tmp_path / "seam.dcm"
    ds.save_as(path, enforce_file_format=True)
    data = path.read_bytes()
    offset = 132 + 12 + int.from_bytes(data[140:144], "little")  # after the meta group
    got: list[bytes] = []

    def on_store(event):
        got.append(event.request.DataSet.getvalue())
        return 0x0000

    def no_decoding(*a, **k):
        raise AssertionError("the chunked send decoded the file")

    core_assoc._init_pynetdicom()
    scp = AE("SCP")
    scp.add_supported_context(CTImageStorage, pydicom.uid.ExplicitVRLittleEndian)
    server = scp.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    previous = _pynetdicom.set_chunked_send(True)
    monkeypatch.setattr(assoc_module, "dcmread", no_decoding)
    try:
        ae = AE("SCU")
        ae.add_requested_context(CTImageStorage, pydicom.uid.ExplicitVRLittleEndian)
        assoc = ae.associate("127.0.0.1", server.server_address[1], ae_title="SCP")
        assert assoc.is_established
        try:
            assert assoc.send_c_store(path).Status == 0x0000
        finally:
            assoc.release()
    finally:
        _pynetdicom.set_chunked_send(previous)
        server.shutdown()
    assert got == [data[offset:]], REVIEW_NET


def test_reactor_and_senders_read_dimse_messages_as_responses_to_the_caller_assumes():
    """responses_to_the_caller: the reactor reads with get_msg(block=False), every send_*
    with get_msg(block=True); get_msg reads msg_queue, where wake_on_close puts
    (None, None), which send_c_store takes as "no response" (it aborts and returns)."""
    from pynetdicom.dimse import DIMSEServiceProvider

    reactor = inspect.getsource(Association._run_reactor)
    assert "self.dimse.get_msg(block=False)" in reactor, REVIEW_NET
    store = inspect.getsource(Association.send_c_store)
    assert "self.dimse.get_msg(block=True)" in store, REVIEW_NET
    assert "if rsp is None:" in store, REVIEW_NET
    get_msg = inspect.getsource(DIMSEServiceProvider.get_msg)
    assert "self.msg_queue.get(" in get_msg, REVIEW_NET
    assert list(inspect.signature(DIMSEServiceProvider.get_msg).parameters) == ["self", "block"]

    class FakeDimse:
        def __init__(self):
            import queue

            self.msg_queue = queue.Queue()

        def get_msg(self, block=False):
            return DIMSEServiceProvider.get_msg(self, block)

        dimse_timeout = 1

    class FakeAssoc:
        dimse = FakeDimse()

    assoc = FakeAssoc()
    assoc.dimse.msg_queue.put((1, "RSP"))
    _pynetdicom.responses_to_the_caller(assoc)
    assert assoc.dimse.get_msg(block=False) == (None, None)  # the reactor gets nothing
    assert assoc.dimse.get_msg(block=True) == (1, "RSP")  # the sender gets the response

    class Event:
        pass

    ev = Event()
    ev.assoc = assoc
    _pynetdicom.wake_on_close(ev)
    assert assoc.dimse.get_msg(block=True) == (None, None)


def test_cut_connection_ends_an_association_from_another_thread():
    """cut_connection (the SCP's association deadline): the socket at
    ``assoc.dul.socket.socket``, shut down from this thread, ends the association on both
    sides as a lost connection (the acceptor's EVT_CONN_CLOSE runs)."""
    core_assoc._init_pynetdicom()
    closed = threading.Event()
    accepted: list = []
    scp = AE("SCP")
    scp.add_supported_context(Verification)
    handlers = [
        (evt.EVT_ACCEPTED, lambda e: accepted.append(e.assoc)),
        (evt.EVT_CONN_CLOSE, lambda e: closed.set()),
    ]
    server = scp.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    try:
        scu = AE("SCU")
        scu.add_requested_context(Verification)
        scu.network_timeout = scu.acse_timeout = 30
        assoc = scu.associate("127.0.0.1", server.server_address[1], ae_title="SCP")
        assert assoc.is_established and accepted
        assert _pynetdicom.cut_connection(accepted[0])
        assert closed.wait(5), REVIEW_NET
        assoc.join(5)
        assert not assoc.is_established
        assert not _pynetdicom.cut_connection(accepted[0])  # nothing left to cut
    finally:
        server.shutdown()


def test_fast_receive_hooks_rely_on_what_pynetdicom_does():
    """take_over_reading / wants_control / restart_idle_timer / pause_reactor: the DUL
    reads a PDU with ``self._read_pdu_data()`` once per ready socket, in the state kept
    in ``state_machine.current_state`` ("Sta6": established), reading its bytes with
    ``self.socket.recv(n)`` (header, then body) and queuing "Evt17" / "Evt19" on
    ``event_queue`` when it cannot; primitives to send wait on ``to_provider_queue``; the
    idle timer is ``_idle_timer`` with ``restart()``; the association's reactor waits on
    ``_reactor_checkpoint`` and checks ``_kill``; ``abort()`` sets the checkpoint."""
    ae = AE()
    assoc = Association(ae, "acceptor")
    dul = assoc.dul
    assert dul.state_machine.current_state == "Sta1", REVIEW_NET
    assert isinstance(dul.to_provider_queue.queue, collections.deque), REVIEW_NET
    assert isinstance(dul.event_queue.queue, collections.deque), REVIEW_NET
    assert callable(dul._idle_timer.restart), REVIEW_NET
    assert isinstance(dul._kill_thread, bool), REVIEW_NET
    read = _attrs_loaded(DULServiceProvider._read_pdu_data)
    assert {"socket", "recv", "event_queue", "_recv_pdu"} <= read, REVIEW_NET
    src = inspect.getsource(DULServiceProvider._read_pdu_data)
    assert src.count("self.socket.recv(") == 2 and '"Evt19"' in src, REVIEW_NET
    assert "_reactor_checkpoint" in _attrs_loaded(Association._run_reactor), REVIEW_NET
    assert "_kill" in _attrs_loaded(Association._run_reactor), REVIEW_NET
    assert "_reactor_checkpoint" in _attrs_loaded(Association._abort_blocking), REVIEW_NET
    assert "_idle_timer" in _attrs_loaded(DULServiceProvider.idle_timer_expired), REVIEW_NET
    # the override is an instance attribute that the run loop's read picks up
    called = []
    _pynetdicom.take_over_reading(assoc, lambda: called.append(1) or b"")
    assert "_read_pdu_data" in vars(dul)
    assert isinstance(inspect.getattr_static(Association, "accepted_contexts"), property)


def test_socket_lease_is_where_the_dul_reads():
    """SocketLease overrides the DUL's _is_transport_event: the only place its reactor
    reads the socket (through _read_pdu_data) and restarts the idle timer."""
    reactor = inspect.getsource(DULServiceProvider.run_reactor)
    assert "self._is_transport_event()" in reactor, REVIEW_NET
    dul_src = inspect.getsource(DULServiceProvider)
    check = inspect.getsource(DULServiceProvider._is_transport_event)
    assert dul_src.count("self._read_pdu_data()") == check.count("self._read_pdu_data()") == 2
    assert "_idle_timer.restart()" in reactor, REVIEW_NET


def test_socket_lease_end_to_end():
    """While the socket is leased, a C-ECHO sent and answered as bytes is ours (the DUL
    does not read the response); given back, pynetdicom's own C-ECHO and release work."""
    from pacsadmin.core.dimse.pdu import Messages, PduReader, command, element, p_data

    scp = AE("SEAMSCP")
    scp.add_supported_context(Verification)
    server = scp.start_server(("127.0.0.1", 0), block=False)
    try:
        assoc = _scu(server.server_address[1], [build_context(Verification)])
        try:
            lease = _pynetdicom.SocketLease(assoc)
            assert lease.peer_max_pdu == assoc.acceptor.maximum_length
            sock = lease.take()
            ctx = assoc.accepted_contexts[0].context_id
            uid = b"1.2.840.10008.1.1\x00"
            rq = command(
                [
                    element(0x00000002, None, uid),
                    element(0x00000100, "H", 0x0030),
                    element(0x00000110, "H", 5),
                    element(0x00000800, "H", 0x0101),
                ]
            )
            sock.sendall(p_data(ctx, rq, True, lease.peer_max_pdu))
            kind, body = PduReader(sock, 10).next()
            [(_c, cmd, _d)] = Messages().feed(body)
            assert kind == 4 and cmd[0x00000100] == 0x8030 and cmd[0x00000120] == 5
            lease.give_back()
            assert assoc.send_c_echo().Status == 0x0000
        finally:
            assoc.release()
        assert assoc.is_released
    finally:
        server.shutdown()


def test_store_calls_are_what_the_qr_service_class_calls():
    """override_store_calls / note_cancel (core/dimse/qr_send.py) rely on pynetdicom's
    C-MOVE SCP calling store_assoc.send_c_store / release, its C-GET SCP calling
    self.assoc.send_c_store, both only with a Dataset, and C-CANCELs kept in
    dimse.cancel_req by Message ID Being Responded To."""
    from pynetdicom.dimse import DIMSEServiceProvider
    from pynetdicom.service_class import QueryRetrieveServiceClass

    move = inspect.getsource(QueryRetrieveServiceClass._move_scp)
    assert "store_assoc.send_c_store(" in move and "store_assoc.release()" in move
    assert "originator_aet=self.ae.ae_title" in move, REVIEW_NET
    get = inspect.getsource(QueryRetrieveServiceClass._get_scp)
    assert "self.assoc.send_c_store(dataset, msg_id=msg_id)" in get, REVIEW_NET
    for src in (move, get):
        assert "if not isinstance(dataset, Dataset):" in src, REVIEW_NET
    recv = inspect.getsource(DIMSEServiceProvider)
    assert "self.cancel_req[msg_id] = d_primitive" in recv, REVIEW_NET
    assert "self.dimse.cancel_req" in inspect.getsource(QueryRetrieveServiceClass.is_cancelled)


def test_responses_and_dul_writes_go_where_the_seam_hooks():
    """override_send_msg: the Q/R service class sends every response with
    self.dimse.send_msg(rsp, cx_id); serialized_writes: the DUL writes each PDU with
    self.socket.send(pdu.encode()); SocketLease restores the socket's timeout (the
    acceptor's socket has one: the network timeout)."""
    from pynetdicom.dimse import DIMSEServiceProvider
    from pynetdicom.service_class import QueryRetrieveServiceClass

    assert list(inspect.signature(DIMSEServiceProvider.send_msg).parameters) == [
        "self",
        "primitive",
        "context_id",
    ]
    for fn in (QueryRetrieveServiceClass._move_scp, QueryRetrieveServiceClass._get_scp):
        assert "self.dimse.send_msg(rsp, cx_id)" in inspect.getsource(fn), REVIEW_NET
    assert "self.socket.send(pdu.encode())" in inspect.getsource(DULServiceProvider._send)
