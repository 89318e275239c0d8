"""utkface-mlp: the smoke run (synthetic faces) writes its figures, metrics and report; reproducible.

Two smoke configurations run once per module: the default (with the studies) and ``--preset seed``
(without them, twice, for reproducibility). The seed 000 additions are checked on both: the
preprocessing figure, per-epoch curves in years and accuracy, the logistic-regression age
baseline, training-part accuracies, the activation x loss study, and METRICS covering every key.
"""

import csv
import json
import math

import numpy as np
import pytest

from nnlab.data import synthetic
from nnlab.experiments import EXPERIMENTS, get, load_all, resolve_config, run_experiment
from nnlab.experiments.exp_utkface_mlp import baselines, greyscale_vectors, pixel_stages

FIGURES = {"age-curves", "ethnicity-curves", "gender-curves", "age-scatter", "ethnicity-confusion", "gender-confusion",
           "preprocessing", "age-rmse-curves", "ethnicity-accuracy-curves", "gender-accuracy-curves"}
STUDY_FIGURES = {"study-zero-init", "study-init-scale", "study-lr", "activation-loss-study"}
METRICS = {"age_rmse", "age_rmse_train", "age_rmse_ridge", "age_rmse_logistic", "ethnicity_accuracy",
           "ethnicity_accuracy_train", "ethnicity_accuracy_logistic", "gender_accuracy", "gender_accuracy_train",
           "gender_accuracy_logistic", "age_kept_epoch", "pca_variance_kept"}
STUDY_METRICS = {"zero_init_final_loss", *(f"study_{a}_{loss}_{what}" for a in ("relu", "leaky_relu", "sigmoid", "tanh")
                                           for loss in ("cross_entropy", "mse") for what in ("accuracy", "final_loss"))}


@pytest.fixture(scope="module")
def smoke(smoke_run):
    """The session's default smoke run (tests/conftest.py), only read here."""
    return smoke_run("utkface-mlp")


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("utkface-seed")
    return [run_experiment("utkface-mlp", smoke=True, preset="seed", out=root / name, overrides=["studies=false"])
            for name in ("a", "b")]


def metrics_of(run):
    return json.loads((run / "metrics.json").read_text())


def columns(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) if r[k] else math.nan for r in rows] for k in rows[0]}


def test_registered_with_a_seed_preset():
    exp = load_all()["utkface-mlp"]
    assert exp.objective == ("age_rmse", "min") and exp.engines == ("numpy",) and "NumPy" in exp.about
    seed = resolve_config(exp, preset="seed")
    assert seed.pca_components == 128 and seed.age.hidden == [35, 6] and seed.age.momentum == 0.99
    assert seed.age.schedule == "auto" and seed.age.loss == "mse" and seed.ethnicity.loss == "cross_entropy"
    assert seed.gender.loss == "mse" and seed.gender.schedule == "auto"  # the seed's L2 gender network


@pytest.mark.slow
def test_smoke_run_writes_figures_and_metric_keys(smoke):
    metrics = metrics_of(smoke)
    assert metrics["status"] == "ok" and METRICS | STUDY_METRICS <= set(metrics)
    for key in ("ethnicity_accuracy", "gender_accuracy", "ethnicity_accuracy_train", "gender_accuracy_train"):
        assert 0 <= metrics[key] <= 1
    assert metrics["age_rmse"] > 0 and metrics["age_rmse_logistic"] > 0 and metrics["n_duplicate_images"] > 0
    # zero initialisation: the hidden weights never leave zero, so the units stay identical
    assert metrics["zero_init_weight_abs_max"] == 0 and metrics["zero_init_units_distinct"] == 1
    assert FIGURES | STUDY_FIGURES <= {p.stem for p in (smoke / "figures").glob("*.png")}
    table = list(csv.DictReader(open(smoke / "tables" / "mlp-vs-baseline.csv")))
    assert [r["task"] for r in table] == ["age", "ethnicity", "gender"]
    assert float(table[0]["logistic_test"]) == pytest.approx(metrics["age_rmse_logistic"])
    assert float(table[0]["ridge_test"]) == pytest.approx(metrics["age_rmse_ridge"])
    assert "age_rmse" in (smoke / "report.html").read_text()


