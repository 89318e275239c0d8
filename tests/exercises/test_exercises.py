"""The worked exercises: every one runs, its checks hold, its key numbers are right by hand,
its figure is written, and its checks do fail when the engine under them is broken."""

import numpy as np
import pytest

from nnlab.engine import ConfigError, ShapeError
from nnlab.engine.functional import reference
from nnlab.exercises import EXERCISES, ExerciseResult, run
from nnlab.exercises.base import matrix_lines, side_by_side
from nnlab.exercises.conv1d_gradients import SEED_TYPOS

IMAGE = np.array([[2, 1, 3, 3], [1, 6, 2, 5], [1, 4, 5, 2], [6, 6, 5, 3]], dtype=float)


@pytest.fixture(scope="module")
def results():
    """Every exercise computed once, with its defaults."""
    return {name: fn() for name, fn in EXERCISES.items()}


def test_registry_names_and_descriptions():
    assert list(EXERCISES) == ["conv-pool", "conv-backprop", "conv1d-network", "dilation", "equivariance",
                               "transposed-conv", "why-conv", "batchnorm", "residual-gradients", "receptive-field",
                               "deconv-projection"]
    for fn in EXERCISES.values():
        assert (fn.__doc__ or "").strip().splitlines()[0]  # the CLI lists the first docstring line


@pytest.mark.parametrize("name", list(EXERCISES))
def test_every_exercise_runs_and_every_check_holds(results, name):
    r = results[name]
    assert isinstance(r, ExerciseResult)
    assert r.name == name and r.title and r.values
    assert len(r.checks) >= 3
    failed = [claim for claim, ok in r.checks.items() if ok is not True]
    assert not failed, f"{name}: failed checks {failed}\n{r.text}"
    assert r.ok
    for claim in r.checks:
        assert claim in r.text  # the report lists every check
    assert "NO " not in r.text.split("Checks")[-1]


# -- conv-pool ----------------------------------------------------------------------------------
def test_conv_pool_numbers_by_hand(results):
    v = results["conv-pool"].values
    assert v["maps"].shape == (3, 4, 4) and v["pooled"].shape == (3, 2, 2)
    np.testing.assert_array_equal(v["padded"], np.pad(IMAGE, 1))
    # identity: the map is the image; its 2x2 maxima are {2,1,1,6}, {3,3,2,5}, {1,4,6,6}, {5,2,5,3}
    np.testing.assert_array_equal(v["maps"][0], IMAGE)
    np.testing.assert_array_equal(v["pooled"][0], [[6, 5], [6, 5]])
    # Laplacian: out[0,0] = 1 + 1 - 4*2 = -6; out[1,1] = 1 + 4 + 1 + 2 - 4*6 = -16
    assert v["maps"][1][0, 0] == -6 and v["maps"][1][1, 1] == -16
    np.testing.assert_array_equal(v["pooled"][1], [[7, 11], [7, 5]])
    # box blur: the centre 3x3 block around (2, 2) sums to 38
    assert v["pooled"][2][1, 1] == pytest.approx(38 / 9)
    np.testing.assert_allclose(v["maps_engine"], v["maps"], atol=1e-12)
    text = results["conv-pool"].text
    assert "[ 6  5 ]" in text and "-16" in text and "identity" in text and "box blur" in text


def test_conv_pool_takes_other_filters():
    sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=float)
    r = EXERCISES["conv-pool"](filters=[sobel, sobel.T], filter_names=["sobel x", "sobel y"])
    assert r.ok and r.values["maps"].shape == (2, 4, 4)
    # column 0 of the Sobel-x map: 0 - (neighbours in column 1) since column -1 is padding
    assert r.values["maps"][0][0, 0] == -(2 * 1 + 1 * 6)
    with pytest.raises(ConfigError):
        EXERCISES["conv-pool"](filters=[sobel], filter_names=["a", "b"])


# -- conv-backprop ------------------------------------------------------------------------------
def _hand_gradients(x, k, w, t):
    c = np.array([[np.sum(k * x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]) for j in range(2)] for i in range(2)])
    y = 1 / (1 + np.exp(-c))
    out = np.sum(w * y)
    dw = (out - t) * y
    dk = (out - t) * sum(w[i, j] * y[i, j] * (1 - y[i, j]) * x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
                         for i in range(2) for j in range(2))
    return out, dk, dw


