"""The part-B experiments (blobs-bce, relu-pwl, symmetry): smoke runs and the claims they show."""

import json

import numpy as np
import pytest

from nnlab.experiments import run_experiment
from nnlab.experiments.exp_blobs_bce import four_point_loss, zero_thresholds
from nnlab.experiments.exp_relu_pwl import hat_network, hat_sum_network, minimal_network


def _run(name, tmp_path, *overrides):
    run_dir = run_experiment(name, smoke=True, out=tmp_path / name, overrides=list(overrides))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    return run_dir, metrics


def _figures(run_dir):
    return {p.stem for p in (run_dir / "figures").glob("*.png")}


def test_blobs_bce_separates_the_blobs_and_the_loss_falls_but_is_not_zero(tmp_path):
    run_dir, m = _run("blobs-bce", tmp_path)
    assert {"boundary", "loss", "scale-sweep"} <= _figures(run_dir)
    assert m["final_accuracy"] == 1.0 and m["final_accuracy_logit"] == 1.0
    assert 0 < m["min_loss"] < 1e-2  # falls far below log 2 within the smoke epochs, never to 0.0
    assert m["exact_zero_epochs"] == 0 and m["weight_norm_growth"] > 1
    # where the engine's float64 loss becomes exactly 0.0: exp(-m) underflows (logit), e^m overflows (sigmoid)
    assert 745.0 < m["zero_margin_logit"] < 745.2 and 709.7 < m["zero_margin_sigmoid"] < 709.9
    assert 700 < m["zero_margin_softmax"] < 746
    assert "exactly 0.0" in (run_dir / "report.md").read_text()


def test_four_point_perceptron_loss_is_positive_then_exactly_zero():
    loss, out = four_point_loss("softmax", 40.0)
    assert out.max() == 1.0 and loss > 0  # an output rounds to 1.0, but the other output still costs e^-40
    assert loss == pytest.approx(np.exp(-40.0) / 2, rel=1e-6)
    assert four_point_loss("softmax", 800.0)[0] == 0.0 and four_point_loss("logit", 800.0)[0] == 0.0
    row = zero_thresholds("logit", "float32")
    assert 100 < row["loss_exactly_0_at_margin"] < 105  # float32 underflows near e^-104


def test_relu_pwl_constructed_networks_are_exact_at_the_knots(tmp_path):
    run_dir, m = _run("relu-pwl", tmp_path)
    assert {"hat", "interpolant"} <= _figures(run_dir)
    assert m["max_knot_error"] < 1e-12 and m["max_interpolant_error"] < 1e-12 and m["hat_max_error"] < 1e-12
    assert m["max_target_error"] <= m["interpolation_bound"] * 1.01
    assert m["hidden_units_minimal"] == m["n_knots"] - 1 and m["hidden_units_hat_sum"] == 4 * m["n_knots"]
    assert m["trained_max_knot_error"] > 1e-6  # training gets close, not exact


def test_relu_pwl_constructions_on_non_uniform_knots(rng):
    knots = np.sort(rng.uniform(-2, 3, 7))
    values = rng.normal(size=7)
    grid = np.linspace(knots[0], knots[-1], 1001)
    for model in (hat_sum_network(knots, values), minimal_network(knots, values)[0]):
        np.testing.assert_allclose(model.predict(knots[:, None])[:, 0], values, atol=1e-12)
        np.testing.assert_allclose(model.predict(grid[:, None])[:, 0], np.interp(grid, knots, values), atol=1e-12)
    x = np.linspace(-3, 3, 601)
    np.testing.assert_allclose(hat_network().predict(x[:, None])[:, 0], np.maximum(0, 1 - np.abs(x)), atol=1e-15)


def test_symmetry_identical_units_stay_identical_and_random_ones_differ(tmp_path):
    run_dir, m = _run("symmetry", tmp_path)
    assert {"unit-spread", "unit-weights", "curves", "boundaries"} <= _figures(run_dir)
    assert m["max_unit_diff_constant"] == 0.0 and m["max_unit_diff_zeros"] == 0.0
    assert m["max_unit_diff_random"] > 0.1 and m["max_unit_diff_constant_dropout"] > 0.1
    assert m["accuracy_zeros"] == pytest.approx(0.5, abs=0.05)  # only the output bias learns
    assert "max_unit_diff_odd_width" in m  # rounding-level at most; its value depends on the BLAS


def test_symmetry_learns_xor_only_when_the_symmetry_is_broken(tmp_path):
    _, m = _run("symmetry", tmp_path, "epochs=150", "inits=[constant, random]", "odd_hidden=0")
    assert m["accuracy_random"] > 0.9 and m["accuracy_constant"] < 0.8
    assert "max_unit_diff_odd_width" not in m
