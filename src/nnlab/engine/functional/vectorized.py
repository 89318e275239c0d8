"""Vectorised kernels of the convolution family: im2col with BLAS, strided views, no pixel loops.

Same functions, signatures and conventions as :mod:`nnlab.engine.functional.reference` (see
:mod:`nnlab.engine.functional`); the results agree with it to floating-point rounding. NumPy
only. Every function keeps the floating dtype of its (first) input: float32 in, float32 out,
float32 BLAS, never an upcast; integer inputs are computed in float64. Inputs are never
modified; outputs are fresh arrays.

**Convolution.** One engine, :func:`_conv_chunks`, does all the convolution computations. It
walks the batch in chunks of ``nb`` samples, ``nb`` chosen so that one chunk's column matrix
is about ``_CHUNK_BYTES`` (2 MB): it is then written, multiplied and dropped while still in the
cache (a 3x3 layer's whole-batch matrix is 9 times its input, and streaming it through memory
made the GEMMs about half as fast). For each chunk:

* *im2col*: the column matrix ``cols`` ``(C*kH*kW, nb*L)``, laid out ``(C, kH, kW, nb, L)``:
  channel-major, so that one GEMM serves the whole chunk. For stride 1 (the usual case) it uses
  the *flat-shift* trick: in the zero-padded chunk ``(C, nb, Hp*Wp)``, flattened per plane,
  kernel offset ``(i, j)`` is the contiguous run starting at ``i*d*Wp + j*d``, so all kH*kW
  runs are one overlapping ``as_strided`` view and im2col is one copy of long contiguous
  runs. The output is then computed on rows of width ``Wp`` (``L = Ho*Wp``): the ``Wp - Wo``
  extra columns are junk, dropped from the output and zeroed wherever they would reach a
  gradient. Other strides: one copy from an ``as_strided`` window view (``L = Ho*Wo``).
* *forward*: ``Wm (O, C*kH*kW) @ cols`` -> ``(O, nb, Ho, ·)``, copied into ``y[n0:n1]``: the
  transpose to NCHW, the junk columns dropped and the bias added in one pass.
* *weight gradient*: ``G (O, nb*L) @ cols.T`` with ``G`` the chunk of ``dy`` in the same
  channel-major layout (zero junk columns); summed over the chunks.
* *input gradient*, general case: ``dcols = Wm.T @ G`` and *col2im*: a scatter-add of ``dcols``
  into the zero-padded ``dx``, one strided-slice addition per kernel offset (kH*kW of them,
  contiguous runs in the flat layout), then the padding is cropped.
* *input gradient*, stride 1 (``_gather_backward``): ``dx`` is itself a convolution, of ``dy``
  with the spatially flipped, in/out-swapped kernel and padding ``d(k-1) - p``, i.e. an im2col
  *gather* and one GEMM, no scatter; and that convolution's column matrix also gives the
  weight gradient (``dw`` is the weight gradient of that convolution with ``x`` as its output
  gradient), so the whole backward needs a single column matrix, of ``dy``. Used when
  ``O <= C`` (that matrix has ``O*kH*kW`` rows); measured faster on every layer of the
  benchmarks (``benchmarks/conv_vs_torch.py``).

``conv_transpose2d`` is the adjoint of ``conv2d``: its forward is conv2d's input-gradient
computation (GEMM + col2im, or for stride 1 the equivalent convolution with the flipped
kernel) and its backward is a conv2d forward of ``dy`` (its input gradient) plus, from the same
column matrix in the same pass, conv2d's weight gradient with ``x`` as output gradient.

**Scratch memory.** The chunk buffers (padded input, columns, GEMM outputs) come from a small
pool kept between calls (``_take``/``_give``): allocating them afresh costs a page fault per
4 KiB wherever the allocator has returned the memory to the system, about 1-2 us each on the
benchmark machine -- more than the copies themselves. A buffer is taken *out* of the pool
while in use, so concurrent calls never share one; the pool keeps one per role and dtype
(a few MB in all; buffers over ``_POOL_MAX_BYTES`` are not kept).

**Pooling.** Max pooling goes through the batch in chunks (``_POOL_CHUNK`` bytes of input,
so that its passes and scratch stay in the cache; the chunks are shared out among the engine's
threads, :mod:`nnlab.engine.threads`, each with scratch of its own), keeping a running ``np.maximum`` over the kH*kW strided views of
the (-inf-padded) input and, per output, the code of the winning offset: ``code = max(code,
(v > y) * t)`` -- offsets in increasing order with a strict comparison, so ties keep the first
maximum in row-major window order, as PyTorch; a chunk whose maxima contain NaN is scanned
again with PyTorch's NaN rule (the last NaN wins). The code becomes the flat index into the
unpadded plane arithmetically. The backward is one ``np.add.at`` (windows may overlap).
Average pooling sums the kH*kW strided views; its backward adds ``dy / divisor`` back through
the same views.

**Upsampling.** Nearest: ``sh*sw`` strided copies; backward: the sum of the ``sh*sw`` strided
views of ``dy`` (NumPy's ``sum`` over small strided axes is ~15x slower). Bilinear
(``align_corners=False``): separable, with per-axis index/weight arrays (``i0``, ``i1``,
``l0``, ``l1``); forward gathers with ``np.take``, backward is the adjoint: the index arrays
are sorted, so the scatter-add is an ``np.add.reduceat`` over runs of equal indices.

One concept, the vectorised kernels of the engine's layers (each the counterpart of one loop in
:mod:`reference`), so one module of about 650 lines.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from nnlab.engine import threads
from nnlab.engine.functional import FUNCTIONS

__all__ = list(FUNCTIONS)

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
    """A negative output size is an error; a zero one gives empty results (as the reference)."""
    if min(sizes) < 0:
        raise ValueError(f"{name}: negative output size {sizes}: the input is too small for this "
                         "kernel, stride, padding and dilation")


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


# Scratch buffer pool: see the module docstring.
_POOL: dict[tuple[str, str], np.ndarray] = {}
#: Larger scratch buffers (one sample of a huge image) are not kept.
_POOL_MAX_BYTES = 64 << 20


def _take(tag: str, shape, dt: np.dtype) -> np.ndarray:
    """A scratch array of the given shape from the pool (contents undefined); ``_give`` it back."""
    n = 1
    for v in shape:
        n *= int(v)
    buf = _POOL.pop((tag, dt.str), None)
    if buf is None or buf.size < n:
        buf = np.empty(max(n, 1), dt)
    return buf[:n].reshape(shape)


def _give(tag: str, arr: np.ndarray) -> None:
    base = arr
    while isinstance(base.base, np.ndarray):
        base = base.base
    if base.nbytes <= _POOL_MAX_BYTES:
        _POOL[(tag, arr.dtype.str)] = base


def _conv_chunks(g: _Geom, N: int, dt: np.dtype, Wm: np.ndarray, *, x=None, y=None, bias=None,
                 gout=None, dw=None, dx=None, dx_bias=None, x_sum=None, gout_sum=None) -> None:
    """The convolution engine (see the module docstring): for chunks of the batch,

    * ``x`` (N, C, H, W) given: build the column matrix of x;
    * ``y`` (N, O, Ho, Wo) given: ``y = conv(x) (+ bias)``;
    * ``gout`` (N, O, Ho, Wo) given: a gradient with respect to the conv output; then
      ``dw`` (O, K) given: ``dw = sum gout (x) cols`` and ``dx`` (N, C, H, W) given:
      ``dx = col2im(Wm.T @ gout) (+ dx_bias)``;
    * ``x_sum`` (C,) / ``gout_sum`` (O,) float64 given: x / gout summed over N, H, W is added
      to it (a bias gradient, from the chunk copies while they are in the cache).
    """
    C, O, K, Ho, Wo, Lw, L = g.C, g.O, g.K, g.Ho, g.Wo, g.Lw, g.L
    H, W, Hp, Wp, ph, pw = g.H, g.W, g.Hp, g.Wp, g.ph, g.pw
    if N == 0 or Ho * Wo == 0 or H * W == 0:  # an empty input or output: nothing to multiply
        if y is not None:
            y[...] = 0 if bias is None else bias.astype(dt, copy=False).reshape(O, 1, 1)
        if dw is not None:
            dw.fill(0)
        if dx is not None:
            dx[...] = 0 if dx_bias is None else dx_bias.astype(dt, copy=False).reshape(C, 1, 1)
        if x_sum is not None:
            x_sum += x.sum(axis=(0, 2, 3), dtype=np.float64)
        if gout_sum is not None:
            gout_sum += gout.sum(axis=(0, 2, 3), dtype=np.float64)
        return
    nb = g.chunk(N, dt.itemsize)
    padded = ph > 0 or pw > 0
    need_cols = x is not None
    need_g = gout is not None
    taken = []

    def take(tag, shape):
        a = _take(tag, shape, dt)
        taken.append((tag, a))
        return a

    if need_cols:
        # The flat layout needs each (n, c) plane contiguous; any layout needs the padding.
        direct = not padded and (not g.flat or (x.strides[3] == x.itemsize and x.strides[2] == W * x.itemsize)) \
            and x.dtype == dt
        if not direct:
            xp = take("xp", (C, nb, Hp, Wp))
            xp.fill(0)  # the interior is overwritten for every chunk, the border stays zero
        cols = take("cols", (C, g.kh, g.kw, nb, L))
        if g.flat:
            cols[..., g.run:] = 0  # the tail of each run: junk columns, but they meet dW
    if y is not None:
        res = take("res", (O, nb, Ho, Lw))
        bias4 = None if bias is None else bias.astype(dt, copy=False).reshape(O, 1, 1, 1)
    if need_g:
        G = take("G", (O, nb, Ho, Lw))
        if g.flat:
            G[..., Wo:] = 0  # junk columns: zero, so that they add nothing to dW or dx
        if dw is not None:
            dw_tmp = take("dw", (O, K))
        if dx is not None:
            WmT = Wm.T
            dcols = take("dcols", (C, g.kh, g.kw, nb, L))
            dxp = take("dxp", (C, nb, Hp, Wp))
            dbias4 = None if dx_bias is None else dx_bias.astype(dt, copy=False).reshape(C, 1, 1, 1)
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
            if x_sum is not None:
                x_sum += src.reshape(C, -1).sum(axis=1) if not direct else \
                    xc.reshape(m, C, -1).sum(axis=2).sum(axis=0)
            cm = cols[:, :, :, :m]
            if g.flat:
                # all kH*kW shifted runs as one overlapping read-only view: one copy call
                s0, s1, _, s3 = src.strides
                win = as_strided(src, (C, g.kh, g.kw, m, g.run),
                                 (s0, g.dh * Wp * s3, g.dw * s3, s1, s3), writeable=False)
                np.copyto(cm[..., :g.run], win)
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
            if bias4 is None:
                np.copyto(out, r[..., :Wo])
            else:
                np.add(r[..., :Wo], bias4, out=out)
        if need_g:
            Gm = G[:, :m]
            np.copyto(Gm[..., :Wo], gout[n0:n1].transpose(1, 0, 2, 3))
            G2 = Gm.reshape(O, m * L)
            if gout_sum is not None:
                gout_sum += G2.sum(axis=1)
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
                if dbias4 is None:
                    np.copyto(out, crop)
                else:
                    np.add(crop, dbias4, out=out)
    for tag, a in taken:
        _give(tag, a)


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
    dx = np.empty((N, g.C, g.H, g.W), dt) if need_dx else None
    db = np.zeros(g.O)
    if _gather_ok(g) and (need_dx or g.O < g.C):
        dw = _gather_backward(dy, x, w, g, dt, dx, db)
    else:
        dw = np.empty((g.O, g.K), dt)
        _conv_chunks(g, N, dt, Wm, x=x, gout=dy, dw=dw, dx=dx, gout_sum=db)
        dw = dw.reshape(w.shape)
    return dx, dw.astype(_ftype(w), copy=False), db.astype(dt)


_GATHER = True


def _gather_ok(g: _Geom, need_fit: bool = False) -> bool:
    """Stride 1, padding at most the kernel's reach, and O <= C: see ``_gather_backward``.
    need_fit: the conv's output must also cover its padded input exactly (no output_padding)."""
    fit = g.Hp == g.Ho + g.dh * (g.kh - 1) and g.Wp == g.Wo + g.dw * (g.kw - 1)
    return (_GATHER and g.sh == 1 and g.sw == 1 and g.ph <= g.dh * (g.kh - 1)
            and g.pw <= g.dw * (g.kw - 1) and g.O <= g.C and (fit or not need_fit))


