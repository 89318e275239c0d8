"""Vectorised kernels of the convolution family: im2col / col2im with BLAS, strided views.

Same functions, signatures and conventions as :mod:`nnlab.engine.functional.reference` (see
:mod:`nnlab.engine.functional`); the results agree with it to floating-point rounding. NumPy
only. Every function keeps the floating dtype of its (first) input: float32 in, float32 out,
with float32 BLAS; integer inputs are computed in float64. Inputs are never modified.

**Convolution.** One engine, :func:`_conv_chunks`, does all six convolution computations. It
walks the batch in chunks of ``nb`` samples, ``nb`` chosen so that one chunk's column matrix
is about ``_CHUNK_BYTES`` (so that it is written, multiplied and read while it is still in the
cache; the whole batch's matrix of a 3x3 layer is 9 times the input and streaming it through
memory made the BLAS calls half as fast). For each chunk:

* *im2col*: the column matrix ``cols`` of shape ``(C*kH*kW, nb*L)``, laid out
  ``(C, kH, kW, nb, L)``: channel-major, so that a single GEMM serves the whole chunk.
  For stride 1 (the usual case) it is built with the *flat-shift* trick: the zero-padded
  chunk ``(C, nb, Hp*Wp)`` is flattened per plane, and kernel offset ``(i, j)`` is then
  the contiguous run starting at ``i*d*Wp + j*d``; the output is computed on rows of width
  ``Wp`` (``L = Ho*Wp``, the ``Wp - Wo`` extra columns are junk that is dropped, and is made
  zero where it could reach a gradient). So im2col is kH*kW long contiguous copies. Other
  strides use one strided copy from an ``as_strided`` window view (``L = Ho*Wo``).
* *forward*: ``Wm (O, C*kH*kW) @ cols`` -> ``(O, nb, Ho, ·)``, copied into ``y[n0:n1]`` (the
  transpose to NCHW, the junk columns dropped and the bias added, in one pass).
* *weight gradient*: ``G (O, nb*L) @ cols.T`` where ``G`` is the chunk of ``dy`` transposed to
  channel-major (zero in the junk columns); summed over the chunks.
* *input gradient*: ``dcols = Wm.T @ G`` and *col2im*: a scatter-add of ``dcols`` into the
  zero-padded ``dx`` with one strided-slice addition per kernel offset (kH*kW of them; with the
  flat-shift layout they are contiguous runs), then the padding is cropped.

``conv_transpose2d`` is the adjoint of ``conv2d``: its forward is conv2d's input-gradient
computation (GEMM + col2im) and its backward is a conv2d forward of ``dy`` (input gradient)
with, in the same pass over the same column matrix, conv2d's weight gradient.

**Pooling.** Max pooling keeps a running maximum over the kH*kW strided views of the
(-inf-padded) input, replacing it only where a later offset is strictly greater (or NaN, as
PyTorch), so ties keep the first maximum in row-major window order; the winning offset code
turns into the flat index into the unpadded plane. Its backward is one ``np.add.at`` (windows
may overlap). Average pooling sums the kH*kW strided views; its backward adds ``dy / divisor``
back through the same views.

**Upsampling.** Nearest: ``sh*sw`` strided copies; backward: the sum of the ``sh*sw`` strided
views of ``dy`` (NumPy's ``sum`` over small strided axes is ~15x slower). Bilinear
(``align_corners=False``): separable, with per-axis index/weight arrays (``i0``, ``i1``,
``l0``, ``l1``); forward gathers with ``np.take``, backward is the adjoint: the index arrays
are sorted, so the scatter-add is an ``np.add.reduceat`` over runs of equal indices.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "avgpool2d_backward",
    "avgpool2d_forward",
    "conv2d_backward",
    "conv2d_forward",
    "conv_transpose2d_backward",
    "conv_transpose2d_forward",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "upsample_bilinear2d_backward",
    "upsample_bilinear2d_forward",
    "upsample_nearest2d_backward",
    "upsample_nearest2d_forward",
]

#: Target size in bytes of one chunk's column matrix (see the module docstring).
_CHUNK_BYTES = 2 << 20


# -- helpers --------------------------------------------------------------------------------------
def _ftype(a: np.ndarray) -> np.dtype:
    """The dtype results are computed in: a's own floating dtype, float64 for anything else."""
    return a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)


