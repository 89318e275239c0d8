"""Flatten and Reshape: layers that change the shape of a sample and nothing else."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nnlab.engine.layers.registry import register
from nnlab.engine.module import Module
from nnlab.errors import ConfigError, ShapeError


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
