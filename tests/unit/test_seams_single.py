"""The library seams stay single: no private name of pynetdicom or pydicom outside them.

pacsadmin/core/dimse/_pynetdicom.py and pacsadmin/core/_pydicom.py are the only modules
allowed to use pynetdicom's and pydicom's internals (tests/unit/test_library_seams.py
guards what they rely on).  import-linter cannot say this (its forbidden contracts name
only top-level external packages, not ``pynetdicom._config``, and it does not see
attribute access), so this test reads the code of pacsadmin/, tests/ and benchmarks/ and
lists every use outside the seams:

* an import of a private module or name (``from pynetdicom import _config``,
  ``from pydicom.filereader import _read_file_meta_info``), or of
  ``pynetdicom.dimse_messages`` as a module (its globals are what the seam patches);
* an attribute whose name is private in pynetdicom or pydicom (read from their source:
  ``self._x`` assignments, ``_x`` functions and module names), read or set on anything
  but ``self`` / ``cls`` (``assoc._kill``, ``ds._dict``), unless pacsadmin defines that
  name itself (``job._fn``); the hooks the seams exist for are listed always;
* a method or ``self._x`` of a library-private name in a class that subclasses a
  pynetdicom or pydicom class (an override of an internal);
* the same in Python source held in a string (a benchmark's subprocess script).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pydicom
import pynetdicom

ROOT = Path(__file__).resolve().parents[2]
SEAMS = {
    Path("pacsadmin/core/dimse/_pynetdicom.py"),
    Path("pacsadmin/core/_pydicom.py"),
    Path("tests/unit/test_library_seams.py"),  # the guards of the seams reach in to check
    Path("tests/unit/test_library_seams_pydicom.py"),
    Path("tests/unit/test_seams_single.py"),
}
LIBRARIES = ("pynetdicom", "pydicom")
# the internals the seams exist for: flagged even where pacsadmin has a name like them
ALWAYS = {
    "_create_socket",
    "_reactor_checkpoint",
    "_kill",
    "_is_paused",
    "_run_loop_delay",
    "_servers",
    "_read_pdu_data",
    "_shutdown_socket",
    "_is_connected",
    "_tls_args",
    "_dict",
    "_character_set",
    "set_original_encoding",  # public, but how dcmread leaves a data set is the seam's
}


def _files() -> list[Path]:
    out = []
    for top in ("pacsadmin", "tests", "benchmarks"):
        out += [p for p in (ROOT / top).rglob("*.py") if p.relative_to(ROOT) not in SEAMS]
    return sorted(out)


@cache
def _library_private() -> frozenset[str]:
    names: set[str] = set()
    for mod in (pynetdicom, pydicom):
        for f in Path(mod.__file__).parent.rglob("*.py"):
            if "tests" in f.parts:
                continue
            text = f.read_text(encoding="utf-8", errors="replace")
            names |= set(re.findall(r"\bself\.(_[A-Za-z]\w*)", text))
            names |= set(re.findall(r"^\s*def (_[A-Za-z]\w*)", text, re.M))
            names |= set(re.findall(r"^(_[A-Za-z]\w*)\s*[:=]", text, re.M))
    return frozenset(n for n in names if not n.startswith("__"))


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"), str(p))) for p in _files()]


def _defined_by_us(trees: list[tuple[Path, ast.Module]]) -> set[str]:
    """Private names pacsadmin's own code defines (attributes of self, functions, class
    and module variables), outside classes that subclass a library class."""
    out: set[str] = set()
    for _, tree in trees:
        lib_classes = {id(c) for c in _library_subclasses(tree)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and id(node) in lib_classes:
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    out.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                out.add(node.id)
    return {n for n in out if n.startswith("_")} - ALWAYS


def _library_names(tree: ast.Module) -> set[str]:
    """Names bound in ``tree`` by imports from pynetdicom or pydicom."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
            out |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {
                (a.asname or a.name).split(".")[0]
                for a in node.names
                if a.name.split(".")[0] in LIBRARIES
            }
    return out


def _library_subclasses(tree: ast.Module) -> list[ast.ClassDef]:
    names = _library_names(tree)

    def base_name(b: ast.expr) -> str:
        while isinstance(b, ast.Attribute):
            b = b.value
        return b.id if isinstance(b, ast.Name) else ""

    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.ClassDef) and any(base_name(b) in names for b in n.bases)
    ]


def _private_module(module: str) -> bool:
    parts = module.split(".")
    return parts[0] in LIBRARIES and any(p.startswith("_") for p in parts[1:])


def _violations(tree: ast.Module, ours: set[str], where: str) -> list[str]:
    lib = _library_private()
    out = []
    for node in ast.walk(tree):
        line = f"{where}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
            mod = node.module or ""
            if _private_module(mod):
                out.append(f"{line}: import from {mod}")
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    out.append(f"{line}: import {mod}.{a.name}")
                if mod == "pynetdicom" and a.name == "dimse_messages":
                    out.append(f"{line}: import pynetdicom.dimse_messages (the seam patches it)")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if _private_module(a.name) or a.name == "pynetdicom.dimse_messages":
                    out.append(f"{line}: import {a.name}")
        elif isinstance(node, ast.Attribute):
            on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            name = node.attr
            if not on_self and (name in ALWAYS or (name in lib and name not in ours)):
                out.append(f"{line}: .{name}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if any(x in text for x in LIBRARIES) and "import" in text:
                try:
                    inner = ast.parse(text)
                except SyntaxError:
                    continue
                out += _violations(inner, ours, f"{line} (in a string)")
    for cls in _library_subclasses(tree):
        for node in ast.walk(cls):
            name = ""
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = node.name
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                name = node.attr if node.value.id == "self" else ""
            if name in lib:
                out.append(f"{where}:{node.lineno}: {cls.name}.{name} (a library internal)")
    return out


def test_no_private_library_names_outside_the_seams():
    trees = _trees()
    ours = _defined_by_us(trees)
    found = []
    for path, tree in trees:
        found += _violations(tree, ours, str(path.relative_to(ROOT)))
    assert not found, (
        "private names of pynetdicom/pydicom outside the seams (move them into "
        "pacsadmin/core/dimse/_pynetdicom.py or pacsadmin/core/_pydicom.py, with a guard in "
        "tests/unit/test_library_seams.py):\n" + "\n".join(sorted(set(found)))
    )


def test_the_guard_sees_each_kind_of_use():
    """The checks above find what they are meant to find (so the empty list means it)."""
    code = """
from pynetdicom import _config, dimse_messages
from pydicom.filereader import _read_file_meta_info
import pynetdicom._handlers
from pynetdicom import AE
from pynetdicom.transport import AssociationSocket
assoc._kill = True
raw = ds._dict.get(1)
ds.set_original_encoding(True, True, None)
x = thing._user_private_name
class S(AssociationSocket):
    def _shutdown_socket(self):
        self._tls_args = None
SCRIPT = "from pynetdicom import _config\\n_config.X = 1\\n"
"""
    found = _violations(ast.parse(code), {"_user_private_name"}, "x")
    text = "\n".join(found)
    for needle in (
        "import pynetdicom._config",
        "pynetdicom.dimse_messages",
        "import pydicom.filereader._read_file_meta_info",
        "import pynetdicom._handlers",
        "._kill",
        "._dict",
        ".set_original_encoding",
        "S._shutdown_socket",
        "S._tls_args",
        "(in a string)",
    ):
        assert needle in text, (needle, found)
    assert "_user_private_name" not in text
