"""The app's own SCP, in-process on a free port, for the interoperability tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

AET = "PACSTEST"


@pytest.fixture
def local_scp(start_scp):
    return start_scp(ae_title=AET)


def run(
    argv: list, *, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run a DCMTK tool (Nagle off, as every peer in these tests); fail with its output."""
    env = {**os.environ, "TCP_NODELAY": "1"}
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=timeout)
    except FileNotFoundError as exc:
        if os.environ.get("PACSADMIN_REQUIRE_PEERS") == "1":
            raise
        pytest.skip(f"{argv[0]} is not installed (dcmtk)")
        raise AssertionError from exc
    return p
