"""The grid of a sweep: ``--grid KEY=V1,V2`` parsed, every value checked against the experiment's
config, the grid points with their ``--set`` items and shell-safe folder names, and the metric
the sweep optimises. No Optuna here: :mod:`nnlab.experiments.sweep` runs the points.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nnlab.errors import ConfigError
from nnlab.experiments.registry import Experiment
from nnlab.experiments.runner import resolve_config


@dataclass(frozen=True)
class Point:
    params: dict[str, Any]      # Optuna's value per key (scalars; a list setting as its JSON text)
    overrides: tuple[str, ...]  # the point's settings as --set items, "key=value"
    label: str                  # the name of its run folder, "optimizer.lr=0.1,hidden=[8]"


def point_key(params: Mapping[str, Any]) -> str:
    return json.dumps(sorted(params.items()))


def parse_grid(items: Iterable[str]) -> dict[str, list[str]]:
    """``["lr=0.1,0.01", "hidden=[8, 8],[4]"]`` -> ``{"lr": ["0.1", "0.01"], "hidden": ["[8, 8]", "[4]"]}``.

    Values are split at commas outside brackets and quotes; :func:`run_sweep` reads each as YAML.
    """
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--grid takes KEY=V1,V2,..., got {item!r}")
        if key in grid:
            raise ConfigError(f"--grid {key} is given twice")
        values = split_values(raw)
        if any(not v for v in values):
            raise ConfigError(f"--grid {item!r} has an empty value")
        grid[key] = values
    return grid


def split_values(raw: str) -> list[str]:
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(raw):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(raw[start:i])
            start = i + 1
    return [p.strip() for p in [*parts, raw[start:]]]


def setting_of(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def grid_points(exp: Experiment, grid: Mapping[str, Sequence[Any]], preset: str | None,
                 overrides: Sequence[str], smoke: bool) -> tuple[dict[str, list[Any]], list[Point]]:
    """Check every key and value against the config and return Optuna's choices and the points."""
    if not grid:
        raise ConfigError("a sweep needs at least one --grid KEY=V1,V2,...")
    choices: dict[str, list[Any]] = {}
    texts: dict[str, dict[Any, str]] = {}  # the --set text of each choice
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not values:
            raise ConfigError(f"--grid {key} needs a list of values, got {values!r}")
        choices[key], texts[key] = [], {}
        for value in values:
            raw = value if isinstance(value, str) else json.dumps(value)
            cfg = resolve_config(exp, preset=preset, overrides=[*overrides, f"{key}={raw}"], smoke=smoke)
            typed = setting_of(cfg, key)
            if hasattr(typed, "__dataclass_fields__"):
                raise ConfigError(f"--grid {key} is a group of settings; sweep {key}.KEY")
            scalar = typed is None or isinstance(typed, (bool, int, float, str))
            choice = typed if scalar else compact_json(typed)
            if choice in texts[key]:
                raise ConfigError(f"--grid {key} lists {choice!r} twice")
            choices[key].append(choice)
            texts[key][choice] = compact_json(typed)
    points, labels = [], set()
    for combo in itertools.product(*choices.values()):
        params = dict(zip(choices, combo))
        label = ",".join(f"{k}={label_value(v)}" for k, v in params.items())[:150]
        if label in labels:
            label = f"{label}-{len(points)}"
        labels.add(label)
        points.append(Point(params, tuple(f"{k}={texts[k][v]}" for k, v in params.items()), label))
    return choices, points


def label_value(value: Any) -> str:
    """A grid value as a shell can type it in a folder name: lists as 16x8 (no brackets: globs),
    anything but letters, digits and ``._+-`` as ``_``."""
    if isinstance(value, str) and value.startswith("["):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if isinstance(value, list):
        return "x".join(label_value(v) for v in value) or "none"
    text = value if isinstance(value, str) else compact_json(value)
    return re.sub(r"[^\w.+\-]", "_", text) or "_"


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def objective(exp: Experiment, metric: str | None) -> tuple[str, str]:
    if metric is None:
        if exp.objective is None:
            raise ConfigError(f"{exp.name} has no objective to sweep; give --metric NAME:min or NAME:max")
        name, direction = exp.objective
    else:
        name, _, direction = metric.rpartition(":")
        if not name or direction not in ("min", "max"):
            raise ConfigError(f"--metric takes NAME:min or NAME:max, got {metric!r}")
    if direction not in ("min", "max"):
        raise ConfigError(f"{exp.name}'s objective direction must be min or max, got {direction!r}")
    return name, direction