def test_conv_backprop_numbers_by_hand(results):
    v = results["conv-backprop"].values
    out, dk, dw = _hand_gradients(v["x"], v["k"], v["w"], v["t"])
    assert v["out"] == pytest.approx(out, abs=1e-12)
    assert v["E"] == pytest.approx(0.5 * (v["t"] - out) ** 2, abs=1e-12)
    np.testing.assert_allclose(v["grad_k"], dk, atol=1e-12)
    np.testing.assert_allclose(v["grad_w"], dw, atol=1e-12)
    np.testing.assert_allclose(v["numeric_grad_k"], dk, atol=1e-7)
    assert "wrong sign" in results["conv-backprop"].text
    assert v["E_after_descent_step"] < v["E"] < v["E_after_seed_sign_step"]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_conv_backprop_other_activations(activation):
    r = EXERCISES["conv-backprop"](activation=activation, seed=3)
    assert r.ok, r.text


def test_conv_backprop_gradients_scale_with_the_error():
    x = np.arange(16, dtype=float).reshape(4, 4) / 8 - 1
    k = np.array([[0.5, -0.25], [0.1, 0.3]])
    w = np.array([0.7, -1.2, 0.4, 0.9])
    r1 = EXERCISES["conv-backprop"](x=x, k=k, w=w, t=1.0)
    r2 = EXERCISES["conv-backprop"](x=x, k=k, w=w, t=-2.0)
    assert r1.ok and r2.ok
    np.testing.assert_array_equal(r1.values["x"], x)
    out = r1.values["out"]
    assert r2.values["out"] == out  # t does not enter the forward pass
    # every gradient is (out - t) times a factor that does not depend on t
    ratio = (out - (-2.0)) / (out - 1.0)
    np.testing.assert_allclose(r2.values["grad_k"], ratio * r1.values["grad_k"], rtol=1e-12)
    np.testing.assert_allclose(r2.values["grad_w"], ratio * r1.values["grad_w"], rtol=1e-12)
    np.testing.assert_allclose(r2.values["engine_grad_k"], ratio * r1.values["engine_grad_k"], rtol=1e-12)
    # at t = out the error and every gradient vanish
    r0 = EXERCISES["conv-backprop"](x=x, k=k, w=w, t=out)
    assert r0.values["E"] == 0 and not np.any(r0.values["grad_k"]) and not np.any(r0.values["grad_w"])
    assert r0.ok


def test_conv_backprop_detects_a_broken_engine_backward(monkeypatch):
    real = reference.conv2d_backward

    def off_by_one_percent(*args, **kwargs):
        dx, dw, db = real(*args, **kwargs)
        return dx, dw * 1.01, db

    monkeypatch.setattr(reference, "conv2d_backward", off_by_one_percent)
    r = EXERCISES["conv-backprop"]()
    assert r.checks["analytic dE/dk == engine backward"] is False
    assert r.checks["analytic dE/dk == finite differences"] is True  # the formulas are still right
    assert not r.ok


# -- conv1d-network -----------------------------------------------------------------------------
def test_conv1d_network_parameter_count_and_gradients(results):
    r = results["conv1d-network"]
    assert r.values["total_parameters"] == 7904 == (2 + 1) + (393 * 20 + 20) + (20 + 1)
    shapes = [row["output_shape"] for row in r.values["summary_rows"]]
    assert shapes[0] == ("N", 1, 786) and shapes[2] == ("N", 1, 393) and shapes[-1] == ("N", 1)
    assert "7,904" in r.text
    errors = r.values["errors"]
    assert set(errors) == {"0.weight", "0.bias", "4.weight", "4.bias", "5.weight", "5.bias"}
    assert all(e["ok"] and e["max_abs_err"] < 1e-8 for e in errors.values())
    assert r.values["analytic"]["4.weight"].shape == (20, 393)


def test_conv1d_closed_form_gradients_match_backprop(results):
    v = results["conv1d-network"].values
    assert set(v["closed_form"]) == {"0.weight", "0.bias", "4.weight", "4.bias", "5.weight", "5.bias"}
    for name, diff in v["closed_form_max_diff"].items():
        assert diff < 1e-12, name
        np.testing.assert_allclose(v["closed_form"][name], v["closed_form_engine"][name], rtol=1e-10, atol=1e-14)
    s = v["closed_form_sample"]
    assert v["closed_form"]["5.bias"][0] == pytest.approx(s["z"] - s["Y"], abs=1e-15)  # dCost/db^F = z - Y
    # dCost/dW^F_i = (z - Y) f_i: zero exactly where the hidden unit is off
    assert np.count_nonzero(v["closed_form"]["5.weight"]) == np.count_nonzero(v["closed_form"]["4.bias"])
    text = results["conv1d-network"].text
    assert "(x_(2j-1) + c_(2j)) / 2" in text and all(t in text for t in SEED_TYPOS)