def _gather_backward(dy, x, w, g: _Geom, dt, dx, db) -> np.ndarray:
    """conv2d's backward for stride 1 from one column matrix, that of dy.

    The input gradient is itself a convolution: ``dx = conv2d(dy, wf, padding d(k-1) - p)`` with
    ``wf[c, o, i, j] = w[o, c, k-1-i, k-1-j]`` -- an im2col *gather* of dy and a GEMM instead of a
    GEMM and a col2im scatter-add, which reads and writes dx kH*kW times. And with the columns
    of that convolution, ``dw[o, c, i, j] = sum x[n, c, h, w] * cols[(o, k-1-i, k-1-j), (n, h, w)]``:
    the weight gradient is the *weight gradient of that convolution* with x as its output
    gradient, so it needs no column matrix of x. One pass, one im2col (O*kH*kW rows, so this is
    used when O <= C); measured faster than the x-im2col + col2im path on every layer of the
    benchmarks. Returns dw (O, C, kH, kW); fills dx if given; adds dy's channel sums to db."""
    O, C, kh, kw = g.O, g.C, g.kh, g.kw
    wf = np.ascontiguousarray(w.astype(dt, copy=False).transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    pad = (g.dh * (kh - 1) - g.ph, g.dw * (kw - 1) - g.pw)
    gg = _Geom(O, g.Ho, g.Wo, C, kh, kw, (1, 1), pad, (g.dh, g.dw), g.H, g.W)
    dwf = np.empty((C, O * kh * kw), dt)
    _conv_chunks(gg, x.shape[0], dt, wf.reshape(C, gg.K), x=dy, y=dx, gout=x, dw=dwf, x_sum=db)
    return np.ascontiguousarray(dwf.reshape(C, O, kh, kw).transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


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
    y = np.empty((N, g.C, g.H, g.W), dt)
    if _gather_ok(g, need_fit=True):
        # stride 1: an ordinary convolution of x with the flipped kernel (see _gather_backward)
        wf = w.astype(dt, copy=False).transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
        pad = (g.dh * (g.kh - 1) - g.ph, g.dw * (g.kw - 1) - g.pw)
        gg = _Geom(g.O, g.Ho, g.Wo, g.C, g.kh, g.kw, (1, 1), pad, (g.dh, g.dw), g.H, g.W)
        _conv_chunks(gg, N, dt, np.ascontiguousarray(wf).reshape(g.C, gg.K), x=x, y=y, bias=b)
    else:
        Wm = w.astype(dt, copy=False).reshape(g.O, g.K)
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
    db = np.zeros(g.C)
    _conv_chunks(g, N, dt, Wm, x=dy, y=dx, gout=x, dw=dw, x_sum=db)
    return dx, dw.reshape(w.shape).astype(_ftype(w), copy=False), db.astype(dt)


# -- pooling ------------------------------------------------------------------------------------
def _window_view(xp, i, j, sh, sw, Ho, Wo):
    return xp[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw]


#: Max pooling works through the batch in chunks of about this many bytes of input, so that its
#: kH*kW passes over a chunk and its scratch arrays stay in the (L2) cache.
_POOL_CHUNK = 1 << 20


def maxpool2d_forward(x, kernel, stride, padding):
    """Max pooling; returns (y, argmax), argmax the flat index into the unpadded H*W plane."""
    N, C, H, W = x.shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    Ho, Wo = _pool_out(H, kh, sh, ph), _pool_out(W, kw, sw, pw)
    _check_size("maxpool2d", Ho, Wo)
    dt = _ftype(x)
    y = np.empty((N, C, Ho, Wo), dt)
    argmax = np.empty((N, C, Ho, Wo), np.int64)
    if y.size == 0:
        return y, argmax
    nb = max(1, min(N, _POOL_CHUNK // max(1, x[:1].nbytes)))
    ctype = np.dtype(np.uint8 if kh * kw <= 256 else np.int32)
    base = ((np.arange(Ho) * sh - ph)[:, None] * W + (np.arange(Wo) * sw - pw)).astype(np.int64)
    padded = bool(ph or pw)

    def pool(lo: int, hi: int) -> None:     # samples lo..hi, chunk by chunk, with scratch of its own
        scratch = [(tag, _take(tag, (nb, C, Ho, Wo), t)) for tag, t in
                   (("mp_code", ctype), ("mp_tmp", ctype), ("mp_mask", np.dtype(bool)), ("mp_q", np.dtype(np.int64)))]
        code, tmp, mask, q = (a for _, a in scratch)
        if padded:
            xp = _take("mp_xp", (nb, C, H + 2 * ph, W + 2 * pw), dt)
            xp.fill(-np.inf)
            scratch.append(("mp_xp", xp))
        for n0 in range(lo, hi, nb):
            n1 = min(hi, n0 + nb)
            _maxpool_chunk(x, n0, n1, xp if padded else None, code, tmp, mask, q, y, argmax, base,
                           (kh, kw, sh, sw, ph, pw, H, W, Ho, Wo), ctype)
        for tag, a in scratch:
            _give(tag, a)

    threads.split(pool, N, x.size)
    return y, argmax


def _maxpool_chunk(x, n0, n1, xp, code, tmp, mask, q, y, argmax, base, geom, ctype) -> None:
    """Max pooling of samples n0..n1 of x into y and argmax (xp: the -inf-padded scratch, or None)."""
    kh, kw, sh, sw, ph, pw, H, W, Ho, Wo = geom
    m = n1 - n0
    if xp is not None:
        src = xp[:m]
        src[:, :, ph:ph + H, pw:pw + W] = x[n0:n1]
    else:
        src = x[n0:n1]
    yc, cc, am = y[n0:n1], code[:m], argmax[n0:n1]
    args = (src, kh, kw, sh, sw, Ho, Wo, yc, cc, tmp[:m], mask[:m])
    _maxpool_scan(*args, nan_aware=False)
    if np.isnan(np.add.reduce(yc, axis=None)):
        # NaN in a window (np.maximum propagates it): PyTorch's index is the window's last
        # NaN; scan this chunk again with the NaN-aware comparison.
        _maxpool_scan(*args, nan_aware=True)
    # winning offset code = i*kw + j  ->  flat index base + i*W + j = base + code + i*(W - kw)
    np.add(cc, base, out=am)
    if kh > 1 and W != kw:
        np.floor_divide(cc, ctype.type(kw), out=tmp[:m])
        np.multiply(tmp[:m], np.int64(W - kw), out=q[:m])
        am += q[:m]
    if xp is not None:
        # A window whose valid values are all -inf: PyTorch returns its first valid position.
        bad = np.isneginf(yc)
        if bad.any():
            hs = np.maximum(np.arange(Ho) * sh - ph, 0)
            ws = np.maximum(np.arange(Wo) * sw - pw, 0)
            first = np.broadcast_to(hs[:, None] * W + ws, yc.shape)
            am[bad] = first[bad]


def _maxpool_scan(src, kh, kw, sh, sw, Ho, Wo, y, code, tmp, mask, nan_aware):
    """Running maximum of the kernel offsets' strided views into y, and in ``code`` the winning
    offset ``i*kw + j``: replaced only where a later offset is strictly greater (or NaN, if
    nan_aware), so ties keep the first. Offsets come in increasing order, so the winner is the
    largest code whose comparison held: ``code = max(code, mask * t)`` -- two cheap uint8
    passes (``np.copyto(where=)`` is about ten times slower)."""
    np.copyto(y, _window_view(src, 0, 0, sh, sw, Ho, Wo))
    code.fill(0)
    nanmask = np.empty(y.shape, bool) if nan_aware else None
    t = 0
    for i in range(kh):
        for j in range(kw):
            if t:
                v = _window_view(src, i, j, sh, sw, Ho, Wo)
                np.greater(v, y, out=mask)
                if nan_aware:
                    np.isnan(v, out=nanmask)
                    mask |= nanmask
                    np.copyto(y, v, where=mask)
                else:
                    np.maximum(y, v, out=y)
                np.multiply(mask, code.dtype.type(t), out=tmp)
                np.maximum(code, tmp, out=code)
            t += 1


def maxpool2d_backward(dy, argmax, x_shape):
    """dx (x_shape): dy added at the argmax positions (windows may overlap: np.add.at)."""
    N, C, H, W = x_shape
    dt = _ftype(dy)
    dx = np.zeros(N * C * H * W, dt)
    if dy.size == 0:
        return dx.reshape(N, C, H, W)
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
    if Ho * Wo == 0:
        return np.zeros((N, C, Ho, Wo), dt)
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
    if Ho * Wo == 0:
        return np.zeros((N, C, H, W), dt)
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
    H, W = x.shape[2:]
    sh, sw = scale
    dt = _ftype(x)
    x = x.astype(dt, copy=False)
    t = _interp_axis(x, 2, *_bilinear_axis(H, sh, dt))
    return _interp_axis(t, 3, *_bilinear_axis(W, sw, dt))


def upsample_bilinear2d_backward(dy, x_shape, scale):
    """The adjoint of upsample_bilinear2d_forward."""
    H, W = x_shape[2:]
    sh, sw = scale
    dt = _ftype(dy)
    dy = dy.astype(dt, copy=False)
    t = _interp_axis_adjoint(dy, 3, W, *_bilinear_axis(W, sw, dt))
    return _interp_axis_adjoint(t, 2, H, *_bilinear_axis(H, sh, dt))
