"""Parity of the NumPy engine with PyTorch (float64 unless stated otherwise).

Every layer, loss, a whole ``Sequential`` MLP and every optimizer configuration is run side by
side with its ``torch`` equivalent on the same seeded data, and outputs, input gradients,
parameter gradients, updated parameters and optimizer state are compared. Failure messages
print our values next to torch's.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from nnlab.engine import (  # noqa: E402
    SGD,
    Activation,
    Adam,
    AdamW,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MSELoss,
    NLLLoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    optim,  # noqa: E402
)

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("torch_one_thread")]

F64 = dict(rtol=1e-7, atol=1e-10)
F32 = dict(rtol=1e-4, atol=1e-6)


# -- helpers --------------------------------------------------------------------------------
def tt(a, requires_grad=False, dtype=torch.float64):
    return torch.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def npy(t):
    return t.detach().cpu().numpy()


def close(ours, theirs, what, tol=F64):
    """assert_allclose that prints both sides, labelled, on failure (message built lazily)."""
    ours = np.asarray(ours)
    theirs = npy(theirs) if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape ours {ours.shape} != torch {theirs.shape}"
    try:
        np.testing.assert_allclose(ours, theirs, **tol)
    except AssertionError as exc:
        raise AssertionError(
            f"{what} differs from torch\n  ours:  {ours!r}\n  torch: {theirs!r}\n{exc}"
        ) from None


def torch_activation(spec):
    """The torch module equal to one of our activation specs (None = identity)."""
    if spec is None:
        return torch.nn.Identity()
    if isinstance(spec, str):
        spec = {"name": spec}
    name, kw = spec["name"], {k: v for k, v in spec.items() if k != "name"}
    return {
        "identity": lambda: torch.nn.Identity(),
        "relu": lambda: torch.nn.ReLU(),
        "leaky_relu": lambda: torch.nn.LeakyReLU(kw.get("negative_slope", 0.01)),
        "sigmoid": lambda: torch.nn.Sigmoid(),
        "tanh": lambda: torch.nn.Tanh(),
        "softmax": lambda: torch.nn.Softmax(dim=1),
        "log_softmax": lambda: torch.nn.LogSoftmax(dim=1),
    }[name]()


def torch_linear_from(ours: Linear, dtype=torch.float64) -> torch.nn.Linear:
    """A torch Linear holding a copy of our Linear's weights (both store weight as (out, in))."""
    lin = torch.nn.Linear(ours.in_features, ours.out_features, bias=ours.use_bias, dtype=dtype)
    params = dict(ours.named_parameters())
    with torch.no_grad():
        lin.weight.copy_(tt(params["weight"].data, dtype=dtype))
        if ours.use_bias:
            lin.bias.copy_(tt(params["bias"].data, dtype=dtype))
    return lin


# -- 1. layers ------------------------------------------------------------------------------
FUSED = [
    None, "relu", "leaky_relu", {"name": "leaky_relu", "negative_slope": 0.2},
    {"name": "leaky_relu", "negative_slope": -0.3}, {"name": "leaky_relu", "negative_slope": 1.5},
    "sigmoid", "tanh", "softmax", "log_softmax",
]


def _layer_io(seed, n, d_in, d_out):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d_in)) * 2.0
    g = rng.standard_normal((n, d_out))
    return x, g


def _run_ours(layer, x, g):
    layer.zero_grad()
    y = layer.forward(x.copy())
    dx = layer.backward(g.copy())
    return y, dx, {k: p.grad.copy() for k, p in layer.named_parameters()}


LINEAR_CASES = [(act, True) for act in FUSED] + [(None, False), ("tanh", False), ("softmax", False)]


