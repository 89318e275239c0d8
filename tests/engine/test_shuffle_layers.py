"""PixelShuffle and GlobalAvgPool2d: a loop reference, gradients, PyTorch parity, configs, errors."""

import numpy as np
import pytest

from nnlab.engine import (
    ConfigError,
    GlobalAvgPool2d,
    PixelShuffle,
    Sequential,
    ShapeError,
    gradcheck,
    layer_from_config,
)
from nnlab.engine.layers import layer_config


def built(layer, shape):
    layer.build(shape, np.random.default_rng(0), np.float64)
    return layer


def pixel_shuffle_loops(x, r):
    """The definition, one element at a time: y[n, c, h*r + i, w*r + j] = x[n, c*r*r + i*r + j, h, w]."""
    n, c, h, w = x.shape
    y = np.zeros((n, c // (r * r), h * r, w * r))
    for b in range(n):
        for co in range(c // (r * r)):
            for i in range(r):
                for j in range(r):
                    for hh in range(h):
                        for ww in range(w):
                            y[b, co, hh * r + i, ww * r + j] = x[b, co * r * r + i * r + j, hh, ww]
    return y


@pytest.mark.parametrize("r, shape", [(1, (3, 2, 2)), (2, (8, 3, 2)), (3, (9, 2, 3))])
def test_pixel_shuffle_matches_its_definition(r, shape, rng):
    layer = built(PixelShuffle(r), shape)
    x = rng.standard_normal((2, *shape))
    y = layer.forward(x)
    assert y.shape == (2, *layer.output_shape(shape))
    np.testing.assert_array_equal(y, pixel_shuffle_loops(x, r))
    # a permutation: the backward of the output is the input again
    np.testing.assert_array_equal(layer.backward(y), x)


def test_global_avg_pool_is_the_mean_over_positions(rng):
    layer = built(GlobalAvgPool2d(), (3, 4, 5))
    x = rng.standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(layer.forward(x), x.mean(axis=(2, 3)), rtol=1e-14)
    dx = layer.backward(np.ones((2, 3)))
    np.testing.assert_allclose(dx, np.full((2, 3, 4, 5), 1 / 20))


@pytest.mark.parametrize("layer, shape", [
    (PixelShuffle(2), (8, 2, 3)), (PixelShuffle(3), (9, 2, 2)), (GlobalAvgPool2d(), (3, 4, 5)),
])
def test_gradients(layer, shape, rng):
    layer = built(layer, shape)
    result = gradcheck(layer, rng.standard_normal((2, *shape)))
    assert result.ok, str(result)


def test_workspace_mode_gives_the_same_values(rng):
    model = Sequential([PixelShuffle(2), GlobalAvgPool2d()], input_shape=(8, 3, 3), dtype="float64")
    x, g = rng.standard_normal((4, 8, 3, 3)), rng.standard_normal((4, 2))
    y, dx = model.forward(x).copy(), model.backward(g.copy()).copy()
    with model.workspace():
        np.testing.assert_array_equal(model.forward(x), y)
        np.testing.assert_array_equal(model.backward(g.copy()), dx)


def test_configs_round_trip_through_the_registry():
    for layer in (PixelShuffle(3), GlobalAvgPool2d()):
        spec = layer_config(layer)
        again = layer_from_config(spec)
        assert type(again) is type(layer)
        assert layer_config(again) == spec
    assert layer_config(PixelShuffle(3)) == {"type": "PixelShuffle", "upscale_factor": 3}
    assert PixelShuffle(2).label() == "PixelShuffle(x2)"
    model = Sequential([PixelShuffle(2), GlobalAvgPool2d()], input_shape=(8, 4, 4))
    rows = model.summary_rows()
    assert [r["output_shape"] for r in rows] == [("N", 2, 8, 8), ("N", 2)]
    assert model.num_parameters() == 0


def test_errors_are_explained():
    with pytest.raises(ShapeError, match="divisible by r\\*r = 4"):
        built(PixelShuffle(2), (6, 3, 3))
    with pytest.raises(ShapeError, match=r"\(C, H, W\)"):
        PixelShuffle(2).output_shape((8, 3))
    with pytest.raises(ShapeError, match=r"\(C, H, W\)"):
        built(GlobalAvgPool2d(), (3, 4))
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ConfigError, match="upscale_factor"):
            PixelShuffle(bad)
    with pytest.raises(ConfigError, match="PixelShuffle"):
        layer_from_config({"type": "PixelShuffle"})
    layer = built(PixelShuffle(2), (4, 2, 2))
    with pytest.raises(ShapeError, match="expects input of shape"):
        layer.forward(np.zeros((1, 4, 3, 3)))


@pytest.mark.torch
@pytest.mark.usefixtures("torch_one_thread")
class TestAgainstTorch:
    """The same computation in torch.nn, float64: outputs and input gradients."""

    @pytest.fixture(autouse=True)
    def _torch(self):
        self.torch = pytest.importorskip("torch")

    @pytest.mark.parametrize("r, shape", [(2, (8, 3, 4)), (3, (18, 2, 3)), (1, (2, 3, 3))])
    def test_pixel_shuffle(self, r, shape, rng):
        self._compare(PixelShuffle(r), self.torch.nn.PixelShuffle(r), shape, rng)

    @pytest.mark.parametrize("shape", [(3, 4, 5), (2, 1, 1), (5, 7, 3)])
    def test_global_avg_pool(self, shape, rng):
        nn = self.torch.nn
        self._compare(GlobalAvgPool2d(), nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), shape, rng)

    def _compare(self, ours, theirs, shape, rng):
        ours = built(ours, shape)
        x = rng.standard_normal((3, *shape))
        tx = self.torch.tensor(x, requires_grad=True)
        ty = theirs(tx)
        g = rng.standard_normal(tuple(ty.shape))
        ty.backward(self.torch.from_numpy(g))
        msg = f"{ours.label()}: ours vs torch"
        np.testing.assert_allclose(ours.forward(x), ty.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=msg)
        np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=msg + " (input grad)")
