"""Saving and loading networks without pickle.

A model is two files: ``NAME.json`` (the architecture: input shape, dtype, layers with their
constructor arguments) and ``NAME.npz`` (the weights, one array per parameter or buffer, named
as in ``state_dict``). A checkpoint is one ``.npz`` that also holds the optimizer state, the
epoch, the history and the random generator's state, so that training can resume exactly.

Files are written atomically (a temporary file in the same folder, then a rename) and read
with ``allow_pickle=False``: loading never executes code from a file.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from nnlab import __version__
from nnlab.engine.errors import ConfigError, WeightsMismatchError
from nnlab.engine.sequential import Sequential
from nnlab.training.history import History

FORMAT = "nnlab.sequential"
CHECKPOINT_FORMAT = "nnlab.checkpoint"


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace`` (all or nothing).

    The file gets the usual mode (0666 less the umask), not the temporary file's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def architecture(model: Sequential) -> dict[str, Any]:
    """The JSON-serialisable description that ``model_from_spec`` rebuilds the model from."""
    model._require_built()
    spec: dict[str, Any] = {
        "format": FORMAT,
        "nnlab_version": __version__,
        "name": model.name,
        "input_shape": list(model.input_shape),
        "dtype": model.dtype.name,
        **model.get_config(),
    }
    return spec


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
    atomic_write_bytes(npz_path, _npz_bytes(state))
    atomic_write_bytes(json_path, (json.dumps(architecture(model), indent=2) + "\n").encode())
    return json_path, npz_path


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise FileNotFoundError(f"weights file {path} not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        raise WeightsMismatchError(f"{path} is not a plain .npz of numeric arrays: {exc}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise WeightsMismatchError(f"{path} is not a readable .npz file (truncated or corrupt?): {exc}") from None


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
    model.load_state_dict(_load_npz(npz_path), source=str(npz_path))
    return model


# -- checkpoints ---------------------------------------------------------------------
def save_checkpoint(
    path: str | Path,
    model: Sequential,
    *,
    epoch: int,
    history: History | None = None,
    callbacks: Mapping[str, Any] | None = None,
    finished: bool = False,
    stopped: bool = False,
) -> Path:
    """Everything needed to resume: weights, optimizer state, epoch, history, RNG state, the
    callbacks' state (``CallbackList.state_dict()``: arrays in it are stored as arrays) and whether
    training ``finished`` (the last epoch, or an early stop (``stopped``), with the callbacks' end
    applied)."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    bad = [k for k, v in arrays.items() if not np.all(np.isfinite(v))]
    if bad:
        raise WeightsMismatchError(f"refusing to checkpoint non-finite weights ({', '.join(bad)})")
    meta: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "architecture": architecture(model),
        "epoch": int(epoch),
        "history": history.to_rows() if history is not None else [],
        "rng_state": model.rng.bit_generator.state,
        "finished": bool(finished),
        "stopped": bool(stopped),
        "callbacks": _split_arrays(dict(callbacks or {}), "callbacks", arrays),
    }
    if model.optimizer is not None:
        sd = model.optimizer.state_dict(exact=True)
        meta["optimizer"] = {"type": sd["type"], "hyper": sd["hyper"], "step": sd["step"], "scaling": sd["scaling"],
                             "state": {k: len(v) for k, v in sd["state"].items()}}
        for name, arrays_ in sd["state"].items():
            for i, a in enumerate(arrays_):
                arrays[f"optim/{name}/{i}"] = a
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_write_bytes(path, _npz_bytes(arrays))
    return path


def load_checkpoint(path: str | Path, model: Sequential) -> dict[str, Any]:
    """Restore weights, optimizer state and RNG state into ``model``; return the metadata.

    The returned dict has ``epoch`` (the last finished epoch) and ``history`` (a History).
    """
    path = Path(path)
    arrays = _load_npz(path)
    if "meta" not in arrays:
        raise WeightsMismatchError(f"{path} is not an nnlab checkpoint (no 'meta' entry)")
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise WeightsMismatchError(f"{path} is not an nnlab checkpoint")
    weights = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    model.load_state_dict(weights, source=str(path))
    if "optimizer" in meta:
        if model.optimizer is None:
            raise WeightsMismatchError(f"{path} holds optimizer state; compile the model before loading it")
        om = meta["optimizer"]
        state = {name: [arrays[f"optim/{name}/{i}"] for i in range(count)] for name, count in om["state"].items()}
        model.optimizer.load_state_dict({**om, "state": state})
    model.rng.bit_generator.state = meta["rng_state"]
    history = History()
    for row in meta.get("history", []):
        row = dict(row)
        history.append(int(row.pop("epoch")), row)
    return {"epoch": int(meta["epoch"]), "history": history, "architecture": meta["architecture"],
            "finished": bool(meta.get("finished", False)), "stopped": bool(meta.get("stopped", False)),
            "callbacks": _join_arrays(meta.get("callbacks", {}), arrays)}


def _split_arrays(obj: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    """``obj`` as JSON, its arrays moved into ``arrays`` (under ``key/...``) and referenced."""
    if isinstance(obj, np.ndarray):
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, Mapping):
        return {str(k): _split_arrays(v, f"{key}/{k}", arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_split_arrays(v, f"{key}/{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _join_arrays(obj: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: _join_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_arrays(v, arrays) for v in obj]
    return obj
