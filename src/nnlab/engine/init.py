"""Weight initialisers.

An initialiser is given as a name or a dict ``{"name": ..., **kwargs}``:

==================  ==============================================================
``zeros``           all zeros (the seed's zero-initialisation study)
``constant``        ``value`` everywhere (identical units: the symmetry exercise)
``normal``          N(0, ``std``\\ :sup:`2`)
``uniform``         U(-``scale``, ``scale``)
``tiny``            N(0, 1e-3\\ :sup:`2`), the seed's "very small random numbers"
``small``           N(0, 1e-2\\ :sup:`2`), the seed's "small random numbers"
``large``           N(0, 1e-1\\ :sup:`2`), the seed's "fairly large random numbers"
``xavier_uniform``  U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))  (Glorot & Bengio 2010)
``xavier_normal``   N(0, s\\ :sup:`2`), s = gain * sqrt(2 / (fan_in + fan_out))
``he_normal``       N(0, s\\ :sup:`2`), s = sqrt(2 / fan_in)  (He et al. 2015)
``he_uniform``      U(-a, a), a = sqrt(6 / fan_in)
``torch_default``   U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for Linear/Conv
==================  ==============================================================

Fans follow PyTorch: for a weight of shape (out, in, *kernel), fan_in = in * prod(kernel) and
fan_out = out * prod(kernel). Every random draw comes from the ``numpy.random.Generator``
passed in.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from nnlab.engine.checks import check_fits
from nnlab.errors import ConfigError

InitSpec = str | Mapping[str, Any]

SEED_SCALES = {"tiny": 1e-3, "small": 1e-2, "large": 1e-1}


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 2:
        n = int(shape[0]) if shape else 1
        return n, n
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def _zeros(shape, rng, dtype, fan_in=None):
    return np.zeros(shape, dtype)


def _constant(shape, rng, dtype, value: float = 0.0, fan_in=None):
    return np.full(shape, value, dtype)


def _normal(shape, rng, dtype, std: float = 1.0, mean: float = 0.0, fan_in=None):
    return (rng.standard_normal(shape) * std + mean).astype(dtype)


def _uniform(shape, rng, dtype, scale: float = 1.0, fan_in=None):
    return rng.uniform(-scale, scale, shape).astype(dtype)


def _fan_in(shape, fan_in):
    return fan_in if fan_in is not None else fans(shape)[0]


def _xavier_uniform(shape, rng, dtype, gain: float = 1.0, fan_in=None):
    fi, fo = fans(shape)
    return _uniform(shape, rng, dtype, gain * math.sqrt(6.0 / (fi + fo)))


def _xavier_normal(shape, rng, dtype, gain: float = 1.0, fan_in=None):
    fi, fo = fans(shape)
    return _normal(shape, rng, dtype, gain * math.sqrt(2.0 / (fi + fo)))


def _he_normal(shape, rng, dtype, negative_slope: float = 0.0, fan_in=None):
    gain = math.sqrt(2.0 / (1.0 + negative_slope**2))
    return _normal(shape, rng, dtype, gain / math.sqrt(_fan_in(shape, fan_in)))


def _he_uniform(shape, rng, dtype, negative_slope: float = 0.0, fan_in=None):
    gain = math.sqrt(2.0 / (1.0 + negative_slope**2))
    return _uniform(shape, rng, dtype, gain * math.sqrt(3.0 / _fan_in(shape, fan_in)))


def _torch_default(shape, rng, dtype, fan_in=None):
    return _uniform(shape, rng, dtype, 1.0 / math.sqrt(_fan_in(shape, fan_in)))


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "zeros": _zeros,
    "constant": _constant,
    "normal": _normal,
    "uniform": _uniform,
    "xavier_uniform": _xavier_uniform,
    "xavier_normal": _xavier_normal,
    "he_normal": _he_normal,
    "he_uniform": _he_uniform,
    "torch_default": _torch_default,
}
ALIASES = {"glorot_uniform": "xavier_uniform", "glorot_normal": "xavier_normal",
           "kaiming_normal": "he_normal", "kaiming_uniform": "he_uniform", "zero": "zeros"}


def normalize(spec: InitSpec) -> dict[str, Any]:
    """Turn a name or dict into ``{"name": canonical, **kwargs}``, validating both."""
    if isinstance(spec, str):
        spec = {"name": spec}
    elif not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(f"an initialiser is a name or a dict with a 'name' key, got {spec!r}")
    spec = dict(spec)
    name = str(spec.pop("name")).lower()
    name = ALIASES.get(name, name)
    if name in SEED_SCALES:
        if spec:
            raise ConfigError(f"initialiser {name!r} takes no arguments, got {sorted(spec)}")
        return {"name": name}
    if name not in INITIALIZERS:
        known = sorted([*INITIALIZERS, *SEED_SCALES])
        raise ConfigError(f"unknown initialiser {name!r}; known: {', '.join(known)}")
    import inspect

    allowed = set(inspect.signature(INITIALIZERS[name]).parameters) - {"shape", "rng", "dtype", "fan_in"}
    bad = sorted(set(spec) - allowed)
    if bad:
        raise ConfigError(f"initialiser {name!r} does not take {bad}; it takes {sorted(allowed)}")
    return {"name": name, **spec}


def describe(spec: InitSpec) -> str:
    """A short human label, e.g. ``normal(std=0.05)`` or ``small (N(0, 1e-2))``."""
    s = normalize(spec)
    name = s.pop("name")
    if name in SEED_SCALES:
        return f"{name} N(0,{SEED_SCALES[name]:g}^2)"
    if not s:
        return name
    return f"{name}(" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items()) + ")"


def initialize(
    spec: InitSpec,
    shape: tuple[int, ...],
    rng: np.random.Generator,
    dtype: Any = np.float32,
    fan_in: int | None = None,
) -> np.ndarray:
    """Draw an array of ``shape`` from initialiser ``spec`` using ``rng``.

    ``fan_in`` overrides the fan computed from ``shape`` (biases use their layer's fan-in).
    """
    # drawn in float64, then cast: both copies exist for a moment
    check_fits(tuple(shape), 8 + np.dtype(dtype).itemsize, "a parameter")
    s = normalize(spec)
    name = s.pop("name")
    if name in SEED_SCALES:
        return _normal(shape, rng, dtype, SEED_SCALES[name])
    return INITIALIZERS[name](tuple(shape), rng, dtype, fan_in=fan_in, **s)
