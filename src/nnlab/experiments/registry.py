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

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlab.errors import ConfigError


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
    about: str = ""  # what the experiment is, for a reader: the first paragraph of its report
    metrics: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # key pattern -> (description, unit)
    check: Callable[[Any], None] | None = None  # validates a resolved config (ConfigError) before any data is read
    phases: Callable[[Any], list[str]] | None = None  # cfg -> the training phases it runs, in order (progress)

    def describe(self, key: str) -> tuple[str, str] | None:
        """(description, unit) of metric ``key``, from :attr:`metrics`; ``None`` if undescribed.

        A pattern may hold ``{name}`` placeholders, each matching one or more word characters
        and substituted into the description: ``"{model}_accuracy"`` describes ``vgg_accuracy``.
        An exact key wins over a pattern; among the patterns that match, the most specific (the
        most characters outside placeholders) wins, so ``"val_{task}_accuracy"`` describes
        ``val_gender_accuracy`` whatever the order, not ``"{task}_accuracy"`` with the task
        ``val_gender``; equally specific patterns go by their order.
        """
        for table in (self.metrics, GENERIC_METRICS):
            if key in table:
                return table[key]
            best = None
            for pattern, (description, unit) in table.items():
                found = _match(pattern, key)
                if found is None:
                    continue
                literal = len(re.sub(r"\{\w+\}", "", pattern))
                if best is None or literal > best[0]:
                    best = (literal, description.format(**found), unit.format(**found))
            if best is not None:
                return best[1], best[2]
        return None


#: descriptions every experiment shares (an experiment's own ``metrics`` come first)
GENERIC_METRICS: dict[str, tuple[str, str]] = {
    "wall_s": ("wall time of the whole run", "s"),
    "train_s": ("seconds spent training", "s"),
    "epoch_s": ("seconds per training epoch", "s"),
    "params": ("trainable parameters", "count"),
    "epochs": ("epochs trained", "count"),
    "{model}_train_s": ("seconds spent training {model}", "s"),
    "{model}_epoch_s": ("seconds per training epoch of {model}", "s"),
    "{model}_params": ("trainable parameters of {model}", "count"),
    "n_{what}": ("number of {what}", "count"),
}


def _match(pattern: str, key: str) -> dict[str, str] | None:
    """The placeholder values if ``key`` fits ``pattern`` (``"{model}_accuracy"``), else None."""
    if "{" not in pattern:
        return None
    parts = re.split(r"\{(\w+)\}", pattern)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>\\w+?)" for i, p in enumerate(parts))
    found = re.fullmatch(regex, key)
    return found.groupdict() if found else None


EXPERIMENTS: dict[str, Experiment] = {}


def experiment(name: str, summary: str, *, config: type, presets: Mapping[str, Mapping[str, Any]] | None = None,
               smoke: Mapping[str, Any] | None = None, objective: tuple[str, str] | None = None,
               engines: tuple[str, ...] = ("numpy",), about: str = "",
               metrics: Mapping[str, tuple[str, str]] | None = None, check: Callable[[Any], None] | None = None,
               phases: Callable[[Any], list[str]] | None = None,
               ) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register the decorated ``run(ctx)`` function as experiment ``name``.

    ``about`` says what the experiment is (its report opens with it); ``metrics`` maps every
    metric key it records, or a pattern such as ``"{model}_accuracy"``, to (description, unit).
    ``check(cfg)`` raises ConfigError for a bad setting; it runs when the config is resolved,
    before a run folder is made or any data is read (``nnlab run --dry-run`` runs it alone).
    ``phases(cfg)`` names the training phases a config runs, in order (the names the experiment
    gives ``ctx.callbacks``), so that progress says "[2/3] unet"; without it phases are counted.
    """
    def decorate(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        if name in EXPERIMENTS and EXPERIMENTS[name].run is not fn:
            raise ConfigError(f"experiment {name!r} is registered twice")
        EXPERIMENTS[name] = Experiment(name, summary, config, fn, dict(presets or {}), dict(smoke or {}),
                                       objective, tuple(engines), " ".join(about.split()), dict(metrics or {}),
                                       check, phases)
        return fn

    return decorate


def module_name(name: str) -> str:
    """The module that defines experiment ``name``: ``mnist-autoencoder`` is ``exp_mnist_autoencoder``."""
    return f"nnlab.experiments.exp_{name.replace('-', '_')}"


def get(name: str) -> Experiment:
    """Experiment ``name``, importing its module (and only its module) the first time."""
    if name not in EXPERIMENTS and isinstance(name, str) and name.replace("-", "_").isidentifier():
        try:
            importlib.import_module(module_name(name))
        except ModuleNotFoundError as exc:
            if exc.name != module_name(name):
                raise
    if name not in EXPERIMENTS and name not in load_all():
        raise ConfigError(f"unknown experiment {name!r}; known: {', '.join(sorted(EXPERIMENTS)) or 'none'}")
    return EXPERIMENTS[name]


def load_all() -> dict[str, Experiment]:
    """Import every experiment module (``exp_*.py`` beside this file; each registers itself)."""
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name.startswith("exp_"):
            importlib.import_module(f"nnlab.experiments.{info.name}")
    return EXPERIMENTS
