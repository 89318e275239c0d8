"""Count a model's parameters from its configuration, without building it.

Building allocates and initialises every weight; for VGG16 (138M parameters, 553 MB in
float32) that is slow and wasteful when all one wants is the number. :func:`count_parameters`
walks the layers instead, propagating the per-sample shape with each layer's
``output_shape`` (which works on unbuilt layers) and counting the parameters of the layers
that have them from their constructor arguments:

* ``Linear``: in * out (+ out for the bias), ``in`` taken from the input when not given;
* ``Conv1d``/``Conv2d``/``ConvTranspose2d``: in_channels * out_channels * kernel area (+ out);
* ``BatchNorm1d``/``BatchNorm2d``: 2 * num_features when affine (running statistics are buffers);
* ``Sequential``, ``Residual`` and ``Concat``: the sum over their children.

Any other layer is built on its own (a deep copy, so the model stays unbuilt) and counted;
the layers without parameters make that free.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from nnlab.engine.layers import (
    BatchNorm1d,
    BatchNorm2d,
    Concat,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Linear,
    Residual,
)
from nnlab.engine.module import Module
from nnlab.engine.sequential import Sequential
from nnlab.errors import ShapeError


def count_parameters(model: Module, input_shape: tuple[int, ...]) -> int:
    """The number of trainable parameters ``model`` will have once built for ``input_shape``.

    Parameters
    ----------
    model : Module
        Usually an unbuilt :class:`~nnlab.engine.Sequential` from :mod:`nnlab.models`.
    input_shape : tuple of int
        One sample's shape, without the batch axis.

    Returns
    -------
    int
        The same number as ``model.num_parameters()`` after ``model.build(input_shape)``.

    Raises
    ------
    ShapeError
        If a layer cannot take the shape that reaches it (e.g. an image too small).

    Shapes: ``input_shape`` is (features,) or (C, H, W) (no batch axis).
    """
    count, _ = _walk(model, tuple(int(d) for d in input_shape))
    return count


def _walk(layer: Module, shape: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """(parameters of ``layer``, its output shape) for per-sample input ``shape``."""
    if isinstance(layer, Sequential):
        total = 0
        for i, child in enumerate(layer.layers):
            try:
                n, shape = _walk(child, shape)
            except ShapeError as exc:
                raise ShapeError(f"layer {i} ({type(child).__name__}): {exc}") from None
            total += n
        return total, shape
    out = tuple(layer.output_shape(shape))  # validates the shape for every kind of layer
    if isinstance(layer, Residual):
        n = _walk(layer.block, shape)[0]
        if layer.projection is not None:
            n += _walk(layer.projection, shape)[0]
        return n, out
    if isinstance(layer, Concat):
        return sum(_walk(b, shape)[0] for b in layer.branches), out
    if isinstance(layer, Linear):
        if len(shape) != 1:
            raise ShapeError(f"Linear expects a flat per-sample input (features,), got {shape}")
        n_in = shape[0] if layer.in_features is None else layer.in_features
        if n_in != shape[0]:
            raise ShapeError(f"Linear(in_features={n_in}) got input with {shape[0]} features")
        return n_in * layer.out_features + (layer.out_features if layer.use_bias else 0), out
    if isinstance(layer, (Conv1d, Conv2d, ConvTranspose2d)):
        area = math.prod(layer.kernel_size)  # 1-D layers store (1, k)
        n = layer.in_channels * layer.out_channels * area + (layer.out_channels if layer.use_bias else 0)
        return n, out
    if isinstance(layer, (BatchNorm1d, BatchNorm2d)):
        if not shape or shape[0] != layer.num_features:
            raise ShapeError(f"{layer.label()} got samples of shape {shape}")
        return (2 * layer.num_features if layer.affine else 0), out
    clone = copy.deepcopy(layer)
    clone.build(shape, np.random.default_rng(0), np.float32)
    return clone.num_parameters(), out
