"""The experiment registry: a name, a typed config, presets, smoke settings and a run function.

An experiment module registers itself::

    @experiment("mnist-autoencoder", "the seed-004 autoencoder and its code classifier",
                config=AutoencoderConfig, presets={"seed": {...}}, smoke={"epochs": 1},
                objective=("test_mse", "min"))
    def run(ctx: RunContext) -> None:
        ...

``run`` gets a :class:`~nnlab.experiments.runner.RunContext` (``ctx.cfg`` is the resolved
config) and records metrics, histories, figures and the model through it; the runner does
everything else (the folder, the log, the report).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nnlab.engine.errors import ConfigError


@dataclass(frozen=True)
class Experiment:
    name: str
    summary: str  # one line for `nnlab list`
    config: type
    run: Callable[[Any], None]
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # e.g. "seed": the seed's settings
    smoke: Mapping[str, Any] = field(default_factory=dict)  # settings that make --smoke take seconds
    objective: tuple[str, str] | None = None  # (metric, "min"|"max") that sweeps optimise
    engines: tuple[str, ...] = ("numpy",)


EXPERIMENTS: dict[str, Experiment] = {}


def experiment(name: str, summary: str, *, config: type, presets: Mapping[str, Mapping[str, Any]] | None = None,
               smoke: Mapping[str, Any] | None = None, objective: tuple[str, str] | None = None,
               engines: tuple[str, ...] = ("numpy",)) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register the decorated ``run(ctx)`` function as experiment ``name``."""
    def decorate(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        if name in EXPERIMENTS and EXPERIMENTS[name].run is not fn:
            raise ConfigError(f"experiment {name!r} is registered twice")
        EXPERIMENTS[name] = Experiment(name, summary, config, fn, dict(presets or {}), dict(smoke or {}),
                                       objective, tuple(engines))
        return fn

    return decorate


def get(name: str) -> Experiment:
    load_all()
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; known: {', '.join(sorted(EXPERIMENTS)) or 'none'}")
    return EXPERIMENTS[name]


def load_all() -> dict[str, Experiment]:
    """Import every experiment module (each registers itself) and return the registry."""
    import importlib
    import pkgutil

    import nnlab.experiments as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("exp_"):
            importlib.import_module(f"nnlab.experiments.{info.name}")
    return EXPERIMENTS
