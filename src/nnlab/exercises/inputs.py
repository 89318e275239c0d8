"""What the ``nnlab exercise`` command passes to an exercise: arrays read from the command line,
and real images when the data sets are found.

``--filters`` and ``--image`` take FILE or VALUES: a ``.npy`` file (read with
``allow_pickle=False``), a ``.txt``/``.csv`` file (``np.loadtxt``; filters stacked one under the
other, F k rows of k numbers), a ``.yaml``/``.yml``/``.json`` file holding a nested list, or that
nested list given inline (``"[[0,0,0],[0,1,0],[0,0,0]]"``). Every problem is a ``ConfigError``
whose one-line message names the option, the file and what is wrong.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.errors import ConfigError

log = logging.getLogger(__name__)

#: the exercises that take --filters / --image, and what they call the image argument
TAKES_FILTERS = ("conv-pool",)
TAKES_IMAGE = ("conv-pool", "deconv-projection")
TAKES_DATA = ("batchnorm", "deconv-projection")
SUFFIXES = (".npy", ".txt", ".csv", ".yaml", ".yml", ".json")


def _looks_inline(spec: str) -> bool:
    s = spec.strip()
    return s.startswith("[") or s.lstrip("+-").replace(".", "", 1).isdigit()


def read_array(spec: str, option: str) -> np.ndarray:
    """The float array in FILE or inline VALUES ``spec``; ``option`` names it in errors."""
    import yaml

    if _looks_inline(spec):
        where = f"{option} {spec!r}"
        try:
            data = yaml.safe_load(spec)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: not a nested list of numbers ({str(exc).splitlines()[0]})") from None
    else:
        path = Path(spec)
        where = f"{option} {path}"
        if not path.is_file():
            raise ConfigError(f"{where}: file not found (give a {', '.join(SUFFIXES)} file or an inline"
                              " nested list such as [[0,1,0],[1,-4,1],[0,1,0]])")
        suffix = path.suffix.lower()
        try:
            if suffix == ".npy":
                data = np.load(path, allow_pickle=False)
            elif suffix in (".txt", ".csv"):
                data = np.loadtxt(path, delimiter="," if suffix == ".csv" else None, ndmin=2)
            elif suffix in (".yaml", ".yml", ".json"):
                data = yaml.safe_load(path.read_text())
            else:
                raise ConfigError(f"{where}: unknown file type {suffix or '(none)'!r}; use {', '.join(SUFFIXES)}")
        except ConfigError:
            raise
        except (ValueError, OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{where}: cannot read it ({str(exc).splitlines()[0]})") from None
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: not a rectangular array of numbers") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ConfigError(f"{where}: empty, or holds NaN/inf")
    return arr


def as_filters(arr: np.ndarray, where: str) -> np.ndarray:
    """(k, k) -> one filter; (F, k, k) as is; (F k, k) -> F stacked filters (from a text file)."""
    if arr.ndim == 2 and arr.shape[0] == arr.shape[1]:
        return arr[None]
    if arr.ndim == 2 and arr.shape[0] % arr.shape[1] == 0:
        k = arr.shape[1]
        return arr.reshape(arr.shape[0] // k, k, k)
    if arr.ndim == 3 and arr.shape[1] == arr.shape[2]:
        return arr
    raise ConfigError(f"{where}: filters must be square, shaped (k, k), (F, k, k) or stacked (F*k, k);"
                      f" got shape {arr.shape}")


def as_image(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.ndim != 2:
        raise ConfigError(f"{where}: the image must be 2-D (rows x columns), got shape {arr.shape}")
    return arr


def _cifar(data_dir: str | Path | None, n: int) -> tuple[np.ndarray | None, str]:
    from nnlab.data import MissingDataError
    from nnlab.exercises.batchnorm import cifar_horses

    try:
        return cifar_horses(data_dir, n=n)
    except MissingDataError:
        log.info("CIFAR-10 not found; the exercise uses its synthetic input")
        return None, ("CIFAR-10 was not found (--data-dir, NNLAB_DATA, the cache; `nnlab data show cifar10` says"
                      " what to put where)")


def exercise_inputs(name: str, filters: str | None = None, image: str | None = None,
                    data_dir: str | Path | None = None) -> dict[str, Any]:
    """Keyword arguments for exercise ``name`` from the command line's options."""
    kwargs: dict[str, Any] = {}
    if filters is not None:
        if name not in TAKES_FILTERS:
            raise ConfigError(f"--filters applies to {', '.join(TAKES_FILTERS)}, not {name}")
        kwargs["filters"] = as_filters(read_array(filters, "--filters"), f"--filters {filters}")
    if image is not None:
        if name not in TAKES_IMAGE:
            raise ConfigError(f"--image applies to {', '.join(TAKES_IMAGE)}, not {name}")
        kwargs["image"] = as_image(read_array(image, "--image"), f"--image {image}")
        if name == "deconv-projection":
            kwargs["source"] = f"the image of --image {image}"
    if data_dir is not None and name not in TAKES_DATA:
        raise ConfigError(f"--data-dir applies to {', '.join(TAKES_DATA)}, not {name}")
    if name == "batchnorm":
        images, source = _cifar(data_dir, 800)
        kwargs["source"] = source  # without images the exercise adds its synthetic batch and says so
        if images is not None:
            kwargs["images"] = images
    elif name == "deconv-projection" and image is None:
        images, source = _cifar(data_dir, 1)
        if images is not None:
            kwargs["image"] = images[0].transpose(1, 2, 0) @ np.array([0.299, 0.587, 0.114])  # luminance
            kwargs["source"] = "the first CIFAR-10 training horse in grey (luminance), from " + source.split(" from ")[-1]
        else:
            kwargs["source"] = source + "; a synthetic 32x32 pattern instead (a bright square, a diagonal bar, a disc)"
    return kwargs


__all__ = ["as_filters", "as_image", "exercise_inputs", "read_array"]
