"""benchmarks/time_to_target.py: seconds to the seed's number and the target, from a run's histories."""

import sys
from pathlib import Path

import pytest

from nnlab.training import History

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
ttt = pytest.importorskip("time_to_target")


def write(folder: Path, name: str, rows: list[tuple[float, float]], key: str = "val_accuracy") -> None:
    h = History()
    for epoch, (score, seconds) in enumerate(rows, 1):
        h.append(epoch, {"loss": 1.0, key: score}, seconds=seconds)
    h.to_csv(folder / f"{name}.csv")


def test_network_times_sum_epochs_over_phases_and_find_the_first_epoch_reaching(tmp_path):
    write(tmp_path, "transfer-pretrain", [(0.2, 10.0), (0.9, 10.0)])     # another task's score: not counted
    write(tmp_path, "transfer", [(0.5, 5.0), (0.62, 5.0), (0.60, 5.0), (0.7, 5.0)])
    t = ttt.network_times(tmp_path, ("transfer-pretrain", "transfer"), "val_accuracy", seed=0.6, target=0.65)
    assert t == {"seconds_to_seed": 30.0, "seconds_to_target": 40.0, "train_s": 40.0, "epochs": 6,
                 "column": "val_accuracy"}
    never = ttt.network_times(tmp_path, ("transfer",), "val_accuracy", seed=None, target=0.9)
    assert never["seconds_to_seed"] is None and never["seconds_to_target"] is None and never["train_s"] == 20.0
    assert ttt.network_times(tmp_path, ("absent",), "val_accuracy", 0.5, 0.6) is None


def test_errors_count_as_reached_when_at_or_below(tmp_path):
    write(tmp_path, "age", [(14.0, 1.0), (12.9, 1.0), (11.4, 1.0)], key="test_rmse_years")
    t = ttt.network_times(tmp_path, ("age",), "test_rmse_years", seed=13.0, target=11.5)
    assert (t["seconds_to_seed"], t["seconds_to_target"]) == (2.0, 3.0)


def test_entry_names_seed_and_target_and_judges_the_wall_time(tmp_path):
    write(tmp_path, "base", [(0.40, 20.0), (0.46, 20.0)])
    entry = ttt.entry_for("colourization", tmp_path, wall_s=1500.0)
    assert entry["networks"]["base"]["seconds_to_seed"] == 40.0      # seed 0.447, target 0.45
    assert entry["networks"]["base"]["seed"] == 0.447 and entry["networks"]["base"]["target"] == 0.45
    assert set(entry["networks"]) == {"base"}                        # networks without histories are left out
    assert entry["target_s"] == 1200 and entry["met"] is False
    assert "cpu" in entry["machine"]


def test_the_first_phase_to_reach_counts(tmp_path):
    write(tmp_path, "classifier", [(0.5, 2.0), (0.95, 2.0)])
    write(tmp_path, "finetune", [(0.96, 3.0), (0.99, 3.0)])
    t = ttt.network_times(tmp_path, ("classifier", "finetune"), "val_accuracy", seed=0.93, target=0.975)
    assert (t["seconds_to_seed"], t["seconds_to_target"], t["train_s"]) == (4.0, 10.0, 10.0)
