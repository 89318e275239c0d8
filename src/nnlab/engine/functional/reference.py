"""Reference kernels of the convolution family: plain, readable loops.

Every function here is written the way a textbook states it: explicit Python loops over the
batch, the channels, the output positions and the kernel positions, one formula per line. They
are slow, and meant for small inputs: the tests check the fast ``vectorized`` module against
them, and the exercises ask students to read (and rewrite) them. The conventions, signatures and
output-size formulas are those of :mod:`nnlab.engine.functional` (PyTorch's).

Notation used in the docstrings: ``n`` batch index, ``c`` input channel, ``o`` output channel,
``(i, j)`` output position, ``(ki, kj)`` kernel position, ``s`` stride, ``p`` padding,
``dil`` dilation, ``xp`` the zero-padded input. Results are in the inputs' floating dtype
(float64 for integer inputs, which are converted first).

Backward functions compute the gradient of ``sum(y * dy)``: they run the forward loops once
more and, wherever the forward read ``x[...]`` to build ``y[...]``, they add
``dy[...] * (the factor it was multiplied by)`` into ``dx[...]`` (a "scatter-add"). Inputs are
never modified.

One concept, the loop reference of every kernel (the definitions the vectorised kernels are
tested against), so one module of about 450 lines.
"""

from __future__ import annotations

import numpy as np

from nnlab.engine.functional import FUNCTIONS

__all__ = list(FUNCTIONS)


