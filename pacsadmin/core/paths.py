"""Where pacsadmin keeps its files.

One folder holds everything by default: settings, node directory, audit log, logs and
(later) the archive.  ``--config-dir DIR`` or ``PACSADMIN_HOME`` points all of it at
another folder; tests always do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "PACSADMIN_HOME"


@dataclass(frozen=True)
class AppPaths:
    home: Path

    @classmethod
    def resolve(cls, config_dir: str | os.PathLike[str] | None = None) -> AppPaths:
        if config_dir:
            home = Path(config_dir)
        elif os.environ.get(ENV_HOME):
            home = Path(os.environ[ENV_HOME])
        else:
            import platformdirs

            home = Path(platformdirs.user_data_dir("pacsadmin", appauthor=False))
        return cls(home.expanduser().resolve())

    def ensure(self) -> AppPaths:
        for d in (self.home, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        try:  # the audit log holds patient values: readable by the user only
            os.chmod(self.home, 0o700)
        except OSError:
            pass
        return self

    @property
    def settings_file(self) -> Path:
        return self.home / "settings.json"

    @property
    def nodes_file(self) -> Path:
        return self.home / "nodes.json"

    @property
    def audit_db(self) -> Path:
        return self.home / "audit.sqlite3"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"
