"""The reference (plain-loop) convolution-family kernels against ``torch.nn.functional``.

Random seeded configurations (sizes 1..7, channels 1..3, kernels 1..3, strides 1..3, padding
0..2, dilation 1..2, every spatial argument drawn per axis so inputs, kernels and strides are
rectangular) are run through our forward and backward and through torch's forward and autograd
with the same upstream gradient, in float64. Failure messages print the configuration and our
values against torch's.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from nnlab.engine.functional import reference as ref  # noqa: E402 (after importorskip)

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("torch_one_thread")]

TOL = dict(rtol=1e-10, atol=1e-12)
N_CASES = 60  # random configurations per kernel


# -- helpers --------------------------------------------------------------------------------
def tt(a, requires_grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=requires_grad)


def close(ours, theirs, what, cfg):
    """assert_allclose of ours (actual) against torch's (desired), labelled with the config."""
    if isinstance(theirs, torch.Tensor):
        theirs = theirs.detach().numpy()
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, (
        f"{what}, config {cfg}: shape ours {ours.shape} != torch {theirs.shape}"
    )
    np.testing.assert_allclose(ours, theirs, **TOL, err_msg=f"{what}, config {cfg}: ours vs torch")


def _int(rng, lo, hi):
    """A random int in lo..hi (both included)."""
    return int(rng.integers(lo, hi + 1))


def _pair(rng, lo, hi):
    return (_int(rng, lo, hi), _int(rng, lo, hi))