# -- output sizes -------------------------------------------------------------------------------
def _conv_out(n: int, k: int, s: int, p: int, d: int) -> int:
    """Convolution: floor((n + 2p - d(k-1) - 1) / s) + 1."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _conv_transpose_out(n: int, k: int, s: int, p: int, op: int, d: int) -> int:
    """Transposed convolution: (n - 1)s - 2p + d(k-1) + output_padding + 1."""
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def _pool_out(n: int, k: int, s: int, p: int) -> int:
    """Max / average pooling: floor((n + 2p - k) / s) + 1."""
    return (n + 2 * p - k) // s + 1


def _as_float(*arrays):
    """The arrays in one floating dtype: their common dtype, float64 if that is an integer one
    (so uint8 images neither overflow nor wrap). ``None`` stays ``None``; arrays already of that
    dtype are returned as they are (never written to)."""
    dtype = np.result_type(*[a for a in arrays if a is not None])
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    return tuple(None if a is None else np.asarray(a, dtype=dtype) for a in arrays)


def _pad_hw(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """A zero-padded copy of x (N, C, H, W): ph rows above and below, pw columns left and right."""
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


# -- convolution ------------------------------------------------------------------------------
def conv2d_forward(x, w, b, stride, padding, dilation):
    """2-D convolution (cross-correlation, as PyTorch), x (N, C, H, W), w (O, C, kH, kW).

    y[n, o, i, j] = b[o] + sum_{c, ki, kj} xp[n, c, r, col] * w[o, c, ki, kj],
    r = i*sh + ki*dil_h,  col = j*sw + kj*dil_w   (sh, sw stride; dil_h, dil_w dilation).
    """
    x, w, b = _as_float(x, w, b)
    N, _, H, W = x.shape
    O, _, kH, kW = w.shape
    sh, sw = stride
    ph, pw = padding
    dil_h, dil_w = dilation
    Ho = _conv_out(H, kH, sh, ph, dil_h)
    Wo = _conv_out(W, kW, sw, pw, dil_w)

    xp = _pad_hw(x, ph, pw)  # zero padding: the padded positions contribute nothing
    y = np.zeros((N, O, Ho, Wo), dtype=x.dtype)

    for n in range(N):  # every image
        for o in range(O):  # every output channel (one filter w[o])
            for i in range(Ho):  # every output position
                for j in range(Wo):
                    total = 0.0 if b is None else b[o]
                    for ki in range(kH):  # every kernel position
                        for kj in range(kW):
                            r = i * sh + ki * dil_h  # the input row/column this tap reads
                            col = j * sw + kj * dil_w
                            # sum over the input channels c: x[n, :, r, col] . w[o, :, ki, kj]
                            total += np.dot(xp[n, :, r, col], w[o, :, ki, kj])
                    y[n, o, i, j] = total
    return y


def conv2d_backward(dy, x, w, stride, padding, dilation, need_dx=True):
    """Gradients of sum(y * dy) for y = conv2d_forward(x, w, b, ...): (dx or None, dw, db).

    For every term y[n, o, i, j] += xp[n, c, r, col] * w[o, c, ki, kj] of the forward
    (r = i*sh + ki*dil_h, col = j*sw + kj*dil_w):
        dxp[n, c, r, col] += dy[n, o, i, j] * w[o, c, ki, kj]
        dw[o, c, ki, kj]  += dy[n, o, i, j] * xp[n, c, r, col]
    then dx is dxp with the padding cut off; db[o] = sum_{n, i, j} dy[n, o, i, j].
    """
    dy, x, w = _as_float(dy, x, w)
    _, _, H, W = x.shape
    _, _, kH, kW = w.shape
    N, O, Ho, Wo = dy.shape
    sh, sw = stride
    ph, pw = padding
    dil_h, dil_w = dilation

    xp = _pad_hw(x, ph, pw)
    dxp = np.zeros(xp.shape, dtype=x.dtype)  # gradient w.r.t. the padded input
    dw = np.zeros(w.shape, dtype=x.dtype)

    for n in range(N):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    g = dy[n, o, i, j]  # upstream gradient of this output
                    for ki in range(kH):
                        for kj in range(kW):
                            r = i * sh + ki * dil_h
                            col = j * sw + kj * dil_w
                            # scatter-add, for all input channels c at once
                            dxp[n, :, r, col] += g * w[o, :, ki, kj]
                            dw[o, :, ki, kj] += g * xp[n, :, r, col]

    db = dy.sum(axis=(0, 2, 3))  # the bias is added to every output position of its channel
    if not need_dx:
        return None, dw, db
    dx = dxp[:, :, ph : ph + H, pw : pw + W]  # drop the gradient of the padding
    return np.ascontiguousarray(dx), dw, db


# -- transposed convolution -------------------------------------------------------------------
def conv_transpose2d_forward(x, w, b, stride, padding, output_padding, dilation):
    """2-D transposed convolution, x (N, C, H, W), w (C, O, kH, kW) -> y (N, O, Ho, Wo).

    Every input pixel "stamps" its weighted kernel onto the (padded) output:
        yp[n, o, i*sh + ki*dil_h, j*sw + kj*dil_w] += x[n, c, i, j] * w[c, o, ki, kj]
    then y = yp with ``padding`` rows/columns cut off at each side, plus b[o]. ``output_padding``
    only makes the padded output that many rows/columns taller/wider at the bottom/right. This
    is the adjoint (the input gradient) of conv2d with the same w, stride, padding, dilation.
    """
    x, w, b = _as_float(x, w, b)
    N, C, H, W = x.shape
    _, O, kH, kW = w.shape
    sh, sw = stride
    ph, pw = padding
    oph, opw = output_padding
    dil_h, dil_w = dilation
    Ho = _conv_transpose_out(H, kH, sh, ph, oph, dil_h)
    Wo = _conv_transpose_out(W, kW, sw, pw, opw, dil_w)

    yp = np.zeros((N, O, Ho + 2 * ph, Wo + 2 * pw), dtype=x.dtype)  # the output before cropping

    for n in range(N):  # every image
        for c in range(C):  # every input channel
            for i in range(H):  # every input position
                for j in range(W):
                    v = x[n, c, i, j]
                    for ki in range(kH):  # every kernel position
                        for kj in range(kW):
                            r = i * sh + ki * dil_h  # where this tap lands in the padded output
                            col = j * sw + kj * dil_w
                            # scatter-add, for all output channels o at once
                            yp[n, :, r, col] += v * w[c, :, ki, kj]

    y = yp[:, :, ph : ph + Ho, pw : pw + Wo]  # cut the padding off
    y = np.ascontiguousarray(y)
    if b is not None:
        for o in range(O):
            y[:, o] += b[o]
    return y


def conv_transpose2d_backward(
    dy, x, w, stride, padding, output_padding, dilation, need_dx=True
):
    """Gradients of sum(y * dy) for y = conv_transpose2d_forward(...): (dx or None, dw, db).

    dyp is dy zero-padded back to the size of yp; for every forward term
    yp[n, o, r, col] += x[n, c, i, j] * w[c, o, ki, kj]
    (r = i*sh + ki*dil_h, col = j*sw + kj*dil_w):
        dx[n, c, i, j]   += dyp[n, o, r, col] * w[c, o, ki, kj]
        dw[c, o, ki, kj] += dyp[n, o, r, col] * x[n, c, i, j]
    db[o] = sum_{n, i, j} dy[n, o, i, j].
    """
    dy, x, w = _as_float(dy, x, w)
    N, C, H, W = x.shape
    _, _, kH, kW = w.shape
    sh, sw = stride
    ph, pw = padding
    dil_h, dil_w = dilation

    # The cropped padding received no gradient: pad dy with zeros back to the size of yp.
    dyp = _pad_hw(dy, ph, pw)
    dx = np.zeros(x.shape, dtype=x.dtype) if need_dx else None
    dw = np.zeros(w.shape, dtype=x.dtype)

    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    for ki in range(kH):
                        for kj in range(kW):
                            r = i * sh + ki * dil_h
                            col = j * sw + kj * dil_w
                            g = dyp[n, :, r, col]  # upstream gradients, all output channels
                            if need_dx:
                                # sum over the output channels o
                                dx[n, c, i, j] += np.dot(g, w[c, :, ki, kj])
                            dw[c, :, ki, kj] += g * x[n, c, i, j]

    db = dy.sum(axis=(0, 2, 3))
    return dx, dw, db


# -- max pooling ------------------------------------------------------------------------------
def maxpool2d_forward(x, kernel, stride, padding):
    """2-D max pooling, x (N, C, H, W) -> (y, argmax), both (N, C, Ho, Wo).

    y[n, c, i, j] = max over the window rows i*sh - ph .. i*sh - ph + kH - 1 (and likewise for
    columns) of x[n, c, ., .]; positions outside the image count as -inf, i.e. are skipped.
    argmax is the flat index r * W + col into the *unpadded* H x W plane of the maximum; on ties
    the first one met in row-major window order wins (strict ``>``), as in PyTorch. Every
    window holds at least one image position as long as padding <= kernel / 2 (PyTorch's rule).
    """
    (x,) = _as_float(x)
    N, C, H, W = x.shape
    kH, kW = kernel
    sh, sw = stride
    ph, pw = padding
    Ho = _pool_out(H, kH, sh, ph)
    Wo = _pool_out(W, kW, sw, pw)

    y = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    argmax = np.zeros((N, C, Ho, Wo), dtype=np.int64)

    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best, best_index = None, -1
                    for ki in range(kH):  # row-major walk over the window
                        for kj in range(kW):
                            r = i * sh - ph + ki  # position in the unpadded image
                            col = j * sw - pw + kj
                            if not (0 <= r < H and 0 <= col < W):
                                continue  # padding (-inf) never wins
                            v = x[n, c, r, col]
                            if best is None or v > best:  # strict: the first maximum is kept
                                best, best_index = v, r * W + col
                    y[n, c, i, j] = best
                    argmax[n, c, i, j] = best_index
    return y, argmax


def maxpool2d_backward(dy, argmax, x_shape):
    """Gradient of max pooling: each dy[n, c, i, j] goes to the input that was the maximum,

        dx[n, c].flat[argmax[n, c, i, j]] += dy[n, c, i, j]

    (added, not assigned: with overlapping windows one input can be the maximum of several).
    """
    (dy,) = _as_float(dy)
    N, C, H, W = x_shape
    _, _, Ho, Wo = dy.shape
    dx = np.zeros((N, C, H, W), dtype=dy.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    flat = argmax[n, c, i, j]
                    r, col = divmod(int(flat), W)  # back from the flat index to (row, column)
                    dx[n, c, r, col] += dy[n, c, i, j]
    return dx


# -- average pooling --------------------------------------------------------------------------
def avgpool2d_forward(x, kernel, stride, padding, count_include_pad=True):
    """2-D average pooling, x (N, C, H, W) -> y (N, C, Ho, Wo).

    y[n, c, i, j] = (sum of x over the window) / divisor, padding counting as 0; the divisor is
    kH * kW when ``count_include_pad`` and otherwise the number of window positions that lie
    inside the image.
    """
    (x,) = _as_float(x)
    N, C, H, W = x.shape
    kH, kW = kernel
    sh, sw = stride
    ph, pw = padding
    Ho = _pool_out(H, kH, sh, ph)
    Wo = _pool_out(W, kW, sw, pw)

    y = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    total, inside = 0.0, 0
                    for ki in range(kH):
                        for kj in range(kW):
                            r = i * sh - ph + ki  # position in the unpadded image
                            col = j * sw - pw + kj
                            if 0 <= r < H and 0 <= col < W:  # padding adds 0
                                total += x[n, c, r, col]
                                inside += 1
                    divisor = kH * kW if count_include_pad else inside
                    y[n, c, i, j] = total / divisor
    return y


def avgpool2d_backward(dy, x_shape, kernel, stride, padding, count_include_pad=True):
    """Gradient of average pooling: every input of a window receives dy / divisor,

        dx[n, c, r, col] += dy[n, c, i, j] / divisor   for (r, col) in window (i, j), inside.
    """
    (dy,) = _as_float(dy)
    N, C, H, W = x_shape
    _, _, Ho, Wo = dy.shape
    kH, kW = kernel
    sh, sw = stride
    ph, pw = padding

    dx = np.zeros((N, C, H, W), dtype=dy.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    # the same divisor as the forward: count the window positions inside
                    inside = 0
                    for ki in range(kH):
                        for kj in range(kW):
                            r, col = i * sh - ph + ki, j * sw - pw + kj
                            if 0 <= r < H and 0 <= col < W:
                                inside += 1
                    divisor = kH * kW if count_include_pad else inside
                    g = dy[n, c, i, j] / divisor
                    # scatter the share to every input position of the window
                    for ki in range(kH):
                        for kj in range(kW):
                            r, col = i * sh - ph + ki, j * sw - pw + kj
                            if 0 <= r < H and 0 <= col < W:  # the padding's share is dropped
                                dx[n, c, r, col] += g
    return dx


# -- nearest-neighbour upsampling -------------------------------------------------------------
def upsample_nearest2d_forward(x, scale):
    """Nearest-neighbour upsampling by integer factors (sh, sw): y (N, C, H*sh, W*sw),

        y[n, c, i, j] = x[n, c, i // sh, j // sw]   (every pixel becomes an sh x sw block).
    """
    (x,) = _as_float(x)
    N, C, H, W = x.shape
    sh, sw = scale
    Ho, Wo = H * sh, W * sw

    y = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    y[n, c, i, j] = x[n, c, i // sh, j // sw]
    return y


def upsample_nearest2d_backward(dy, scale):
    """Gradient of nearest upsampling: each input pixel collects the dy of its sh x sw block,

        dx[n, c, i // sh, j // sw] += dy[n, c, i, j].
    """
    (dy,) = _as_float(dy)
    N, C, Ho, Wo = dy.shape
    sh, sw = scale
    H, W = Ho // sh, Wo // sw

    dx = np.zeros((N, C, H, W), dtype=dy.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    dx[n, c, i // sh, j // sw] += dy[n, c, i, j]
    return dx


# -- bilinear upsampling ----------------------------------------------------------------------
def _bilinear_source(i: int, s: int, n: int):
    """Where output index i of an axis upsampled by s reads from an input axis of size n.

    align_corners=False (PyTorch's default): the source coordinate is (i + 0.5) / s - 0.5,
    clamped at 0; returns the two neighbours (i0, i1) (i1 clamped at the last index n - 1) and
    their weights (1 - t, t), t the distance from i0.
    """
    src = max((i + 0.5) / s - 0.5, 0.0)
    i0 = int(src)  # floor, as src >= 0; never past n - 1 since src < n - 0.5
    i1 = min(i0 + 1, n - 1)
    t = src - i0
    return i0, i1, 1.0 - t, t


def upsample_bilinear2d_forward(x, scale):
    """Bilinear upsampling by integer factors (sh, sw), align_corners=False, as
    ``torch.nn.functional.interpolate(x, scale_factor=scale, mode="bilinear")``:

        y[n, c, i, j] = a0 * (b0 * x[n, c, i0, j0] + b1 * x[n, c, i0, j1])
                      + a1 * (b0 * x[n, c, i1, j0] + b1 * x[n, c, i1, j1])

    with (i0, i1, a0, a1) = source of row i and (j0, j1, b0, b1) = source of column j.
    """
    (x,) = _as_float(x)
    N, C, H, W = x.shape
    sh, sw = scale
    Ho, Wo = H * sh, W * sw

    y = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        i0, i1, a0, a1 = _bilinear_source(i, sh, H)  # the two rows it blends
        for j in range(Wo):
            j0, j1, b0, b1 = _bilinear_source(j, sw, W)  # the two columns it blends
            for n in range(N):
                for c in range(C):
                    y[n, c, i, j] = a0 * (b0 * x[n, c, i0, j0] + b1 * x[n, c, i0, j1]) + a1 * (
                        b0 * x[n, c, i1, j0] + b1 * x[n, c, i1, j1]
                    )
    return y


def upsample_bilinear2d_backward(dy, x_shape, scale):
    """Gradient of bilinear upsampling: each dy[n, c, i, j] is split among its four source
    pixels with the forward's weights,

        dx[i0, j0] += a0*b0*dy,  dx[i0, j1] += a0*b1*dy,  dx[i1, j0] += a1*b0*dy,
        dx[i1, j1] += a1*b1*dy   (added: at the border the neighbours coincide).
    """
    (dy,) = _as_float(dy)
    N, C, H, W = x_shape
    _, _, Ho, Wo = dy.shape
    sh, sw = scale

    dx = np.zeros((N, C, H, W), dtype=dy.dtype)
    for i in range(Ho):
        i0, i1, a0, a1 = _bilinear_source(i, sh, H)
        for j in range(Wo):
            j0, j1, b0, b1 = _bilinear_source(j, sw, W)
            for n in range(N):
                for c in range(C):
                    g = dy[n, c, i, j]
                    dx[n, c, i0, j0] += a0 * b0 * g
                    dx[n, c, i0, j1] += a0 * b1 * g
                    dx[n, c, i1, j0] += a1 * b0 * g
                    dx[n, c, i1, j1] += a1 * b1 * g
    return dx
