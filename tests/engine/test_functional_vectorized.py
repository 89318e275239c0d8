"""The vectorised convolution-family kernels against ``torch.nn.functional``.

Random (seeded) configurations -- rectangular inputs and kernels, strides, padding, dilation,
output_padding -- are run forward and backward on both sides: torch's gradients come from
autograd with the same upstream gradient ``dy``. float64 with a tight tolerance; float32 checks
that the dtype is kept (and the values close). The convolutions and max pooling run through
every code path of the module (default chunking, tiny chunks, the col2im scatter instead of
the stride-1 gather); max-pooling ties, NaN and -inf follow PyTorch's argmax. Failure messages
print ours next to torch's. The torch-free checks (empty outputs, scratch reuse, integer
inputs) are in ``test_functional_kernels.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from nnlab.engine.functional import vectorized as V  # noqa: E402 (after importorskip)

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("torch_one_thread")]

F64 = {"rtol": 1e-9, "atol": 1e-11}
F32 = {"rtol": 2e-4, "atol": 2e-5}


@pytest.fixture(params=["default", "small_chunks", "no_gather"])
def chunking(request, monkeypatch):
    """Every code path: the default chunk sizes; tiny chunks (several per batch, the last one
    partial); and the col2im scatter path where the default takes the stride-1 gather path."""
    if request.param == "small_chunks":
        monkeypatch.setattr(V, "_CHUNK_BYTES", 1)
        monkeypatch.setattr(V, "_POOL_CHUNK", 1)
    elif request.param == "no_gather":
        monkeypatch.setattr(V, "_GATHER", False)
    return request.param


def close(ours, theirs, what, tol=F64):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} (ours) vs {theirs.shape} (torch)"
    if not np.allclose(ours, theirs, **tol):
        err = np.abs(ours - theirs)
        k = np.unravel_index(np.argmax(err), err.shape)
        raise AssertionError(f"{what}: max |ours - torch| = {err.max():.3g} at {k}: ours {ours[k]!r}, "
                             f"torch {theirs[k]!r}\nours:\n{ours.ravel()[:12]}\ntorch:\n{theirs.ravel()[:12]}")


def tt(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def conv_configs(n, seed, transposed=False):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        N, C, O = rng.integers(1, 4), rng.integers(1, 5), rng.integers(1, 5)
        H, W = rng.integers(1, 10, size=2)
        k = tuple(int(v) for v in rng.integers(1, 5, size=2))
        s = tuple(int(v) for v in rng.integers(1, 4, size=2))
        p = tuple(int(v) for v in rng.integers(0, 3, size=2))
        d = tuple(int(v) for v in rng.integers(1, 4, size=2))
        if len(out) % 3 == 0:  # the common case, too: stride 1 (the flat-shift path)
            s = (1, 1)
        if transposed:
            op = tuple(int(rng.integers(0, max(si, di))) for si, di in zip(s, d))
            Ho = [(n_ - 1) * si - 2 * pi + di * (ki - 1) + opi + 1
                  for n_, si, pi, di, ki, opi in zip((H, W), s, p, d, k, op)]
            if min(Ho) <= 0:
                continue
            out.append((int(N), int(C), int(O), int(H), int(W), k, s, p, d, op))
        else:
            Ho = [(n_ + 2 * pi - di * (ki - 1) - 1) // si + 1 for n_, si, pi, di, ki in zip((H, W), s, p, d, k)]
            if min(Ho) <= 0:
                continue
            out.append((int(N), int(C), int(O), int(H), int(W), k, s, p, d))
    return out


# -- convolution ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", conv_configs(30, 0), ids=str)
def test_conv2d_matches_torch(cfg, chunking):
    N, C, O, H, W, k, s, p, d = cfg
    rng = np.random.default_rng(hash(cfg) % 2**32)
    x, w, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(O, C, *k)), rng.normal(size=O)
    x0 = x.copy()
    y = V.conv2d_forward(x, w, b, s, p, d)
    xt, wt, bt = tt(x, True), tt(w, True), tt(b, True)
    yt = F.conv2d(xt, wt, bt, stride=s, padding=p, dilation=d)
    close(y, yt, f"conv2d forward {cfg}")
    dy = rng.normal(size=y.shape)
    yt.backward(tt(dy))
    dx, dw, db = V.conv2d_backward(dy, x, w, s, p, d)
    close(dx, xt.grad, f"conv2d dx {cfg}")
    close(dw, wt.grad, f"conv2d dw {cfg}")
    close(db, bt.grad, f"conv2d db {cfg}")
    dx2, dw2, _ = V.conv2d_backward(dy, x, w, s, p, d, need_dx=False)
    assert dx2 is None
    close(dw2, wt.grad, f"conv2d dw (need_dx=False) {cfg}")
    np.testing.assert_array_equal(x, x0)  # inputs are never modified


@pytest.mark.parametrize("cfg", conv_configs(24, 1, transposed=True), ids=str)
def test_conv_transpose2d_matches_torch(cfg, chunking):
    N, C, O, H, W, k, s, p, d, op = cfg
    rng = np.random.default_rng(hash(cfg) % 2**32)
    x, w, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(C, O, *k)), rng.normal(size=O)
    y = V.conv_transpose2d_forward(x, w, b, s, p, op, d)
    xt, wt, bt = tt(x, True), tt(w, True), tt(b, True)
    yt = F.conv_transpose2d(xt, wt, bt, stride=s, padding=p, output_padding=op, dilation=d)
    close(y, yt, f"conv_transpose2d forward {cfg}")
    dy = rng.normal(size=y.shape)
    yt.backward(tt(dy))
    dx, dw, db = V.conv_transpose2d_backward(dy, x, w, s, p, op, d)
    close(dx, xt.grad, f"conv_transpose2d dx {cfg}")
    close(dw, wt.grad, f"conv_transpose2d dw {cfg}")
    close(db, bt.grad, f"conv_transpose2d db {cfg}")
    assert V.conv_transpose2d_backward(dy, x, w, s, p, op, d, need_dx=False)[0] is None


def test_conv2d_without_bias_and_strided_inputs():
    """b=None; a non-contiguous input (a 1-D signal viewed as H=1, as Conv1d does)."""
    rng = np.random.default_rng(5)
    x3, w3 = rng.normal(size=(3, 4, 17)), rng.normal(size=(5, 4, 3))
    x4, w4 = x3[:, :, None, :], w3[:, :, None, :]
    for p in ((0, 0), (0, 1)):
        y = V.conv2d_forward(x4, w4, None, (1, 1), p, (1, 1))
        xt, wt = tt(x3, True), tt(w3, True)
        yt = F.conv1d(xt, wt, None, padding=p[1])
        close(y[:, :, 0], yt, f"conv1d via conv2d, padding {p}")
        dy = rng.normal(size=y.shape)
        yt.backward(tt(dy[:, :, 0]))
        dx, dw, _ = V.conv2d_backward(dy, x4, w4, (1, 1), p, (1, 1))
        close(dx[:, :, 0], xt.grad, "conv1d dx")
        close(dw[:, :, 0], wt.grad, "conv1d dw")
    xT = rng.normal(size=(6, 6, 3, 2)).transpose(3, 2, 0, 1)  # (2, 3, 6, 6), no unit stride
    w = rng.normal(size=(2, 3, 3, 3))
    close(V.conv2d_forward(xT, w, None, (1, 1), (0, 0), (1, 1)),
          F.conv2d(tt(np.ascontiguousarray(xT)), tt(w)), "conv2d, transposed input")


# -- pooling --------------------------------------------------------------------------------------
def pool_configs(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        N, C = rng.integers(1, 4), rng.integers(1, 4)
        H, W = rng.integers(1, 11, size=2)
        k = tuple(int(v) for v in rng.integers(1, 5, size=2))
        s = tuple(int(v) for v in rng.integers(1, 4, size=2))
        p = tuple(int(rng.integers(0, ki // 2 + 1)) for ki in k)
        if len(out) % 4 == 0:
            k, s, p = (2, 2), (2, 2), (0, 0)
        if min((n_ + 2 * pi - ki) // si + 1 for n_, ki, si, pi in zip((H, W), k, s, p)) <= 0:
            continue
        out.append((int(N), int(C), int(H), int(W), k, s, p))
    return out


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("cfg", pool_configs(16, 2), ids=str)
def test_maxpool2d_matches_torch(cfg, ties, chunking):
    N, C, H, W, k, s, p = cfg
    rng = np.random.default_rng(hash(cfg) % 2**32)
    x = rng.integers(-2, 3, size=(N, C, H, W)).astype(float) if ties else rng.normal(size=(N, C, H, W))
    y, am = V.maxpool2d_forward(x, k, s, p)
    xt = tt(x, True)
    yt, amt = F.max_pool2d(xt, k, s, p, return_indices=True)
    close(y, yt, f"maxpool2d forward {cfg}")
    assert am.dtype == np.int64
    np.testing.assert_array_equal(am, amt.numpy(), err_msg=f"maxpool2d argmax {cfg}: ours vs torch")
    dy = rng.normal(size=y.shape)
    yt.backward(tt(dy))
    close(V.maxpool2d_backward(dy, am, x.shape), xt.grad, f"maxpool2d dx {cfg}")


def test_maxpool2d_nan_and_minus_inf_like_torch(chunking):
    x = np.array([[[[np.nan, 1.0, 2.0, np.nan], [0.0, -np.inf, 5.0, 3.0],
                    [-np.inf, -np.inf, 1.0, 2.0], [-np.inf, -np.inf, np.nan, 7.0]]]])
    x = np.concatenate([x, x[:, :, ::-1], np.zeros_like(x)], axis=1)  # NaN in some channels only
    for k, s, p in (((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1)), ((2, 2), (1, 1), (1, 1))):
        y, am = V.maxpool2d_forward(x, k, s, p)
        yt, amt = F.max_pool2d(tt(x), k, s, p, return_indices=True)
        np.testing.assert_array_equal(y, yt.numpy(), err_msg=f"max values {k, s, p}: ours vs torch")
        np.testing.assert_array_equal(am, amt.numpy(), err_msg=f"argmax {k, s, p}: ours vs torch")


@pytest.mark.parametrize("include", [True, False], ids=["count_pad", "no_count_pad"])
@pytest.mark.parametrize("cfg", pool_configs(12, 3), ids=str)
def test_avgpool2d_matches_torch(cfg, include):
    N, C, H, W, k, s, p = cfg
    rng = np.random.default_rng(hash(cfg) % 2**32)
    x = rng.normal(size=(N, C, H, W))
    y = V.avgpool2d_forward(x, k, s, p, include)
    xt = tt(x, True)
    yt = F.avg_pool2d(xt, k, s, p, count_include_pad=include)
    close(y, yt, f"avgpool2d forward {cfg}")
    dy = rng.normal(size=y.shape)
    yt.backward(tt(dy))
    close(V.avgpool2d_backward(dy, x.shape, k, s, p, include), xt.grad, f"avgpool2d dx {cfg}")


# -- upsampling -----------------------------------------------------------------------------------
SCALES = [(1, 1), (2, 2), (3, 2), (1, 3), (4, 4)]


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_upsample_matches_torch(scale, mode):
    rng = np.random.default_rng(sum(scale))
    for shape in ((2, 3, 5, 4), (1, 1, 1, 6), (1, 2, 3, 1)):
        x = rng.normal(size=shape)
        xt = tt(x, True)
        kw = {"align_corners": False} if mode == "bilinear" else {}
        yt = F.interpolate(xt, scale_factor=scale, mode=mode, **kw)
        fwd = getattr(V, f"upsample_{mode}2d_forward")
        y = fwd(x, scale)
        close(y, yt, f"upsample {mode} forward {shape} x{scale}")
        dy = rng.normal(size=y.shape)
        yt.backward(tt(dy))
        if mode == "nearest":
            dx = V.upsample_nearest2d_backward(dy, scale)
        else:
            dx = V.upsample_bilinear2d_backward(dy, x.shape, scale)
        close(dx, xt.grad, f"upsample {mode} dx {shape} x{scale}")


# -- float32 --------------------------------------------------------------------------------------
def test_float32_in_float32_out():
    rng = np.random.default_rng(7)
    f32 = np.float32
    x = rng.normal(size=(3, 4, 9, 8)).astype(f32)
    w = rng.normal(size=(5, 4, 3, 3)).astype(f32)
    wT = rng.normal(size=(4, 5, 3, 3)).astype(f32)
    b = rng.normal(size=5).astype(f32)
    xt, wt, bt, wTt = (torch.tensor(a, requires_grad=True) for a in (x, w, b, wT))

    checks = []
    for s, p in (((1, 1), (1, 1)), ((2, 1), (0, 2))):
        y = V.conv2d_forward(x, w, b, s, p, (1, 1))
        yt = F.conv2d(xt, wt, bt, stride=s, padding=p)
        dy = rng.normal(size=y.shape).astype(f32)
        gx, gw, gb = torch.autograd.grad(yt, (xt, wt, bt), torch.tensor(dy))
        dx, dw, db = V.conv2d_backward(dy, x, w, s, p, (1, 1))
        checks += [(y, yt, "conv2d y"), (dx, gx, "conv2d dx"), (dw, gw, "conv2d dw"), (db, gb, "conv2d db")]

        yT = V.conv_transpose2d_forward(x, wT, b, s, p, (0, 0), (1, 1))
        yTt = F.conv_transpose2d(xt, wTt, bt, stride=s, padding=p)
        dyT = rng.normal(size=yT.shape).astype(f32)
        gx, gw, gb = torch.autograd.grad(yTt, (xt, wTt, bt), torch.tensor(dyT))
        dx, dw, db = V.conv_transpose2d_backward(dyT, x, wT, s, p, (0, 0), (1, 1))
        checks += [(yT, yTt, "conv_transpose2d y"), (dx, gx, "conv_transpose2d dx"),
                   (dw, gw, "conv_transpose2d dw"), (db, gb, "conv_transpose2d db")]

    ym, am = V.maxpool2d_forward(x, (3, 2), (2, 2), (1, 1))
    checks += [(ym, F.max_pool2d(xt, (3, 2), (2, 2), (1, 1)), "maxpool y"),
               (V.maxpool2d_backward(np.ones_like(ym), am, x.shape), None, "maxpool dx")]
    ya = V.avgpool2d_forward(x, (2, 3), (2, 1), (1, 1), False)
    checks += [(ya, F.avg_pool2d(xt, (2, 3), (2, 1), (1, 1), count_include_pad=False), "avgpool y"),
               (V.avgpool2d_backward(ya, x.shape, (2, 3), (2, 1), (1, 1), False), None, "avgpool dx")]
    for mode in ("nearest", "bilinear"):
        fwd = getattr(V, f"upsample_{mode}2d_forward")
        yu = fwd(x, (2, 3))
        kw = {"align_corners": False} if mode == "bilinear" else {}
        checks.append((yu, F.interpolate(xt, scale_factor=(2, 3), mode=mode, **kw), f"{mode} y"))
    checks.append((V.upsample_nearest2d_backward(yu, (2, 3)), None, "nearest dx"))
    checks.append((V.upsample_bilinear2d_backward(yu, x.shape, (2, 3)), None, "bilinear dx"))

    for ours, theirs, what in checks:
        assert ours.dtype == np.float32, f"{what}: dtype {ours.dtype}, expected float32"
        if theirs is not None:
            close(ours, theirs, f"{what} (float32)", F32)