def conv_out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv_transpose_out(n, k, s, p, op, d):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def pool_out(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def conv_config(rng):
    """A random conv2d configuration with a non-empty output."""
    while True:
        cfg = dict(
            N=_int(rng, 1, 2), C=_int(rng, 1, 3), O=_int(rng, 1, 3),
            size=_pair(rng, 1, 7), kernel=_pair(rng, 1, 3), stride=_pair(rng, 1, 3),
            padding=_pair(rng, 0, 2), dilation=_pair(rng, 1, 2), bias=bool(rng.random() < 0.7),
        )
        axes = zip(cfg["size"], cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"])
        out = [conv_out(*a) for a in axes]
        if min(out) >= 1:
            return cfg


def conv_transpose_config(rng):
    """A random conv_transpose2d configuration: output_padding < max(stride, dilation) per axis
    (PyTorch's rule), non-empty output."""
    while True:
        cfg = dict(
            N=_int(rng, 1, 2), C=_int(rng, 1, 3), O=_int(rng, 1, 3),
            size=_pair(rng, 1, 7), kernel=_pair(rng, 1, 3), stride=_pair(rng, 1, 3),
            padding=_pair(rng, 0, 2), dilation=_pair(rng, 1, 2), bias=bool(rng.random() < 0.7),
        )
        cfg["output_padding"] = tuple(
            _int(rng, 0, max(s, d) - 1) for s, d in zip(cfg["stride"], cfg["dilation"])
        )
        axes = zip(cfg["size"], cfg["kernel"], cfg["stride"], cfg["padding"],
                   cfg["output_padding"], cfg["dilation"])
        out = [conv_transpose_out(*a) for a in axes]
        if min(out) >= 1:
            return cfg


def pool_config(rng):
    """A random pooling configuration: padding <= kernel // 2 (PyTorch's rule), non-empty output."""
    while True:
        kernel = _pair(rng, 1, 3)
        cfg = dict(
            N=_int(rng, 1, 2), C=_int(rng, 1, 3), size=_pair(rng, 1, 7), kernel=kernel,
            stride=_pair(rng, 1, 3), padding=tuple(_int(rng, 0, min(2, k // 2)) for k in kernel),
        )
        axes = zip(cfg["size"], cfg["kernel"], cfg["stride"], cfg["padding"])
        out = [pool_out(*a) for a in axes]
        if min(out) >= 1:
            return cfg


def upsample_config(rng):
    return dict(N=_int(rng, 1, 2), C=_int(rng, 1, 3), size=_pair(rng, 1, 7), scale=_pair(rng, 1, 3))


def case_rng(kernel_id: int, case: int):
    """A generator of its own for every (kernel, case): a failing case reruns alone."""
    return np.random.default_rng([20261123, kernel_id, case])


# -- convolution ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", range(N_CASES))
def test_conv2d_matches_torch(case):
    rng = case_rng(1, case)
    cfg = conv_config(rng)
    x = rng.standard_normal((cfg["N"], cfg["C"], *cfg["size"]))
    w = rng.standard_normal((cfg["O"], cfg["C"], *cfg["kernel"]))
    b = rng.standard_normal(cfg["O"]) if cfg["bias"] else None
    args = (cfg["stride"], cfg["padding"], cfg["dilation"])

    y = ref.conv2d_forward(x, w, b, *args)
    xt, wt = tt(x, True), tt(w, True)
    bt = tt(b, True) if b is not None else None
    yt = F.conv2d(xt, wt, bt, stride=args[0], padding=args[1], dilation=args[2])
    close(y, yt, "conv2d y", cfg)

    dy = rng.standard_normal(y.shape)
    dx, dw, db = ref.conv2d_backward(dy, x, w, *args)
    yt.backward(tt(dy))
    close(dx, xt.grad, "conv2d dx", cfg)
    close(dw, wt.grad, "conv2d dw", cfg)
    close(db, bt.grad if bt is not None else tt(dy).sum((0, 2, 3)), "conv2d db", cfg)


@pytest.mark.parametrize("case", range(N_CASES))
def test_conv_transpose2d_matches_torch(case):
    rng = case_rng(2, case)
    cfg = conv_transpose_config(rng)
    x = rng.standard_normal((cfg["N"], cfg["C"], *cfg["size"]))
    w = rng.standard_normal((cfg["C"], cfg["O"], *cfg["kernel"]))
    b = rng.standard_normal(cfg["O"]) if cfg["bias"] else None
    args = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["dilation"])

    y = ref.conv_transpose2d_forward(x, w, b, *args)
    xt, wt = tt(x, True), tt(w, True)
    bt = tt(b, True) if b is not None else None
    yt = F.conv_transpose2d(
        xt, wt, bt, stride=args[0], padding=args[1], output_padding=args[2], dilation=args[3]
    )
    close(y, yt, "conv_transpose2d y", cfg)

    dy = rng.standard_normal(y.shape)
    dx, dw, db = ref.conv_transpose2d_backward(dy, x, w, *args)
    yt.backward(tt(dy))
    close(dx, xt.grad, "conv_transpose2d dx", cfg)
    close(dw, wt.grad, "conv_transpose2d dw", cfg)
    close(db, bt.grad if bt is not None else tt(dy).sum((0, 2, 3)), "conv_transpose2d db", cfg)


@pytest.mark.parametrize("case", range(8))
def test_conv_transpose2d_is_the_adjoint_of_conv2d(case):
    """<conv2d(x), y> == <x, conv_transpose2d(y)> with the same w, stride, padding, dilation
    (the output_padding that brings the transposed output back to x's size)."""
    rng = case_rng(3, case)
    cfg = conv_config(rng)
    x = rng.standard_normal((cfg["N"], cfg["C"], *cfg["size"]))
    w = rng.standard_normal((cfg["O"], cfg["C"], *cfg["kernel"]))
    s, p, d = cfg["stride"], cfg["padding"], cfg["dilation"]
    y = ref.conv2d_forward(x, w, None, s, p, d)
    u = rng.standard_normal(y.shape)
    op = tuple(
        n - conv_transpose_out(m, k, si, pi, 0, di)
        for n, m, k, si, pi, di in zip(x.shape[2:], y.shape[2:], w.shape[2:], s, p, d)
    )
    xt = ref.conv_transpose2d_forward(u, w, None, s, p, op, d)
    assert xt.shape == x.shape, f"config {cfg}, output_padding {op}"
    np.testing.assert_allclose(
        np.sum(y * u), np.sum(x * xt), **TOL, err_msg=f"config {cfg}: <Ax, u> vs <x, A'u>"
    )
    # and the transposed forward is exactly conv2d's input gradient
    dx, _, _ = ref.conv2d_backward(u, x, w, s, p, d)
    np.testing.assert_allclose(xt, dx, **TOL, err_msg=f"config {cfg}: conv_transpose vs conv dx")


def test_need_dx_false_returns_none_and_the_same_parameter_gradients():
    rng = case_rng(4, 0)
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((2, 3, 3, 2))
    dy = rng.standard_normal((2, 2, 3, 4))
    args = ((2, 1), (1, 0), (1, 1))
    full = ref.conv2d_backward(dy, x, w, *args)
    part = ref.conv2d_backward(dy, x, w, *args, need_dx=False)
    assert part[0] is None
    np.testing.assert_array_equal(part[1], full[1])
    np.testing.assert_array_equal(part[2], full[2])

    wt = rng.standard_normal((3, 2, 2, 3))
    targs = ((2, 1), (1, 1), (1, 0), (1, 1))
    y = ref.conv_transpose2d_forward(x, wt, None, *targs)
    dy = rng.standard_normal(y.shape)
    full = ref.conv_transpose2d_backward(dy, x, wt, *targs)
    part = ref.conv_transpose2d_backward(dy, x, wt, *targs, need_dx=False)
    assert part[0] is None
    np.testing.assert_array_equal(part[1], full[1])
    np.testing.assert_array_equal(part[2], full[2])


# -- pooling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", range(N_CASES))
def test_maxpool2d_matches_torch(case):
    rng = case_rng(5, case)
    cfg = pool_config(rng)
    # every other case draws from a few integers: ties in most windows
    shape = (cfg["N"], cfg["C"], *cfg["size"])
    x = rng.standard_normal(shape) if case % 2 else rng.integers(-1, 2, shape).astype(np.float64)
    args = (cfg["kernel"], cfg["stride"], cfg["padding"])

    y, argmax = ref.maxpool2d_forward(x, *args)
    xt = tt(x, True)
    yt, it = F.max_pool2d(xt, *args, return_indices=True)
    close(y, yt, "maxpool2d y", cfg)
    assert argmax.dtype == np.int64
    np.testing.assert_array_equal(
        argmax, it.numpy(), err_msg=f"maxpool2d argmax, config {cfg}: ours vs torch"
    )

    dy = rng.standard_normal(y.shape)
    dx = ref.maxpool2d_backward(dy, argmax, x.shape)
    yt.backward(tt(dy))
    close(dx, xt.grad, "maxpool2d dx", cfg)


def test_maxpool2d_ties_pick_the_first_maximum_in_row_major_window_order():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = x[0, 0, 2, 1] = 5.0  # two equal maxima: flat indices 6 and 9
    y, argmax = ref.maxpool2d_forward(x, (3, 3), (1, 1), (0, 0))
    # every 3x3 window holds both; (1, 2) comes first in row-major order
    np.testing.assert_array_equal(argmax[0, 0], [[6, 6], [6, 6]])
    np.testing.assert_array_equal(y[0, 0], [[5.0, 5.0], [5.0, 5.0]])
    # all-equal windows: the window's first position
    z = np.zeros((1, 1, 4, 4))
    _, am = ref.maxpool2d_forward(z, (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(am[0, 0], [[0, 2], [8, 10]])
    # with padding: the first position inside the image (padding is -inf, never a maximum)
    _, am = ref.maxpool2d_forward(z, (3, 3), (2, 2), (1, 1))
    np.testing.assert_array_equal(am[0, 0], [[0, 1], [4, 5]])
    # and all of it exactly as torch
    cases = [
        (x, ((3, 3), (1, 1), (0, 0))),
        (z, ((2, 2), (2, 2), (0, 0))),
        (z, ((3, 3), (2, 2), (1, 1))),
        (-np.ones((1, 1, 5, 3)), ((3, 2), (1, 1), (1, 1))),
    ]
    for arr, args in cases:
        _, ours = ref.maxpool2d_forward(arr, *args)
        _, theirs = F.max_pool2d(tt(arr), *args, return_indices=True)
        np.testing.assert_array_equal(ours, theirs.numpy(), err_msg=f"{args}: ours vs torch")


@pytest.mark.parametrize("count_include_pad", [True, False], ids=["include_pad", "exclude_pad"])
@pytest.mark.parametrize("case", range(N_CASES // 2))
def test_avgpool2d_matches_torch(case, count_include_pad):
    rng = case_rng(6, case)
    cfg = pool_config(rng)
    cfg["count_include_pad"] = count_include_pad
    x = rng.standard_normal((cfg["N"], cfg["C"], *cfg["size"]))
    args = (cfg["kernel"], cfg["stride"], cfg["padding"])

    y = ref.avgpool2d_forward(x, *args, count_include_pad=count_include_pad)
    xt = tt(x, True)
    yt = F.avg_pool2d(xt, *args, count_include_pad=count_include_pad)
    close(y, yt, "avgpool2d y", cfg)

    dy = rng.standard_normal(y.shape)
    dx = ref.avgpool2d_backward(dy, x.shape, *args, count_include_pad=count_include_pad)
    yt.backward(tt(dy))
    close(dx, xt.grad, "avgpool2d dx", cfg)


# -- upsampling -------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("case", range(N_CASES // 2))
def test_upsample_matches_torch(case, mode):
    rng = case_rng(7, case)
    cfg = upsample_config(rng)
    cfg["mode"] = mode
    x = rng.standard_normal((cfg["N"], cfg["C"], *cfg["size"]))
    scale = cfg["scale"]

    xt = tt(x, True)
    if mode == "nearest":
        y = ref.upsample_nearest2d_forward(x, scale)
        yt = F.interpolate(xt, scale_factor=scale, mode="nearest")
    else:
        y = ref.upsample_bilinear2d_forward(x, scale)
        yt = F.interpolate(xt, scale_factor=scale, mode="bilinear", align_corners=False)
    close(y, yt, f"upsample {mode} y", cfg)

    dy = rng.standard_normal(y.shape)
    if mode == "nearest":
        dx = ref.upsample_nearest2d_backward(dy, scale)
    else:
        dx = ref.upsample_bilinear2d_backward(dy, x.shape, scale)
    yt.backward(tt(dy))
    close(dx, xt.grad, f"upsample {mode} dx", cfg)


# -- the 1-D layers call the 2-D kernels with H = 1 -------------------------------------------
@pytest.mark.parametrize("case", range(4))
def test_one_dimensional_use_matches_torch_1d(case):
    rng = case_rng(8, case)
    N, C, O = _int(rng, 1, 2), _int(rng, 1, 3), _int(rng, 1, 3)
    L, k = _int(rng, 4, 7), _int(rng, 1, 3)
    s, p, d = _int(rng, 1, 2), _int(rng, 0, k // 2), _int(rng, 1, 2)
    cfg = dict(N=N, C=C, O=O, L=L, k=k, s=s, p=p, d=d)
    x = rng.standard_normal((N, C, L))
    w = rng.standard_normal((O, C, k))
    b = rng.standard_normal(O)
    x4, w4 = x[:, :, None, :], w[:, :, None, :]

    y = ref.conv2d_forward(x4, w4, b, (1, s), (0, p), (1, d))
    close(y[:, :, 0], F.conv1d(tt(x), tt(w), tt(b), stride=s, padding=p, dilation=d), "conv1d", cfg)
    y, _ = ref.maxpool2d_forward(x4, (1, k), (1, s), (0, p))
    close(y[:, :, 0], F.max_pool1d(tt(x), k, s, p), "max_pool1d", cfg)
    y = ref.avgpool2d_forward(x4, (1, k), (1, s), (0, p), count_include_pad=False)
    close(y[:, :, 0], F.avg_pool1d(tt(x), k, s, p, count_include_pad=False), "avg_pool1d", cfg)


# -- inputs are never modified, outputs never alias them ---------------------------------------
def _all_calls(rng):
    """(name, function, args) for every function of the contract on one small configuration."""
    x = rng.standard_normal((2, 3, 5, 4))
    w = rng.standard_normal((2, 3, 3, 2))
    wt = rng.standard_normal((3, 2, 2, 3))
    b = rng.standard_normal(2)
    conv = ((2, 1), (1, 1), (1, 2))
    tconv = ((2, 1), (1, 0), (1, 0), (1, 2))
    dy_conv = rng.standard_normal(ref.conv2d_forward(x, w, b, *conv).shape)
    dy_tconv = rng.standard_normal(ref.conv_transpose2d_forward(x, wt, b, *tconv).shape)
    pool = ((3, 2), (2, 1), (1, 1))
    y, argmax = ref.maxpool2d_forward(x, *pool)
    dy_pool = rng.standard_normal(y.shape)
    scale = (2, 3)
    dy_up = rng.standard_normal((2, 3, 10, 12))
    return [
        ("conv2d_forward", ref.conv2d_forward, (x, w, b, *conv)),
        ("conv2d_backward", ref.conv2d_backward, (dy_conv, x, w, *conv)),
        ("conv_transpose2d_forward", ref.conv_transpose2d_forward, (x, wt, b, *tconv)),
        ("conv_transpose2d_backward", ref.conv_transpose2d_backward, (dy_tconv, x, wt, *tconv)),
        ("maxpool2d_forward", ref.maxpool2d_forward, (x, *pool)),
        ("maxpool2d_backward", ref.maxpool2d_backward, (dy_pool, argmax, x.shape)),
        ("avgpool2d_forward", ref.avgpool2d_forward, (x, *pool, False)),
        ("avgpool2d_backward", ref.avgpool2d_backward, (dy_pool, x.shape, *pool, False)),
        ("upsample_nearest2d_forward", ref.upsample_nearest2d_forward, (x, scale)),
        ("upsample_nearest2d_backward", ref.upsample_nearest2d_backward, (dy_up, scale)),
        ("upsample_bilinear2d_forward", ref.upsample_bilinear2d_forward, (x, scale)),
        ("upsample_bilinear2d_backward", ref.upsample_bilinear2d_backward, (dy_up, x.shape, scale)),
    ]


def test_inputs_are_not_modified_and_outputs_are_fresh_arrays():
    rng = case_rng(9, 0)
    calls = _all_calls(rng)
    assert sorted(name for name, _, _ in calls) == sorted(ref.__all__)
    for name, fn, args in calls:
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        before = [a.copy() for a in arrays]
        out = fn(*args)
        outs = out if isinstance(out, tuple) else (out,)
        for a, a0 in zip(arrays, before):
            np.testing.assert_array_equal(a, a0, err_msg=f"{name} modified an input")
        for o in outs:
            if isinstance(o, np.ndarray):
                aliased = any(np.shares_memory(o, a) for a in arrays)
                assert not aliased, f"{name}: an output shares memory with an input"


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int64])
def test_results_keep_a_float_dtype_and_integers_are_converted_first(dtype):
    """float32 stays float32; integer inputs (uint8 images) are computed in float64, without
    overflow: the results equal those of the same values given as float64."""
    rng = case_rng(11, 0)
    expected = np.float32 if dtype == np.float32 else np.float64
    for name, fn, args in _all_calls(rng):
        cast = tuple(
            (np.abs(a) * 40).astype(dtype) if isinstance(a, np.ndarray) and a.dtype == np.float64
            else a
            for a in args
        )
        as_f64 = tuple(
            c.astype(np.float64) if isinstance(c, np.ndarray) and c.dtype == dtype else c
            for c in cast
        )
        out, ref64 = fn(*cast), fn(*as_f64)
        outs = out if isinstance(out, tuple) else (out,)
        outs64 = ref64 if isinstance(ref64, tuple) else (ref64,)
        for o, o64 in zip(outs, outs64):
            if o is None or o.dtype == np.int64 and name == "maxpool2d_forward":
                continue  # argmax
            assert o.dtype == expected, f"{name} with {np.dtype(dtype).name}: {o.dtype}"
            np.testing.assert_allclose(o, o64, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                       err_msg=f"{name} with {np.dtype(dtype).name} vs float64")


# -- reference and vectorized agree ---------------------------------------------------------
def _agree(ours, theirs, what, cfg):
    """The two NumPy implementations (reference first), elementwise, labelled."""
    assert (ours is None) == (theirs is None), f"{what}, config {cfg}: None in one only"
    if ours is None:
        return
    assert ours.shape == theirs.shape, (
        f"{what}, config {cfg}: shape reference {ours.shape} != vectorized {theirs.shape}"
    )
    assert ours.dtype == theirs.dtype, (
        f"{what}, config {cfg}: dtype reference {ours.dtype} != vectorized {theirs.dtype}"
    )
    np.testing.assert_allclose(
        ours, theirs, **TOL, err_msg=f"{what}, config {cfg}: reference vs vectorized"
    )


@pytest.mark.parametrize("case", range(N_CASES // 2))
def test_reference_and_vectorized_agree(case):
    from nnlab.engine.functional import vectorized as vec

    rng = case_rng(10, case)

    cfg = conv_config(rng)
    x = rng.standard_normal((cfg["N"], cfg["C"], *cfg["size"]))
    w = rng.standard_normal((cfg["O"], cfg["C"], *cfg["kernel"]))
    b = rng.standard_normal(cfg["O"]) if cfg["bias"] else None
    args = (cfg["stride"], cfg["padding"], cfg["dilation"])
    y = ref.conv2d_forward(x, w, b, *args)
    _agree(y, vec.conv2d_forward(x, w, b, *args), "conv2d y", cfg)
    dy = rng.standard_normal(y.shape)
    need_dx = bool(case % 3)
    for what, o, t in zip(("dx", "dw", "db"), ref.conv2d_backward(dy, x, w, *args, need_dx),
                          vec.conv2d_backward(dy, x, w, *args, need_dx)):
        _agree(o, t, f"conv2d {what}", cfg)

    cfg = conv_transpose_config(rng)
    x = rng.standard_normal((cfg["N"], cfg["C"], *cfg["size"]))
    w = rng.standard_normal((cfg["C"], cfg["O"], *cfg["kernel"]))
    b = rng.standard_normal(cfg["O"]) if cfg["bias"] else None
    args = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["dilation"])
    y = ref.conv_transpose2d_forward(x, w, b, *args)
    _agree(y, vec.conv_transpose2d_forward(x, w, b, *args), "conv_transpose2d y", cfg)
    dy = rng.standard_normal(y.shape)
    for what, o, t in zip(("dx", "dw", "db"),
                          ref.conv_transpose2d_backward(dy, x, w, *args, need_dx),
                          vec.conv_transpose2d_backward(dy, x, w, *args, need_dx)):
        _agree(o, t, f"conv_transpose2d {what}", cfg)

    cfg = pool_config(rng)
    shape = (cfg["N"], cfg["C"], *cfg["size"])
    x = rng.standard_normal(shape) if case % 2 else rng.integers(-1, 2, shape).astype(np.float64)
    args = (cfg["kernel"], cfg["stride"], cfg["padding"])
    y, argmax = ref.maxpool2d_forward(x, *args)
    yv, argmax_v = vec.maxpool2d_forward(x, *args)
    _agree(y, yv, "maxpool2d y", cfg)
    _agree(argmax, argmax_v, "maxpool2d argmax", cfg)
    dy = rng.standard_normal(y.shape)
    _agree(ref.maxpool2d_backward(dy, argmax, x.shape),
           vec.maxpool2d_backward(dy, argmax, x.shape), "maxpool2d dx", cfg)
    for cip in (True, False):
        y = ref.avgpool2d_forward(x, *args, cip)
        _agree(y, vec.avgpool2d_forward(x, *args, cip), f"avgpool2d y (include_pad={cip})", cfg)
        _agree(ref.avgpool2d_backward(dy, x.shape, *args, cip),
               vec.avgpool2d_backward(dy, x.shape, *args, cip),
               f"avgpool2d dx (include_pad={cip})", cfg)

    cfg = upsample_config(rng)
    x = rng.standard_normal((cfg["N"], cfg["C"], *cfg["size"]))
    s = cfg["scale"]
    y = ref.upsample_nearest2d_forward(x, s)
    _agree(y, vec.upsample_nearest2d_forward(x, s), "upsample nearest y", cfg)
    dy = rng.standard_normal(y.shape)
    _agree(ref.upsample_nearest2d_backward(dy, s), vec.upsample_nearest2d_backward(dy, s),
           "upsample nearest dx", cfg)
    _agree(ref.upsample_bilinear2d_forward(x, s), vec.upsample_bilinear2d_forward(x, s),
           "upsample bilinear y", cfg)
    _agree(ref.upsample_bilinear2d_backward(dy, x.shape, s),
           vec.upsample_bilinear2d_backward(dy, x.shape, s), "upsample bilinear dx", cfg)
