"""Finite differences (float64) for every layer, activation and loss, and whole networks."""

import numpy as np
import pytest

from nnlab.engine import (
    Activation,
    Dense,
    Linear,
    Sequential,
    gradcheck,
    numerical_gradient,
)
from nnlab.engine.activations import KERNELS

ACTIVATIONS = [
    "identity", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
    {"name": "leaky_relu", "negative_slope": 0.1}, {"name": "leaky_relu", "negative_slope": -0.3},
    {"name": "leaky_relu", "negative_slope": 1.5},
]


def _built(layer, in_shape, seed=0):
    layer.build(in_shape, np.random.default_rng(seed), np.float64)
    return layer


def _x(rng, shape):
    x = rng.standard_normal(shape)
    # keep inputs away from the ReLU kink, where finite differences are not defined
    return np.where(np.abs(x) < 1e-3, 0.5, x)


def test_every_activation_kernel_is_covered():
    names = {a if isinstance(a, str) else a["name"] for a in ACTIVATIONS}
    assert names == set(KERNELS)


@pytest.mark.parametrize("act", ACTIVATIONS, ids=str)
def test_activation_layer_gradients(act, rng):
    layer = _built(Activation(act), (6,))
    result = gradcheck(layer, _x(rng, (4, 6)))
    assert result.ok, str(result)
    assert result["input"].max_abs_err < 1e-7


@pytest.mark.parametrize("act", ACTIVATIONS, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(act, bias, rng):
    layer = _built(Linear(5, 4, activation=act, bias=bias, init={"name": "normal", "std": 0.7}), (5,))
    result = gradcheck(layer, _x(rng, (3, 5)))
    assert result.ok, str(result)
    names = {e.name for e in result.entries}
    assert names == ({"input", "weight", "bias"} if bias else {"input", "weight"})


@pytest.mark.parametrize(
    "loss, target",
    [
        ("mse", lambda r: r.standard_normal((5, 3))),
        ("cross_entropy", lambda r: r.integers(0, 3, 5)),
        ("nll", lambda r: r.integers(0, 3, 5)),
        ("bce", lambda r: r.uniform(0, 1, (5, 3))),
        ("bce_with_logits", lambda r: r.uniform(0, 1, (5, 3))),
    ],
)
def test_loss_gradients(loss, target, rng):
    pred = rng.standard_normal((5, 3))
    if loss == "bce":
        pred = rng.uniform(0.05, 0.95, (5, 3))
    if loss == "nll":
        pred = pred - np.log(np.exp(pred).sum(1, keepdims=True))
    result = gradcheck(loss, pred, target(rng))
    assert result.ok, str(result)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll"])
def test_per_pixel_label_loss_gradients(loss, rng):
    """(N, C, H, W) logits or log-probabilities with (N, H, W) labels: seed 001's per-pixel loss."""
    pred = rng.standard_normal((2, 4, 3, 5))
    if loss == "nll":
        pred = pred - np.log(np.exp(pred).sum(1, keepdims=True))
    result = gradcheck(loss, pred, rng.integers(0, 4, (2, 3, 5)))
    assert result.ok, str(result)


def test_a_conv_net_gradients_through_the_per_pixel_cross_entropy(rng):
    from nnlab.engine import Conv2d, ReLU

    model = Sequential([Conv2d(1, 3, 3, padding=1), ReLU(), Conv2d(3, 4, 1)], input_shape=(1, 4, 4),
                       dtype="float64", seed=2)
    result = gradcheck(model, _x(rng, (2, 1, 4, 4)), rng.integers(0, 4, (2, 4, 4)), loss="cross_entropy")
    assert result.ok, str(result)


def test_network_gradients_through_loss(rng):
    model = Sequential(
        [Dense(8, "tanh"), Dense(6, "leaky_relu"), Dense(3)], input_shape=(5,), dtype="float64", seed=3
    )
    result = gradcheck(model, _x(rng, (4, 5)), rng.integers(0, 3, 4), loss="cross_entropy")
    assert result.ok, str(result)
    assert len(result.entries) == 1 + 6  # input + 3 weights + 3 biases


def test_gradcheck_of_float32_model_runs_in_float64_and_leaves_model_untouched(rng):
    model = Sequential([Dense(4, "sigmoid"), Dense(2)], input_shape=(3,), seed=0)
    before = model.state_dict()
    result = gradcheck(model, rng.standard_normal((2, 3)))
    assert result.ok, str(result)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    assert model.dtype == np.float32


def test_gradcheck_detects_a_wrong_backward(rng):
    class Broken(Linear):
        def backward(self, grad_out, need_input_grad=True):
            dx = super().backward(grad_out, need_input_grad)
            self._params["weight"].grad[...] *= 1.01  # a 1% error
            return dx

    layer = _built(Broken(3, 2), (3,))  # a user's own layer, not in the registry
    result = gradcheck(layer, rng.standard_normal((2, 3)))
    assert not result.ok
    assert not result["weight"].ok and result["input"].ok
    with pytest.raises(AssertionError, match="gradient check failed"):
        gradcheck(layer, rng.standard_normal((2, 3)), raise_on_failure=True)


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    g = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(g, 3 * np.array([1.0, -2.0, 3.0]) ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored after perturbation