@pytest.mark.parametrize("act,bias", LINEAR_CASES, ids=[f"{a}-{'bias' if b else 'nobias'}" for a, b in LINEAR_CASES])
def test_linear_matches_torch(act, bias):
    n, d_in, d_out = 6, 5, 4
    layer = Linear(d_in, d_out, activation=act, bias=bias, bias_init={"name": "normal", "std": 0.5})
    layer.build((d_in,), np.random.default_rng(0), np.float64)
    x, g = _layer_io(1, n, d_in, d_out)

    y, dx, grads = _run_ours(layer, x, g)

    lin = torch_linear_from(layer)
    tx = tt(x, requires_grad=True)
    ty = torch_activation(act)(lin(tx))
    ty.backward(tt(g))

    close(y, ty, f"Linear({act}) output")
    close(dx, tx.grad, f"Linear({act}) input grad")
    assert set(grads) == ({"weight", "bias"} if bias else {"weight"})
    close(grads["weight"], lin.weight.grad, f"Linear({act}) weight grad")
    if bias:
        close(grads["bias"], lin.bias.grad, f"Linear({act}) bias grad")


def test_linear_gradients_accumulate_like_torch():
    """Two backward passes without zero_grad add up; zero_grad starts afresh (torch semantics)."""
    layer = Linear(3, 2, activation="tanh")
    layer.build((3,), np.random.default_rng(0), np.float64)
    x1, g1 = _layer_io(2, 4, 3, 2)
    x2, g2 = _layer_io(3, 5, 3, 2)
    lin = torch_linear_from(layer)
    act = torch.nn.Tanh()

    layer.zero_grad()
    for x, g in ((x1, g1), (x2, g2)):
        layer.forward(x)
        layer.backward(g)
        act(lin(tt(x))).backward(tt(g))
    p = dict(layer.named_parameters())
    close(p["weight"].grad, lin.weight.grad, "accumulated weight grad")
    close(p["bias"].grad, lin.bias.grad, "accumulated bias grad")

    layer.zero_grad()
    lin.zero_grad()
    layer.forward(x2)
    layer.backward(g2)
    act(lin(tt(x2))).backward(tt(g2))
    close(p["weight"].grad, lin.weight.grad, "weight grad after zero_grad")
    close(p["bias"].grad, lin.bias.grad, "bias grad after zero_grad")


STANDALONE = [
    ("Identity", Identity, (), torch.nn.Identity),
    ("ReLU", ReLU, (), torch.nn.ReLU),
    ("LeakyReLU", LeakyReLU, (), torch.nn.LeakyReLU),
    ("LeakyReLU(0.2)", LeakyReLU, (0.2,), lambda: torch.nn.LeakyReLU(0.2)),
    ("LeakyReLU(-0.3)", LeakyReLU, (-0.3,), lambda: torch.nn.LeakyReLU(-0.3)),
    ("LeakyReLU(1.5)", LeakyReLU, (1.5,), lambda: torch.nn.LeakyReLU(1.5)),
    ("Sigmoid", Sigmoid, (), torch.nn.Sigmoid),
    ("Tanh", Tanh, (), torch.nn.Tanh),
    ("Softmax", Softmax, (), lambda: torch.nn.Softmax(dim=1)),
    ("LogSoftmax", LogSoftmax, (), lambda: torch.nn.LogSoftmax(dim=1)),
    ("Activation(tanh)", lambda: Activation("tanh"), (), torch.nn.Tanh),
    ("Activation(leaky_relu,-2)", lambda: Activation({"name": "leaky_relu", "negative_slope": -2.0}), (),
     lambda: torch.nn.LeakyReLU(-2.0)),
]


@pytest.mark.parametrize("name,ours_cls,args,torch_cls", STANDALONE, ids=[c[0] for c in STANDALONE])
def test_activation_layer_matches_torch(name, ours_cls, args, torch_cls):
    n, d = 6, 5
    layer = ours_cls(*args)
    layer.build((d,), np.random.default_rng(0), np.float64)
    x, g = _layer_io(4, n, d, d)
    x[0, :2] = 0.0  # exact zeros: the ReLU-family kink, where torch's convention must be matched
    x[1, 0] = 30.0  # large inputs: saturation of sigmoid/tanh, a dominant softmax class
    x[2, 1] = -30.0

    y, dx, grads = _run_ours(layer, x, g)
    assert grads == {}, f"{name} has no parameters, got {sorted(grads)}"

    tx = tt(x, requires_grad=True)
    ty = torch_cls()(tx)
    ty.backward(tt(g))
    close(y, ty, f"{name} output")
    close(dx, tx.grad, f"{name} input grad")


