"""The import rules of the architecture, enforced."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SRC = ROOT / "src" / "nnlab"
PURE = ["engine", "training", "metrics"]
FORBIDDEN = {"torch", "torchvision", "nnlab.data", "nnlab.models", "nnlab.torchlib", "nnlab.experiments",
             "nnlab.reporting", "nnlab.cli", "nnlab.exercises"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_never_import_torch_data_or_experiments(package):
    offenders = []
    for path in (SRC / package).rglob("*.py"):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_engine_imports_only_numpy_at_runtime():
    code = (
        "import sys; before = set(sys.modules); import nnlab.engine; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "print(sorted(m for m in new if m not in sys.stdlib_module_names and m not in ('nnlab', 'numpy')"
        " and not m.startswith('_')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"nnlab.engine pulled in third-party modules: {out}"


def test_library_code_does_not_print():
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "library code prints instead of logging: " + ", ".join(offenders)
