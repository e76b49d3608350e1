"""The Doctor's return-path test in its outcomes, against Orthanc and dcmqrscp: success;
the PACS lacks our AE title; the PACS has our AE title with a wrong port."""

from __future__ import annotations

from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.return_path import return_path


def test_return_path_works(qr, local, archive, job):
    r = return_path(local, qr.node(), archive=archive, ctx=job.job, wait=10, bind="127.0.0.1")
    assert r.verdict == "ok", (r.sentence, r.advice)
    assert r.first_inbound_ms is not None and 0 < r.first_inbound_ms < 10000
    assert r.inbound_address == "127.0.0.1" and r.receiver is not None and r.receiver.started
    assert archive.counts()["instances"] == 1  # the object moved is in the archive


def test_return_path_with_a_given_instance(qr, local, archive, dataset, job):
    uid = dataset[0][1].instances[2]
    r = return_path(local, qr.node(), archive=archive, ctx=job.job, instance=uid, bind="127.0.0.1")
    assert r.verdict == "ok", (r.sentence, r.advice)
    assert r.instance == uid


def test_return_path_pacs_lacks_our_ae(qr, ports, archive, job):
    me = LocalAE("STRANGER", ports["local"])
    r = return_path(me, qr.node(), archive=archive, ctx=job.job, wait=5, bind="127.0.0.1")
    assert r.verdict == "unknown_ae", (r.sentence, r.advice)
    assert "STRANGER" in r.sentence
    assert "AE title STRANGER" in r.advice and "127.0.0.1" in r.advice
    assert f"port {ports['local']}" in r.advice


def test_return_path_pacs_has_a_wrong_port(qr, ports, archive, job):
    # WRONGPORT is registered at the PACS with a port where nothing listens
    me = LocalAE("WRONGPORT", ports["local"])
    r = return_path(me, qr.node(), archive=archive, ctx=job.job, wait=5, bind="127.0.0.1")
    assert r.verdict == "no_inbound", (r.sentence, r.advice)
    assert "wrong address or port" in r.sentence
    assert f"port {ports['local']}" in r.advice
    assert archive.counts()["instances"] == 0


def _doctor(home, qr, ports, *args):
    import json

    from tests.peers import app_cli

    p = app_cli(
        home,
        "doctor",
        qr.target,
        "--return-path",
        "--port",
        str(ports["local"]),
        "--bind",
        "127.0.0.1",
        "--wait",
        "5",
        *args,
    )
    out = json.loads(p.stdout.decode()) if "--json" in args else p.stdout.decode()
    return p.returncode, out, p.stderr.decode()


def test_doctor_return_path_cli_ok(qr, ports, tmp_path):
    code, out, err = _doctor(tmp_path / "home", qr, ports)
    assert code == 0, out + err
    assert "[OK  ] return path" in out and "opened an association back" in out


def test_doctor_return_path_cli_json_unknown_ae(qr, ports, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.json").write_text('{"schema_version": 1, "local_ae_title": "STRANGER"}')
    code, out, err = _doctor(home, qr, ports, "--json")
    assert code == 1, (out, err)
    assert out["return_path"]["verdict"] == "unknown_ae"
    assert "STRANGER" in out["return_path"]["advice"]


def test_doctor_instance_needs_return_path(tmp_path):
    from tests.peers import app_cli

    p = app_cli(tmp_path / "home", "doctor", "X@127.0.0.1:104", "--instance", "1.2.3")
    assert p.returncode == 2 and b"--return-path" in p.stderr
