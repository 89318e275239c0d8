"""Layers of the NumPy engine and the registry that maps architecture-JSON type names to them."""

from __future__ import annotations

from typing import Any, Mapping, TypeVar

from nnlab.engine.errors import ConfigError
from nnlab.engine.module import Module

LAYERS: dict[str, type[Module]] = {}
M = TypeVar("M", bound=type[Module])


def register(cls: M) -> M:
    """Class decorator: make a layer constructible from ``{"type": cls.__name__, ...}``."""
    cls.type_name = cls.__name__
    LAYERS[cls.__name__] = cls
    return cls


def layer_from_config(spec: Mapping[str, Any]) -> Module:
    """Build a layer from ``{"type": name, **constructor_kwargs}``."""
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(f"a layer is a mapping with a 'type' key, got {spec!r}")
    kwargs = dict(spec)
    name = kwargs.pop("type")
    cls = LAYERS.get(name)
    if cls is None:
        raise ConfigError(f"unknown layer type {name!r}; known: {', '.join(sorted(LAYERS))}")
    if hasattr(cls, "from_config"):
        return cls.from_config(kwargs)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"layer {name}: {exc}") from None


def layer_config(layer: Module) -> dict[str, Any]:
    return {"type": layer.type_name or type(layer).__name__, **layer.get_config()}


from nnlab.engine.layers.activation import (  # noqa: E402
    Activation,
    Identity,
    LeakyReLU,
    LogSoftmax,
    PReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from nnlab.engine.layers.containers import Concat, Residual  # noqa: E402
from nnlab.engine.layers.conv import Conv1d, Conv2d, ConvTranspose2d  # noqa: E402
from nnlab.engine.layers.linear import Dense, Linear  # noqa: E402
from nnlab.engine.layers.norm import BatchNorm1d, BatchNorm2d, Dropout, Flatten, Reshape  # noqa: E402
from nnlab.engine.layers.pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d, Upsample  # noqa: E402
from nnlab.engine.layers.shuffle import GlobalAvgPool2d, PixelShuffle  # noqa: E402

__all__ = [
    "LAYERS", "register", "layer_from_config", "layer_config",
    "Linear", "Dense", "Activation", "Identity", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
    "Softmax", "LogSoftmax", "PReLU", "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d",
    "AvgPool2d", "Upsample", "BatchNorm1d", "BatchNorm2d", "Dropout", "Flatten", "Reshape", "Residual", "Concat",
    "PixelShuffle", "GlobalAvgPool2d",
]
