"""What every CLI command gets: paths, settings, node directory, audit log, secrets."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.logs import setup_logging
from pacsadmin.core.node_service import NodeService
from pacsadmin.core.nodes import DicomNode, NodeDirectory, parse_target
from pacsadmin.core.paths import AppPaths
from pacsadmin.core.secrets import SecretStore
from pacsadmin.core.settings import Settings, load_settings


@dataclass
class CliContext:
    paths: AppPaths
    settings: Settings

    @classmethod
    def create(cls, config_dir: str | None, *, verbose: bool = False) -> CliContext:
        paths = AppPaths.resolve(config_dir).ensure()
        setup_logging(paths.logs_dir, verbose=verbose, console=verbose)
        return cls(paths, load_settings(paths.settings_file))

    @cached_property
    def nodes(self) -> NodeDirectory:
        return NodeDirectory(self.paths.nodes_file)

    @cached_property
    def node_service(self) -> NodeService:
        """Node changes with their secrets and audit records (the window uses the same)."""
        return NodeService(self.nodes, self.secrets, self.audit, via="cli")

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.paths.audit_db)

    @cached_property
    def secrets(self) -> SecretStore:
        return SecretStore()

    @property
    def local(self) -> LocalAE:
        return LocalAE.from_settings(self.settings)

    def resolve_target(self, target: str) -> DicomNode:
        """A node name from the directory, or an ad-hoc ``AET@HOST:PORT``."""
        from pacsadmin.cli.main import UsageError
        from pacsadmin.core.errors import ValidationError

        node = self.nodes.find(target)
        if node is not None:
            return node
        try:
            adhoc = parse_target(target)
        except ValidationError as exc:
            raise UsageError(f"{target!r}: {exc}") from None
        if adhoc is None:
            raise UsageError(
                f"{target!r} is neither a node in the directory nor AET@HOST:PORT "
                f"(see 'pacsadmin nodes list')."
            )
        return adhoc
