"""Finding run folders: the newest finished run of each experiment and preset, sweeps apart."""

import json

import pytest
import yaml

from nnlab.reporting.runs import find_runs, find_sweeps, newest_runs, read_run


def _run(folder, experiment="e", preset=None, smoke=False, status="ok", started="2026-01-01T00:00:00",
         overrides=()):
    folder.mkdir(parents=True)
    meta = {"experiment": experiment, "preset": preset, "smoke": smoke, "started": started,
            "overrides": list(overrides)}
    (folder / "config.yaml").write_text(yaml.safe_dump({"run": meta, "config": {}}))
    (folder / "metrics.json").write_text(json.dumps({"status": status, "acc": 0.5}))
    return folder


def test_the_newest_finished_canonical_run_of_each_preset_wins(tmp_path):
    _run(tmp_path / "e" / "old", started="2026-01-01T00:00:00")
    new = _run(tmp_path / "e" / "new", started="2026-02-01T00:00:00")
    _run(tmp_path / "e" / "newer-but-failed", started="2026-03-01T00:00:00", status="failed")
    _run(tmp_path / "e" / "newer-with-set", started="2026-03-02T00:00:00", overrides=["lr=1"])
    _run(tmp_path / "e" / "newer-smoke", started="2026-03-03T00:00:00", smoke=True)
    seed = _run(tmp_path / "bench" / "e" / "s", preset="seed")
    _run(tmp_path / "sweeps" / "e" / "x" / "trials" / "lr=1", started="2027-01-01T00:00:00")  # a grid point
    runs = find_runs(tmp_path)
    assert len(runs) == 6  # the trial is not a run of the experiment's settings
    best = newest_runs(runs)
    assert best[("e", None)].path == new and best[("e", "seed")].path == seed
    assert newest_runs(runs, smoke=True)[("e", None)].path.name == "newer-smoke"


def test_folders_that_are_not_runs_are_skipped(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "config.yaml").write_text("just: a config\n")
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "config.yaml").write_text("[unclosed\n")
    assert read_run(tmp_path / "x") is None and read_run(tmp_path / "y") is None
    assert find_runs(tmp_path) == [] and find_runs(tmp_path / "does-not-exist") == []


def test_sweeps_are_found_with_their_grid_and_rows(tmp_path):
    folder = tmp_path / "sweeps" / "e" / "s1"
    folder.mkdir(parents=True)
    (folder / "sweep.yaml").write_text(yaml.safe_dump({"experiment": "e", "grid": {"lr": [1, 0.1]},
                                                       "preset": "seed", "set": ["models=[unet]"], "smoke": False}))
    (folder / "results.csv").write_text("lr,acc,state\n0.1,0.5,COMPLETE\n1,0.4,COMPLETE\n")
    (sweep,) = find_sweeps(tmp_path)
    assert sweep.grid == {"lr": [1, 0.1]} and sweep.overrides == ["models=[unet]"] and sweep.rows[0]["acc"] == "0.5"


def test_a_run_report_displays_inline_in_jupyter(smoke_run, tmp_path):
    from nnlab.reporting.report import RunReport

    folder = smoke_run("blobs-bce")
    metrics = RunReport(folder, full=False)._repr_html_()
    assert "<h3>blobs-bce (smoke run)</h3>" in metrics and "<table>" in metrics
    assert "<code>min_loss</code>" in metrics and "data:image/png" not in metrics
    full = RunReport(folder)._repr_html_()
    assert full.count("data:image/png;base64,") >= 3            # the figures are embedded, not linked
    assert "<h2>Configuration</h2>" in full
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        RunReport(tmp_path)


def test_a_revision_that_reads_like_a_number_is_shown_as_written(smoke_run, tmp_path):
    import shutil

    from nnlab.reporting.report import report_markdown

    folder = shutil.copytree(smoke_run("blobs-bce"), tmp_path / "run")
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    cfg["run"]["git"] = "2594e85"                  # 2594 x 10^85 to a number parser
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    text = report_markdown(folder)
    assert "git `2594e85`" in text and "25,940,000" not in text
