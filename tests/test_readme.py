"""The README states no number that its results files do not hold."""

import importlib.util

from tests.conftest import ROOT


def _readme_table_module():
    spec = importlib.util.spec_from_file_location("readme_table", ROOT / "benchmarks" / "readme_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_results_table_is_the_one_generated_from_the_results_files():
    module = _readme_table_module()
    readme = (ROOT / "README.md").read_text()
    assert module.BEGIN in readme and module.END in readme
    shown = readme.split(module.BEGIN, 1)[1].split(module.END, 1)[0].strip()
    assert shown == module.table().strip(), (
        "README.md's results table differs from benchmarks/results/; run `python benchmarks/readme_table.py --write`")


def test_the_time_to_result_table_is_the_one_generated_from_its_results_file():
    module = _readme_table_module()
    readme = (ROOT / "README.md").read_text()
    assert module.TIME_BEGIN in readme and module.TIME_END in readme
    shown = readme.split(module.TIME_BEGIN, 1)[1].split(module.TIME_END, 1)[0].strip()
    assert shown == module.time_table().strip(), "run `python benchmarks/readme_table.py --write`"
    assert "mnist-autoencoder" in shown and "wall time (whole run)" in shown


def test_the_table_has_a_seed_preset_column_filled_where_measured():
    table = _readme_table_module().table()
    header = table.splitlines()[0]
    assert "nnlab, seed preset" in header and "nnlab, default" in header
    rows = [line for line in table.splitlines()[2:] if "age RMSE on the test split" in line]
    assert rows and "not run" not in rows[0], "utkface-mlp's seed preset must be measured (benchmarks/reproduce.py)"


def test_the_colourization_sweeps_are_the_ones_in_the_results_file():
    module = _readme_table_module()
    readme = (ROOT / "README.md").read_text()
    shown = readme.split(module.SWEEPS_BEGIN, 1)[1].split(module.SWEEPS_END, 1)[0].strip()
    assert shown == module.sweeps_table().strip(), "run `python benchmarks/readme_table.py --write`"
