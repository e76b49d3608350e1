"""Application settings: a typed dataclass saved as versioned JSON.

The file carries ``schema_version``; :func:`migrate` upgrades older files step by step
(the shape of Picard's ``config_upgrade.py``).  Unknown keys are kept out, missing keys
get their defaults, and a value of the wrong type is an error with the key's name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pacsadmin.core.errors import SettingsError, ValidationError
from pacsadmin.core.fileio import atomic_write_text

SCHEMA_VERSION = 1
MAX_DEADLINE = 7 * 24 * 3600  # seconds: an association deadline of a week at most


@dataclass(frozen=True)
class Timeouts:
    """Seconds.  Every wait is bounded (docs/safety.md rule 7)."""

    connect: float = 5.0
    acse: float = 10.0
    dimse: float = 30.0
    network: float = 60.0

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v <= 3600:
                raise ValidationError(
                    f"timeout_{f.name}",
                    f"The {f.name} timeout must be a number of seconds between 0 and 3600 "
                    f"(got {v!r}).",
                )


@dataclass(frozen=True)
class Settings:
    local_ae_title: str = "PACSADMIN"
    scp_port: int = 11112
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_pdu: int = 0  # 0: unlimited (peers then send large PDUs, see docs/notes.md)
    worker_count: int = 8
    per_node_limit: int = 2
    retrieve_per_node_limit: int = 2  # retrieves at once from one node; more wait, queued
    # local storage / Q/R SCP and archive (issue 3)
    scp_whitelist: bool = False  # accept only calling AE titles of nodes in the directory
    scp_check_address: bool = False  # ... and only from the node's host address
    scp_max_associations: int = 10  # simultaneous associations (per SCP process)
    scp_worker_processes: int = 0  # 0: number of cores minus one, at least one
    duplicate_policy: str = "keep_first"  # or "overwrite" (same SOP Instance UID)
    archive_fsync: bool = False  # fsync each received file before it is renamed into place
    scp_autostart: bool = True  # the GUI starts the local SCP (its own process) with it
    # TLS on the local SCP (issue 10): the key's passphrase is in the OS keyring
    # (core/secrets.py: SCP_TLS_PASSPHRASE_KEY), never here
    scp_tls: bool = False
    scp_tls_cert: str = ""  # PEM certificate (chain) file
    scp_tls_key: str = ""  # PEM private key file ("": the key is in the certificate file)
    scp_tls_client_ca: str = ""  # CA file: when set, callers must present a certificate from it
    # seconds an association may last, from its TCP connection to its end (a slow-drip
    # peer cannot hold one of the scp_max_associations slots for ever)
    scp_association_deadline: float = 3600.0
    # the Query panel's recent queries, newest first (core/dimse/find_form.py QueryForm JSON)
    recent_queries: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    schema_version: int = SCHEMA_VERSION

    def validate(self) -> Settings:
        from pacsadmin.core.nodes import validate_ae_title, validate_port

        validate_ae_title(self.local_ae_title, field="local_ae_title")
        validate_port(self.scp_port, field="scp_port")
        self.timeouts.validate()
        if not isinstance(self.max_pdu, int) or not (
            self.max_pdu == 0 or 4096 <= self.max_pdu <= 2**32 - 1
        ):
            raise ValidationError("max_pdu", "Max PDU must be 0 (unlimited) or 4096 or more.")
        if not isinstance(self.worker_count, int) or not 1 <= self.worker_count <= 64:
            raise ValidationError("worker_count", "Worker count must be between 1 and 64.")
        if not isinstance(self.per_node_limit, int) or not 1 <= self.per_node_limit <= 16:
            raise ValidationError("per_node_limit", "Per-node limit must be between 1 and 16.")
        if not isinstance(self.retrieve_per_node_limit, int) or not (
            1 <= self.retrieve_per_node_limit <= 16
        ):
            raise ValidationError(
                "retrieve_per_node_limit", "Retrieves at once per node must be between 1 and 16."
            )
        for name in ("scp_whitelist", "scp_check_address", "archive_fsync", "scp_autostart"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(name, f"{name} must be true or false.")
        if not isinstance(self.scp_max_associations, int) or not (
            1 <= self.scp_max_associations <= 200
        ):
            raise ValidationError(
                "scp_max_associations", "Simultaneous associations must be between 1 and 200."
            )
        if not isinstance(self.scp_worker_processes, int) or not (
            0 <= self.scp_worker_processes <= 64
        ):
            raise ValidationError(
                "scp_worker_processes", "SCP worker processes must be between 0 (auto) and 64."
            )
        validate_scp_tls(self)
        d = self.scp_association_deadline
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 1 <= d <= MAX_DEADLINE:
            raise ValidationError(
                "scp_association_deadline",
                f"The association deadline must be between 1 and {MAX_DEADLINE} seconds "
                f"(got {d!r}).",
            )
        if not isinstance(self.recent_queries, tuple) or not all(
            isinstance(q, dict) for q in self.recent_queries
        ):
            raise ValidationError("recent_queries", "Recent queries must be a list of objects.")
        if self.duplicate_policy not in ("keep_first", "overwrite"):
            raise ValidationError(
                "duplicate_policy", "Duplicate policy must be 'keep_first' or 'overwrite'."
            )
        return self

    @property
    def effective_scp_workers(self) -> int:
        import os

        if self.scp_worker_processes:
            return self.scp_worker_processes
        return max(1, (os.cpu_count() or 1) - 1)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["schema_version"] = SCHEMA_VERSION
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settings:
        data = migrate(dict(data))
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        t = kwargs.pop("timeouts", None) or {}
        if not isinstance(t, dict):
            raise SettingsError("settings: 'timeouts' must be an object")
        tk = {f.name for f in fields(Timeouts)}
        timeouts = Timeouts(**{k: v for k, v in t.items() if k in tk})
        if isinstance(kwargs.get("recent_queries"), list):
            kwargs["recent_queries"] = tuple(kwargs["recent_queries"])
        return cls(timeouts=timeouts, **kwargs).validate()


def validate_scp_tls(s: Settings) -> None:
    """The TLS settings of the local SCP: types, and a certificate whenever TLS is on (the
    files themselves are checked when the SCP starts: they may live on a share)."""
    if not isinstance(s.scp_tls, bool):
        raise ValidationError("scp_tls", "scp_tls must be true or false.")
    for name in ("scp_tls_cert", "scp_tls_key", "scp_tls_client_ca"):
        if not isinstance(getattr(s, name), str):
            raise ValidationError(name, f"{name} must be a file name (text).")
    if s.scp_tls and not s.scp_tls_cert:
        raise ValidationError(
            "scp_tls_cert", "TLS on the local SCP needs a certificate file (scp_tls_cert)."
        )


# Each entry upgrades a file *from* that version to the next one.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: lambda d: {**d, "schema_version": 1},  # files written before versioning
}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("schema_version", 0)
    if not isinstance(version, int) or version < 0:
        raise SettingsError(f"settings: bad schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise SettingsError(
            f"The settings file was written by a newer pacsadmin (schema {version}); "
            f"this version reads up to schema {SCHEMA_VERSION}."
        )
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version = data["schema_version"]
    return data


def load_settings(path: Path) -> Settings:
    if not path.exists():
        return Settings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"Cannot read settings file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"Settings file {path} does not hold a JSON object.")
    try:
        return Settings.from_json(data)
    except TypeError as exc:
        raise SettingsError(f"Settings file {path}: {exc}") from exc


def save_settings(path: Path, settings: Settings) -> None:
    settings.validate()
    atomic_write_text(path, json.dumps(settings.to_json(), indent=2) + "\n")


def with_timeouts(settings: Settings, **kw: float) -> Settings:
    return replace(settings, timeouts=replace(settings.timeouts, **kw))
