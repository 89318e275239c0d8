"""Rearranging and reducing layers: PixelShuffle (sub-pixel upsampling) and GlobalAvgPool2d.

``PixelShuffle(r)`` moves channel blocks into space as ``torch.nn.PixelShuffle`` does:
``y[n, c, h*r + i, w*r + j] = x[n, c*r*r + i*r + j, h, w]``, so (C*r*r, H, W) becomes
(C, H*r, W*r). It has no parameters; its backward is the inverse permutation. It is the last
layer of ESPCN (Shi et al. 2016), the super-resolution network of :mod:`nnlab.models.superres`.

``GlobalAvgPool2d()`` averages each channel over the whole image, (C, H, W) -> (C,), which is
``torch.nn.AdaptiveAvgPool2d(1)`` followed by ``Flatten``: the pooling that class activation
maps need.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.engine.layers.registry import register
from nnlab.engine.module import Module
from nnlab.errors import ConfigError, ShapeError


@register
class PixelShuffle(Module):
    """Rearrange (N, C*r*r, H, W) into (N, C, H*r, W*r), with torch's element order.

    Parameters
    ----------
    upscale_factor : int
        ``r``, the factor by which height and width grow (>= 1).

    Shapes: (N, C*r*r, H, W) -> (N, C, H*r, W*r).
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        if (isinstance(upscale_factor, bool) or not isinstance(upscale_factor, (int, np.integer))
                or upscale_factor < 1):
            raise ConfigError(f"PixelShuffle upscale_factor must be an integer >= 1, got {upscale_factor!r}")
        self.upscale_factor = int(upscale_factor)

    def output_shape(self, input_shape):
        r = self.upscale_factor
        if len(input_shape) != 3:
            raise ShapeError(f"PixelShuffle expects samples of shape (C, H, W), got {tuple(input_shape)}")
        c, h, w = (int(d) for d in input_shape)
        if c % (r * r):
            raise ShapeError(f"{self.label()} needs channels divisible by r*r = {r * r}, got {c}"
                             f" (input {tuple(input_shape)})")
        return (c // (r * r), h * r, w * r)

    def build(self, input_shape, rng, dtype) -> None:
        self.output_shape(tuple(input_shape))  # validates
        super().build(input_shape, rng, dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        r = self.upscale_factor
        n, c, h, w = x.shape
        co = c // (r * r)
        y = self._buffer("y", (n, co, h * r, w * r))  # (N, C, H*r, W*r)
        # (N, C, r, r, H, W) -> (N, C, H, r, W, r): one strided copy into the output
        np.copyto(y.reshape(n, co, h, r, w, r), x.reshape(n, co, r, r, h, w).transpose(0, 1, 4, 2, 5, 3))
        return y

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        if not need_input_grad:
            return None
        r = self.upscale_factor
        n, co, hr, wr = grad_out.shape
        h, w = hr // r, wr // r
        dx = self._buffer("dx", (n, co * r * r, h, w))  # (N, C*r*r, H, W)
        np.copyto(dx.reshape(n, co, r, r, h, w), grad_out.reshape(n, co, h, r, w, r).transpose(0, 1, 3, 5, 2, 4))
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"upscale_factor": self.upscale_factor}

    def label(self) -> str:
        return f"PixelShuffle(x{self.upscale_factor})"


@register
class GlobalAvgPool2d(Module):
    """Mean of each channel over all positions: ``AdaptiveAvgPool2d(1)`` then ``Flatten``.

    Shapes: (N, C, H, W) -> (N, C).
    """

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(f"GlobalAvgPool2d expects samples of shape (C, H, W), got {tuple(input_shape)}")
        return (int(input_shape[0]),)

    def build(self, input_shape, rng, dtype) -> None:
        self.output_shape(tuple(input_shape))  # validates
        super().build(input_shape, rng, dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        y = self._buffer("y", x.shape[:2])  # (N, C)
        return np.mean(x, axis=(2, 3), out=y)

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        if not need_input_grad:
            return None
        n, c, h, w = (grad_out.shape[0], *self.input_shape)
        dx = self._buffer("dx", (n, c, h, w))  # (N, C, H, W): every position gets dy / (H*W)
        np.multiply(grad_out.reshape(n, c, 1, 1), 1.0 / (h * w), out=dx)
        return dx

    def label(self) -> str:
        return "GlobalAvgPool2d"
