"""BatchNorm1d/2d, Dropout, Flatten and Reshape.

BatchNorm follows PyTorch exactly: in training, each channel is normalised with the batch mean
and the *biased* batch variance, and the running statistics move as
``running = (1 - momentum) * running + momentum * batch`` with the *unbiased* batch variance;
in evaluation the running statistics are used. ``momentum=None`` gives the cumulative average.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nnlab.engine.errors import ConfigError, ShapeError, as_int
from nnlab.engine.layers import register
from nnlab.engine.module import Module, Parameter


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


@register
class Dropout(Module):
    """Inverted dropout: in training, zero each value with probability ``p`` and scale the rest
    by 1 / (1 - p); identity in evaluation. Draws come from the model's generator."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ConfigError(f"Dropout p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng: np.random.Generator | None = None

    def build(self, input_shape, rng, dtype) -> None:
        super().build(input_shape, rng, dtype)
        self.rng = rng

    def forward(self, x):
        x = self._check_input(x)
        if not self.training or self.p == 0:
            self._mask = None
            return x
        assert self.rng is not None
        keep = self.rng.random(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64) >= self.p
        self._mask = keep.astype(x.dtype) / (1 - self.p)
        return x * self._mask

    def backward(self, grad_out, need_input_grad=True):
        if not need_input_grad:
            return None
        return grad_out if self._mask is None else grad_out * self._mask

    def get_config(self):
        return {"p": self.p}

    def label(self) -> str:
        return f"Dropout({self.p:g})"


@register
class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x):
        x = self._check_input(x)
        return x.reshape(len(x), -1)

    def backward(self, grad_out, need_input_grad=True):
        return grad_out.reshape(len(grad_out), *self.input_shape) if need_input_grad else None


@register
class Reshape(Module):
    """(N, ...) -> (N, *shape); one entry of ``shape`` may be -1."""

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        if sum(s == -1 for s in self.shape) > 1 or any(s == 0 or s < -1 for s in self.shape):
            raise ConfigError(f"Reshape shape must be positive with at most one -1, got {self.shape}")

    def output_shape(self, input_shape):
        n = int(np.prod(input_shape))
        known = int(np.prod([s for s in self.shape if s != -1]))
        if -1 in self.shape:
            if n % known:
                raise ShapeError(f"cannot reshape {tuple(input_shape)} into {self.shape}")
            return tuple(n // known if s == -1 else s for s in self.shape)
        if known != n:
            raise ShapeError(f"cannot reshape {tuple(input_shape)} ({n} values) into {self.shape} ({known})")
        return self.shape

    def forward(self, x):
        x = self._check_input(x)
        return x.reshape(len(x), *self.output_shape(self.input_shape))

    def backward(self, grad_out, need_input_grad=True):
        return grad_out.reshape(len(grad_out), *self.input_shape) if need_input_grad else None

    def get_config(self):
        return {"shape": list(self.shape)}
