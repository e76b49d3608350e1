import json

import pytest

from pacsadmin.core.errors import SettingsError, ValidationError
from pacsadmin.core.paths import AppPaths
from pacsadmin.core.settings import (
    SCHEMA_VERSION,
    Settings,
    load_settings,
    migrate,
    save_settings,
    with_timeouts,
)


def test_defaults():
    s = Settings()
    assert s.local_ae_title == "PACSADMIN" and s.scp_port == 11112
    assert s.timeouts.connect > 0 and s.timeouts.acse > 0
    s.validate()


def test_roundtrip(tmp_path):
    p = tmp_path / "settings.json"
    s = with_timeouts(Settings(local_ae_title="ADMIN1", scp_port=4242), connect=1.5)
    save_settings(p, s)
    data = json.loads(p.read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert load_settings(p) == s


def test_missing_file_gives_defaults(tmp_path):
    assert load_settings(tmp_path / "none.json") == Settings()


def test_migration_from_unversioned_file(tmp_path):
    p = tmp_path / "settings.json"
    p.write_text(json.dumps({"local_ae_title": "OLD", "unknown_key": 1}))
    s = load_settings(p)
    assert s.local_ae_title == "OLD"
    assert migrate({})["schema_version"] == SCHEMA_VERSION


def test_newer_schema_is_refused():
    with pytest.raises(SettingsError, match="newer pacsadmin"):
        migrate({"schema_version": SCHEMA_VERSION + 1})


@pytest.mark.parametrize(
    "bad",
    [
        {"local_ae_title": "X" * 17},
        {"scp_port": 0},
        {"max_pdu": 100},
        {"worker_count": 0},
        {"retrieve_per_node_limit": 0},
        {"retrieve_per_node_limit": "2"},
        {"timeouts": {"connect": 0}},
    ],
)
def test_bad_values_are_refused(tmp_path, bad):
    p = tmp_path / "settings.json"
    p.write_text(json.dumps(bad))
    with pytest.raises((ValidationError, SettingsError)):
        load_settings(p)


def test_corrupt_file(tmp_path):
    p = tmp_path / "settings.json"
    p.write_text("[1, 2")
    with pytest.raises(SettingsError, match="Cannot read settings"):
        load_settings(p)


def test_paths_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("PACSADMIN_HOME", str(tmp_path / "env"))
    assert AppPaths.resolve().home == (tmp_path / "env").resolve()
    assert AppPaths.resolve(tmp_path / "cli").home == (tmp_path / "cli").resolve()
    monkeypatch.delenv("PACSADMIN_HOME")
    assert "pacsadmin" in str(AppPaths.resolve().home)


def test_scp_tls_and_deadline_settings(tmp_path):
    s = Settings()
    assert s.scp_tls is False and s.scp_association_deadline == 3600
    with pytest.raises(ValidationError, match="certificate file"):
        Settings(scp_tls=True).validate()
    with pytest.raises(ValidationError, match="deadline"):
        Settings(scp_association_deadline=0).validate()
    ok = Settings(scp_tls=True, scp_tls_cert="/etc/cert.pem", scp_association_deadline=120)
    p = tmp_path / "settings.json"
    save_settings(p, ok)
    assert load_settings(p) == ok
    assert "passphrase" not in p.read_text()


def test_scp_config_from_settings():
    from pacsadmin.core.dimse.scp import ScpConfig

    cfg = ScpConfig.from_settings(
        Settings(scp_tls=True, scp_tls_cert="c.pem", scp_tls_client_ca="ca.pem",
                 scp_association_deadline=90)
    )  # fmt: skip
    assert cfg.tls is not None and cfg.tls.client_ca == "ca.pem"
    assert cfg.association_deadline == 90
    assert ScpConfig.from_settings(Settings()).tls is None


def test_serve_deadline_flag_bound_is_the_settings_bound():
    from pacsadmin.cli import serve_security
    from pacsadmin.core import settings

    assert serve_security.MAX_DEADLINE == settings.MAX_DEADLINE
