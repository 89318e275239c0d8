"""The reference (plain-loop) convolution-family kernels against ``torch.nn.functional``.

Random seeded configurations (sizes 1..7, channels 1..3, kernels 1..3, strides 1..3, padding
0..2, dilation 1..2, every spatial argument drawn per axis so inputs, kernels and strides are
rectangular) are run through our forward and backward and through torch's forward and autograd
with the same upstream gradient, in float64. Failure messages print the configuration and our
values against torch's. The torch-free checks of these kernels (adjoint, need_dx, ties,
inputs and dtypes, reference vs vectorized) are in ``test_functional_kernels.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from nnlab.engine.functional import reference as ref  # noqa: E402 (after importorskip)
from tests.engine._cases import (  # noqa: E402
    N_CASES,
    TOL,
    _int,
    case_rng,
    conv_case,
    conv_transpose_case,
    maxpool_tie_inputs,
    pool_config,
    upsample_config,
)

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("torch_one_thread")]


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


# -- convolution ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", range(N_CASES))
def test_conv2d_matches_torch(case):
    rng = case_rng(1, case)
    cfg, x, w, b, args = conv_case(rng)

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
    cfg, x, w, b, args = conv_transpose_case(rng)

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


def test_maxpool2d_tie_argmax_matches_torch():
    """The tie cases of test_functional_kernels.py's
    test_maxpool2d_ties_pick_the_first_maximum_in_row_major_window_order, exactly as torch."""
    x, z = maxpool_tie_inputs()
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