@pytest.mark.slow
def test_curves_are_in_years_and_end_at_the_recorded_metrics(smoke):
    """The test curve at the kept epoch is the recorded test metric: the callback predicts as the
    evaluation does (mirrored faces averaged under the default config)."""
    metrics = metrics_of(smoke)
    age = columns(smoke / "age.csv")
    for key in ("train_rmse_years", "val_rmse_years", "test_rmse_years"):
        assert len(age[key]) == metrics["age_epochs"] and all(v > 0 for v in age[key])
    at = age["epoch"].index(metrics["age_kept_epoch"])
    assert age["test_rmse_years"][at] == pytest.approx(metrics["age_rmse"], rel=1e-9)
    assert age["train_rmse_years"][at] == pytest.approx(metrics["age_rmse_train"], rel=1e-9)
    for task in ("ethnicity", "gender"):
        curves = columns(smoke / f"{task}.csv")
        at = curves["epoch"].index(metrics[f"{task}_kept_epoch"])
        assert curves["test_accuracy"][at] == pytest.approx(metrics[f"{task}_accuracy"], rel=1e-9)
        assert curves["train_accuracy"][at] == pytest.approx(metrics[f"{task}_accuracy_train"], rel=1e-9)


@pytest.mark.slow
def test_activation_loss_study_table(smoke):
    metrics = metrics_of(smoke)
    rows = list(csv.DictReader(open(smoke / "tables" / "activation-loss-study.csv")))
    assert {(r["activation"], r["loss"]) for r in rows} == {(a, loss) for a in ("relu", "leaky_relu", "sigmoid", "tanh")
                                                           for loss in ("cross_entropy", "mse")}
    for r in rows:
        acc = float(r["test_accuracy"])
        assert 0 <= acc <= 1 and acc == pytest.approx(metrics[f"study_{r['activation']}_{r['loss']}_accuracy"])
        assert float(r["final_train_loss"]) > 0


@pytest.mark.slow
def test_every_recorded_metric_is_described(smoke, seed_runs):
    exp = get("utkface-mlp")
    for run in (smoke, seed_runs[0]):
        keys = [k for k, v in metrics_of(run).items() if isinstance(v, (int, float)) and k not in ("wall_s", "status")]
        assert [k for k in keys if exp.describe(k) is None] == []
    assert exp.describe("study_leaky_relu_mse_accuracy") == (
        "ethnicity, leaky_relu hidden layers, MSE on one-hot targets: test accuracy", "fraction")
    assert exp.describe("gender_accuracy_train")[1] == "fraction" and exp.describe("age_rmse_logistic")[1] == "years"


@pytest.mark.slow
def test_smoke_seed_preset_and_same_seed_same_metrics(seed_runs):
    a, b = (metrics_of(run) for run in seed_runs)
    keys = [k for k in a if k not in ("wall_s",)]
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    assert np.isfinite(a["age_rmse"]) and "utkface-mlp" in EXPERIMENTS
    # gender is an L2 network on one-hot targets here; its accuracy is the argmax of the outputs
    assert 0 <= a["gender_accuracy_train"] <= 1 and 0 <= a["gender_accuracy"] <= 1
    gender = columns(seed_runs[0] / "gender.csv")
    at = gender["epoch"].index(a["gender_kept_epoch"])
    assert gender["test_accuracy"][at] == pytest.approx(a["gender_accuracy"], rel=1e-9)
    figures = {p.stem for p in (seed_runs[0] / "figures").glob("*.png")}
    assert {"preprocessing", "age-rmse-curves", "ethnicity-accuracy-curves", "gender-accuracy-curves"} <= figures


def test_pixel_stages_are_the_features_pipeline():
    images = synthetic.utkface(6, seed=0).images
    for pool in (1, 2):
        stages = pixel_stages(images, pool)
        assert len(stages) == (3 if pool > 1 else 2) and stages[0][1].dtype == np.uint8
        last = stages[-1][1]
        assert last.shape == (6, 1, 64 // pool, 64 // pool) and 0 <= last.min() and last.max() <= 1
        np.testing.assert_array_equal(greyscale_vectors(images, pool, chunk=4), last.reshape(6, -1))
        mirrored = pixel_stages(images[..., ::-1], pool)[-1][1].reshape(6, -1)
        np.testing.assert_array_equal(greyscale_vectors(images, pool, mirror=True), mirrored)


def test_logistic_age_baseline_predicts_the_most_probable_age():
    """Three well-separated clusters of faces, aged 20, 40 and 60: logistic regression with the
    ages as classes predicts exactly those ages; ridge regression predicts numbers near them."""
    rng = np.random.default_rng(0)
    age = np.repeat([20, 40, 60], 30)
    x = (np.repeat(np.eye(3), 30, axis=0) * 5 + 0.1 * rng.standard_normal((90, 3))).astype(np.float32)
    feats = {"x": x, "fit": np.arange(0, 90, 2), "test": np.arange(1, 90, 2)}
    out = baselines("age", feats, age, seed=0)
    assert set(out) == {"ridge", "logistic"}
    np.testing.assert_array_equal(out["logistic"], age[feats["test"]])
    assert out["ridge"].dtype.kind == "f" and np.abs(out["ridge"] - age[feats["test"]]).max() < 5
    assert set(baselines("gender", feats, np.repeat([0, 1, 0], 30), seed=0)) == {"logistic"}
