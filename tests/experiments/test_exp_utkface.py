"""utkface-mlp: the smoke run (synthetic faces) writes its figures, metrics and report; reproducible."""

import json

import numpy as np

from nnlab.experiments import EXPERIMENTS, load_all, resolve_config, run_experiment

FIGURES = {"age-curves", "ethnicity-curves", "gender-curves", "age-scatter", "ethnicity-confusion",
           "gender-confusion", "study-zero-init", "study-init-scale", "study-lr"}
METRICS = {"age_rmse", "ethnicity_accuracy", "gender_accuracy", "age_rmse_ridge", "ethnicity_accuracy_logistic",
           "gender_accuracy_logistic", "zero_init_final_loss"}


def test_registered_with_a_seed_preset():
    exp = load_all()["utkface-mlp"]
    assert exp.objective == ("age_rmse", "min") and exp.engines == ("numpy",)
    seed = resolve_config(exp, preset="seed")
    assert seed.pca_components == 128 and seed.age.hidden == [35, 6] and seed.age.momentum == 0.99
    assert seed.age.schedule == "auto" and seed.age.loss == "mse" and seed.ethnicity.loss == "cross_entropy"


def test_smoke_run_writes_figures_and_metric_keys(tmp_path):
    run = run_experiment("utkface-mlp", smoke=True, out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "ok" and METRICS <= set(metrics)
    assert 0 <= metrics["ethnicity_accuracy"] <= 1 and 0 <= metrics["gender_accuracy"] <= 1
    assert metrics["age_rmse"] > 0 and metrics["n_duplicate_images"] > 0
    # zero initialisation: the hidden weights never leave zero, so the units stay identical
    assert metrics["zero_init_weight_abs_max"] == 0 and metrics["zero_init_units_distinct"] == 1
    assert FIGURES <= {p.stem for p in (run / "figures").glob("*.png")}
    assert (run / "tables" / "mlp-vs-baseline.csv").read_text().count("\n") == 4  # header + 3 tasks
    assert "age_rmse" in (run / "report.html").read_text()


def test_smoke_seed_preset_and_same_seed_same_metrics(tmp_path):
    a = json.loads((run_experiment("utkface-mlp", smoke=True, preset="seed", out=tmp_path / "a",
                                   overrides=["studies=false"]) / "metrics.json").read_text())
    b = json.loads((run_experiment("utkface-mlp", smoke=True, preset="seed", out=tmp_path / "b",
                                   overrides=["studies=false"]) / "metrics.json").read_text())
    keys = [k for k in a if k not in ("wall_s",)]
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    assert np.isfinite(a["age_rmse"]) and "utkface-mlp" in EXPERIMENTS
