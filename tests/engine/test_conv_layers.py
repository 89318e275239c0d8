"""The convolution family as layers: gradients, PyTorch parity, seed networks, containers."""

import numpy as np
import pytest

from nnlab.engine import (
    AvgPool1d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Concat,
    ConfigError,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dense,
    Dropout,
    Flatten,
    Identity,
    MaxPool1d,
    MaxPool2d,
    ReLU,
    Reshape,
    Residual,
    Sequential,
    ShapeError,
    Upsample,
    gradcheck,
    load_model,
    save_model,
)


def built(layer, shape, kernels=None, seed=0):
    layer.build(shape, np.random.default_rng(seed), np.float64)
    return layer


def away_from_ties(rng, shape):
    # distinct values, so max pooling has no ties and ReLU no kinks under finite differences
    x = rng.permutation(np.prod(shape)).reshape(shape) / np.prod(shape) - 0.5
    return x + rng.normal(0, 1e-3, shape)


LAYER_CASES = [
    (lambda k: Conv2d(2, 3, 3, padding=1, kernels=k), (2, 5, 6)),
    (lambda k: Conv2d(2, 3, (2, 3), stride=(2, 1), padding=(1, 0), dilation=(1, 2), kernels=k), (2, 6, 7)),
    (lambda k: Conv2d(2, 2, 2, padding="same", bias=False, kernels=k), (2, 5, 5)),
    (lambda k: Conv1d(2, 3, 2, padding=1, kernels=k), (2, 7)),
    (lambda k: Conv1d(1, 2, 3, stride=2, dilation=2, padding="same" if False else 1, kernels=k), (1, 9)),
    (lambda k: ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1, kernels=k), (2, 3, 4)),
    (lambda k: MaxPool2d(2, kernels=k), (2, 4, 6)),
    (lambda k: MaxPool2d(3, stride=2, padding=1, kernels=k), (1, 5, 5)),
    (lambda k: MaxPool1d(2, kernels=k), (2, 8)),
    (lambda k: AvgPool2d(2, kernels=k), (2, 4, 4)),
    (lambda k: AvgPool1d(2, kernels=k), (3, 9)),
    (lambda k: Upsample(2, kernels=k), (2, 3, 3)),
    (lambda k: Upsample(2, "bilinear", kernels=k), (2, 3, 4)),
]


@pytest.mark.parametrize("kernels", ["reference", "vectorized"])
@pytest.mark.parametrize("make, shape", LAYER_CASES)
def test_layer_gradients(make, shape, kernels, rng):
    layer = built(make(kernels), shape)
    result = gradcheck(layer, away_from_ties(rng, (2, *shape)))
    assert result.ok, str(result)


@pytest.mark.parametrize("make, shape", LAYER_CASES)
def test_reference_and_vectorized_layers_agree(make, shape, rng):
    ref, vec = built(make("reference"), shape), built(make("vectorized"), shape)
    x = rng.standard_normal((3, *shape))
    np.testing.assert_allclose(vec.forward(x), ref.forward(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layer, shape", [
    (BatchNorm2d(3), (3, 4, 4)), (BatchNorm1d(4), (4,)), (BatchNorm1d(2), (2, 5)),
    (Flatten(), (2, 3, 4)), (Reshape((4, -1)), (2, 3, 4)),
])
def test_norm_and_shape_gradients(layer, shape, rng):
    layer = built(layer, shape)
    assert gradcheck(layer, rng.standard_normal((4, *shape))).ok
    layer.eval()
    assert gradcheck(layer, rng.standard_normal((4, *shape))).ok


def test_residual_and_concat_gradients(rng):
    res = built(Residual([Conv2d(2, 2, 3, padding=1), ReLU(), Conv2d(2, 2, 3, padding=1)]), (2, 4, 4))
    assert gradcheck(res, away_from_ties(rng, (2, 2, 4, 4))).ok
    proj = built(Residual([Conv2d(2, 3, 3, padding=1)], projection=Conv2d(2, 3, 1)), (2, 4, 4))
    assert gradcheck(proj, rng.standard_normal((2, 2, 4, 4))).ok
    cat = built(Concat([Sequential([Conv2d(2, 3, 3, padding=1), MaxPool2d(2), Upsample(2)]), Identity()]), (2, 4, 4))
    assert cat.output_shape((2, 4, 4)) == (5, 4, 4)
    assert gradcheck(cat, away_from_ties(rng, (2, 2, 4, 4))).ok


def test_shape_errors_are_explained():
    with pytest.raises(ShapeError, match="add a projection"):
        built(Residual([Conv2d(2, 3, 3, padding=1)]), (2, 4, 4))
    with pytest.raises(ShapeError, match="Concat"):
        built(Concat([MaxPool2d(2), Identity()]), (2, 4, 4))
    with pytest.raises(ShapeError, match="3 channels"):
        built(Conv2d(2, 4, 3), (3, 5, 5))
    with pytest.raises(ShapeError, match="empty output"):
        built(Conv2d(1, 1, 5), (1, 3, 3))
    with pytest.raises(ConfigError, match="same"):
        Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ConfigError, match="output_padding"):
        ConvTranspose2d(1, 1, 3, stride=2, output_padding=2)


