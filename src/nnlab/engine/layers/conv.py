"""Convolution layers: Conv1d, Conv2d and ConvTranspose2d (PyTorch's conventions).

Output size per spatial axis (input n, kernel k, stride s, padding p, dilation d):

* Conv:           floor((n + 2p - d(k - 1) - 1) / s) + 1
* ConvTranspose:  (n - 1)s - 2p + d(k - 1) + output_padding + 1

``padding="valid"`` is no padding, as in PyTorch; ``padding="same"`` (stride 1 only) keeps the size: the total padding d(k - 1) is split as
PyTorch does, the extra row/column (for even kernels) at the bottom/right. The computation is
done by the kernels of :mod:`nnlab.engine.functional`: ``kernels="vectorized"`` (im2col and
BLAS, the default) or ``"reference"`` (plain loops, for reading and checking).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.engine import init as initializers
from nnlab.engine.checks import as_int
from nnlab.engine.layers.registry import register
from nnlab.engine.module import Module, Parameter
from nnlab.errors import ConfigError, ShapeError

Pair = tuple[int, int]


def pair(value: Any, name: str, minimum: int = 0) -> Pair:
    """An int or a pair of ints, validated, as a pair."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"{name} must be an int or a pair, got {value!r}")
        out = (as_int(value[0], name), as_int(value[1], name))
    else:
        out = (as_int(value, name), as_int(value, name))
    if min(out) < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value!r}")
    return out


def kernels_module(name: str):
    """The kernel module ``nnlab.engine.functional.<name>`` ("vectorized" or "reference")."""
    import importlib

    from nnlab.engine.functional import KERNELS

    if name not in KERNELS:
        raise ConfigError(f"kernels must be one of {KERNELS}, got {name!r}")
    return importlib.import_module(f"nnlab.engine.functional.{name}")


class KernelLayer(Module):
    """A layer computed by the kernels of ``nnlab.engine.functional`` named by ``self.kernels``."""

    kernels = "vectorized"

    @property
    def F(self):
        return kernels_module(self.kernels)


def show_pair(p: Pair, ndim: int = 2) -> str:
    """``(2, 2)`` as ``2``; a 1-D layer's ``(1, k)`` as ``k``; otherwise ``(a, b)``."""
    if ndim == 1 or p[0] == p[1]:
        return str(p[1])
    return f"({p[0]}, {p[1]})"


