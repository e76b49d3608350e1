"""The window's local SCP (its ``serve`` process) with TLS from the settings: DCMTK's
storescu over TLS stores into the archive, a caller without a client certificate shows as
refused in the Received tab, and an encrypted key without its passphrase stops the start
with the reason in the status bar."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from pacsadmin.core.paths import AppPaths
from pacsadmin.gui.app import PacsAdminApp
from tests.integration.test_scp_tls import _signed, _ssl
from tests.peers import free_port
from tests.unit.archive.dsgen import make_ds

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None or shutil.which("storescu") is None,
    reason="needs the openssl command and DCMTK",
)
WAIT = 60_000


@pytest.fixture
def pki(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    _ssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "30", "-subj", "/CN=Test CA", cwd=d,
    )  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr",
         "-subj", "/CN=localhost", cwd=d)  # fmt: skip
    _ssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "node.pem", "-days", "30", "-extfile", "san.ext", cwd=d)  # fmt: skip
    _signed(d, "client", "client-pass", "/CN=MODALITY", None)
    _signed(d, "locked", "locked-pass", "/CN=localhost", "san.ext")
    return d


@pytest.fixture
def tls_app(qtbot, monkeypatch):
    # the serve process must never reach a real keyring of this machine
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    made = []

    def build(port: int, **settings):
        paths = AppPaths.resolve().ensure()
        base = {"schema_version": 1, "scp_port": port, "scp_autostart": True}
        paths.settings_file.write_text(
            json.dumps({**base, "scp_worker_processes": 1, "scp_tls": True, **settings})
        )
        app = PacsAdminApp(paths, start_scp=True)
        app.errors.dialogs_enabled = False
        qtbot.addWidget(app.window)
        app.window.show()
        made.append(app)
        return app

    yield build
    for app in made:
        app.window.close()
        assert app.shutdown(), "jobs did not stop"


def _tls_tool(tool: str, pki, port: int, *extra: str, client: bool = True):
    tls = ["+tls", str(pki / "client.key"), str(pki / "client.pem"), "+pw", "client-pass"]
    argv = [tool, *(tls if client else ["+tla"]), "+cf", str(pki / "ca.pem")]
    argv += ["-aec", "PACSADMIN", "-aet", "MODALITY", "-to", "10", "127.0.0.1", str(port)]
    return subprocess.run([*argv, *extra], capture_output=True, text=True, timeout=60)


def test_the_window_scp_serves_tls_from_the_settings(tls_app, pki, qtbot, tmp_path):
    port = free_port()
    app = tls_app(
        port,
        scp_tls_cert=str(pki / "node.pem"),
        scp_tls_key=str(pki / "node.key"),
        scp_tls_client_ca=str(pki / "ca.pem"),
    )
    qtbot.waitUntil(lambda: app.scp.state == "listening", timeout=WAIT)
    f = tmp_path / "ct.dcm"
    make_ds(sop_uid="1.2.3.4.77").save_as(f, enforce_file_format=True)
    p = _tls_tool("storescu", pki, port, str(f))
    assert p.returncode == 0, p.stderr
    rows = app.received_model.rows
    qtbot.waitUntil(lambda: any(r.images == 1 for r in rows), timeout=WAIT)
    assert next(r for r in rows if r.images == 1).calling_ae == "MODALITY"
    assert _tls_tool("echoscu", pki, port, client=False).returncode != 0
    qtbot.waitUntil(
        lambda: any("TLS handshake failed" in (r.rejected or "") for r in rows), timeout=WAIT
    )


def test_an_encrypted_key_without_its_passphrase_is_said_at_start(tls_app, pki, qtbot):
    app = tls_app(
        free_port(), scp_tls_cert=str(pki / "locked.pem"), scp_tls_key=str(pki / "locked.key")
    )
    qtbot.waitUntil(lambda: app.scp.state == "failed", timeout=WAIT)
    assert "no passphrase is stored in the OS keyring" in app.scp.message
    assert not app.act_scp.isChecked()
    assert app.scp.failure is not None and app.scp.failure.reason == "tls_unusable"
