"""The Doctor's TLS step against a real TLS DICOM peer (pynetdicom SCP) on 127.0.0.1.

Certificates are made with the openssl command: a CA, a server certificate for localhost /
127.0.0.1, a short-lived one, and a client certificate whose key has a passphrase.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from pacsadmin.cli.main import main
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.echo import diagnose
from pacsadmin.core.nodes import DicomNode, TlsSettings
from tests.conftest import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]

PASSPHRASE = "client-key-pass"


def _ssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    _ssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "30",
        "-subj",
        "/CN=Test Hospital CA",
        cwd=d,
    )
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, days in (("server", "400"), ("shortlived", "10")):
        _ssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN=localhost/O={name}",
            cwd=d,
        )
        _ssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            days,
            "-extfile",
            "san.ext",
            cwd=d,
        )
    _ssl("genrsa", "-aes256", "-passout", f"pass:{PASSPHRASE}", "-out", "client.key", "2048", cwd=d)
    _ssl(
        "req",
        "-new",
        "-key",
        "client.key",
        "-passin",
        f"pass:{PASSPHRASE}",
        "-out",
        "client.csr",
        "-subj",
        "/CN=PACSADMIN",
        cwd=d,
    )
    _ssl(
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "client.pem",
        "-days",
        "30",
        cwd=d,
    )
    return d


def _tls_scp(pki: Path, cert: str = "server", require_client: bool = False):
    from pynetdicom import AE

    from pacsadmin.core.dimse.association import quiet_pynetdicom

    quiet_pynetdicom()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki / f"{cert}.pem", pki / f"{cert}.key")
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki / "ca.pem")
    ae = AE(ae_title="TLSSCP")
    ae.add_supported_context("1.2.840.10008.1.1")
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, ssl_context=ctx)
    return server, port


@pytest.fixture
def tls_scp(pki):
    server, port = _tls_scp(pki)
    yield port
    server.shutdown()


def tls_node(port: int, pki: Path, host: str = "localhost", **tls) -> DicomNode:
    settings = dict(enabled=True, ca_bundle=str(pki / "ca.pem"))
    settings.update(tls)
    return DicomNode(
        name="tls", ae_title="TLSSCP", host=host, port=port, tls=TlsSettings(**settings)
    ).validated()


def step(result, key):
    return next(s for s in result.steps if s.key == key)


def test_tls_echo_reports_protocol_cipher_subject_expiry(tls_scp, pki):
    r = diagnose(LocalAE(), tls_node(tls_scp, pki))
    assert r.ok, r.summary
    s = step(r, "tls")
    assert s.status == "ok"
    assert r.tls_info["protocol"] in ("TLSv1.2", "TLSv1.3")
    assert r.tls_info["cipher"]
    assert "commonName=localhost" in r.tls_info["subject"]
    assert r.tls_info["not_after"] and r.tls_info["days_left"] > 300
    assert "TLSv1." in s.detail and "valid until" in s.detail


def test_untrusted_certificate_says_why(tls_scp, pki):
    r = diagnose(LocalAE(), tls_node(tls_scp, pki, ca_bundle=""))  # system trust store only
    assert not r.ok and r.failed_step.key == "tls"
    assert "Certificate verification failed" in r.failed_step.detail
    assert "unable to get local issuer certificate" in r.failed_step.detail
    assert "CA bundle" in r.failed_step.advice
    assert step(r, "associate").status == "skipped"  # no silent fallback to plain DICOM


def test_hostname_mismatch_is_named(pki):
    if True:
        (pki / "other.ext").write_text("subjectAltName=DNS:pacs.example.org\n")
        _ssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other.csr",
            "-subj",
            "/CN=pacs.example.org",
            cwd=pki,
        )
        _ssl(
            "x509",
            "-req",
            "-in",
            "other.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "other.pem",
            "-days",
            "30",
            "-extfile",
            "other.ext",
            cwd=pki,
        )
    server, port = _tls_scp(pki, cert="other")
    try:
        r = diagnose(LocalAE(), tls_node(port, pki, host="127.0.0.1"))
        assert r.failed_step.key == "tls"
        assert "mismatch" in r.failed_step.detail.lower()
        assert "host you typed" in r.failed_step.advice
        ok = diagnose(LocalAE(), tls_node(port, pki, host="127.0.0.1", verify_hostname=False))
        assert ok.ok, ok.summary
    finally:
        server.shutdown()


def test_certificate_expiring_soon_is_a_warning(pki):
    server, port = _tls_scp(pki, cert="shortlived")
    try:
        r = diagnose(LocalAE(), tls_node(port, pki))
        assert r.ok
        s = step(r, "tls")
        assert s.status == "warning" and "expires in" in s.advice
    finally:
        server.shutdown()


def test_tls_to_a_plain_dicom_port_fails_at_tls(pki):
    from pynetdicom import AE

    ae = AE(ae_title="PLAIN")
    ae.add_supported_context("1.2.840.10008.1.1")
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False)
    try:
        r = diagnose(LocalAE(), tls_node(port, pki), timeout=3)
        assert r.failed_step.key == "tls"
        assert "handshake" in r.failed_step.detail.lower() or "TLS" in r.failed_step.detail
    finally:
        server.shutdown()


def test_missing_ca_file_is_a_config_error(tls_scp, pki):
    r = diagnose(LocalAE(), tls_node(tls_scp, pki, ca_bundle=str(pki / "nope.pem")))
    assert r.failed_step.key == "tls" and "not found" in r.failed_step.detail


def test_mutual_tls_with_passphrase_from_keyring(pki, capsys, memory_keyring):
    server, port = _tls_scp(pki, require_client=True)
    try:
        base = [
            "nodes",
            "add",
            "mtls",
            "--ae",
            "TLSSCP",
            "--host",
            "localhost",
            "--port",
            str(port),
            "--tls",
            "--ca-bundle",
            str(pki / "ca.pem"),
            "--client-cert",
            str(pki / "client.pem"),
            "--client-key",
            str(pki / "client.key"),
        ]
        assert main(base) == 0
        capsys.readouterr()
        # no passphrase stored yet: the key cannot be loaded, and the doctor says so
        assert main(["echo", "mtls", "--json"]) == 1
        out = json.loads(capsys.readouterr().out)
        failed = next(s for s in out["results"][0]["steps"] if s["status"] == "failed")
        assert failed["step"] == "tls" and "passphrase" in failed["detail"]
        memory_keyring.set_password("pacsadmin", "node/mtls/tls-key-passphrase", "wrong")
        assert main(["echo", "mtls"]) == 1
        err = capsys.readouterr().err
        assert "TLS handshake failed" in err and "passphrase" in err
        memory_keyring.set_password("pacsadmin", "node/mtls/tls-key-passphrase", PASSPHRASE)
        assert main(["echo", "mtls"]) == 0
        assert "succeeded" in capsys.readouterr().out
    finally:
        server.shutdown()


def test_mutual_tls_without_client_certificate_is_refused(pki):
    server, port = _tls_scp(pki, require_client=True)
    try:
        r = diagnose(LocalAE(), replace(tls_node(port, pki)), timeout=3)
        assert not r.ok
        assert r.failed_step.key in ("tls", "associate")
    finally:
        server.shutdown()