def test_dropout_is_inverted_seeded_and_off_in_eval():
    x = np.ones((2000, 10))
    a = Sequential([Dropout(0.3)], input_shape=(10,), seed=1, dtype="float64")
    b = Sequential([Dropout(0.3)], input_shape=(10,), seed=1, dtype="float64")
    ya, yb = a.forward(x), b.forward(x)
    np.testing.assert_array_equal(ya, yb)
    assert set(np.unique(ya)) == {0.0, 1 / 0.7}
    assert abs((ya == 0).mean() - 0.3) < 0.02 and abs(ya.mean() - 1) < 0.03
    g = a.backward(np.ones_like(x))
    np.testing.assert_array_equal(g, ya)  # the same mask scales the gradient
    a.eval()
    np.testing.assert_array_equal(a.forward(x), x)


def base_cnn(nf=32, k=3, colours=24, cin=1):
    p = k // 2
    return [
        Conv2d(cin, nf, k, padding=p), MaxPool2d(2), BatchNorm2d(nf), ReLU(),
        Conv2d(nf, 2 * nf, k, padding=p), MaxPool2d(2), BatchNorm2d(2 * nf), ReLU(),
        Conv2d(2 * nf, 2 * nf, k, padding=p), BatchNorm2d(2 * nf), ReLU(),
        Conv2d(2 * nf, nf, k, padding=p), Upsample(2), BatchNorm2d(nf), ReLU(),
        Conv2d(nf, colours, k, padding=p), Upsample(2), BatchNorm2d(colours), ReLU(),
        Conv2d(colours, colours, k, padding=p),
    ]


def unet(nf=32, k=3, colours=24, cin=1):
    p = k // 2
    down1 = [Conv2d(cin, nf, k, padding=p), MaxPool2d(2), BatchNorm2d(nf), ReLU()]
    down2 = [Conv2d(nf, 2 * nf, k, padding=p), MaxPool2d(2), BatchNorm2d(2 * nf), ReLU()]
    rf = [Conv2d(2 * nf, 2 * nf, k, padding=p), BatchNorm2d(2 * nf), ReLU()]
    up1 = [Conv2d(4 * nf, nf, k, padding=p), Upsample(2), BatchNorm2d(nf), ReLU()]
    up2 = [Conv2d(2 * nf, colours, k, padding=p), Upsample(2), BatchNorm2d(colours), ReLU()]
    inner = [*down2, Concat([rf, Identity()]), *up1]             # cat(rfconv(out2), out2) -> upconv1
    middle = [*down1, Concat([inner, Identity()]), *up2]          # cat(upconv1, out1) -> upconv2
    return [Concat([middle, Identity()]), Conv2d(colours + cin, colours, k, padding=p)]  # cat(up2, x) -> final


def test_colourization_networks_have_the_seed_parameter_counts():
    assert Sequential(base_cnn(), input_shape=(1, 32, 32)).num_parameters() == 86_784
    model = Sequential(unet(), input_shape=(1, 32, 32))
    assert model.num_parameters() == 112_344
    assert model.output_shape() == (24, 32, 32)


def test_conv1d_network_of_seed_003_has_7904_parameters():
    model = Sequential([Conv1d(1, 1, 2, padding=1), ReLU(), AvgPool1d(2), Flatten(), Dense(20, "relu"),
                        Dense(1, "sigmoid")], input_shape=(1, 785))
    rows = model.summary_rows()
    assert rows[2]["output_shape"] == ("N", 1, 393)
    assert model.num_parameters() == 7_904


def test_a_small_cnn_learns_and_round_trips(tmp_path, rng):
    x = rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 0, 4:].mean(axis=(1, 2))).astype(np.int64)
    model = Sequential([Conv2d(1, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                        Residual([Conv2d(4, 4, 3, padding=1), ReLU()]), Dropout(0.1), Flatten(), Dense(2)],
                       input_shape=(1, 8, 8), seed=0)
    model.compile("cross_entropy", {"name": "adam", "lr": 1e-2}, metrics=["accuracy"])
    h = model.fit(x, y, epochs=60, batch_size=8)
    assert h["loss"][-1] < 0.3 * h["loss"][0]
    save_model(model, tmp_path / "cnn")
    loaded = load_model(tmp_path / "cnn")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert "running_mean" in " ".join(loaded.state_dict())


def test_workspace_mode_gives_the_same_gradients(rng):
    """fit's fast path (buffer reuse, in-place gradients) must not corrupt containers."""
    layers = lambda: [Conv2d(1, 2, 3, padding=1), ReLU(),  # noqa: E731
                      Residual([Conv2d(2, 2, 3, padding=1), ReLU(), Conv2d(2, 2, 3, padding=1)]),
                      Concat([Sequential([Conv2d(2, 2, 3, padding=1), ReLU()]), Identity()]), Flatten(), Dense(3)]
    x, y = rng.standard_normal((6, 1, 5, 5)), rng.integers(0, 3, 6)
    grads = []
    for fast in (False, True):
        model = Sequential(layers(), input_shape=(1, 5, 5), dtype="float64", seed=3).compile("cross_entropy", "sgd")
        model.zero_grad()
        if fast:
            with model.workspace():
                out = model.forward(x)
                model.loss.forward(out, y)
                model.backward(model.loss.backward(), need_input_grad=False)
        else:
            out = model.forward(x)
            model.loss.forward(out, y)
            model.backward(model.loss.backward(), need_input_grad=False)
        grads.append(model._flat_grad.copy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-14)


def test_both_kernel_modules_implement_the_whole_contract():
    import inspect

    from nnlab.engine.functional import FUNCTIONS, reference, vectorized

    for name in FUNCTIONS:
        ref, vec = getattr(reference, name), getattr(vectorized, name)
        assert list(inspect.signature(ref).parameters) == list(inspect.signature(vec).parameters), name