# -- 2. losses ------------------------------------------------------------------------------
def _check_loss(loss, pred, target, torch_fn, torch_target, what):
    value = loss.forward(pred.copy(), target)
    grad = loss.backward().copy()
    tp = tt(pred, requires_grad=True)
    tv = torch_fn(tp, torch_target)
    tv.backward()
    assert isinstance(value, float), f"{what}: forward should return a float, got {type(value)}"
    close(value, tv, f"{what} value")
    close(grad, tp.grad, f"{what} gradient wrt prediction")


def test_mse_matches_torch():
    rng = np.random.default_rng(10)
    pred, target = rng.standard_normal((7, 3)), rng.standard_normal((7, 3))
    _check_loss(MSELoss(), pred, target, F.mse_loss, tt(target), "mse")


def test_mse_single_output_column_matches_torch():
    rng = np.random.default_rng(11)
    pred, target = rng.standard_normal((9, 1)), rng.standard_normal(9)
    # our loss accepts (N,) targets for (N, 1) outputs; torch needs them shaped alike
    _check_loss(MSELoss(), pred, target, F.mse_loss, tt(target.reshape(9, 1)), "mse (N,1)")


@pytest.mark.parametrize("scale", [1.0, 50.0], ids=["normal", "extreme"])
def test_cross_entropy_matches_torch(scale):
    rng = np.random.default_rng(12)
    logits = rng.standard_normal((8, 5)) * scale
    labels = rng.integers(0, 5, 8)
    if scale > 1:
        logits[0] = [50, -50, 0, 0, 0]
        labels[0] = 1  # a confidently wrong row: loss ~ 100
        logits[1] = [-50, 50, -50, 50, -50]
        labels[1] = 3
    _check_loss(CrossEntropyLoss(), logits, labels, F.cross_entropy,
                torch.tensor(labels, dtype=torch.int64), f"cross_entropy x{scale:g}")


def test_nll_matches_torch():
    rng = np.random.default_rng(13)
    z = rng.standard_normal((8, 4)) * 3
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    labels = rng.integers(0, 4, 8)
    _check_loss(NLLLoss(), logp, labels, F.nll_loss, torch.tensor(labels, dtype=torch.int64), "nll")


@pytest.mark.parametrize("loss", ["cross_entropy", "nll"])
def test_per_pixel_label_losses_match_torch(loss):
    rng = np.random.default_rng(15)
    z = rng.standard_normal((3, 5, 4, 6)) * 3
    labels = rng.integers(0, 5, (3, 4, 6))
    target = torch.tensor(labels, dtype=torch.int64)
    if loss == "nll":
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        _check_loss(NLLLoss(), logp, labels, F.nll_loss, target, "nll per pixel")
    else:
        _check_loss(CrossEntropyLoss(), z, labels, F.cross_entropy, target, "cross_entropy per pixel")


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
def test_bce_matches_torch(soft):
    rng = np.random.default_rng(14)
    p = 1 / (1 + np.exp(-rng.standard_normal((10, 2)) * 2))
    t = rng.uniform(0, 1, (10, 2)) if soft else rng.integers(0, 2, (10, 2)).astype(np.float64)
    _check_loss(BCELoss(), p, t, F.binary_cross_entropy, tt(t), f"bce ({'soft' if soft else 'hard'})")


def test_bce_at_probability_0_and_1_matches_torch():
    """torch clamps log at -100 and the gradient's denominator at 1e-12."""
    p = np.array([[0.0, 1.0, 0.0, 1.0, 1e-20, 1 - 1e-16]])
    t = np.array([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]])
    _check_loss(BCELoss(), p, t, F.binary_cross_entropy, tt(t), "bce at 0/1")