# -- dilation -----------------------------------------------------------------------------------
def test_dilation_example_and_formula(results):
    v = results["dilation"].values
    assert v["output_shape"] == (3, 4) == v["dilated"].shape  # (7 - 6 + 2) x (8 - 6 + 2)
    assert v["K_dilated"].shape == (5, 5)
    assert v["max_abs_diff"] <= 1e-12
    np.testing.assert_array_equal(v["K_dilated"][::2, ::2], v["K"])
    assert np.count_nonzero(v["K_dilated"][1::2]) == 0
    for row in v["shape_table"]:
        assert row["formula"] == row["engine"]
    assert "3 x 4" in results["dilation"].text
    r = EXERCISES["dilation"](M=10, N=12, F=3, D=3)
    assert r.ok and r.values["output_shape"] == (4, 6)
    with pytest.raises(ShapeError):
        EXERCISES["dilation"](M=4, N=8, F=3, D=2)  # the kernel spans 5 > 4 rows


# -- equivariance -------------------------------------------------------------------------------
def test_equivariance_numbers(results):
    v = results["equivariance"].values
    assert v["conv_max_diff_interior"] == 0
    assert v["pool_shift1_max_diff"] > 0
    assert 0 < v["pool_shift1_changed_fraction"] < 1
    assert v["pool_shift2_max_diff"] == 0
    np.testing.assert_array_equal(v["pool_shift2"][1:, 1:], v["pool_x"][:-1, :-1])


def test_equivariance_detects_a_broken_pooling(monkeypatch):
    real = reference.maxpool2d_forward

    def noisy(x, *args, **kwargs):
        y, arg = real(x, *args, **kwargs)
        return y + np.arange(y.size).reshape(y.shape) * 1e-3, arg  # depends on the position

    monkeypatch.setattr(reference, "maxpool2d_forward", noisy)
    r = EXERCISES["equivariance"]()
    assert r.checks["a shift by the stride (2) shifts the pooled map by one cell exactly"] is False


# -- transposed-conv ----------------------------------------------------------------------------
def test_transposed_conv_numbers(results):
    v = results["transposed-conv"].values
    np.testing.assert_array_equal(v["up"], [[1, 0, 2, 0], [2, 1, 4, 2], [3, 0, 4, 0], [6, 3, 8, 4]])
    assert v["overlap"].shape == (5, 5) and v["overlap"][2, 2] == 1 + 2 + 3 + 4
    for row in v["adjoint"]:
        assert abs(row["lhs"] - row["rhs"]) < 1e-12 and row["backward_diff"] < 1e-12


def test_transposed_conv_detects_a_broken_adjoint(monkeypatch):
    real = reference.conv_transpose2d_forward
    monkeypatch.setattr(reference, "conv_transpose2d_forward", lambda *a, **k: real(*a, **k) * 1.001)
    r = EXERCISES["transposed-conv"]()
    assert r.checks["<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> (every configuration)"] is False


def test_conv_pool_detects_a_broken_pooling(monkeypatch):
    real = reference.maxpool2d_forward

    def lowered(x, *args, **kwargs):
        y, argmax = real(x, *args, **kwargs)
        return y - 1, argmax

    monkeypatch.setattr(reference, "maxpool2d_forward", lowered)
    r = EXERCISES["conv-pool"]()
    assert r.checks["engine MaxPool2d == hand maxima"] is False
    assert r.checks["engine Conv2d == hand sums"] is True


# -- run and figures ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(EXERCISES))
def test_run_writes_the_figure(tmp_path, name):
    out = tmp_path / "nested" / "figures"
    r = run(name, out_dir=out)
    path = out / f"{name}.png"
    assert r.figure_path == path and path.is_file()
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_run_without_a_folder_and_unknown_names():
    r = run("dilation")
    assert r.figure_path is None
    fig = r.figure()
    assert len(fig.axes) >= 4
    with pytest.raises(ConfigError, match="known: conv-pool"):
        run("no-such-exercise")


def test_text_helpers_align_matrices():
    lines = matrix_lines(np.array([[1.0, -10.0], [100.0, 2.0]]))
    assert lines == ["[   1  -10 ]", "[ 100    2 ]"]
    assert matrix_lines([0.5, -0.0]) == ["[ 0.5000  0.0000 ]"]
    block = side_by_side([("a", np.eye(2)), ("bb", np.ones((3, 1)))]).splitlines()
    assert block[0].startswith("  a") and "bb" in block[0] and len(block) == 4
