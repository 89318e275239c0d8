"""The part-B experiments (blobs-bce, relu-pwl, symmetry): smoke runs and the claims they show."""

import json

import numpy as np
import pytest

from nnlab.experiments import load_all, resolve_config, run_experiment
from nnlab.experiments import piecewise_linear as pwl
from nnlab.experiments.exp_blobs_bce import four_point_loss, zero_thresholds
from nnlab.experiments.exp_relu_pwl import hat_network, hat_sum_network, minimal_network
from nnlab.experiments.exp_symmetry import (
    INITS,
    InputAugmentation,
    SymmetryConfig,
    build_model,
    unit_vectors,
)

RUNNER_KEYS = {"wall_s", "status", "error"}


def _run(name, tmp_path, *overrides):
    """A smoke run of its own, with ``overrides``, checked as :func:`_checked` does."""
    return _checked(name, run_experiment(name, smoke=True, out=tmp_path / name, overrides=list(overrides)))


def _checked(name, run_dir):
    """(run_dir, metrics) of a finished smoke run whose every metric is described."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    exp = load_all()[name]
    undescribed = [k for k in metrics if k not in RUNNER_KEYS and exp.describe(k) is None]
    assert not undescribed, f"{name} records keys its METRICS does not describe: {undescribed}"
    assert exp.about and "{" not in "".join(d for d, _ in map(exp.describe, set(metrics) - RUNNER_KEYS))
    return run_dir, metrics


def _figures(run_dir):
    return {p.stem for p in (run_dir / "figures").glob("*.png")}


@pytest.mark.slow
def test_blobs_bce_separates_the_blobs_and_the_loss_falls_but_is_not_zero(smoke_run):
    run_dir, m = _checked("blobs-bce", smoke_run("blobs-bce"))  # the session's default smoke run
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


@pytest.mark.slow
def test_relu_pwl_constructed_networks_are_exact_at_the_knots(smoke_run):
    run_dir, m = _checked("relu-pwl", smoke_run("relu-pwl"))  # the session's default smoke run
    assert {"hat", "interpolant"} <= _figures(run_dir)
    assert m["max_knot_error"] < 1e-12 and m["max_interpolant_error"] < 1e-12 and m["hat_max_error"] < 1e-12
    assert m["max_target_error"] <= m["interpolation_bound"] * 1.01
    assert m["hidden_units_minimal"] == m["n_knots"] - 1 and m["hidden_units_hat_sum"] == 4 * m["n_knots"]
    assert m["trained_max_knot_error"] > 1e-6  # training gets close, not exact
    # the general argument: random ReLU and PReLU nets are continuous and exactly linear between their kinks
    assert {"random-networks", "piece-residuals"} <= _figures(run_dir)
    assert (run_dir / "tables" / "random-networks.csv").exists()
    for kind in ("relu", "prelu"):
        assert 2 <= m[f"random_{kind}_pieces"] <= m["random_piece_bound"] == 7 * 7  # smoke widths [6, 6]
        assert m[f"random_{kind}_max_linear_residual"] < 1e-12
    assert m["random_max_jump"] < 1e-12 and m["random_max_kink_preactivation"] < 1e-10
    assert m["tanh_control_max_residual"] > 1e-4  # the same check tells a smooth network apart
    assert m["sawtooth_pieces"] == m["sawtooth_expected_pieces"] == 8 and m["sawtooth_piece_bound"] == 27
    assert "prod_l (n_l + 1)" in (run_dir / "report.md").read_text()


def test_find_kinks_on_known_piecewise_linear_functions(rng):
    knots = np.concatenate([np.sort(rng.uniform(-2, 2, 6)), [0.50001, 0.50002, 1.0]])  # two within one cell
    knots[-1] = -2.5 + 5 * 1210 / 4096  # and one exactly on a point of the search grid
    knots = np.sort(knots)
    values = rng.normal(size=len(knots))
    f = lambda x: np.interp(x, np.concatenate([[-3], knots, [3]]), np.concatenate([[0], values, [0]]))  # noqa: E731
    kinks = pwl.find_kinks(f, -2.5, 2.5)
    np.testing.assert_allclose(kinks, knots, atol=1e-9)
    check = pwl.check_pieces(f, kinks, -2.5, 2.5)
    assert check["pieces"] == len(knots) + 1 and check["max_residual"] < 1e-12 and check["max_jump"] < 1e-12
    smooth = pwl.check_pieces(np.sin, kinks, -2.5, 2.5)
    assert smooth["max_residual"] > 1e-3  # a smooth function is not linear on those pieces
    saw = pwl.sawtooth_network(5)
    np.testing.assert_allclose(pwl.find_kinks(pwl.as_function(saw), 0, 1), np.arange(1, 32) / 32, atol=1e-12)
    assert pwl.piece_bound([8, 8, 8]) == 729 and pwl.piece_bound([2] * 5) == 243


def test_random_prelu_network_has_learned_slopes_and_is_piecewise_linear():
    model = pwl.random_network("prelu", [5, 5], seed=3)
    slopes = [p.data for name, p in model.named_parameters() if name in ("1.weight", "3.weight")]
    assert [s.shape for s in slopes] == [(5,), (5,)] and min(s.min() for s in slopes) < 0
    f = pwl.as_function(model)
    kinks = pwl.find_kinks(f, -3, 3)
    check = pwl.check_pieces(f, kinks, -3, 3)
    assert 2 <= check["pieces"] <= 36 and check["max_residual"] < 1e-12 and check["min_slope_change"] > 0


def test_relu_pwl_constructions_on_non_uniform_knots(rng):
    knots = np.sort(rng.uniform(-2, 3, 7))
    values = rng.normal(size=7)
    grid = np.linspace(knots[0], knots[-1], 1001)
    for model in (hat_sum_network(knots, values), minimal_network(knots, values)[0]):
        np.testing.assert_allclose(model.predict(knots[:, None])[:, 0], values, atol=1e-12)
        np.testing.assert_allclose(model.predict(grid[:, None])[:, 0], np.interp(grid, knots, values), atol=1e-12)
    x = np.linspace(-3, 3, 601)
    np.testing.assert_allclose(hat_network().predict(x[:, None])[:, 0], np.maximum(0, 1 - np.abs(x)), atol=1e-15)


@pytest.mark.slow
def test_symmetry_identical_units_stay_identical_and_random_ones_differ(smoke_run):
    run_dir, m = _checked("symmetry", smoke_run("symmetry"))  # the session's default smoke run
    assert {"unit-spread", "unit-weights", "curves", "boundaries"} <= _figures(run_dir)
    assert m["max_unit_diff_constant"] == 0.0 and m["max_unit_diff_zeros"] == 0.0
    assert m["max_unit_diff_random"] > 0.1 and m["max_unit_diff_constant_dropout"] > 0.1
    assert m["distinct_units_random"] == m["distinct_units_constant_dropout"] == 8
    assert m["accuracy_zeros"] == pytest.approx(0.5, abs=0.05)  # only the output bias learns
    assert "max_unit_diff_odd_width" in m  # rounding-level at most; its value depends on the BLAS
    # the seed's other remedies do not break the symmetry: identical units stay exactly identical
    for variant in ("constant_batchnorm", "constant_augmentation"):
        assert m[f"max_unit_diff_{variant}"] == 0.0 and m[f"distinct_units_{variant}"] == 1
    assert "that claim does not hold for batch normalisation" in (run_dir / "report.md").read_text()


def test_symmetry_seed_preset_has_every_remedy_and_the_variants_are_built():
    seed = resolve_config(load_all()["symmetry"], preset="seed")
    assert seed.inits == INITS and {"constant+dropout", "constant+batchnorm", "constant+augmentation"} <= set(INITS)
    cfg = SymmetryConfig(hidden=4)
    bn = build_model(cfg, "constant+batchnorm", 4)
    assert [m.type_name for m in bn.layers] == ["Linear", "BatchNorm1d", "Activation", "Linear"]
    assert unit_vectors(bn).shape == (4, 2 + 1 + 2 + 2)  # in weights, bias, BN scale and shift, out weights
    aug = build_model(cfg, "constant+augmentation", 4)
    assert isinstance(aug.layers[0], InputAugmentation) and unit_vectors(aug).shape == (4, 2 + 1 + 2)


def test_input_augmentation_draws_afresh_in_training_and_is_the_identity_in_evaluation(rng):
    layer = InputAugmentation(noise=0.1, flip=True)
    layer.build((2,), np.random.default_rng(0), np.float64)
    x = rng.normal(size=(200, 2))
    a, b = layer.forward(x), layer.forward(x)
    assert not np.array_equal(a, b)  # a new draw for every batch
    signs = np.sign(a * x).sum(axis=1)  # +-2 where the point kept or changed its sign as a whole
    assert 0.3 < np.mean(signs < 0) < 0.7
    np.testing.assert_allclose(np.abs(a), np.abs(x), atol=0.6)
    layer.eval()
    np.testing.assert_array_equal(layer.forward(x), x)
    flip = InputAugmentation(noise=0.0, flip=True)
    flip.build((2,), np.random.default_rng(1), np.float64)
    y = flip.forward(x)
    sign = y[:, :1] / x[:, :1]  # (N, 1) each point kept (+1) or negated (-1) as a whole
    np.testing.assert_array_equal(y, x * sign)
    np.testing.assert_array_equal(flip.backward(np.ones_like(x)), np.broadcast_to(sign, x.shape))


def test_symmetry_learns_xor_only_when_the_symmetry_is_broken(tmp_path):
    _, m = _run("symmetry", tmp_path, "epochs=150", "inits=[constant, random]", "odd_hidden=0")
    assert m["accuracy_random"] > 0.9 and m["accuracy_constant"] < 0.8
    assert "max_unit_diff_odd_width" not in m
