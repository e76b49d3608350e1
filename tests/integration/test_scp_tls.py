"""TLS on the local SCP: DCMTK's TLS tools (echoscu/storescu +tls) and the app's own TLS SCU
against it; mutual TLS refusing a caller without a certificate; TLS 1.1 refused; a wrong or
missing key passphrase is a clear start-up error.

Certificates are made here with the openssl command: a CA, a server certificate for
localhost whose key is encrypted, and a client certificate.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.echo import diagnose
from pacsadmin.core.dimse.scp import LocalScp, ScpConfig
from pacsadmin.core.dimse.scp_tls import ScpTls, ScpTlsError
from pacsadmin.core.nodes import DicomNode, TlsSettings
from pacsadmin.core.secrets import SCP_TLS_PASSPHRASE_KEY
from tests.unit.archive.dsgen import make_ds

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]

SERVER_PASS = "server-key-pass"
CLIENT_PASS = "client-key-pass"
AET = "TLSLOCAL"


def _ssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _signed(d: Path, name: str, passphrase: str, subj: str, ext: str | None) -> None:
    _ssl(
        "genrsa", "-aes256", "-passout", f"pass:{passphrase}", "-out", f"{name}.key", "2048", cwd=d
    )
    _ssl(
        "req", "-new", "-key", f"{name}.key", "-passin", f"pass:{passphrase}",
        "-out", f"{name}.csr", "-subj", subj, cwd=d,
    )  # fmt: skip
    extra = ["-extfile", ext] if ext else []
    _ssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "30", *extra, cwd=d,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("scp-pki")
    _ssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "30", "-subj", "/CN=Test Hospital CA", cwd=d,
    )  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _signed(d, "server", SERVER_PASS, "/CN=localhost", "san.ext")
    _signed(d, "client", CLIENT_PASS, "/CN=MODALITY", None)
    return d


class Scp:
    """The local SCP with TLS, in this process; the records it closes are kept."""

    def __init__(self, archive, pki: Path, *, client_ca: bool, passphrase: str | None):
        self.closed: list = []
        self.done = threading.Event()
        tls = ScpTls(
            str(pki / "server.pem"),
            str(pki / "server.key"),
            str(pki / "ca.pem") if client_ca else "",
        )
        cfg = ScpConfig(ae_title=AET, port=0, bind="127.0.0.1", tls=tls)
        self.scp = LocalScp(archive, cfg, listener=self._on, tls_passphrase=passphrase)

    def _on(self, kind, rec) -> None:
        if kind == "close":
            self.closed.append(rec)
            self.done.set()


@pytest.fixture
def tls_scp(archive, pki):
    started: list[LocalScp] = []

    def start(*, client_ca: bool = False, passphrase: str | None = SERVER_PASS) -> Scp:
        s = Scp(archive, pki, client_ca=client_ca, passphrase=passphrase)
        s.scp.start()
        started.append(s.scp)
        return s

    yield start
    for s in started:
        s.stop()


def dcmtk(tool: str, pki: Path, port: int, *extra: str, anonymous: bool = False):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (dcmtk)")
    tls = (
        ["+tla"]
        if anonymous
        else ["+tls", str(pki / "client.key"), str(pki / "client.pem"), "+pw", CLIENT_PASS]
    )
    argv = [tool, *tls, "+cf", str(pki / "ca.pem"), "-aec", AET, "-to", "10"]
    argv += ["127.0.0.1", str(port), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_dcmtk_echo_and_store_over_tls_with_client_certificate(tls_scp, pki, archive, tmp_path):
    s = tls_scp(client_ca=True)
    p = dcmtk("echoscu", pki, s.scp.port)
    assert p.returncode == 0, p.stderr
    f = tmp_path / "ct.dcm"
    make_ds(sop_uid="1.2.3.4.5.6.7.1").save_as(f, enforce_file_format=True)
    p = dcmtk("storescu", pki, s.scp.port, str(f))
    assert p.returncode == 0, p.stderr
    assert archive.counts()["instances"] == 1


def test_a_caller_without_a_client_certificate_is_refused(tls_scp, pki):
    s = tls_scp(client_ca=True)
    p = dcmtk("echoscu", pki, s.scp.port, anonymous=True)
    assert p.returncode != 0
    assert s.done.wait(10)
    refused = s.closed[-1]
    assert "TLS handshake failed" in refused.rejected
    assert "CERTIFICATE" in refused.rejected.upper()
    # the SCP goes on serving callers that present one
    assert dcmtk("echoscu", pki, s.scp.port).returncode == 0


def test_app_tls_scu_echo_and_send(tls_scp, pki, archive, tmp_path, memory_keyring):
    from pacsadmin.core.dimse.send import send

    s = tls_scp(client_ca=True)
    node = DicomNode(
        name="local-tls", ae_title=AET, host="localhost", port=s.scp.port,
        tls=TlsSettings(
            enabled=True, ca_bundle=str(pki / "ca.pem"),
            client_cert=str(pki / "client.pem"), client_key=str(pki / "client.key"),
        ),
    ).validated()  # fmt: skip
    r = diagnose(LocalAE(), node, passphrase=CLIENT_PASS)
    assert r.ok, r.summary
    assert r.tls_info["protocol"] in ("TLSv1.2", "TLSv1.3")
    f = tmp_path / "mr.dcm"
    make_ds(sop_uid="1.2.3.4.5.6.7.2", modality="MR").save_as(f, enforce_file_format=True)
    res = send(LocalAE(), node, [f], passphrase=CLIENT_PASS)
    assert [x.ok for x in res.files] == [True]
    assert archive.counts()["instances"] == 1


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_1_1_is_refused(tls_scp):
    s = tls_scp()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that this OpenSSL offers TLS 1.1 at all
    ctx.minimum_version = ssl.TLSVersion.TLSv1_1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        socket.create_connection(("127.0.0.1", s.scp.port), timeout=10) as raw,
        pytest.raises(ssl.SSLError),
    ):
        ctx.wrap_socket(raw).close()
    # the server saw the TLS 1.1 hello and refused it (not a client that offered nothing)
    assert s.done.wait(10)
    assert "TLS handshake failed" in s.closed[-1].rejected
    assert "VERSION" in s.closed[-1].rejected.upper() or "PROTOCOL" in s.closed[-1].rejected.upper()


def test_a_plain_dicom_caller_is_refused_and_a_silent_one_does_not_block_others(tls_scp, pki):
    from pynetdicom import AE

    s = tls_scp()
    silent = socket.create_connection(("127.0.0.1", s.scp.port), timeout=5)  # says nothing
    try:
        ae = AE("PLAIN")
        ae.add_requested_context("1.2.840.10008.1.1")
        ae.acse_timeout = ae.network_timeout = 5
        assoc = ae.associate("127.0.0.1", s.scp.port, ae_title=AET)
        assert not assoc.is_established
        # a TLS caller is served while the silent one holds its connection
        assert dcmtk("echoscu", pki, s.scp.port).returncode == 0
    finally:
        silent.close()


def test_wrong_or_missing_passphrase_is_a_clear_start_up_error(archive, pki):
    for passphrase, words in (
        ("nope", "passphrase in the OS keyring is wrong"),
        (None, "no passphrase is stored"),
    ):
        s = Scp(archive, pki, client_ca=False, passphrase=passphrase)
        with pytest.raises(ScpTlsError, match=words):
            s.scp.start()
    missing = ScpTls(str(pki / "server.pem"), str(pki / "nothere.key"))
    with pytest.raises(ScpTlsError, match=r"private key file .*nothere\.key does not exist"):
        LocalScp(archive, ScpConfig(port=0, tls=missing), tls_passphrase=SERVER_PASS).start()


def test_serve_says_why_it_does_not_start(pki, capsys, memory_keyring):
    from pacsadmin.cli.main import main
    from tests.conftest import free_port

    argv = [
        "serve", "--port", str(free_port()), "--bind", "127.0.0.1", "--workers", "1", "--tls",
        "--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"),
    ]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "not started" in err and "no passphrase is stored" in err
    memory_keyring.set_password("pacsadmin", SCP_TLS_PASSPHRASE_KEY, "wrong")
    assert main([*argv, "--events"]) == 1
    out, err = capsys.readouterr()
    assert '"reason": "tls_unusable"' in out.replace('":"', '": "')
    assert "wrong" in err and "wrong" not in err.replace("is wrong", "")  # never the secret
    assert main(["serve", "--tls", "--port", "11112"]) == 2  # no certificate: usage


def test_serve_process_with_two_workers_serves_tls(pki, tmp_path):
    """``pacsadmin serve --tls`` as a process with two workers: the flags reach the workers
    (a key without a passphrase: a child process cannot see this test's keyring)."""
    import os
    import signal

    from pacsadmin.core.dimse.scp_events import Listening, parse_line
    from tests.peers import free_port, serve_argv

    _ssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "plain.key", "-out", "plain.csr",
        "-subj", "/CN=localhost", cwd=pki,
    )  # fmt: skip
    _ssl(
        "x509", "-req", "-in", "plain.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "plain.pem", "-days", "30", "-extfile", "san.ext", cwd=pki,
    )  # fmt: skip
    port = free_port()
    argv = serve_argv(
        tmp_path / "home", AET, port, "--events", "--tls", "--tls-cert", str(pki / "plain.pem"),
        "--tls-key", str(pki / "plain.key"), "--tls-client-ca", str(pki / "ca.pem"),
        "--deadline", "600", workers=2,
    )  # fmt: skip
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        listening = []
        while len(listening) < 2:
            line = p.stdout.readline()
            assert line, p.stderr.read().decode(errors="replace")
            ev = parse_line(line)
            if isinstance(ev, Listening):
                listening.append(ev)
        for _ in range(3):  # the kernel spreads the connections over the workers
            r = dcmtk("echoscu", pki, port)
            assert r.returncode == 0, r.stderr
        assert dcmtk("echoscu", pki, port, anonymous=True).returncode != 0
    finally:
        os.kill(p.pid, signal.SIGTERM)
        p.communicate(timeout=30)