@pytest.mark.parametrize("scale", [1.0, 50.0], ids=["normal", "extreme"])
def test_bce_with_logits_matches_torch(scale):
    rng = np.random.default_rng(15)
    z = rng.standard_normal((6, 3)) * scale
    t = rng.uniform(0, 1, (6, 3))
    if scale > 1:
        z[0] = [50.0, -50.0, 100.0]
        t[0] = [0.0, 1.0, 0.3]
        z[1] = [-800.0, 800.0, 0.0]
        t[1] = [1.0, 0.0, 0.5]
    _check_loss(BCEWithLogitsLoss(), z, t, F.binary_cross_entropy_with_logits, tt(t), f"bce_with_logits x{scale:g}")


# -- 3. a whole MLP -------------------------------------------------------------------------
def _mlp_pair(dtype=np.float64, tdtype=torch.float64, seed=0):
    """Our 7-16-8-3 MLP (fused relu, stand-alone Tanh) and the equivalent torch nn.Sequential."""
    ours = Sequential(
        [Linear(7, 16, activation="relu"), Linear(16, 8), Tanh(), Linear(8, 3, bias_init={"name": "normal", "std": 0.1})],
        input_shape=(7,), dtype=dtype, seed=seed,
    )
    lins = [layer for layer in ours.layers if isinstance(layer, Linear)]
    theirs = torch.nn.Sequential(
        torch_linear_from(lins[0], tdtype), torch.nn.ReLU(),
        torch_linear_from(lins[1], tdtype), torch.nn.Tanh(),
        torch_linear_from(lins[2], tdtype),
    )
    # our parameter names, in order, paired with torch's (indices differ: torch has a ReLU module)
    names = [n for n, _ in ours.named_parameters()]
    tnames = [n for n, _ in theirs.named_parameters()]
    assert len(names) == len(tnames) == 6
    return ours, theirs, dict(zip(names, tnames))


def _mlp_data(n=10, seed=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 7)), rng.integers(0, 3, n)


def _check_mlp(dtype, tdtype, tol, workspace=False):
    model, tmodel, name_map = _mlp_pair(dtype, tdtype)
    x, y = _mlp_data()
    x = x.astype(dtype)
    loss = CrossEntropyLoss()
    tparams = dict(tmodel.named_parameters())

    tx = tt(x, requires_grad=True, dtype=tdtype)
    tout = tmodel(tx)
    tloss = F.cross_entropy(tout, torch.tensor(y, dtype=torch.int64))
    tloss.backward()

    for rep in range(2 if workspace else 1):  # in workspace mode, the 2nd pass reuses buffers
        model.zero_grad()
        if workspace:
            with model.workspace():
                out = model.forward(x).copy()
                value = loss.forward(out, y)
                model.backward(loss.backward(), need_input_grad=False)
        else:
            out = model.forward(x)
            value = loss.forward(out, y)
            model.backward(loss.backward(), need_input_grad=False)
        tag = f"MLP {np.dtype(dtype).name}{' workspace pass %d' % rep if workspace else ''}"
        assert out.dtype == np.dtype(dtype)
        close(out, tout, f"{tag} output", tol)
        close(value, tloss, f"{tag} loss", tol)
        for name, p in model.named_parameters():
            assert p.grad.dtype == np.dtype(dtype)
            close(p.grad, tparams[name_map[name]].grad, f"{tag} grad of {name} (torch {name_map[name]})", tol)
    return model, tmodel, tx


def test_mlp_matches_torch_float64():
    _check_mlp(np.float64, torch.float64, F64)


def test_mlp_input_gradient_matches_torch():
    model, _, tx = _check_mlp(np.float64, torch.float64, F64)
    x, y = _mlp_data()
    loss = CrossEntropyLoss()
    model.zero_grad()
    loss.forward(model.forward(x), y)
    dx = model.backward(loss.backward(), need_input_grad=True)
    close(dx, tx.grad, "MLP input grad")


