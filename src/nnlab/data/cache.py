"""The user's cache folder and a cache of decoded arrays.

Decoding 23,708 JPEGs takes seconds; loading the decoded arrays takes a fraction of that. A
cache entry is keyed by the reader, its parameters, and each source file's absolute path, size
and modification time, so it is invalidated when a source changes. Entries live in the user's
cache folder (``NNLAB_CACHE``, else ``$XDG_CACHE_HOME/nnlab``, else ``~/.cache/nnlab``), never in
the data folder. ``NNLAB_NO_CACHE=1`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from nnlab.atomic_io import atomic_write_bytes
from nnlab.data.dataset import ImageSet
from nnlab.data.decode import log_skipped

log = logging.getLogger(__name__)

#: bump when a reader's output changes, to invalidate every cache entry
CACHE_VERSION = 1


def cache_dir() -> Path:
    """The user's nnlab cache folder (not created here)."""
    if os.environ.get("NNLAB_CACHE"):
        return Path(os.environ["NNLAB_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "nnlab"


def _fingerprint(paths: Iterable[Path]) -> list[list[Any]]:
    out = []
    for p in paths:
        p = Path(p).resolve()
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file())
            st = [(str(f.relative_to(p)), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
            out.append([str(p), hashlib.sha1(json.dumps(st).encode()).hexdigest()])
        else:
            st = p.stat()
            out.append([str(p), st.st_size, st.st_mtime_ns])
    return out


def cached_arrays(
    name: str,
    sources: Iterable[str | Path],
    params: dict[str, Any],
    build: Callable[[], tuple[dict[str, np.ndarray], dict[str, Any]]],
    enabled: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Return ``build()``'s ``(arrays, metadata)``, from the cache when the sources are unchanged.

    ``metadata`` must be JSON-serialisable. Loading uses ``allow_pickle=False``.
    """
    if not enabled or os.environ.get("NNLAB_NO_CACHE") == "1":
        return build()
    key_src = json.dumps({"v": CACHE_VERSION, "name": name, "params": params, "sources": _fingerprint(sources)},
                         sort_keys=True, default=str)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:20]
    path = cache_dir() / "arrays" / f"{name}-{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files if k != "__meta__"}
                meta = json.loads(str(z["__meta__"]))
            log.debug("loaded %s from cache %s", name, path)
            return arrays, meta
        except Exception as exc:  # a broken cache entry is rebuilt, never fatal
            log.warning("ignoring unreadable cache entry %s (%s)", path, exc)
    arrays, meta = build()
    try:
        buf = io.BytesIO()
        np.savez(buf, __meta__=np.array(json.dumps(meta)), **arrays)
        atomic_write_bytes(path, buf.getvalue())
        log.debug("cached %s at %s", name, path)
    except OSError as exc:
        log.warning("could not write the cache entry %s (%s); continuing without it", path, exc)
    return arrays, meta


def imageset_to_arrays(ims: ImageSet) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """An :class:`ImageSet` as ``(arrays, JSON metadata)`` for :func:`cached_arrays`."""
    arrays = {"images": ims.images}
    if ims.labels is not None:
        arrays["labels"] = ims.labels
    arrays.update({f"target_{k}": v for k, v in ims.targets.items()})
    meta = {"class_names": list(ims.class_names), "name": ims.name, "split": ims.split,
            "files": ims.files, "skipped": [list(s) for s in ims.skipped], "source": ims.source,
            "targets": list(ims.targets), "labelled": ims.labels is not None}
    return arrays, meta


def imageset_from_arrays(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> ImageSet:
    """The inverse of :func:`imageset_to_arrays`."""
    return ImageSet(
        images=arrays["images"],
        labels=arrays["labels"] if meta["labelled"] else None,
        class_names=list(meta["class_names"]),
        name=meta["name"],
        split=meta["split"],
        targets={k: arrays[f"target_{k}"] for k in meta["targets"]},
        files=meta["files"],
        skipped=[tuple(s) for s in meta["skipped"]],  # type: ignore[misc]
        source=meta["source"],
    )


def cached_imageset(name: str, source: Path, params: dict[str, Any], build: Any, enabled: bool,
                    logger: logging.Logger | None = None) -> ImageSet:
    """``build()`` (returning an :class:`ImageSet`) through :func:`cached_arrays`.

    The entry is keyed by ``name``, ``params`` and ``source``'s path, size and mtime (for a
    folder: of every file in it), so it is rebuilt when the source changes. Skipped files are
    logged on every load, from the cache too.
    """
    arrays, meta = cached_arrays(name, [source], params, lambda: imageset_to_arrays(build()), enabled=enabled)
    ims = imageset_from_arrays(arrays, meta)
    log_skipped(f"{source}" + (f" ({ims.split})" if ims.split else ""), ims.skipped, logger=logger)
    return ims
