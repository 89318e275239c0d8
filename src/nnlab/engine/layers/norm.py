"""BatchNorm1d and BatchNorm2d.

BatchNorm follows PyTorch exactly: in training, each channel is normalised with the batch mean
and the *biased* batch variance, and the running statistics move as
``running = (1 - momentum) * running + momentum * batch`` with the *unbiased* batch variance;
in evaluation the running statistics are used. ``momentum=None`` gives the cumulative average.

With spatial axes (BatchNorm2d), the passes over the data are split over the batch on the
engine's threads (:mod:`nnlab.engine.threads`): each part sums its samples' planes (a
pairwise sum along the contiguous plane, per sample and channel), the sums over the samples
are then taken once, so that the results are the same bit for bit whatever the number of
threads; then the element-wise passes run on each part. The centred second moment is taken after the mean, as
``x.var`` does, not as E[x^2] - E[x]^2, which cancels catastrophically.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.engine import threads
from nnlab.engine.checks import as_int
from nnlab.engine.layers.registry import register
from nnlab.engine.module import Module, Parameter
from nnlab.errors import ConfigError, ShapeError


class _BatchNorm(Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True) -> None:
        super().__init__()
        if as_int(num_features, "num_features") < 1:
            raise ConfigError("BatchNorm needs num_features >= 1")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ConfigError(f"BatchNorm momentum must be in [0, 1] or None, got {momentum}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)

    def _axes(self, ndim: int) -> tuple[int, ...]:
        return (0,) if ndim == 2 else (0, *range(2, ndim))

    def _check_shape(self, input_shape) -> None:
        raise NotImplementedError  # pragma: no cover

    def build(self, input_shape, rng, dtype) -> None:
        self._check_shape(tuple(input_shape))
        super().build(input_shape, rng, dtype)
        c = self.num_features
        if self.affine:
            self._params["weight"] = Parameter(np.ones(c, self.dtype), "weight")
            self._params["bias"] = Parameter(np.zeros(c, self.dtype), "bias")
        if self.track_running_stats:
            self._buffers["running_mean"] = np.zeros(c, self.dtype)
            self._buffers["running_var"] = np.ones(c, self.dtype)
            self._buffers["num_batches_tracked"] = np.zeros((), np.int64)

    def _bshape(self, ndim: int) -> tuple[int, ...]:
        return (1, self.num_features) + (1,) * (ndim - 2)

    def forward(self, x):
        x = self._check_input(x)
        if x.ndim > 2:
            return self._forward_planes(x)
        axes, shape = self._axes(x.ndim), self._bshape(x.ndim)
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            m = x.size // self.num_features
            if m < 2 and self.training:
                raise ShapeError(f"{type(self).__name__} in training needs more than 1 value per channel, got {x.shape}")
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)
            self._track(mean, var, m)
        else:
            mean, var = self._buffers["running_mean"], self._buffers["running_var"]
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        xhat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
        self._cache = (xhat, inv_std, use_batch)
        if self.affine:
            return xhat * self._params["weight"].data.reshape(shape) + self._params["bias"].data.reshape(shape)
        return xhat

    def _track(self, mean, var, m: int) -> None:
        """Move the running statistics towards the batch's (in training, when tracked)."""
        if self.training and self.track_running_stats:
            b = self._buffers
            b["num_batches_tracked"] += 1
            mom = 1.0 / float(b["num_batches_tracked"]) if self.momentum is None else self.momentum
            b["running_mean"] *= 1 - mom
            b["running_mean"] += mom * mean
            b["running_var"] *= 1 - mom
            b["running_var"] += mom * var * (m / max(m - 1, 1))

    def _forward_planes(self, x):
        """forward for (N, C, ...) inputs, the work split over the batch and done in cache-sized
        blocks (see the module docstring). Every per-channel transform is ``x * A + B`` with
        (C, H*W) planes of constants (NumPy is more than twice as fast with those as with a
        (C, 1) column); the backward recomputes the normalised input from ``x`` the same way."""
        N, C = x.shape[:2]
        x3 = np.ascontiguousarray(x).reshape(N, C, -1)
        M, dt = x3.shape[2], x.dtype
        m, item = N * M, x3[0].nbytes
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            if m < 2 and self.training:
                raise ShapeError(f"{type(self).__name__} in training needs more than 1 value per channel, got {x.shape}")
            rows = np.empty((N, C))                       # per-sample sums, added up once below

            def sums(lo, hi):
                rows[lo:hi] = np.einsum("ncm->nc", x3[lo:hi])

            threads.split(sums, N, x3.size)
            mean = rows.sum(axis=0) / m
            mean_p = np.repeat(mean.astype(dt), M).reshape(C, M)

            def centred_squares(lo, hi):                  # sums of (x - mean)^2, block by block
                for a, b in threads.blocks(lo, hi, item):
                    xc = np.subtract(x3[a:b], mean_p)
                    rows[a:b] = np.einsum("ncm,ncm->nc", xc, xc)

            threads.split(centred_squares, N, x3.size)
            var = rows.sum(axis=0) / m
            self._track(mean, var, m)
        else:
            mean = self._buffers["running_mean"].astype(np.float64)
            var = self._buffers["running_var"].astype(np.float64)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        w, b = self._affine()
        y = np.empty(x3.shape, dt)
        a_p = np.repeat((inv_std * w).astype(dt), M).reshape(C, M)
        b_p = np.repeat((b - mean * inv_std * w).astype(dt), M).reshape(C, M)

        def transform(lo, hi):
            for a, b in threads.blocks(lo, hi, item):
                yb = np.multiply(x3[a:b], a_p, out=y[a:b])
                yb += b_p

        threads.split(transform, N, x3.size)
        self._cache = (x3, mean, inv_std, use_batch)
        return y.reshape(x.shape)

    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(weight, bias) in float64, ones and zeros without affine parameters."""
        if self.affine:
            return self._params["weight"].data.astype(np.float64), self._params["bias"].data.astype(np.float64)
        return np.ones(self.num_features), np.zeros(self.num_features)

    def _backward_planes(self, grad_out, need_input_grad):
        x3, mean, inv_std, use_batch = self._cache
        N, C, M = x3.shape
        dt = x3.dtype
        g3 = np.ascontiguousarray(grad_out, dtype=dt).reshape(N, C, M)
        m, item = N * M, x3[0].nbytes
        w, _ = self._affine()
        if self.affine or (need_input_grad and use_batch):
            rows = np.empty((2, N, C))                    # per-sample sums, added up once below

            def sums(lo, hi):
                rows[0, lo:hi] = np.einsum("ncm->nc", g3[lo:hi])
                rows[1, lo:hi] = np.einsum("ncm,ncm->nc", g3[lo:hi], x3[lo:hi])

            threads.split(sums, N, 2 * g3.size)
            sum_g, sum_gx = rows.sum(axis=1)
            sum_g_xhat = inv_std * (sum_gx - mean * sum_g)     # the sum of g * (x - mean) * inv_std
            if self.affine:
                self._params["weight"].accumulate(sum_g_xhat)
                self._params["bias"].accumulate(sum_g)
        if not need_input_grad:
            return None
        # dx = scale * (g - sum_g / m - xhat * sum_g_xhat / m), xhat = (x - mean) * inv_std, as
        # dx = g * A + x * B + C per channel (B = C = 0 in evaluation: the statistics are constants)
        scale = inv_std * w
        a_p = np.repeat(scale.astype(dt), M).reshape(C, M)
        dx = np.empty(g3.shape, dt)
        if use_batch:
            k = scale * inv_std * sum_g_xhat / m
            b_p = np.repeat((-k).astype(dt), M).reshape(C, M)
            c_p = np.repeat((k * mean - scale * sum_g / m).astype(dt), M).reshape(C, M)

        def grad(lo, hi):
            for a, b in threads.blocks(lo, hi, item):
                d = np.multiply(g3[a:b], a_p, out=dx[a:b])
                if use_batch:
                    d += np.multiply(x3[a:b], b_p)
                    d += c_p

        threads.split(grad, N, g3.size)
        return dx.reshape(grad_out.shape)

    def backward(self, grad_out, need_input_grad=True):
        if np.ndim(grad_out) > 2:
            return self._backward_planes(grad_out, need_input_grad)
        xhat, inv_std, use_batch = self._cache
        axes, shape = self._axes(grad_out.ndim), self._bshape(grad_out.ndim)
        if self.affine:
            self._params["weight"].accumulate((grad_out * xhat).sum(axis=axes))
            self._params["bias"].accumulate(grad_out.sum(axis=axes))
            dxhat = grad_out * self._params["weight"].data.reshape(shape)
        else:
            dxhat = grad_out
        if not need_input_grad:
            return None
        if not use_batch:  # evaluation: the statistics are constants
            return dxhat * inv_std.reshape(shape)
        m = grad_out.size // self.num_features
        sum_d = dxhat.sum(axis=axes).reshape(shape)
        sum_dx = (dxhat * xhat).sum(axis=axes).reshape(shape)
        return (inv_std.reshape(shape) / m) * (m * dxhat - sum_d - xhat * sum_dx)

    def get_config(self):
        cfg: dict[str, Any] = {"num_features": self.num_features}
        if self.eps != 1e-5:
            cfg["eps"] = self.eps
        if self.momentum != 0.1:
            cfg["momentum"] = self.momentum
        if not self.affine:
            cfg["affine"] = False
        if not self.track_running_stats:
            cfg["track_running_stats"] = False
        return cfg

    def label(self) -> str:
        return f"{type(self).__name__}({self.num_features})"


@register
class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W), per channel."""

    def _check_shape(self, input_shape):
        if len(input_shape) != 3 or input_shape[0] != self.num_features:
            raise ShapeError(f"BatchNorm2d({self.num_features}) expects samples ({self.num_features}, H, W), got {input_shape}")


@register
class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L), per channel."""

    def _check_shape(self, input_shape):
        if len(input_shape) not in (1, 2) or input_shape[0] != self.num_features:
            raise ShapeError(f"BatchNorm1d({self.num_features}) expects samples ({self.num_features},) or"
                             f" ({self.num_features}, L), got {input_shape}")
