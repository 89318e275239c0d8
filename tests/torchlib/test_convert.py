"""One model, two engines: converted networks compute the same outputs and gradients."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")

from nnlab.engine import (  # noqa: E402
    AvgPool1d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Concat,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dense,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    MaxPool1d,
    MaxPool2d,
    PReLU,
    ReLU,
    Reshape,
    Residual,
    Sequential,
    Sigmoid,
    Tanh,
    Upsample,
)
from nnlab.engine.layers import LAYERS  # noqa: E402
from nnlab.torchlib import ConversionError, from_torch, to_torch  # noqa: E402

RTOL = 1e-6


def close(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} vs {b.shape}"
    scale = max(1.0, float(np.abs(b).max()))
    err = float(np.abs(a - b).max()) / scale
    assert err <= RTOL, f"{what}: ours vs torch differ by {err:.3g} (relative)"


def randomize_buffers(model, rng):
    """Non-trivial BatchNorm statistics and affine parameters, so eval mode is a real test."""
    for m in model.modules():
        if "running_mean" in m._buffers:
            m._buffers["running_mean"][...] = rng.normal(size=m._buffers["running_mean"].shape)
            m._buffers["running_var"][...] = rng.uniform(0.5, 2.0, size=m._buffers["running_var"].shape)
        if isinstance(m, (BatchNorm1d, BatchNorm2d)) and m.affine:
            m._params["weight"].data[...] = rng.uniform(0.5, 1.5, size=m.num_features)
            m._params["bias"].data[...] = rng.normal(size=m.num_features)


def compare(model, x, rng, train):
    """Forward, input gradient and every parameter gradient on both engines."""
    model.train(train)
    tmodel = to_torch(model)
    assert tmodel.training == train
    assert set(tmodel.state_dict()) == set(model.state_dict())
    y = model.forward(x)
    g = rng.normal(size=y.shape)
    model.zero_grad()
    dx = model.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = tmodel(xt)
    yt.backward(torch.from_numpy(g))
    close(y, yt.detach().numpy(), "output")
    close(dx, xt.grad.numpy(), "input gradient")
    tparams = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        close(p.grad, tparams[name].grad.numpy(), f"gradient of {name}")
    if train:  # BatchNorm's running statistics moved the same way
        tstate = tmodel.state_dict()
        for name, b in model.named_buffers():
            close(b, tstate[name].numpy(), f"buffer {name}")
    return tmodel


ARCHITECTURES = {
    "mlp": ((12,), lambda: [Dense(16, "relu"), Dense(8, {"name": "leaky_relu", "negative_slope": 0.2}),
                            Linear(out_features=5, activation="tanh"), Dense(3, "softmax")]),
    "mlp-bn-dropout": ((10,), lambda: [Dense(16), BatchNorm1d(16), ReLU(), Dropout(0.5), Dense(4, "sigmoid"),
                                       Dense(2, "log_softmax")]),
    "cnn": ((3, 9, 9), lambda: [Conv2d(3, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                                Conv2d(4, 6, 3, stride=2, padding=1), Tanh(), Flatten(), Dense(5)]),
    "cnn-same-dilation": ((2, 10, 10), lambda: [Conv2d(2, 3, 4, padding="same"), LeakyReLU(0.1),
                                                Conv2d(3, 3, 3, dilation=2, padding=2, bias=False), Sigmoid(),
                                                AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                                                Flatten(), Dense(2)]),
    "residual": ((4, 8, 8), lambda: [Residual([Conv2d(4, 4, 3, padding=1), BatchNorm2d(4), ReLU()]),
                                     Residual([Conv2d(4, 6, 3, padding=1), ReLU()], projection=[Conv2d(4, 6, 1)]),
                                     AvgPool2d(2), Flatten(), Dense(3)]),
    "unet": ((1, 8, 8), lambda: [Concat([[Conv2d(1, 4, 3, padding=1), MaxPool2d(2), BatchNorm2d(4), ReLU(),
                                          Concat([[Conv2d(4, 4, 3, padding=1), ReLU()], Identity()]),
                                          Conv2d(8, 3, 3, padding=1), Upsample(2), ReLU()],
                                         Identity()]),
                                 Conv2d(4, 5, 3, padding=1)]),
    "upsample-transposed": ((3, 5, 5), lambda: [ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
                                                ReLU(), Upsample(2, mode="bilinear"), Conv2d(4, 2, 3)]),
    "conv1d": ((3, 16), lambda: [Conv1d(3, 4, 5, padding=2), BatchNorm1d(4), ReLU(), MaxPool1d(2),
                                 Conv1d(4, 4, 3, stride=2), AvgPool1d(2), Flatten(), Dense(2)]),
    "reshape": ((24,), lambda: [Dense(32, "relu"), Reshape((2, 4, 4)), Conv2d(2, 3, 3, padding=1), Flatten(),
                                Dense(2)]),
    "shuffle-gap": ((3, 6, 6), lambda: [Conv2d(3, 8, 3, padding=1), LAYERS["PixelShuffle"](2),
                                        Conv2d(2, 5, 3, padding=1), ReLU(), LAYERS["GlobalAvgPool2d"](),
                                        Dense(3)]),
    "prelu": ((3, 6, 6), lambda: [Conv2d(3, 4, 3, padding=1), PReLU(4, init=0.1), MaxPool2d(2), Flatten(), Dense(8),
                                  PReLU(), Dense(2)]),
}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_converted_network_matches_outputs_and_gradients(name, train, torch_one_thread):
    if name == "shuffle-gap" and "PixelShuffle" not in LAYERS:
        pytest.skip("PixelShuffle is not in this engine build")
    shape, make = ARCHITECTURES[name]
    rng = np.random.default_rng(len(name))
    layers = make()
    if train:  # dropout draws differ between engines; in training compare with p = 0
        layers = [Dropout(0.0) if isinstance(layer, Dropout) else layer for layer in layers]
    model = Sequential(layers, input_shape=shape, dtype="float64", seed=1)
    randomize_buffers(model, rng)
    compare(model, rng.normal(size=(4, *shape)), rng, train)


@pytest.mark.parametrize("seed", range(8))
def test_random_networks_match_in_eval_mode(seed, torch_one_thread):
    rng = np.random.default_rng(100 + seed)
    c = int(rng.integers(1, 4))
    layers, ch, hw = [], c, 8
    for _ in range(int(rng.integers(2, 6))):
        kind = rng.choice(["conv", "bn", "act", "res", "cat", "pool"])
        if kind == "conv":
            out = int(rng.integers(1, 6))
            layers.append(Conv2d(ch, out, int(rng.choice([1, 3])), padding="same"))
            ch = out
        elif kind == "bn":
            layers.append(BatchNorm2d(ch))
        elif kind == "act":
            layers.append([ReLU, Tanh, Sigmoid][int(rng.integers(3))]())
        elif kind == "res":
            layers.append(Residual([Conv2d(ch, ch, 3, padding=1), ReLU()]))
        elif kind == "cat":
            layers.append(Concat([[Conv2d(ch, 2, 3, padding=1)], Identity()]))
            ch += 2
        elif hw >= 4:
            layers.append([MaxPool2d, AvgPool2d][int(rng.integers(2))](2))
            hw //= 2
    layers += [Flatten(), Dropout(0.3), Dense(int(rng.integers(2, 6)), ["relu", "tanh", None][int(rng.integers(3))])]
    model = Sequential(layers, input_shape=(c, 8, 8), dtype="float64", seed=seed)
    randomize_buffers(model, rng)
    compare(model, rng.normal(size=(3, c, 8, 8)), rng, train=False)


def test_round_trip_keeps_weights_mode_and_outputs(rng):
    model = Sequential(ARCHITECTURES["residual"][1](), input_shape=(4, 8, 8), dtype="float64", seed=3)
    randomize_buffers(model, rng)
    model.eval()
    back = from_torch(to_torch(model), input_shape=(4, 8, 8))
    assert back.dtype == np.float64 and not back.training
    assert back.get_config() == Sequential.from_config(back.get_config()).get_config()
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[k], v)
    x = rng.normal(size=(2, 4, 8, 8))
    np.testing.assert_allclose(back.forward(x), model.forward(x), rtol=1e-12, atol=1e-12)


def test_from_plain_torch_modules(rng, torch_one_thread):
    nn = torch.nn
    torch.manual_seed(0)
    tnet = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(48, 10), nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.Linear(10, 2)).double()
    tnet.eval()
    model = from_torch(tnet, input_shape=(1, 8, 8))
    x = rng.normal(size=(5, 1, 8, 8))
    np.testing.assert_allclose(model.forward(x), tnet(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    assert model.num_parameters() == sum(p.numel() for p in tnet.parameters())


def test_a_single_torch_layer_is_wrapped_in_a_sequential(rng):
    lin = torch.nn.Linear(4, 3).double()
    model = from_torch(lin, input_shape=(4,))
    x = rng.normal(size=(2, 4))
    np.testing.assert_allclose(model.forward(x), lin(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_unconvertible_modules_are_named():
    with pytest.raises(ConversionError, match="GRU"):
        from_torch(torch.nn.Sequential(torch.nn.GRU(3, 3)), input_shape=(3,))
    with pytest.raises(ConversionError, match="groups"):
        from_torch(torch.nn.Conv2d(4, 4, 3, groups=2), input_shape=(4, 5, 5))
    with pytest.raises(ConversionError, match="align_corners"):
        from_torch(torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), input_shape=(1, 4, 4))


def test_unbuilt_models_build_with_engine_init_or_keep_torch_init():
    spec = lambda: Sequential([Dense(5, "relu", init="he_normal"), Dense(2)], seed=7)  # noqa: E731
    engine_first = to_torch(spec(), input_shape=(3,))
    again = to_torch(spec(), input_shape=(3,))
    for (k, a), (_, b) in zip(engine_first.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), f"{k}: the engine's seeded init should decide the weights"
    fast = to_torch(spec(), input_shape=(3,), init="torch")
    assert fast.state_dict()["0.weight"].shape == (5, 3)
    with pytest.raises(Exception, match="input_shape"):
        to_torch(spec())


def test_prelu_converts_both_ways_with_its_slopes(rng, torch_one_thread):
    nn = torch.nn
    tnet = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.PReLU(3, init=0.1), nn.Flatten(), nn.Linear(48, 4),
                         nn.PReLU()).double()
    with torch.no_grad():
        tnet[1].weight.copy_(torch.tensor([-0.3, 0.2, 0.7], dtype=torch.float64))
    model = from_torch(tnet, input_shape=(2, 4, 4))
    assert [type(m).__name__ for m in model.layers] == ["Conv2d", "PReLU", "Flatten", "Linear", "PReLU"]
    assert model.layers[1].get_config() == {"num_parameters": 3, "init": pytest.approx(0.1)}
    np.testing.assert_array_equal(model.state_dict()["1.weight"], [-0.3, 0.2, 0.7])
    x = rng.normal(size=(5, 2, 4, 4))
    np.testing.assert_allclose(model.forward(x), tnet(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    back = to_torch(model)
    assert type(back[1]) is nn.PReLU and back[1].num_parameters == 3
    assert torch.equal(back[1].weight, tnet[1].weight) and torch.equal(back[4].weight, tnet[4].weight)
