"""Dropout: inverted dropout in training (kept units scaled by 1 / (1 - p)), the identity in evaluation."""

from __future__ import annotations

import numpy as np

from nnlab.engine.layers.registry import register
from nnlab.engine.module import Module
from nnlab.errors import ConfigError


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
