"""PyTorch twins of the engine layers that ``torch.nn`` has no exact equivalent for.

Each twin keeps the engine's parameter and buffer names, so a converted network's
``state_dict`` has the same keys on both engines. Everything else maps to a standard
``torch.nn`` module (see :mod:`nnlab.torchlib.convert`).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class LinearAct(nn.Linear):
    """``nn.Linear`` followed by an activation module (the engine's fused ``Linear``).

    Shapes: (N, in_features) -> (N, out_features).
    """

    def __init__(self, in_features: int, out_features: int, activation: nn.Module, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(super().forward(x))


class Reshape(nn.Module):
    """(N, ...) -> (N, *shape); one entry of ``shape`` may be -1."""

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Residual(nn.Module):
    """y = block(x) + projection(x), or block(x) + x without a projection."""

    def __init__(self, block: nn.Module, projection: nn.Module | None = None) -> None:
        super().__init__()
        self.block = block
        self.projection = projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.projection is None else self.projection(x)
        return self.block(x) + skip


class Concat(nn.ModuleList):
    """Run every branch on the input and concatenate the outputs along axis 1.

    A ``ModuleList``, so branch ``i``'s weights are named ``i.*`` as in the engine.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self], dim=1)


class GlobalAvgPool2d(nn.Module):
    """(N, C, H, W) -> (N, C): the mean over H and W (AdaptiveAvgPool2d(1) then Flatten)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))
