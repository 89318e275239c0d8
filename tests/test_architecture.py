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


@pytest.mark.slow
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


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """nnlab module -> the nnlab modules it imports, counting imports inside functions.

    ``from nnlab.engine import x`` is an edge to ``nnlab.engine.x`` when that is a module, else to
    the package ``nnlab.engine``; ``import nnlab.a.b`` to ``nnlab.a.b``. (Importing a submodule
    also runs its package's ``__init__``; that is Python's doing, not an edge of the module.)
    """
    paths = {_module_name(p): p for p in SRC.rglob("*.py")}

    def known(name: str) -> str:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names]
            edges.update(t for t in map(known, (t for t in targets if t.startswith("nnlab"))) if t and t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle_through_a_function_level_import():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_nnlab_modules():
    graph = _import_graph()
    assert "nnlab.engine.checkpoint" in graph["nnlab.engine.sequential"]     # the graph sees real edges
    cycles = _cycles(graph)
    assert not cycles, "import cycles (imports inside functions count):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


@pytest.mark.slow
def test_the_data_package_loads_without_the_engine():
    code = "import sys, nnlab.data; print(sorted(m for m in sys.modules if m.startswith('nnlab.engine')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"import nnlab.data loaded the engine: {out}"
