"""The convolution-family kernels (``nnlab.engine.functional``) on their own, without torch.

The reference (plain-loop) kernels: conv_transpose2d is conv2d's adjoint, need_dx=False,
max-pooling ties, inputs never modified and outputs never aliased, float dtypes kept; the
reference and the vectorised kernels agree on random seeded configurations; and the vectorised
kernels' empty outputs, scratch-buffer reuse and integer inputs. The comparisons with
``torch.nn.functional`` are in ``test_functional_reference.py`` and ``test_functional_vectorized.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.engine.functional import reference as ref
from nnlab.engine.functional import vectorized as V
from tests.engine._cases import (
    N_CASES,
    TOL,
    case_rng,
    conv_case,
    conv_config,
    conv_transpose_case,
    conv_transpose_out,
    maxpool_tie_inputs,
    pool_config,
    upsample_config,
)


# -- reference: convolution ---------------------------------------------------------------------
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

# -- reference: pooling ------------------------------------------------------------------------
def test_maxpool2d_ties_pick_the_first_maximum_in_row_major_window_order():
    x, z = maxpool_tie_inputs()  # x: two equal maxima, flat indices 6 and 9; z: all zeros
    y, argmax = ref.maxpool2d_forward(x, (3, 3), (1, 1), (0, 0))
    # every 3x3 window holds both; (1, 2) comes first in row-major order
    np.testing.assert_array_equal(argmax[0, 0], [[6, 6], [6, 6]])
    np.testing.assert_array_equal(y[0, 0], [[5.0, 5.0], [5.0, 5.0]])
    # all-equal windows: the window's first position
    _, am = ref.maxpool2d_forward(z, (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(am[0, 0], [[0, 2], [8, 10]])
    # with padding: the first position inside the image (padding is -inf, never a maximum)
    _, am = ref.maxpool2d_forward(z, (3, 3), (2, 2), (1, 1))
    np.testing.assert_array_equal(am[0, 0], [[0, 1], [4, 5]])


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
    rng = case_rng(10, case)

    cfg, x, w, b, args = conv_case(rng)
    y = ref.conv2d_forward(x, w, b, *args)
    _agree(y, V.conv2d_forward(x, w, b, *args), "conv2d y", cfg)
    dy = rng.standard_normal(y.shape)
    need_dx = bool(case % 3)
    for what, o, t in zip(("dx", "dw", "db"), ref.conv2d_backward(dy, x, w, *args, need_dx),
                          V.conv2d_backward(dy, x, w, *args, need_dx)):
        _agree(o, t, f"conv2d {what}", cfg)

    cfg, x, w, b, args = conv_transpose_case(rng)
    y = ref.conv_transpose2d_forward(x, w, b, *args)
    _agree(y, V.conv_transpose2d_forward(x, w, b, *args), "conv_transpose2d y", cfg)
    dy = rng.standard_normal(y.shape)
    for what, o, t in zip(("dx", "dw", "db"),
                          ref.conv_transpose2d_backward(dy, x, w, *args, need_dx),
                          V.conv_transpose2d_backward(dy, x, w, *args, need_dx)):
        _agree(o, t, f"conv_transpose2d {what}", cfg)

    cfg = pool_config(rng)
    shape = (cfg["N"], cfg["C"], *cfg["size"])
    x = rng.standard_normal(shape) if case % 2 else rng.integers(-1, 2, shape).astype(np.float64)
    args = (cfg["kernel"], cfg["stride"], cfg["padding"])
    y, argmax = ref.maxpool2d_forward(x, *args)
    yv, argmax_v = V.maxpool2d_forward(x, *args)
    _agree(y, yv, "maxpool2d y", cfg)
    _agree(argmax, argmax_v, "maxpool2d argmax", cfg)
    dy = rng.standard_normal(y.shape)
    _agree(ref.maxpool2d_backward(dy, argmax, x.shape),
           V.maxpool2d_backward(dy, argmax, x.shape), "maxpool2d dx", cfg)
    for cip in (True, False):
        y = ref.avgpool2d_forward(x, *args, cip)
        _agree(y, V.avgpool2d_forward(x, *args, cip), f"avgpool2d y (include_pad={cip})", cfg)
        _agree(ref.avgpool2d_backward(dy, x.shape, *args, cip),
               V.avgpool2d_backward(dy, x.shape, *args, cip),
               f"avgpool2d dx (include_pad={cip})", cfg)

    cfg = upsample_config(rng)
    x = rng.standard_normal((cfg["N"], cfg["C"], *cfg["size"]))
    s = cfg["scale"]
    y = ref.upsample_nearest2d_forward(x, s)
    _agree(y, V.upsample_nearest2d_forward(x, s), "upsample nearest y", cfg)
    dy = rng.standard_normal(y.shape)
    _agree(ref.upsample_nearest2d_backward(dy, s), V.upsample_nearest2d_backward(dy, s),
           "upsample nearest dx", cfg)
    _agree(ref.upsample_bilinear2d_forward(x, s), V.upsample_bilinear2d_forward(x, s),
           "upsample bilinear y", cfg)
    _agree(ref.upsample_bilinear2d_backward(dy, x.shape, s),
           V.upsample_bilinear2d_backward(dy, x.shape, s), "upsample bilinear dx", cfg)


# -- vectorized ---------------------------------------------------------------------------------
def test_output_size_zero_is_empty_and_negative_is_an_error():
    """As the reference: an output size of 0 gives empty arrays, a negative one a ValueError."""
    x, w = np.ones((2, 1, 2, 2)), np.ones((3, 1, 3, 3))
    y = V.conv2d_forward(x, w, np.ones(3), (1, 1), (0, 0), (1, 1))
    assert y.shape == (2, 3, 0, 0)
    dx, dw, db = V.conv2d_backward(y, x, w, (1, 1), (0, 0), (1, 1))
    assert dx.shape == x.shape and not dx.any() and not dw.any() and not db.any()
    assert V.avgpool2d_forward(x, (3, 3), (1, 1), (0, 0)).shape == (2, 1, 0, 0)
    assert V.maxpool2d_forward(x, (3, 3), (1, 1), (0, 0))[1].shape == (2, 1, 0, 0)
    with pytest.raises(ValueError):
        V.conv2d_forward(np.ones((1, 1, 1, 1)), w, None, (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError):
        V.maxpool2d_forward(np.ones((1, 1, 1, 1)), (3, 3), (1, 1), (0, 0))



def test_scratch_pool_reuse_across_shapes_and_dtypes():
    """The scratch buffers kept between calls never leak values from one call into another
    (junk columns and padding are re-zeroed per call)."""
    rng = np.random.default_rng(11)
    calls = []
    for dt in (np.float64, np.float32, np.float64):
        for shape, k, p in (((4, 3, 9, 7), (3, 3), (1, 1)), ((2, 5, 12, 12), (5, 3), (2, 0)), ((4, 3, 9, 7), (3, 3), (1, 1))):
            x = rng.normal(size=shape).astype(dt)
            w = rng.normal(size=(6, shape[1], *k)).astype(dt)
            y = V.conv2d_forward(x, w, None, (1, 1), p, (1, 1))
            dy = np.full(y.shape, 1.5, dt)
            calls.append((x, w, p, y, V.conv2d_backward(dy, x, w, (1, 1), p, (1, 1))))
    for x, w, p, y, (dx, dw, _) in calls[::-1]:  # again, in reverse order: the same results
        tol = {"rtol": 1e-5, "atol": 1e-5} if x.dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
        dy = np.full(y.shape, 1.5, x.dtype)
        np.testing.assert_allclose(V.conv2d_forward(x, w, None, (1, 1), p, (1, 1)), y, **tol)
        dx2, dw2, _ = V.conv2d_backward(dy, x, w, (1, 1), p, (1, 1))
        np.testing.assert_allclose(dx2, dx, **tol)
        np.testing.assert_allclose(dw2, dw, **tol)


def test_integer_inputs_give_unwrapped_float_gradients():
    """Integer arrays are computed in float64 (as the reference does), never wrapped."""
    from nnlab.engine.functional import reference as ref

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (2, 2, 5, 5), dtype=np.uint8)
    w = rng.integers(0, 255, (3, 2, 3, 3), dtype=np.uint8)
    dy = rng.integers(0, 255, (2, 3, 5, 5), dtype=np.uint8)
    _, dw, _ = V.conv2d_backward(dy, x, w, (1, 1), (1, 1), (1, 1))
    _, dw_ref, _ = ref.conv2d_backward(dy, x, w, (1, 1), (1, 1), (1, 1))
    assert dw.dtype == np.float64 and dw.max() > 255
    np.testing.assert_allclose(dw, dw_ref)
    wt = rng.integers(0, 255, (2, 3, 3, 3), dtype=np.uint8)
    xs = x[:, :, :3, :3].copy()  # (2, 2, 3, 3) -> output (2, 3, 5, 5), the shape of dy
    _, dwt, _ = V.conv_transpose2d_backward(dy, xs, wt, (1, 1), (0, 0), (0, 0), (1, 1))
    _, dwt_ref, _ = ref.conv_transpose2d_backward(dy, xs, wt, (1, 1), (0, 0), (0, 0), (1, 1))
    assert dwt.dtype == np.float64 and dwt.max() > 255
    np.testing.assert_allclose(dwt, dwt_ref)
