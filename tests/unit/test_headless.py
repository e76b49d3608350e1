"""The core and the CLI never import Qt (docs/architecture.md section 1)."""

import subprocess
import sys
from pathlib import Path

import pacsadmin

ROOT = Path(pacsadmin.__file__).parent


def test_core_and_cli_do_not_import_qt():
    code = (
        "import sys, pkgutil, importlib, pacsadmin.core, pacsadmin.cli\n"
        "for pkg in (pacsadmin.core, pacsadmin.cli):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "from pacsadmin.cli.main import build_parser; build_parser()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'pyqtgraph', 'shiboken6', 'superqt')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "", f"Qt imported by core/cli: {out.stdout}"


def test_no_qt_import_statements_in_core_or_cli():
    offenders = []
    for sub in ("core", "cli"):
        for path in (ROOT / sub).rglob("*.py"):
            for line in path.read_text().splitlines():
                s = line.strip()
                if s.startswith(("import ", "from ")) and any(
                    q in s.split()[1] for q in ("PySide6", "pyqtgraph", "shiboken6")
                ):
                    offenders.append(f"{path}: {s}")
    assert not offenders


def test_import_linter_contract():
    import shutil

    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        import pytest

        pytest.skip("import-linter not installed")
    out = subprocess.run([lint], capture_output=True, text=True, timeout=300, cwd=ROOT.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    # every contract in pyproject.toml was checked (the Qt rule and the core's layers)
    import tomllib

    config = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
    names = [c["name"] for c in config["tool"]["importlinter"]["contracts"]]
    assert len(names) >= 3
    for name in names:
        assert f"{name} KEPT" in out.stdout, out.stdout


# What a CLI command must not import before its handler runs: Qt, the DICOM and imaging
# libraries, and the core's network and archive packages (each costs 50-300 ms).
HEAVY = (
    "PySide6",
    "shiboken6",
    "pyqtgraph",
    "superqt",
    "numpy",
    "pydicom",
    "pynetdicom",
    "PIL",
    "sqlite3",
    "ssl",
    "keyring",
    "platformdirs",
    "pacsadmin.core",
)


def test_cli_modules_import_nothing_heavy_before_a_handler_runs():
    """``pacsadmin find|move|get|echo|doctor ...`` parse their arguments with argparse and
    the cli modules alone (heavy imports are inside the handlers), so they start as fast
    as ``echo`` does; checked in a fresh interpreter after building the parser and parsing
    each command line."""
    code = (
        "import sys\n"
        "from pacsadmin.cli.main import build_parser\n"
        "p = build_parser()\n"
        "for argv in (['find', 'A@h:104', '--level', 'series', '-k', 'PatientName=X*', '--json'],\n"
        "             ['move', 'A@h:104', '--study', '1.2.3', '--dest', 'B'],\n"
        "             ['get', 'A@h:104', '--series', '1.2.3'],\n"
        "             ['echo', 'A@h:104'], ['doctor', 'A@h:104', '--return-path']):\n"
        "    p.parse_args(argv)\n"
        f"heavy = {HEAVY!r}\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "", f"imported before any handler ran: {out.stdout}"
