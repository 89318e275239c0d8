"""BatchNorm1d and BatchNorm2d.

BatchNorm follows PyTorch exactly: in training, each channel is normalised with the batch mean
and the *biased* batch variance, and the running statistics move as
``running = (1 - momentum) * running + momentum * batch`` with the *unbiased* batch variance;
in evaluation the running statistics are used. ``momentum=None`` gives the cumulative average.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
        axes, shape = self._axes(x.ndim), self._bshape(x.ndim)
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            m = x.size // self.num_features
            if m < 2 and self.training:
                raise ShapeError(f"{type(self).__name__} in training needs more than 1 value per channel, got {x.shape}")
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)
            if self.training and self.track_running_stats:
                b = self._buffers
                b["num_batches_tracked"] += 1
                mom = 1.0 / float(b["num_batches_tracked"]) if self.momentum is None else self.momentum
                b["running_mean"] *= 1 - mom
                b["running_mean"] += mom * mean
                b["running_var"] *= 1 - mom
                b["running_var"] += mom * var * (m / max(m - 1, 1))
        else:
            mean, var = self._buffers["running_mean"], self._buffers["running_var"]
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        xhat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
        self._cache = (xhat, inv_std, use_batch)
        if self.affine:
            return xhat * self._params["weight"].data.reshape(shape) + self._params["bias"].data.reshape(shape)
        return xhat

    def backward(self, grad_out, need_input_grad=True):
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