def test_mlp_matches_torch_in_workspace_mode():
    _check_mlp(np.float64, torch.float64, F64, workspace=True)


def test_mlp_matches_torch_float32():
    _check_mlp(np.float32, torch.float32, F32)


@pytest.mark.parametrize("accumulate_steps", [1, 2])
def test_fit_matches_torch_training_loop(accumulate_steps):
    """Sequential.fit (workspace fast path, flat optimizer) == a plain torch loop, 2 epochs of Adam."""
    model, tmodel, name_map = _mlp_pair()
    x, y = _mlp_data(n=24, seed=5)
    model.compile(loss=CrossEntropyLoss(), optimizer=Adam(model.parameters(), lr=0.05, weight_decay=0.01))
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, accumulate_steps=accumulate_steps)

    topt = torch.optim.Adam(tmodel.parameters(), lr=0.05, weight_decay=0.01)
    tx, ty = tt(x), torch.tensor(y, dtype=torch.int64)
    for _ in range(2):
        for lo in range(0, 24, 8):
            topt.zero_grad()
            F.cross_entropy(tmodel(tx[lo:lo + 8]), ty[lo:lo + 8]).backward()
            topt.step()
    tparams = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        close(p.data, tparams[name_map[name]], f"{name} after fit (accumulate_steps={accumulate_steps})",
              dict(rtol=1e-6, atol=1e-9))


