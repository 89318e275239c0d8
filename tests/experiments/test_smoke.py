"""Every registered experiment runs end to end with --smoke: tiny synthetic data, seconds."""

import json

import pytest

from nnlab.experiments import load_all, run_experiment

NAMES = sorted(n for n in load_all() if n != "dummy-test")


@pytest.mark.parametrize("name", NAMES)
def test_smoke_run_writes_a_complete_run_folder(name, tmp_path, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA", raising=False)  # smoke runs must need no data files
    run_dir = run_experiment(name, smoke=True, out=tmp_path / name)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    assert (run_dir / "config.yaml").is_file() and (run_dir / "run.log").is_file()
    figures = list((run_dir / "figures").glob("*.png"))
    assert figures, f"{name} drew no figure"
    assert (run_dir / "report.html").read_text().count("data:image/png;base64,") == len(figures)


def test_every_experiment_has_a_summary_and_a_smoke_setting():
    experiments = load_all()
    for name in NAMES:
        assert experiments[name].summary and "\n" not in experiments[name].summary
        assert experiments[name].smoke, f"{name} has no smoke settings"
