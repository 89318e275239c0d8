"""The layer registry: architecture-JSON type names to layer classes, and back.

Every layer class registers itself with :func:`register`; :func:`layer_from_config` builds one
from ``{"type": name, ...}``. It sits in a module of its own so that the layer modules import
it without importing the package that imports them.
"""

from __future__ import annotations

from typing import Any, Mapping, TypeVar

from nnlab.engine.module import Module
from nnlab.errors import ConfigError

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


def layer_class(name: str) -> type[Module]:
    """The registered class of type ``name`` (``"Sequential"`` once the engine is imported)."""
    if name not in LAYERS:
        raise ConfigError(f"unknown layer type {name!r}; known: {', '.join(sorted(LAYERS))}")
    return LAYERS[name]
