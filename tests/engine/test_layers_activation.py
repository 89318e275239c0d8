"""PReLU: finite differences, parity with torch.nn.PReLU, parameter counts, save/load."""

import numpy as np
import pytest

from nnlab.engine import (
    ConfigError,
    Conv2d,
    Dense,
    Flatten,
    PReLU,
    Sequential,
    ShapeError,
    gradcheck,
    load_model,
    model_from_spec,
    save_model,
)

# (slopes, per-sample input shape): per-tensor and per-channel, dense, Conv1d- and Conv2d-shaped
CASES = [(1, (6,)), (6, (6,)), (1, (3, 4, 5)), (3, (3, 4, 5)), (2, (2, 7))]
IDS = [f"{n}-slope-{'x'.join(map(str, s))}" for n, s in CASES]


def _prelu(n, shape, rng, dtype=np.float64):
    layer = PReLU(n)
    layer.build(shape, rng, dtype)
    layer._params["weight"].data[...] = rng.uniform(-0.5, 1.5, n)  # distinct slopes, some negative
    return layer


def _x(rng, shape):
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 1e-3, 0.5, x)  # away from the kink, where differences are undefined


@pytest.mark.parametrize("n,shape", CASES, ids=IDS)
def test_prelu_gradients_by_finite_differences(n, shape, rng):
    layer = _prelu(n, shape, rng)
    result = gradcheck(layer, _x(rng, (4, *shape)))
    assert result.ok, str(result)
    assert {e.name for e in result.entries} == {"input", "weight"}
    assert result["weight"].analytic.shape == (n,)


def test_prelu_inside_a_network_by_finite_differences(rng):
    model = Sequential([Conv2d(2, 3, 3, padding=1), PReLU(3), Flatten(), Dense(4), PReLU(), Dense(2)],
                       input_shape=(2, 4, 4), dtype="float64", seed=0)
    result = gradcheck(model, _x(rng, (3, 2, 4, 4)), rng.integers(0, 2, 3), loss="cross_entropy")
    assert result.ok, str(result)
    assert {"1.weight", "4.weight"} <= {e.name for e in result.entries}


@pytest.mark.parametrize("n,shape", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_prelu_matches_torch(n, shape, dtype, rng, torch_one_thread):
    torch = pytest.importorskip("torch")
    tdtype = {"float64": torch.float64, "float32": torch.float32}[dtype]
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=1e-5, atol=1e-5)
    layer = _prelu(n, shape, rng, dtype)
    x = rng.standard_normal((5, *shape)).astype(dtype)
    x.reshape(-1)[:3] = 0.0  # exact zeros: the kink, where the gradient convention must match
    g = rng.standard_normal(x.shape).astype(dtype)

    y = layer.forward(x)
    dx = layer.backward(g)
    tp = torch.nn.PReLU(n, dtype=tdtype)
    with torch.no_grad():
        tp.weight.copy_(torch.from_numpy(layer._params["weight"].data.copy()))
    tx = torch.tensor(x, requires_grad=True)
    ty = tp(tx)
    ty.backward(torch.from_numpy(g))
    for what, ours, theirs in (("output", y, ty), ("input grad", dx, tx.grad), ("weight grad",
                               layer._params["weight"].grad, tp.weight.grad)):
        theirs = theirs.detach().numpy()
        assert ours.dtype == theirs.dtype, f"{what}: dtype ours {ours.dtype} vs torch {theirs.dtype}"
        np.testing.assert_allclose(ours, theirs, **tol, err_msg=f"{what}: ours vs torch")


def test_prelu_weight_gradient_accumulates_until_zero_grad(rng):
    layer = _prelu(3, (3, 2), rng)
    x1, x2, g1, g2 = (rng.standard_normal((4, 3, 2)) for _ in range(4))
    grads = []
    for x, g in ((x1, g1), (x2, g2)):
        layer.zero_grad()
        layer.forward(x)
        layer.backward(g)
        grads.append(layer._params["weight"].grad.copy())
    layer.zero_grad()
    for x, g in ((x1, g1), (x2, g2)):
        layer.forward(x)
        layer.backward(g)
    np.testing.assert_allclose(layer._params["weight"].grad, grads[0] + grads[1], rtol=1e-12)


def test_prelu_forward_is_relu_at_slope_0_and_identity_at_slope_1(rng):
    x = rng.standard_normal((4, 5))
    for slope, expected in ((0.0, np.maximum(x, 0)), (1.0, x), (0.25, np.where(x > 0, x, 0.25 * x))):
        layer = PReLU(init=slope)
        layer.build((5,), rng, np.float64)
        np.testing.assert_array_equal(layer.forward(x), expected)


def test_prelu_parameter_counts_and_summary():
    model = Sequential([Conv2d(3, 4, 3), PReLU(4), Flatten(), Dense(5), PReLU()], input_shape=(3, 6, 6), seed=0)
    rows = model.summary_rows()
    assert [r["params"] for r in rows] == [3 * 4 * 9 + 4, 4, 0, 4 * 4 * 4 * 5 + 5, 1]
    assert rows[1]["layer"] == "PReLU(4)" and rows[1]["activation"] == "prelu"
    assert rows[1]["init"] == "constant(0.25)" and rows[1]["output_shape"] == ("N", 4, 4, 4)
    assert model.num_parameters() == 112 + 4 + 325 + 1
    assert "PReLU(4)" in model.summary()
    np.testing.assert_array_equal(model.state_dict()["1.weight"], np.full(4, 0.25, np.float32))


def test_prelu_save_load_round_trip(tmp_path, rng):
    model = Sequential([Dense(6), PReLU(6, init=0.1), Dense(3), PReLU(init=-0.2)], input_shape=(4,), seed=2)
    model.compile("mse", {"name": "adam", "lr": 1e-2})
    x, t = rng.standard_normal((32, 4)), rng.standard_normal((32, 3))
    before = model.state_dict()
    model.fit(x, t, epochs=3, batch_size=8)
    assert not np.array_equal(model.state_dict()["1.weight"], before["1.weight"])  # the slopes learn
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.get_config() == model.get_config()
    assert loaded.layers[1].get_config() == {"num_parameters": 6, "init": 0.1}
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    spec = {"input_shape": [3, 5], "layers": [{"type": "PReLU", "num_parameters": 3}, {"type": "Flatten"}]}
    assert model_from_spec(spec).num_parameters() == 3


def test_prelu_configuration_errors():
    with pytest.raises(ConfigError, match="num_parameters"):
        PReLU(0)
    with pytest.raises(ShapeError, match=r"PReLU\(3\)"):
        Sequential([PReLU(3)], input_shape=(4,))
    with pytest.raises(ShapeError, match=r"PReLU\(2\)"):
        Sequential([PReLU(2)], input_shape=(3, 2))  # the channel axis is the first per-sample axis
