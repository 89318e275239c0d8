"""Training checkpoints of the NumPy engine: one ``.npz`` that holds everything needed to resume.

A checkpoint holds the weights, the optimizer state, the epoch, the history, the random
generator's state and the callbacks' state, so that training resumes exactly. It is written
atomically and read with ``allow_pickle=False``: loading never executes code from a file. The
model is anything with the ``Sequential`` interface (``state_dict``, ``optimizer``, ``rng``,
``get_config``); this module does not import ``Sequential``, so the training loop can import it.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from nnlab import __version__
from nnlab.atomic_io import atomic_write_bytes
from nnlab.engine.module import Module
from nnlab.errors import WeightsMismatchError
from nnlab.training.history import History

FORMAT = "nnlab.sequential"
CHECKPOINT_FORMAT = "nnlab.checkpoint"


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def architecture(model: Module) -> dict[str, Any]:
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


def load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise FileNotFoundError(f"weights file {path} not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        raise WeightsMismatchError(f"{path} is not a plain .npz of numeric arrays: {exc}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise WeightsMismatchError(f"{path} is not a readable .npz file (truncated or corrupt?): {exc}") from None


def save_checkpoint(
    path: str | Path,
    model: Module,
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
    atomic_write_bytes(path, npz_bytes(arrays))
    return path


def load_checkpoint(path: str | Path, model: Module) -> dict[str, Any]:
    """Restore weights, optimizer state and RNG state into ``model``; return the metadata.

    The returned dict has ``epoch`` (the last finished epoch) and ``history`` (a History).
    """
    path = Path(path)
    arrays = load_npz(path)
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
