"""A plain ``pip install .`` (not editable) into a fresh virtual environment gives a working
``pacsadmin``: its version, its resources, its entry points, and echo against a local
SCP, run from that environment and nothing else (issue 12 sections 3 and 5).

It installs from a copy of the project (pip builds in the source tree: ``build/``), with
pip's own wheel cache; about 35 s on the development machine (the dependencies' wheels
cached, PySide6 the biggest), longer when pip must download them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.peers import HOST, Peer, _launch, free_port, start_storescp

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "shots"
)


def _project_copy(dest: Path) -> Path:
    """The project's files (what a clone holds), without build leftovers or caches."""
    shutil.copytree(ROOT, dest, ignore=IGNORE)
    return dest


def _clean_env(home: Path) -> dict[str, str]:
    """No PYTHONPATH (the checkout must not be imported), this test's own data folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PACSADMIN_HOME"] = str(home)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("pkg")
    src = _project_copy(tmp / "src")
    env_dir = tmp / "venv"
    base = getattr(sys, "_base_executable", sys.executable)  # not this venv's python
    subprocess.run([base, "-m", "venv", str(env_dir)], check=True, timeout=120)
    assert not (env_dir / "pyvenv.cfg").read_text().count("include-system-site-packages = true")
    p = subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
         "-q", str(src)],
        capture_output=True, timeout=900, cwd=tmp, env=_clean_env(tmp / "home"),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr.decode()[-3000:]
    return env_dir


def _run(env_dir: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(env_dir / "bin" / "pacsadmin"), *args],
        capture_output=True, text=True, timeout=120, cwd=home.parent, env=_clean_env(home),
    )  # fmt: skip


def test_version_from_the_installed_package(installed, tmp_path):
    from pacsadmin import __version__

    p = _run(installed, "--version", home=tmp_path / "home")
    assert p.returncode == 0 and p.stdout.strip() == f"pacsadmin {__version__}"
    code = (
        "import pacsadmin, sys; from pacsadmin.core.appfiles import resource; "
        "print(pacsadmin.__file__); "
        "print(all(resource(*f).is_file() for f in [('icons', 'pacsadmin-256.png'), "
        "('icons', 'pacsadmin.svg'), ('pacsadmin.desktop',)]))"
    )
    q = subprocess.run(
        [str(installed / "bin" / "python"), "-c", code],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=_clean_env(tmp_path / "h"),
    )  # fmt: skip
    where, resources = q.stdout.split()
    assert Path(where).is_relative_to(installed), "imported from the checkout, not the venv"
    assert resources == "True", "icons or the .desktop entry are missing from the wheel"
    assert (installed / "bin" / "pacsadmin-gui").is_file()  # the GUI script


def test_metadata(installed, tmp_path):
    code = (
        "import importlib.metadata as m; d = m.metadata('pacsadmin'); "
        "print(d['License-Expression']); print(len(d.get_all('Classifier') or [])); "
        "print(sorted(e.name for e in m.entry_points(group='gui_scripts') "
        "if e.value.startswith('pacsadmin')))"
    )
    q = subprocess.run(
        [str(installed / "bin" / "python"), "-c", code],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=_clean_env(tmp_path / "h"),
    )  # fmt: skip
    lic, classifiers, gui = q.stdout.splitlines()
    assert lic == "MIT" and int(classifiers) >= 10 and gui == "['pacsadmin-gui']"


def test_echo_from_the_installed_package(installed, tmp_path):
    home = tmp_path / "home"
    peer = start_storescp(tmp_path / "storescp")
    try:
        p = _run(installed, "echo", peer.target, home=home)
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        peer.stop()
    # and the installed app's own SCP, echoed by the installed app
    port = free_port()
    argv = [str(installed / "bin" / "pacsadmin"), "--config-dir", str(home), "serve",
            "--aet", "WHEELSCP", "--port", str(port), "--bind", HOST, "--workers", "1"]  # fmt: skip
    scp = _launch(
        "installed serve", argv, tmp_path / "serve", [port],
        lambda proc: Peer("serve", "WHEELSCP", port, proc, tmp_path / "serve"),
    )  # fmt: skip
    try:
        p = _run(installed, "echo", f"WHEELSCP@{HOST}:{port}", home=home)
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        scp.stop()