def test_tls_passphrase_stdin_stores_it_in_the_keyring(monkeypatch, capsys, memory_keyring):
    import io

    from pacsadmin.cli.main import main

    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    assert main(["serve", "--tls-passphrase-stdin"]) == 0
    assert memory_keyring.get_password("pacsadmin", SCP_TLS_PASSPHRASE_KEY) == "s3cret"
    assert "s3cret" not in capsys.readouterr().err


def test_the_association_deadline_cuts_a_tls_connection(archive, pki):
    """The watchdog's cut works under TLS too: a caller that completes the handshake and
    then says nothing is disconnected at the deadline (not after the network timeout)."""
    import time

    tls = ScpTls(str(pki / "server.pem"), str(pki / "server.key"))
    cfg = ScpConfig(ae_title=AET, port=0, bind="127.0.0.1", tls=tls, association_deadline=2)
    scp = LocalScp(archive, cfg, tls_passphrase=SERVER_PASS).start()
    try:
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        raw = socket.create_connection(("127.0.0.1", scp.port), timeout=30)
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            t0 = time.monotonic()
            try:
                data = s.recv(1)
            except (ssl.SSLError, OSError):
                data = b""
            waited = time.monotonic() - t0
        assert data == b"" and waited < 8, waited
    finally:
        scp.stop()


def test_a_tls_hello_dripped_a_byte_a_second_is_cut_at_the_handshake_limit(archive, pki):
    """The handshake is bounded in all (the ACSE timeout), not per read: a ClientHello sent
    one byte a second is cut off, and the refusal says why."""
    import time

    from pacsadmin.core.settings import Timeouts

    hello_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    hello_ctx.check_hostname, hello_ctx.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = hello_ctx.wrap_bio(incoming, outgoing)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outgoing.read()
    assert len(hello) > 10
    s = Scp(archive, pki, client_ca=False, passphrase=SERVER_PASS)
    s.scp.config = ScpConfig(
        ae_title=AET, port=0, bind="127.0.0.1", tls=s.scp.config.tls,
        timeouts=Timeouts(acse=2.0),
    )  # fmt: skip
    s.scp.start()
    try:
        with socket.create_connection(("127.0.0.1", s.scp.port), timeout=1) as c:
            t0 = time.monotonic()
            for b in hello:
                try:
                    c.sendall(bytes([b]))
                    if c.recv(1) == b"":
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
            waited = time.monotonic() - t0
        assert waited < 6, waited
        assert s.done.wait(10)
        assert "no TLS handshake within 2 s" in s.closed[-1].rejected
    finally:
        s.scp.stop()