# -- 4. optimizers --------------------------------------------------------------------------
OPTIMIZERS = [
    ("sgd", SGD, torch.optim.SGD, dict(lr=0.1)),
    ("sgd_momentum", SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    ("sgd_momentum_dampening", SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("nesterov", SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd_weight_decay", SGD, torch.optim.SGD, dict(lr=0.1, weight_decay=0.1)),
    ("sgd_momentum_weight_decay", SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("adam", Adam, torch.optim.Adam, dict(lr=0.01)),
    ("adam_betas_eps", Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.95), eps=1e-3)),
    ("adam_l2", Adam, torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
    ("adamw", AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    ("adamw_defaults", AdamW, torch.optim.AdamW, dict()),
]
OPT_IDS = [c[0] for c in OPTIMIZERS]
# Used by the step tests only, so that one defect does not fail every optimizer test.
NESTEROV_WD = ("nesterov_weight_decay", SGD, torch.optim.SGD,
               dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1))
STEP_CASES = OPTIMIZERS + [NESTEROV_WD]
STEP_IDS = OPT_IDS + [NESTEROV_WD[0]]
SMALL_SHAPES = [(4, 3), (4,), (2, 4), (2,)]
LARGE_SHAPES = [(190, 180), (190,), (3, 190)]  # 34200 elements; the test shrinks optim.CHUNK below that


def _our_params(path, size, seed=0):
    """Parameters on the flat-buffer fast path (through a Sequential) or as separate objects."""
    if path == "flat":
        if size == "small":
            model = Sequential([Linear(3, 4, activation="tanh"), Linear(4, 2)], input_shape=(3,),
                               dtype="float64", seed=seed)
        else:
            model = Sequential([Linear(180, 190, activation="tanh"), Linear(190, 3)], input_shape=(180,),
                               dtype="float64", seed=seed)
        params = model.parameters()
    else:
        rng = np.random.default_rng(seed)
        shapes = SMALL_SHAPES if size == "small" else LARGE_SHAPES
        params = [Parameter(rng.standard_normal(s), f"p{i}") for i, s in enumerate(shapes)]
    for p in params:  # non-zero biases so that weight decay acts on every parameter
        if p.data.ndim == 1:
            p.data[...] = np.random.default_rng(seed + 1).standard_normal(p.shape)
    return params


def _grads(params, step, seed=100):
    rng = np.random.default_rng(seed + step)
    return [rng.standard_normal(p.shape) for p in params]


def _set_grads(opt, params, grads):
    opt.zero_grad()
    for p, g in zip(params, grads):
        p.grad[...] = g


def _torch_step(topt, tparams, grads):
    for tp, g in zip(tparams, grads):
        tp.grad = tt(g)
    topt.step()


def _make(path, size, ours_cls, torch_cls, kw):
    params = _our_params(path, size)
    tparams = [torch.nn.Parameter(tt(p.data.copy())) for p in params]
    opt = ours_cls(params, **kw)
    # make sure the intended code path is the one exercised (one flat segment vs one per param)
    expect = 1 if path == "flat" else len(params)
    assert len(opt._segments) == expect, f"{path} path expected {expect} segment(s), got {len(opt._segments)}"
    return params, tparams, opt, torch_cls(tparams, **kw)


@pytest.mark.parametrize("n_steps", [1, 5])
@pytest.mark.parametrize("path", ["flat", "per_param"])
@pytest.mark.parametrize("name,ours_cls,torch_cls,kw", STEP_CASES, ids=STEP_IDS)
def test_optimizer_steps_match_torch(name, ours_cls, torch_cls, kw, path, n_steps):
    params, tparams, opt, topt = _make(path, "small", ours_cls, torch_cls, kw)
    for step in range(n_steps):
        grads = _grads(params, step)
        _set_grads(opt, params, grads)
        opt.step()
        _torch_step(topt, tparams, grads)
        for i, (p, tp) in enumerate(zip(params, tparams)):
            close(p.data, tp, f"{name} ({path}) param {i} {p.shape} after step {step + 1}")


@pytest.mark.parametrize("path", ["flat", "per_param"])
@pytest.mark.parametrize("name,ours_cls,torch_cls,kw", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_large_parameters_match_torch(name, ours_cls, torch_cls, kw, path, monkeypatch):
    """Parameters larger than one update chunk (optim.CHUNK) are updated chunk by chunk."""
    monkeypatch.setattr(optim, "CHUNK", 4096)  # uneven: 34200 = 8 * 4096 + 1432
    params, tparams, opt, topt = _make(path, "large", ours_cls, torch_cls, kw)
    assert max(p.size for p in params) > optim.CHUNK, "the test must span more than one update chunk"
    for step in range(3):
        grads = _grads(params, step)
        _set_grads(opt, params, grads)
        opt.step()
        _torch_step(topt, tparams, grads)
    for i, (p, tp) in enumerate(zip(params, tparams)):
        close(p.data, tp, f"{name} ({path}) large param {i} {p.shape} after 3 steps")


@pytest.mark.parametrize("path", ["flat", "per_param"])
@pytest.mark.parametrize("name,ours_cls,torch_cls,kw", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_missing_gradient_is_zero_gradient(name, ours_cls, torch_cls, kw, path):
    """After zero_grad, a parameter that receives no gradient steps as with a zero gradient
    (torch with an explicit zero tensor, i.e. zero_grad(set_to_none=False))."""
    params, tparams, opt, topt = _make(path, "small", ours_cls, torch_cls, kw)
    for step in range(3):
        grads = _grads(params, step)
        if step > 0:
            grads[1] = np.zeros_like(grads[1])
        opt.zero_grad()
        for i, (p, g) in enumerate(zip(params, grads)):
            if not (step > 0 and i == 1):  # parameter 1 gets no gradient after step 1
                p.grad[...] = g
        opt.step()
        _torch_step(topt, tparams, grads)
    for i, (p, tp) in enumerate(zip(params, tparams)):
        close(p.data, tp, f"{name} ({path}) param {i} with a missing gradient")


def _compare_state(opt, topt, tparams, name, what):
    """Our state_dict's moments (PyTorch naming and scaling) == torch's optimizer.state."""
    sd = opt.state_dict()
    assert sd["step"] == opt.step_count
    torch_keys = set()
    for i, tp in enumerate(tparams):
        tstate = topt.state[tp]
        for key in ("exp_avg", "exp_avg_sq", "momentum_buffer"):
            theirs = tstate.get(key)
            if theirs is None:
                continue
            torch_keys.add(key)
            assert key in sd["state"], f"{name} {what}: torch has {key!r}, our state_dict has {sorted(sd['state'])}"
            assert len(sd["state"][key]) == len(tparams)
            close(sd["state"][key][i], theirs, f"{name} {what}: {key} of param {i}")
        if "step" in tstate:
            assert int(tstate["step"]) == sd["step"], f"{name} {what}: step ours {sd['step']} torch {int(tstate['step'])}"
    assert set(sd["state"]) == torch_keys, f"{name} {what}: state keys ours {sorted(sd['state'])} torch {sorted(torch_keys)}"
    return bool(torch_keys)


@pytest.mark.parametrize("path", ["flat", "per_param"])
@pytest.mark.parametrize("name,ours_cls,torch_cls,kw", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_state_dict_matches_torch_state(name, ours_cls, torch_cls, kw, path):
    params, tparams, opt, topt = _make(path, "small", ours_cls, torch_cls, kw)
    for step in range(5):
        grads = _grads(params, step)
        _set_grads(opt, params, grads)
        opt.step()
        _torch_step(topt, tparams, grads)
    has_state = _compare_state(opt, topt, tparams, name, f"({path}) after 5 steps")
    expects_state = kw.get("momentum", 0) > 0 or ours_cls is not SGD
    assert has_state == expects_state, f"{name}: state present {has_state}, expected {expects_state}"


def _continue_check(name, ours_cls, torch_cls, kw, path, fresh_kw, load_path=None):
    """3 steps, state_dict -> fresh optimizer on a copy of the parameters, 2 more steps on all."""
    params, tparams, opt, topt = _make(path, "small", ours_cls, torch_cls, kw)
    for step in range(3):
        grads = _grads(params, step)
        _set_grads(opt, params, grads)
        opt.step()
        _torch_step(topt, tparams, grads)
    sd = copy.deepcopy(opt.state_dict())

    params2 = _our_params(load_path or path, "small")
    for p2, p in zip(params2, params):
        p2.data[...] = p.data
    opt2 = ours_cls(params2, **fresh_kw)
    opt2.load_state_dict(sd)
    assert opt2.step_count == 3
    assert opt2.hyperparameters() == opt.hyperparameters()

    for step in range(3, 5):
        grads = _grads(params, step)
        _set_grads(opt, params, grads)
        opt.step()
        _set_grads(opt2, params2, grads)
        opt2.step()
        _torch_step(topt, tparams, grads)
        for i, (p, p2, tp) in enumerate(zip(params, params2, tparams)):
            close(p2.data, p.data, f"{name}: reloaded vs original optimizer, param {i} after step {step + 1}",
                  dict(rtol=1e-12, atol=1e-14))
            close(p2.data, tp, f"{name}: reloaded optimizer vs torch, param {i} after step {step + 1}")
    _compare_state(opt2, topt, tparams, name, "reloaded, after 5 steps")


@pytest.mark.parametrize("path", ["flat", "per_param"])
@pytest.mark.parametrize("name,ours_cls,torch_cls,kw", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_load_state_dict_continues_identically(name, ours_cls, torch_cls, kw, path):
    _continue_check(name, ours_cls, torch_cls, kw, path, fresh_kw=kw)


@pytest.mark.parametrize("name,ours_cls,torch_cls,kw", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_load_state_dict_restores_hyperparameters(name, ours_cls, torch_cls, kw):
    """A fresh optimizer built with default hyper-parameters takes them from the state dict."""
    _continue_check(name, ours_cls, torch_cls, kw, "flat", fresh_kw={})


@pytest.mark.parametrize("name,ours_cls,torch_cls,kw", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_state_moves_between_flat_and_per_param_layouts(name, ours_cls, torch_cls, kw):
    """state_dict is per parameter, so the flat fast path's state loads into separate parameters."""
    _continue_check(name, ours_cls, torch_cls, kw, "flat", fresh_kw=kw, load_path="per_param")
