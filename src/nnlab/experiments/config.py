"""Typed experiment configs: defaults, then a preset, then a YAML file, then ``--set key=value``.

A config is a dataclass whose fields have types and commented defaults; nested dataclasses
group settings (``model.hidden=64`` sets ``cfg.model.hidden``). Every layer of overrides is
checked against the field types, and an unknown key is an error that lists the known ones.

>>> from dataclasses import dataclass
>>> @dataclass
... class Cfg:
...     epochs: int = 10      # passes over the training set
...     lr: float = 1e-3      # Adam's learning rate
>>> resolve(Cfg, overrides=["epochs=3", "lr=0.01"])
Cfg(epochs=3, lr=0.01)
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from nnlab.engine.errors import ConfigError


def _check(value: Any, tp: Any, key: str) -> Any:
    """``value`` converted to field type ``tp`` where that is lossless, else a ConfigError."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check(value, option, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} fits none of {tp}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{key} must be one of {list(typing.get_args(tp))}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        out = [_check(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    return value


def apply(cfg: Any, updates: Mapping[str, Any], source: str = "config") -> Any:
    """A copy of dataclass ``cfg`` with ``updates`` (nested mappings or dotted keys) applied."""
    cfg = dataclasses.replace(cfg)
    hints = typing.get_type_hints(type(cfg))
    fields = {f.name for f in dataclasses.fields(cfg)}
    for key, value in updates.items():
        head, _, rest = str(key).partition(".")
        if head not in fields:
            raise ConfigError(f"{source}: unknown key {key!r}; known: {', '.join(sorted(fields))}")
        current = getattr(cfg, head)
        if dataclasses.is_dataclass(current):
            if rest:
                value = {rest: value}
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: {head} is a group of settings; set {head}.KEY=VALUE")
            setattr(cfg, head, apply(current, value, source))
        elif rest:
            raise ConfigError(f"{source}: {head} has no sub-keys (got {key!r})")
        else:
            setattr(cfg, head, _check(value, hints[head], f"{source}: {key}"))
    return cfg


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """``["a=1", "b.c=[1, 2]"]`` -> ``{"a": 1, "b.c": [1, 2]}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: {exc}") from None
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path} must hold a mapping of settings, not {type(data).__name__}")
    return dict(data)


def resolve(cls: type, *, layers: Iterable[tuple[str, Mapping[str, Any]]] = (), config_file: str | Path | None = None,
            overrides: Iterable[str] = ()) -> Any:
    """Defaults of ``cls``, then each named layer (presets, smoke settings), then the YAML file,
    then the ``KEY=VALUE`` overrides."""
    cfg = cls()
    for source, updates in layers:
        cfg = apply(cfg, updates, source)
    if config_file is not None:
        cfg = apply(cfg, load_yaml(config_file), str(config_file))
    return apply(cfg, parse_assignments(overrides), "--set")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A YAML-ready dict (tuples as lists)."""
    def plain(v):
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in dataclasses.asdict(cfg).items()}