def _conv_out(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _conv_transpose_out(n: int, k: int, s: int, p: int, op: int, d: int) -> int:
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def _pool_out(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


def _check_size(name: str, *sizes: int) -> None:
    if min(sizes) <= 0:
        raise ValueError(f"{name}: the output would be empty (size {sizes}); the input is too small "
                         "for this kernel, stride, padding and dilation")


class _Geom:
    """Geometry of one convolution: input (C, H, W), kernel, stride, padding, dilation, output."""

    def __init__(self, C, H, W, O, kh, kw, stride, padding, dilation, Ho, Wo):
        self.C, self.H, self.W, self.O, self.kh, self.kw = C, H, W, O, kh, kw
        self.sh, self.sw = stride
        self.ph, self.pw = padding
        self.dh, self.dw = dilation
        self.Ho, self.Wo = Ho, Wo
        self.Hp, self.Wp = H + 2 * self.ph, W + 2 * self.pw
        self.K = C * kh * kw
        # Flat-shift layout: stride 1, and the output exactly covers the padded input.
        self.flat = (self.sh == 1 and self.sw == 1 and self.Hp == Ho + self.dh * (kh - 1)
                     and self.Wp == Wo + self.dw * (kw - 1))
        self.Lw = self.Wp if self.flat else Wo            # width of one output row in the chunk
        self.L = Ho * self.Lw                             # columns per sample
        self.run = (Ho - 1) * self.Wp + Wo               # flat: length of one shifted run
        self.offsets = [(i, j) for i in range(kh) for j in range(kw)]

    def chunk(self, N: int, itemsize: int) -> int:
        return max(1, min(N, _CHUNK_BYTES // max(1, self.K * self.L * itemsize)))


def _conv_chunks(g: _Geom, N: int, dt: np.dtype, Wm: np.ndarray, *, x=None, y=None, bias=None,
                 gout=None, dw=None, dx=None, dx_bias=None) -> None:
    """The convolution engine (see the module docstring): for chunks of the batch,

    * ``x`` (N, C, H, W) given: build the column matrix of x;
    * ``y`` (N, O, Ho, Wo) given: ``y = conv(x) (+ bias)``;
    * ``gout`` (N, O, Ho, Wo) given: a gradient with respect to the conv output; then
      ``dw`` (O, K) given: ``dw = sum gout (x) cols`` and ``dx`` (N, C, H, W) given:
      ``dx = col2im(Wm.T @ gout) (+ dx_bias)``.
    """
    C, O, K, Ho, Wo, Lw, L = g.C, g.O, g.K, g.Ho, g.Wo, g.Lw, g.L
    H, W, Hp, Wp, ph, pw = g.H, g.W, g.Hp, g.Wp, g.ph, g.pw
    nb = g.chunk(N, dt.itemsize)
    padded = ph > 0 or pw > 0
    need_cols = x is not None
    need_g = gout is not None

    if need_cols:
        # The flat layout needs each (n, c) plane contiguous; any layout needs the padding.
        direct = not padded and (not g.flat or (x.strides[3] == x.itemsize and x.strides[2] == W * x.itemsize)) \
            and x.dtype == dt
        xp = None if direct else np.zeros((C, nb, Hp, Wp), dt)
        cols = (np.zeros if g.flat else np.empty)((C, g.kh, g.kw, nb, L), dt)
    if y is not None:
        res = np.empty((O, nb, Ho, Lw), dt)
        b4 = None if bias is None else bias.astype(dt, copy=False).reshape(1, O, 1, 1)
    if need_g:
        G = (np.zeros if g.flat else np.empty)((O, nb, Ho, Lw), dt)
        if dw is not None:
            dw_tmp = np.empty((O, K), dt)
        if dx is not None:
            WmT = Wm.T
            dcols = np.empty((C, g.kh, g.kw, nb, L), dt)
            dxp = np.empty((C, nb, Hp, Wp), dt)
            db4 = None if dx_bias is None else dx_bias.astype(dt, copy=False).reshape(1, C, 1, 1)
    first_dw = True

    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = n1 - n0
        if need_cols:
            xc = x[n0:n1]
            if direct:
                src = xc.transpose(1, 0, 2, 3)            # (C, m, H, W), a view
            else:
                src = xp[:, :m]
                src[:, :, ph:ph + H, pw:pw + W] = xc.transpose(1, 0, 2, 3)
            cm = cols[:, :, :, :m]
            if g.flat:
                s3 = src.strides
                flat = as_strided(src, (C, m, Hp * Wp), (s3[0], s3[1], s3[3]), writeable=False)
                run = g.run
                for i, j in g.offsets:
                    off = i * g.dh * Wp + j * g.dw
                    np.copyto(cm[:, i, j, :, :run], flat[:, :, off:off + run])
            else:
                s0, s1, s2, s3 = src.strides
                win = as_strided(src, (C, g.kh, g.kw, m, Ho, Wo),
                                 (s0, g.dh * s2, g.dw * s3, s1, g.sh * s2, g.sw * s3), writeable=False)
                np.copyto(cm.reshape(C, g.kh, g.kw, m, Ho, Wo), win)
            cols2 = cm.reshape(K, m * L)
        if y is not None:
            r = res[:, :m]
            np.matmul(Wm, cols2, out=r.reshape(O, m * L))
            out = y[n0:n1].transpose(1, 0, 2, 3)
            if b4 is None:
                np.copyto(out, r[..., :Wo])
            else:
                np.add(r[..., :Wo], b4.reshape(O, 1, 1, 1), out=out)
        if need_g:
            Gm = G[:, :m]
            np.copyto(Gm[..., :Wo], gout[n0:n1].transpose(1, 0, 2, 3))
            G2 = Gm.reshape(O, m * L)
            if dw is not None:
                if first_dw:
                    np.matmul(G2, cols2.T, out=dw)
                    first_dw = False
                else:
                    np.matmul(G2, cols2.T, out=dw_tmp)
                    dw += dw_tmp
            if dx is not None:
                dc = dcols[:, :, :, :m]
                np.matmul(WmT, G2, out=dc.reshape(K, m * L))
                dp = dxp[:, :m]
                if g.flat:
                    s3 = dp.strides
                    flat = as_strided(dp, (C, m, Hp * Wp), (s3[0], s3[1], s3[3]))
                    run = g.run
                    flat[:, :, run:] = 0
                    np.copyto(flat[:, :, :run], dc[:, 0, 0, :, :run])
                    for i, j in g.offsets[1:]:
                        off = i * g.dh * Wp + j * g.dw
                        seg = flat[:, :, off:off + run]
                        np.add(seg, dc[:, i, j, :, :run], out=seg)
                else:
                    dp.fill(0)
                    dc6 = dc.reshape(C, g.kh, g.kw, m, Ho, Wo)
                    for i, j in g.offsets:
                        hi, wj = i * g.dh, j * g.dw
                        seg = dp[:, :, hi:hi + g.sh * (Ho - 1) + 1:g.sh, wj:wj + g.sw * (Wo - 1) + 1:g.sw]
                        np.add(seg, dc6[:, i, j], out=seg)
                out = dx[n0:n1].transpose(1, 0, 2, 3)
                crop = dp[:, :, ph:ph + H, pw:pw + W]
                if db4 is None:
                    np.copyto(out, crop)
                else:
                    np.add(crop, db4.reshape(C, 1, 1, 1), out=out)
    if dw is not None and first_dw:  # empty batch
        dw.fill(0)


def _channel_sum(a: np.ndarray, dt: np.dtype) -> np.ndarray:
    """a (N, C, H, W) summed over N, H and W (pairwise summation along contiguous rows)."""
    N, C = a.shape[:2]
    if N == 0:
        return np.zeros(C, dt)
    return a.reshape(N, C, -1).sum(axis=2, dtype=dt).sum(axis=0)


def _conv_geom(x_shape, w_shape, stride, padding, dilation, name) -> _Geom:
    _, C, H, W = x_shape
    O, Cw, kh, kw = w_shape
    if Cw != C:
        raise ValueError(f"{name}: input has {C} channels, weight expects {Cw}")
    Ho = _conv_out(H, kh, stride[0], padding[0], dilation[0])
    Wo = _conv_out(W, kw, stride[1], padding[1], dilation[1])
    _check_size(name, Ho, Wo)
    return _Geom(C, H, W, O, kh, kw, stride, padding, dilation, Ho, Wo)


# -- convolution --------------------------------------------------------------------------------
def conv2d_forward(x, w, b, stride, padding, dilation):
    """2-D convolution (cross-correlation), x (N, C, H, W), w (O, C, kH, kW) -> (N, O, Ho, Wo)."""
    dt = _ftype(x)
    g = _conv_geom(x.shape, w.shape, stride, padding, dilation, "conv2d")
    Wm = w.astype(dt, copy=False).reshape(g.O, g.K)
    y = np.empty((x.shape[0], g.O, g.Ho, g.Wo), dt)
    _conv_chunks(g, x.shape[0], dt, Wm, x=x, y=y, bias=b)
    return y


def conv2d_backward(dy, x, w, stride, padding, dilation, need_dx=True):
    """Gradients (dx | None, dw, db) of sum(conv2d_forward(x, w, b) * dy)."""
    dt = _ftype(x)
    g = _conv_geom(x.shape, w.shape, stride, padding, dilation, "conv2d")
    N = x.shape[0]
    Wm = w.astype(dt, copy=False).reshape(g.O, g.K)
    dw = np.empty((g.O, g.K), dt)
    dx = np.empty((N, g.C, g.H, g.W), dt) if need_dx else None
    _conv_chunks(g, N, dt, Wm, x=x, gout=dy, dw=dw, dx=dx)
    db = _channel_sum(dy, dt)
    return dx, dw.reshape(w.shape).astype(w.dtype, copy=False), db


def _transpose_geom(x_shape, w_shape, stride, padding, output_padding, dilation) -> _Geom:
    """The conv2d whose input gradient is this transposed convolution: conv input = our output."""
    _, Cin, H, W = x_shape
    Cw, Cout, kh, kw = w_shape
    if Cw != Cin:
        raise ValueError(f"conv_transpose2d: input has {Cin} channels, weight expects {Cw}")
    Ht = _conv_transpose_out(H, kh, stride[0], padding[0], output_padding[0], dilation[0])
    Wt = _conv_transpose_out(W, kw, stride[1], padding[1], output_padding[1], dilation[1])
    _check_size("conv_transpose2d", Ht, Wt)
    # With output_padding >= stride (allowed below the dilation) that conv's output would be
    # larger than (H, W): it is cropped to (H, W), which the geometry takes as given.
    return _Geom(Cout, Ht, Wt, Cin, kh, kw, stride, padding, dilation, H, W)


def conv_transpose2d_forward(x, w, b, stride, padding, output_padding, dilation):
    """Transposed convolution, x (N, C, H, W), w (C, O, kH, kW) -> (N, O, Ho, Wo)."""
    dt = _ftype(x)
    g = _transpose_geom(x.shape, w.shape, stride, padding, output_padding, dilation)
    N = x.shape[0]
    Wm = w.astype(dt, copy=False).reshape(g.O, g.K)
    y = np.empty((N, g.C, g.H, g.W), dt)
    _conv_chunks(g, N, dt, Wm, gout=x, dx=y, dx_bias=b)
    return y


def conv_transpose2d_backward(dy, x, w, stride, padding, output_padding, dilation, need_dx=True):
    """Gradients (dx | None, dw, db) of sum(conv_transpose2d_forward(x, w, b) * dy)."""
    dt = _ftype(x)
    g = _transpose_geom(x.shape, w.shape, stride, padding, output_padding, dilation)
    N = x.shape[0]
    Wm = w.astype(dt, copy=False).reshape(g.O, g.K)
    dw = np.empty((g.O, g.K), dt)
    dx = np.empty(x.shape, dt) if need_dx else None
    dy = dy if dy.dtype == dt else dy.astype(dt)
    _conv_chunks(g, N, dt, Wm, x=dy, y=dx, gout=x, dw=dw)
    db = _channel_sum(dy, dt)
    return dx, dw.reshape(w.shape).astype(w.dtype, copy=False), db


# -- pooling ------------------------------------------------------------------------------------
def _window_view(xp, i, j, sh, sw, Ho, Wo):
    return xp[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw]


def maxpool2d_forward(x, kernel, stride, padding):
    """Max pooling; returns (y, argmax), argmax the flat index into the unpadded H*W plane."""
    N, C, H, W = x.shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    Ho, Wo = _pool_out(H, kh, sh, ph), _pool_out(W, kw, sw, pw)
    _check_size("maxpool2d", Ho, Wo)
    dt = _ftype(x)
    if ph or pw:
        xp = np.full((N, C, H + 2 * ph, W + 2 * pw), -np.inf, dt)
        xp[:, :, ph:ph + H, pw:pw + W] = x
    else:
        xp = x
    y, rel = _maxpool_scan(xp, kh, kw, sh, sw, Ho, Wo, W, dt, nan_aware=False)
    if dt.kind == "f" and y.size and np.isnan(np.add.reduce(y, axis=None)):
        # NaN in some window (np.maximum propagates it): PyTorch's index is the window's last
        # NaN; scan again with the NaN-aware comparison (two more passes per offset).
        y, rel = _maxpool_scan(xp, kh, kw, sh, sw, Ho, Wo, W, dt, nan_aware=True)
    base = ((np.arange(Ho) * sh - ph)[:, None] * W + (np.arange(Wo) * sw - pw)).astype(np.int64)
    argmax = np.add(rel, base, dtype=np.int64)
    if (ph or pw) and dt.kind == "f":
        # A window whose valid values are all -inf: PyTorch returns its first valid position.
        bad = np.isneginf(y)
        if bad.any():
            hs = np.maximum(np.arange(Ho) * sh - ph, 0)
            ws = np.maximum(np.arange(Wo) * sw - pw, 0)
            first = np.broadcast_to(hs[:, None] * W + ws, y.shape)
            argmax[bad] = first[bad]
    return y, argmax


def _maxpool_scan(xp, kh, kw, sh, sw, Ho, Wo, W, dt, nan_aware):
    """Running maximum over the kernel offsets and, per output, the winning offset's
    ``i*W + j`` (updated only where a later offset is strictly greater, or NaN if nan_aware).
    The update is arithmetic (``rel += mask * (o - rel)``): np.copyto(where=) is ~10x slower."""
    y = np.array(_window_view(xp, 0, 0, sh, sw, Ho, Wo), dtype=dt, order="C")
    itype = np.int32 if kh * W < 2**31 else np.int64
    rel = np.zeros(y.shape, itype)
    mask = np.empty(y.shape, bool)
    d = np.empty(y.shape, itype)
    nanmask = np.empty(y.shape, bool) if nan_aware else None
    for i in range(kh):
        for j in range(kw):
            if i == 0 and j == 0:
                continue
            v = _window_view(xp, i, j, sh, sw, Ho, Wo)
            np.greater(v, y, out=mask)
            if nan_aware:
                np.isnan(v, out=nanmask)
                mask |= nanmask
                np.copyto(y, v, where=mask)
            else:
                np.maximum(y, v, out=y)
            np.subtract(itype(i * W + j), rel, out=d)
            d *= mask
            rel += d
    return y, rel


def maxpool2d_backward(dy, argmax, x_shape):
    """dx (x_shape): dy added at the argmax positions (windows may overlap: np.add.at)."""
    N, C, H, W = x_shape
    dt = _ftype(dy)
    dx = np.zeros(N * C * H * W, dt)
    idx = np.asarray(argmax, dtype=np.int64).reshape(N * C, -1)
    idx = idx + (np.arange(N * C, dtype=np.int64) * (H * W))[:, None]
    np.add.at(dx, idx.ravel(), np.ascontiguousarray(dy, dtype=dt).ravel())
    return dx.reshape(N, C, H, W)


def _avg_divisor(H, W, kernel, stride, padding, Ho, Wo, count_include_pad, dt):
    kh, kw = kernel
    if count_include_pad:
        return None, kh * kw
    sh, sw = stride
    ph, pw = padding

    def count(n, k, s, p, no):
        start = np.arange(no) * s - p
        return np.minimum(start + k, n) - np.maximum(start, 0)

    return (count(H, kh, sh, ph, Ho)[:, None] * count(W, kw, sw, pw, Wo)).astype(dt), None


def avgpool2d_forward(x, kernel, stride, padding, count_include_pad=True):
    """Average pooling (zero padding; the divisor counts the padding iff count_include_pad)."""
    N, C, H, W = x.shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    Ho, Wo = _pool_out(H, kh, sh, ph), _pool_out(W, kw, sw, pw)
    _check_size("avgpool2d", Ho, Wo)
    dt = _ftype(x)
    if ph or pw:
        xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dt)
        xp[:, :, ph:ph + H, pw:pw + W] = x
    else:
        xp = x
    y = np.array(_window_view(xp, 0, 0, sh, sw, Ho, Wo), dtype=dt, order="C")
    for i in range(kh):
        for j in range(kw):
            if i or j:
                y += _window_view(xp, i, j, sh, sw, Ho, Wo)
    div, k = _avg_divisor(H, W, kernel, stride, padding, Ho, Wo, count_include_pad, dt)
    y /= div if div is not None else dt.type(k)
    return y


def avgpool2d_backward(dy, x_shape, kernel, stride, padding, count_include_pad=True):
    """dx (x_shape): dy / divisor added back through every window position."""
    N, C, H, W = x_shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    Ho, Wo = dy.shape[2], dy.shape[3]
    dt = _ftype(dy)
    div, k = _avg_divisor(H, W, kernel, stride, padding, Ho, Wo, count_include_pad, dt)
    gd = dy / (div if div is not None else dt.type(k))
    gd = gd.astype(dt, copy=False)
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dt)
    for i in range(kh):
        for j in range(kw):
            seg = _window_view(dxp, i, j, sh, sw, Ho, Wo)
            seg += gd
    if ph or pw:
        return np.ascontiguousarray(dxp[:, :, ph:ph + H, pw:pw + W])
    return dxp


# -- upsampling ---------------------------------------------------------------------------------
def upsample_nearest2d_forward(x, scale):
    """Nearest-neighbour upsampling by integer factors: y[..., i, j] = x[..., i // sh, j // sw]."""
    N, C, H, W = x.shape
    sh, sw = scale
    dt = _ftype(x)
    y = np.empty((N, C, H, sh, W, sw), dt)
    for a in range(sh):
        for b in range(sw):
            y[:, :, :, a, :, b] = x
    return y.reshape(N, C, H * sh, W * sw)


def upsample_nearest2d_backward(dy, scale):
    """dx: the sum of dy over each sh x sw block."""
    N, C, Ho, Wo = dy.shape
    sh, sw = scale
    dt = _ftype(dy)
    d6 = dy.reshape(N, C, Ho // sh, sh, Wo // sw, sw)
    dx = np.array(d6[:, :, :, 0, :, 0], dtype=dt, order="C")
    for a in range(sh):
        for b in range(sw):
            if a or b:
                dx += d6[:, :, :, a, :, b]
    return dx


def _bilinear_axis(n_in: int, s: int, dt: np.dtype):
    """Per output index: the two source indices and their weights (align_corners=False)."""
    i = np.arange(n_in * s, dtype=np.float64)
    src = np.maximum((i + 0.5) / s - 0.5, 0.0)
    i0 = np.floor(src).astype(np.int64)
    i0 = np.minimum(i0, n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    l1 = src - i0
    return i0, i1, (1.0 - l1).astype(dt), l1.astype(dt)


def _interp_axis(x, axis, i0, i1, l0, l1):
    shape = [1] * x.ndim
    shape[axis] = -1
    out = np.take(x, i0, axis=axis)
    out *= l0.reshape(shape)
    t = np.take(x, i1, axis=axis)
    t *= l1.reshape(shape)
    out += t
    return out


def _interp_axis_adjoint(g, axis, n_in, i0, i1, l0, l1):
    shape = [1] * g.ndim
    shape[axis] = -1
    out_shape = list(g.shape)
    out_shape[axis] = n_in
    dx = np.zeros(out_shape, g.dtype)
    for idx, lam in ((i0, l0), (i1, l1)):
        # idx is non-decreasing: sum the runs of equal indices, then place them (unique targets).
        uniq, starts = np.unique(idx, return_index=True)
        part = np.add.reduceat(g * lam.reshape(shape), starts, axis=axis)
        sl = [slice(None)] * g.ndim
        sl[axis] = uniq
        dx[tuple(sl)] += part
    return dx


def upsample_bilinear2d_forward(x, scale):
    """Bilinear upsampling by integer factors (align_corners=False, as PyTorch)."""
    N, C, H, W = x.shape
    sh, sw = scale
    dt = _ftype(x)
    x = x.astype(dt, copy=False)
    t = _interp_axis(x, 2, *_bilinear_axis(H, sh, dt))
    return _interp_axis(t, 3, *_bilinear_axis(W, sw, dt))


def upsample_bilinear2d_backward(dy, x_shape, scale):
    """The adjoint of upsample_bilinear2d_forward."""
    N, C, H, W = x_shape
    sh, sw = scale
    dt = _ftype(dy)
    dy = dy.astype(dt, copy=False)
    t = _interp_axis_adjoint(dy, 3, W, *_bilinear_axis(W, sw, dt))
    return _interp_axis_adjoint(t, 2, H, *_bilinear_axis(H, sh, dt))
