"""Containers for networks that are not a plain chain.

``Residual(block, projection=None)`` computes ``block(x) + projection(x)`` (``+ x`` without a
projection): the residual blocks of the colourization seed. ``Concat(branches)`` runs every
branch on the same input and concatenates their outputs along the channel axis (axis 1):
with an ``Identity`` branch it is a U-Net skip connection, e.g.
``Concat([Sequential([down, ..., up]), Identity()])``.

Blocks and branches are any modules; a list of layers is wrapped in a ``Sequential``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from nnlab.engine.layers.registry import layer_class, layer_config, layer_from_config, register
from nnlab.engine.module import Module
from nnlab.errors import ConfigError, ShapeError


def _as_module(block: Module | Sequence[Module] | Mapping[str, Any]) -> Module:
    if isinstance(block, Module):
        return block
    if isinstance(block, Mapping):
        return layer_from_config(block)
    if isinstance(block, (list, tuple)):
        return layer_class("Sequential")([_as_module(b) for b in block])  # registered by nnlab.engine.sequential
    raise ConfigError(f"expected a layer, a list of layers or a layer spec, got {type(block).__name__}")


@register
class Residual(Module):
    """y = block(x) + projection(x), or block(x) + x without a projection."""

    def __init__(self, block: Any, projection: Any = None) -> None:
        super().__init__()
        self.block = _as_module(block)
        self.projection = None if projection is None else _as_module(projection)

    def children(self):
        yield "block", self.block
        if self.projection is not None:
            yield "projection", self.projection

    def output_shape(self, input_shape):
        out = self.block.output_shape(tuple(input_shape))
        skip = tuple(input_shape) if self.projection is None else self.projection.output_shape(tuple(input_shape))
        if tuple(out) != tuple(skip):
            raise ShapeError(f"Residual: the block gives {tuple(out)} but the skip path gives {tuple(skip)};"
                             " add a projection (e.g. a 1x1 Conv2d) to match them")
        return tuple(out)

    def build(self, input_shape, rng, dtype) -> None:
        self.block.build(tuple(input_shape), rng, dtype)
        if self.projection is not None:
            self.projection.build(tuple(input_shape), rng, dtype)
        self.output_shape(input_shape)
        super().build(input_shape, rng, dtype)

    def forward(self, x):
        x = self._check_input(x)
        f = self.block.forward(x)
        skip = x if self.projection is None else self.projection.forward(x)
        out = self._buffer("y", f.shape)
        return np.add(f, skip, out=out)

    def backward(self, grad_out, need_input_grad=True):
        # children may overwrite the gradient they are given (workspace mode): give one a copy
        g_skip = self._buffer("g", grad_out.shape)
        np.copyto(g_skip, grad_out)
        dx = self.block.backward(grad_out, need_input_grad=need_input_grad)
        if self.projection is not None:
            d_skip = self.projection.backward(g_skip, need_input_grad=need_input_grad)
        else:
            d_skip = g_skip
        if not need_input_grad:
            return None
        return dx + d_skip

    def get_config(self):
        cfg: dict[str, Any] = {"block": layer_config(self.block)}
        if self.projection is not None:
            cfg["projection"] = layer_config(self.projection)
        return cfg

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "Residual":
        cfg = dict(cfg)
        unknown = set(cfg) - {"block", "projection"}
        if unknown:
            raise ConfigError(f"Residual does not take {sorted(unknown)}")
        return cls(cfg["block"], cfg.get("projection"))

    def label(self) -> str:
        return "Residual" + ("(projection)" if self.projection is not None else "")


@register
class Concat(Module):
    """Run each branch on the input; concatenate the outputs along the channel axis (1)."""

    def __init__(self, branches: Iterable[Any]) -> None:
        super().__init__()
        self.branches = [_as_module(b) for b in branches]
        if len(self.branches) < 2:
            raise ConfigError("Concat needs at least two branches")

    def children(self):
        return ((str(i), b) for i, b in enumerate(self.branches))

    def output_shape(self, input_shape):
        shapes = [tuple(b.output_shape(tuple(input_shape))) for b in self.branches]
        rest = {s[1:] for s in shapes}
        if len(rest) != 1:
            raise ShapeError(f"Concat: branches give {shapes}; all but the channel axis must agree")
        return (sum(s[0] for s in shapes), *shapes[0][1:])

    def build(self, input_shape, rng, dtype) -> None:
        for b in self.branches:
            b.build(tuple(input_shape), rng, dtype)
        self.output_shape(input_shape)
        super().build(input_shape, rng, dtype)

    def forward(self, x):
        x = self._check_input(x)
        outs = [b.forward(x) for b in self.branches]
        self._sizes = [o.shape[1] for o in outs]
        out = self._buffer("y", (len(x), sum(self._sizes), *outs[0].shape[2:]))
        return np.concatenate(outs, axis=1, out=out)

    def backward(self, grad_out, need_input_grad=True):
        grads, start = [], 0
        for b, n in zip(self.branches, self._sizes):
            g = np.ascontiguousarray(grad_out[:, start : start + n])
            grads.append(b.backward(g, need_input_grad=need_input_grad))
            start += n
        if not need_input_grad:
            return None
        total = grads[0].copy()
        for g in grads[1:]:
            total += g
        return total

    def get_config(self):
        return {"branches": [layer_config(b) for b in self.branches]}

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "Concat":
        cfg = dict(cfg)
        if set(cfg) != {"branches"}:
            raise ConfigError(f"Concat takes only 'branches', got {sorted(cfg)}")
        return cls(cfg["branches"])

    def label(self) -> str:
        return f"Concat({len(self.branches)} branches)"
