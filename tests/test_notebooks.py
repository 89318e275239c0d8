"""The tutorial notebooks in ``notebooks/``: stored without outputs, and each runs top to bottom.

The execution test runs every notebook in smoke mode (``NNLAB_NOTEBOOK_SMOKE=1``, ``NNLAB_DATA``
unset: synthetic data and ``--smoke`` experiments) in a fresh kernel of this interpreter, in a
temporary folder, and checks that no cell failed, that figures and tables were shown, and that
the experiments it ran finished as smoke runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 300        # a smoke notebook takes well under a minute; one cell gets this long at most


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_tutorials_are_there():
    names = {p.name for p in NOTEBOOKS}
    assert "00-first-hour.ipynb" in names
    for seed in ("000", "001", "002", "003", "004"):
        assert any(f"-seed{seed}-" in n for n in names), f"no notebook for seed {seed} in {sorted(names)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_clean(path):
    """Committed without outputs or execution counts, for the python3 kernel, with the settings cell."""
    nb = _read(path)
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", f"{path.name}: kernelspec is not python3"
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} hold outputs; clear them before committing"
    assert nb["cells"][0]["cell_type"] == "markdown", f"{path.name}: a lesson opens with text"
    settings = "".join(_code_cells(nb)[0]["source"])
    assert 'os.environ.get("NNLAB_NOTEBOOK_SMOKE") == "1"' in settings and "NNLAB_DATA" in settings, (
        f"{path.name}: the first code cell must set SMOKE from NNLAB_NOTEBOOK_SMOKE and NNLAB_DATA")


def _kernel_for_this_interpreter(folder: Path) -> Path:
    """A ``python3`` kernelspec that starts this interpreter (not another one a user installed)."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (nnlab tests)", "language": "python"}))
    return folder


def _shows_table(output: dict) -> bool:
    data = output.get("data", {})
    return "<table" in "".join(data.get("text/html", "")) or "|---" in "".join(data.get("text/markdown", ""))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_runs_top_to_bottom(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="running the notebooks needs nbformat (the notebooks extra)")
    nbclient = pytest.importorskip("nbclient", reason="running the notebooks needs nbclient (the notebooks extra)")
    pytest.importorskip("ipykernel", reason="running the notebooks needs ipykernel (the notebooks extra)")
    from nbclient.exceptions import CellExecutionError

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("JUPYTER_PATH", str(_kernel_for_this_interpreter(tmp_path / "jupyter")))
    monkeypatch.setenv("NNLAB_NOTEBOOK_SMOKE", "1")
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")           # NNLAB_CACHE: conftest gives every test its own

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(work)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed in a cell:\n{exc}")

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    figures = sum("image/png" in o.get("data", {}) for o in outputs)
    assert figures >= 3, f"{path.name} showed {figures} figure(s)"
    assert any(_shows_table(o) for o in outputs), f"{path.name} showed no table"

    runs = sorted(p.parent for p in (work / "runs").glob("*/*/metrics.json"))
    assert runs, f"{path.name} ran no experiment into runs/"
    for run in runs:
        assert json.loads((run / "metrics.json").read_text())["status"] == "ok", run
        assert "smoke: true" in (run / "config.yaml").read_text(), f"{run} is not a smoke run"
