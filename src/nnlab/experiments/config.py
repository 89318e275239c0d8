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
import difflib
import inspect
import io
import tokenize
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from nnlab.errors import ConfigError


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


def keys(cls_or_cfg: Any, prefix: str = "") -> list[str]:
    """Every settable key of a config dataclass, nested groups as dotted keys (``model.hidden``)."""
    cls = cls_or_cfg if isinstance(cls_or_cfg, type) else type(cls_or_cfg)
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out += keys(tp, f"{prefix}{f.name}.")
        else:
            out.append(prefix + f.name)
    return out


def suggest(key: str, known: Iterable[str]) -> list[str]:
    """The known keys a mistyped or unqualified ``key`` most likely means (``epochs`` -> ``train.epochs``)."""
    known = list(known)
    tail = key.rsplit(".", 1)[-1]
    exact_tail = [k for k in known if k.rsplit(".", 1)[-1] == tail and k != key]
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    close_tail = [k for k in known if difflib.get_close_matches(tail, [k.rsplit(".", 1)[-1]], cutoff=0.75)]
    return list(dict.fromkeys(exact_tail + close + close_tail))[:3]


def unknown_key_error(source: str, key: str, known: Iterable[str]) -> ConfigError:
    known = list(known)
    hints = suggest(key, known)
    hint = f"did you mean {' or '.join(repr(h) for h in hints)}?" if hints else f"known: {', '.join(sorted(known))}"
    return ConfigError(f"{source}: unknown key {key!r}; {hint} (nnlab config NAME lists every key)")


def field_comments(cls: type) -> dict[str, str]:
    """The comment written after each field of dataclass ``cls`` (``lr: float = 1e-3  # Adam's``)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    comments: dict[str, str] = {}
    line_name: dict[int, str] = {}
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for i, tok in enumerate(tokens[:-1]):
        if (tok.type == tokenize.NAME and tokens[i + 1].string == ":" and tok.start[1] > 0
                and (i == 0 or tokens[i - 1].type in (tokenize.INDENT, tokenize.NEWLINE, tokenize.NL, tokenize.DEDENT))):
            line_name[tok.start[0]] = tok.string
        elif tok.type == tokenize.COMMENT and tok.start[0] in line_name:
            comments[line_name[tok.start[0]]] = tok.string.lstrip("#").strip()
    return comments


def describe(cfg: Any, defaults: Any | None = None, prefix: str = "") -> list[dict[str, Any]]:
    """One row per settable key of config ``cfg``: key, type, value, default and the field's comment."""
    cls = type(cfg)
    defaults = cls() if defaults is None else defaults
    hints, comments = typing.get_type_hints(cls), field_comments(cls)
    rows = []
    for f in dataclasses.fields(cls):
        value, default = getattr(cfg, f.name), getattr(defaults, f.name)
        if dataclasses.is_dataclass(value):
            rows += describe(value, default, f"{prefix}{f.name}.")
            continue
        tp = hints[f.name]
        name = str(tp).replace("typing.", "") if typing.get_args(tp) else getattr(tp, "__name__", str(tp))
        rows.append({"key": prefix + f.name, "type": name,
                     "value": value, "default": default, "comment": comments.get(f.name, "")})
    return rows


def apply(cfg: Any, updates: Mapping[str, Any], source: str = "config") -> Any:
    """A copy of dataclass ``cfg`` with ``updates`` (nested mappings or dotted keys) applied."""
    cfg = dataclasses.replace(cfg)
    hints = typing.get_type_hints(type(cfg))
    fields = {f.name for f in dataclasses.fields(cfg)}
    for key, value in updates.items():
        head, _, rest = str(key).partition(".")
        if head not in fields:
            raise unknown_key_error(source, str(key), keys(cfg))
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
