"""batch-size: the Smith et al. (2017) comparison (decay the rate, or grow the batch) and METRICS."""

import csv
import json
import math

import pytest

from nnlab.experiments import get
from nnlab.experiments.exp_batch_size import SMOKE

pytestmark = pytest.mark.slow  # every test reads the batch-size smoke run (seconds)


@pytest.fixture(scope="module")
def bs_run(smoke_run):
    """The session's default batch-size smoke run (tests/conftest.py), only read here."""
    return smoke_run("batch-size")


def _history(run_dir, name):
    with open(run_dir / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_schedule_study_writes_its_table_figure_and_metrics(bs_run):
    metrics = json.loads((bs_run / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    assert (bs_run / "figures" / "schedules.png").is_file()
    with open(bs_run / "tables" / "schedules.csv", newline="") as f:
        table = {row["run"]: row for row in csv.DictReader(f)}
    assert set(table) == {"learning rate / k", "batch x k"}
    # smoke: 256 training samples, 3 epochs from batch 16, factor 2 after epochs 1 and 2
    assert metrics["schedule_lr_decay_updates"] == 3 * math.ceil(256 / 16) == int(table["learning rate / k"]["updates"])
    assert metrics["schedule_batch_increase_updates"] == 16 + 8 + 4 == int(table["batch x k"]["updates"])
    assert metrics["schedule_update_ratio"] == round(28 / 48, 4)
    for arm in ("lr_decay", "batch_increase"):
        assert 0 <= metrics[f"schedule_{arm}_test_accuracy"] <= 1


def test_both_arms_keep_the_same_lr_over_batch_every_epoch(bs_run):
    decay, grow = _history(bs_run, "history-lr-decay"), _history(bs_run, "history-batch-increase")
    st = SMOKE["schedule"]
    assert [int(float(r["batch_size"])) for r in decay] == [16, 16, 16]
    assert [int(float(r["batch_size"])) for r in grow] == [16, 32, 64]
    assert [float(r["lr"]) for r in grow] == [0.1] * st["epochs"]
    assert [float(r["lr"]) for r in decay] == pytest.approx([0.1, 0.05, 0.025])
    for d, g in zip(decay, grow):  # Smith et al.'s noise scale, lr / B, is the same in both runs
        assert float(d["lr"]) / float(d["batch_size"]) == pytest.approx(float(g["lr"]) / float(g["batch_size"]))
    assert [int(float(r["updates"])) for r in grow] == [16, 24, 28]  # cumulative optimizer steps


def test_every_recorded_metric_is_described(bs_run):
    exp = get("batch-size")
    assert exp.about
    metrics = json.loads((bs_run / "metrics.json").read_text())
    missing = [k for k in metrics if k not in ("wall_s", "status", "error") and exp.describe(k) is None]
    assert not missing, missing
    assert exp.describe("test_accuracy_batch16") == ("test accuracy after the last epoch, batch 16", "fraction")