def conv_out(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


class _ConvNd(KernelLayer):
    """Shared machinery: 1-D layers run the 2-D kernels with a height of 1."""

    ndim = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 init="torch_default", bias_init=None, kernels="vectorized", output_padding=0) -> None:
        super().__init__()
        if as_int(in_channels, "in_channels") < 1 or as_int(out_channels, "out_channels") < 1:
            raise ConfigError(f"{type(self).__name__} needs in_channels and out_channels >= 1")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        one = self.ndim == 1
        k = (1, as_int(kernel_size, "kernel_size", 1)) if one else pair(kernel_size, "kernel_size", 1)
        self.kernel_size = k
        self.stride = (1, as_int(stride, "stride", 1)) if one else pair(stride, "stride", 1)
        self.dilation = (1, as_int(dilation, "dilation", 1)) if one else pair(dilation, "dilation", 1)
        if k[0] < 1 or k[1] < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ConfigError(f"{type(self).__name__}: kernel_size, stride and dilation must be >= 1")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ConfigError(f"{type(self).__name__}: padding must be an integer, a pair, 'same' or 'valid'"
                              f" (as in PyTorch), got {padding!r}")
        if padding == "valid":                  # PyTorch's name for no padding
            padding = 0
        if padding == "same":
            if self.transposed or self.stride != (1, 1):
                raise ConfigError("padding='same' needs stride 1 (and is not defined for transposed convolution)")
            total = [d * (kk - 1) for d, kk in zip(self.dilation, k)]
            self.pad_before = tuple(t // 2 for t in total)
            self.pad_after = tuple(t - t // 2 for t in total)
            self.padding: Any = "same"
        else:
            p = (0, as_int(padding, "padding", 0)) if one else pair(padding, "padding")
            self.padding = p
            self.pad_before = self.pad_after = p
        self.output_padding = (0, as_int(output_padding, "output_padding", 0)) if one else pair(output_padding, "output_padding")
        if self.transposed and any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ConfigError("output_padding must be smaller than stride or dilation")
        self.use_bias = bool(bias)
        self.init = initializers.normalize(init)
        if bias_init is None:
            bias_init = "torch_default" if self.init["name"] == "torch_default" else "zeros"
        self.bias_init = initializers.normalize(bias_init)
        self.kernels = kernels
        kernels_module(kernels)  # validate the name now
        self._x: np.ndarray | None = None

    # -- shapes ---------------------------------------------------------------------
    def _spatial(self, input_shape) -> tuple[int, int]:
        expected = 1 + self.ndim
        if len(input_shape) != expected:
            what = "(C, L)" if self.ndim == 1 else "(C, H, W)"
            raise ShapeError(f"{type(self).__name__} expects samples of shape {what}, got {tuple(input_shape)}")
        if input_shape[0] != self.in_channels:
            raise ShapeError(f"{type(self).__name__}(in_channels={self.in_channels}) got {input_shape[0]} channels")
        return (1, int(input_shape[1])) if self.ndim == 1 else (int(input_shape[1]), int(input_shape[2]))

    def output_shape(self, input_shape):
        h, w = self._spatial(input_shape)
        if self.transposed:
            out = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, k, s, p, d, op in
                   zip((h, w), self.kernel_size, self.stride, self.padding, self.dilation, self.output_padding)]
        else:
            out = [conv_out(n + pb + pa, k, s, 0, d) for n, k, s, pb, pa, d in
                   zip((h, w), self.kernel_size, self.stride, self.pad_before, self.pad_after, self.dilation)]
        if min(out) < 1:
            raise ShapeError(f"{self.label()} on input {tuple(input_shape)} gives an empty output {tuple(out)}")
        return (self.out_channels, out[1]) if self.ndim == 1 else (self.out_channels, out[0], out[1])

    def _weight_shape(self) -> tuple[int, ...]:
        a, b = (self.in_channels, self.out_channels) if self.transposed else (self.out_channels, self.in_channels)
        return (a, b, self.kernel_size[1]) if self.ndim == 1 else (a, b, *self.kernel_size)

    def build(self, input_shape, rng, dtype) -> None:
        self.output_shape(input_shape)  # validates
        super().build(input_shape, rng, dtype)
        shape = self._weight_shape()
        # PyTorch's fan-in for ConvTranspose is computed from weight.shape[1] * k, as here
        fan_in = shape[1] * int(np.prod(shape[2:]))
        self._params["weight"] = Parameter(initializers.initialize(self.init, shape, rng, self.dtype, fan_in=fan_in), "weight")
        if self.use_bias:
            b = initializers.initialize(self.bias_init, (self.out_channels,), rng, self.dtype, fan_in=fan_in)
            self._params["bias"] = Parameter(b, "bias")

    # -- computation ----------------------------------------------------------------
    def _w4(self) -> np.ndarray:
        w = self._params["weight"].data
        return w[:, :, None, :] if self.ndim == 1 else w

    def _to4(self, x: np.ndarray) -> np.ndarray:
        return x[:, :, None, :] if self.ndim == 1 else x

    def _from4(self, y: np.ndarray) -> np.ndarray:
        return y[:, :, 0, :] if self.ndim == 1 else y

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        x4 = self._to4(x)
        if self.pad_before != self.pad_after:  # asymmetric "same": pad explicitly
            (pt, pl), (pb, pr) = self.pad_before, self.pad_after
            x4 = np.pad(x4, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
            padding = (0, 0)
        else:
            padding = self.pad_before
        self._x4, self._padding = x4, padding
        b = self._params["bias"].data if self.use_bias else None
        if self.transposed:
            y = self.F.conv_transpose2d_forward(x4, self._w4(), b, self.stride, padding, self.output_padding, self.dilation)
        else:
            y = self.F.conv2d_forward(x4, self._w4(), b, self.stride, padding, self.dilation)
        return self._from4(y)

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        if getattr(self, "_x4", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dy = self._to4(grad_out)
        if self.transposed:
            dx, dw, db = self.F.conv_transpose2d_backward(dy, self._x4, self._w4(), self.stride, self._padding,
                                                          self.output_padding, self.dilation, need_dx=need_input_grad)
        else:
            dx, dw, db = self.F.conv2d_backward(dy, self._x4, self._w4(), self.stride, self._padding, self.dilation,
                                                need_dx=need_input_grad)
        self._params["weight"].accumulate(dw.reshape(self._params["weight"].shape))
        if self.use_bias:
            self._params["bias"].accumulate(db)
        if not need_input_grad:
            return None
        if self.pad_before != self.pad_after:
            (pt, pl), (pb, pr) = self.pad_before, self.pad_after
            dx = dx[:, :, pt : dx.shape[2] - pb, pl : dx.shape[3] - pr]
        return self._from4(dx)

    # -- description ----------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        def one(v):
            return v[1] if self.ndim == 1 else list(v)

        cfg: dict[str, Any] = {
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "kernel_size": one(self.kernel_size), "stride": one(self.stride),
            "padding": self.padding if self.padding == "same" else one(self.padding),
            "dilation": one(self.dilation),
        }
        if self.transposed:
            cfg["output_padding"] = one(self.output_padding)
        if not self.use_bias:
            cfg["bias"] = False
        cfg["init"] = self.init if len(self.init) > 1 else self.init["name"]
        if self.kernels != "vectorized":
            cfg["kernels"] = self.kernels
        return cfg

    def label(self) -> str:
        k = "x".join(map(str, self.kernel_size[1:] if self.ndim == 1 else self.kernel_size))
        extra = []
        if self.stride != (1, 1):
            extra.append(f"stride {show_pair(self.stride, self.ndim)}")
        if self.padding == "same":
            extra.append("pad same")
        elif self.padding != (0, 0):
            extra.append(f"pad {show_pair(self.padding, self.ndim)}")
        if self.dilation != (1, 1):
            extra.append(f"dilation {show_pair(self.dilation, self.ndim)}")
        return f"{type(self).__name__}({self.in_channels} -> {self.out_channels}, {k}" + "".join(f", {e}" for e in extra) + ")"

    def describe(self) -> dict[str, str]:
        return {"activation": "", "init": initializers.describe(self.init)}


@register
class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as in PyTorch): weight (C_out, C_in, kH, kW)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True, init="torch_default", bias_init=None, kernels: str = "vectorized") -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias, init, bias_init, kernels)


@register
class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L): weight (C_out, C_in, k)."""

    ndim = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding=0,
                 dilation: int = 1, bias: bool = True, init="torch_default", bias_init=None,
                 kernels: str = "vectorized") -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias, init, bias_init, kernels)


@register
class ConvTranspose2d(_ConvNd):
    """Transposed convolution (the input-gradient of Conv2d): weight (C_in, C_out, kH, kW)."""

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 dilation=1, bias: bool = True, init="torch_default", bias_init=None,
                 kernels: str = "vectorized") -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias, init, bias_init,
                         kernels, output_padding=output_padding)
