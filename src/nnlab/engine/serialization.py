"""Saving and loading networks without pickle.

A model is two files: ``NAME.json`` (the architecture: input shape, dtype, layers with their
constructor arguments) and ``NAME.npz`` (the weights, one array per parameter or buffer, named
as in ``state_dict``). Training checkpoints, which also hold the optimizer state, the epoch,
the history and the random generator's state, are :mod:`nnlab.engine.checkpoint`.

Files are written atomically (a temporary file in the same folder, then a rename) and read
with ``allow_pickle=False``: loading never executes code from a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from nnlab.atomic_io import atomic_write_bytes
from nnlab.engine.checkpoint import FORMAT, architecture, load_npz, npz_bytes
from nnlab.engine.sequential import Sequential
from nnlab.errors import ConfigError, WeightsMismatchError


def model_from_spec(spec: Mapping[str, Any], seed: int | np.random.Generator | None = None) -> Sequential:
    """Build (and initialise) a ``Sequential`` from a spec dict (as from JSON or YAML).

    Recognised keys: ``input_shape`` (required), ``layers`` (required), ``dtype``, ``name``,
    ``seed``, and, to compile the model, ``loss``, ``optimizer`` and ``metrics``.
    """
    if not isinstance(spec, Mapping):
        raise ConfigError(f"a model spec is a mapping, got {type(spec).__name__}")
    spec = dict(spec)
    fmt = spec.pop("format", FORMAT)
    if fmt != FORMAT:
        raise ConfigError(f"not an nnlab model spec (format {fmt!r}, expected {FORMAT!r})")
    spec.pop("nnlab_version", None)
    compile_args = {k: spec.pop(k) for k in ("loss", "optimizer", "metrics") if k in spec}
    if "input_shape" not in spec:
        raise ConfigError("a model spec needs 'input_shape' (the shape of one sample, e.g. [784])")
    unknown = set(spec) - {"input_shape", "layers", "dtype", "name", "seed"}
    if unknown:
        raise ConfigError(f"unknown key(s) in model spec: {sorted(unknown)}")
    if seed is not None:
        spec["seed"] = seed
    model = Sequential.from_config(spec)
    if compile_args:
        model.compile(
            loss=compile_args.get("loss", "mse"),
            optimizer=compile_args.get("optimizer", "adam"),
            metrics=compile_args.get("metrics", ()),
        )
    return model


def _stem(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".json", ".npz") else path


def save_model(model: Sequential, path: str | Path) -> tuple[Path, Path]:
    """Write ``PATH.json`` (architecture) and ``PATH.npz`` (weights); return both paths."""
    stem = _stem(path)
    json_path, npz_path = stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".npz")
    state = model.state_dict()
    bad = [k for k, v in state.items() if not np.all(np.isfinite(v))]
    if bad:
        raise WeightsMismatchError(f"refusing to save non-finite weights ({', '.join(bad)})")
    atomic_write_bytes(npz_path, npz_bytes(state))
    atomic_write_bytes(json_path, (json.dumps(architecture(model), indent=2) + "\n").encode())
    return json_path, npz_path


def load_model(path: str | Path) -> Sequential:
    """Load a model written by :func:`save_model` (give ``PATH``, ``PATH.json`` or ``PATH.npz``)."""
    stem = _stem(path)
    json_path, npz_path = stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".npz")
    if not json_path.exists():
        raise FileNotFoundError(f"architecture file {json_path} not found (saved models are a .json and a .npz)")
    try:
        spec = json.loads(json_path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{json_path} is not valid JSON: {exc}") from None
    model = model_from_spec(spec, seed=0)
    model.load_state_dict(load_npz(npz_path), source=str(npz_path))
    return model


