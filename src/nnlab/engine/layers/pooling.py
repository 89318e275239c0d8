"""Pooling and upsampling layers.

Output size per spatial axis (input n, kernel k, stride s, padding p): floor((n + 2p - k) / s)
+ 1 for pooling (stride defaults to the kernel size; max pooling pads with -inf, average
pooling with zeros, counted in the mean when ``count_include_pad``), and n * factor for
``Upsample``. The kernels are those of :mod:`nnlab.engine.functional`.
"""

from __future__ import annotations

from typing import Any

from nnlab.engine.checks import as_int
from nnlab.engine.layers.conv import KernelLayer, kernels_module, pair, show_pair
from nnlab.engine.layers.registry import register
from nnlab.errors import ConfigError, ShapeError


class _PoolNd(KernelLayer):
    ndim = 2
    kind = "max"

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True,
                 kernels: str = "vectorized") -> None:
        super().__init__()
        one = self.ndim == 1
        self.kernel_size = (1, as_int(kernel_size, "kernel_size", 1)) if one else pair(kernel_size, "kernel_size", 1)
        stride = kernel_size if stride is None else stride
        self.stride = (1, as_int(stride, "stride", 1)) if one else pair(stride, "stride", 1)
        self.padding = (0, as_int(padding, "padding", 0)) if one else pair(padding, "padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ConfigError(f"{type(self).__name__}: kernel_size and stride must be >= 1")
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ConfigError(f"{type(self).__name__}: padding must be at most half the kernel size (as in PyTorch)")
        self.count_include_pad = bool(count_include_pad)
        self.kernels = kernels
        kernels_module(kernels)  # validate the name now

    def output_shape(self, input_shape):
        if len(input_shape) != 1 + self.ndim:
            raise ShapeError(f"{type(self).__name__} expects samples of shape {'(C, L)' if self.ndim == 1 else '(C, H, W)'},"
                             f" got {tuple(input_shape)}")
        hw = (1, input_shape[1]) if self.ndim == 1 else tuple(input_shape[1:])
        out = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(hw, self.kernel_size, self.stride, self.padding)]
        if min(out) < 1:
            raise ShapeError(f"{self.label()} on input {tuple(input_shape)} gives an empty output")
        return (input_shape[0], out[1]) if self.ndim == 1 else (input_shape[0], *out)

    def forward(self, x):
        x = self._check_input(x)
        x4 = x[:, :, None, :] if self.ndim == 1 else x
        self._x_shape = x4.shape
        if self.kind == "max":
            y, self._argmax = self.F.maxpool2d_forward(x4, self.kernel_size, self.stride, self.padding)
        else:
            y = self.F.avgpool2d_forward(x4, self.kernel_size, self.stride, self.padding, self.count_include_pad)
        return y[:, :, 0, :] if self.ndim == 1 else y

    def backward(self, grad_out, need_input_grad=True):
        if not need_input_grad:
            return None
        dy = grad_out[:, :, None, :] if self.ndim == 1 else grad_out
        if self.kind == "max":
            dx = self.F.maxpool2d_backward(dy, self._argmax, self._x_shape)
        else:
            dx = self.F.avgpool2d_backward(dy, self._x_shape, self.kernel_size, self.stride, self.padding,
                                           self.count_include_pad)
        return dx[:, :, 0, :] if self.ndim == 1 else dx

    def get_config(self) -> dict[str, Any]:
        def one(v):
            return v[1] if self.ndim == 1 else list(v)

        cfg: dict[str, Any] = {"kernel_size": one(self.kernel_size), "stride": one(self.stride),
                               "padding": one(self.padding)}
        if self.kind == "avg" and not self.count_include_pad:
            cfg["count_include_pad"] = False
        if self.kernels != "vectorized":
            cfg["kernels"] = self.kernels
        return cfg

    def label(self) -> str:
        k = self.kernel_size[1] if self.ndim == 1 else "x".join(map(str, self.kernel_size))
        pad = f", pad {show_pair(self.padding, self.ndim)}" if self.padding != (0, 0) else ""
        return f"{type(self).__name__}({k}, stride {show_pair(self.stride, self.ndim)}{pad})"


@register
class MaxPool2d(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, kernels: str = "vectorized") -> None:
        super().__init__(kernel_size, stride, padding, kernels=kernels)


@register
class MaxPool1d(_PoolNd):
    ndim = 1

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0, kernels: str = "vectorized") -> None:
        super().__init__(kernel_size, stride, padding, kernels=kernels)


@register
class AvgPool2d(_PoolNd):
    kind = "avg"

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True,
                 kernels: str = "vectorized") -> None:
        super().__init__(kernel_size, stride, padding, count_include_pad, kernels)


@register
class AvgPool1d(_PoolNd):
    ndim = 1
    kind = "avg"

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0, count_include_pad: bool = True,
                 kernels: str = "vectorized") -> None:
        super().__init__(kernel_size, stride, padding, count_include_pad, kernels)


@register
class Upsample(KernelLayer):
    """Enlarge (N, C, H, W) by an integer factor: ``mode="nearest"`` or ``"bilinear"``
    (align_corners=False, as ``torch.nn.Upsample``)."""

    def __init__(self, scale_factor=2, mode: str = "nearest", kernels: str = "vectorized") -> None:
        super().__init__()
        self.scale = pair(scale_factor, "scale_factor", 1)
        if mode not in ("nearest", "bilinear"):
            raise ConfigError(f"Upsample mode must be 'nearest' or 'bilinear', got {mode!r}")
        self.mode, self.kernels = mode, kernels
        kernels_module(kernels)  # validate the name now

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(f"Upsample expects samples of shape (C, H, W), got {tuple(input_shape)}")
        return (input_shape[0], input_shape[1] * self.scale[0], input_shape[2] * self.scale[1])

    def forward(self, x):
        x = self._check_input(x)
        self._x_shape = x.shape
        if self.mode == "nearest":
            return self.F.upsample_nearest2d_forward(x, self.scale)
        return self.F.upsample_bilinear2d_forward(x, self.scale)

    def backward(self, grad_out, need_input_grad=True):
        if not need_input_grad:
            return None
        if self.mode == "nearest":
            return self.F.upsample_nearest2d_backward(grad_out, self.scale)
        return self.F.upsample_bilinear2d_backward(grad_out, self._x_shape, self.scale)

    def get_config(self):
        cfg: dict[str, Any] = {"scale_factor": self.scale[0] if self.scale[0] == self.scale[1] else list(self.scale),
                               "mode": self.mode}
        if self.kernels != "vectorized":
            cfg["kernels"] = self.kernels
        return cfg

    def label(self) -> str:
        return f"Upsample(x{self.scale[0] if self.scale[0] == self.scale[1] else self.scale}, {self.mode})"
