"""CIFAR-10 in its python-pickle format (``cifar-10-batches-py``), read safely.

Each batch is a pickle of a dict: ``data`` (uint8, N x 3072: 1024 red values, then 1024 green,
then 1024 blue, each row-major over 32x32), ``labels`` (list of int), ``filenames`` and
``batch_label``; ``batches.meta`` holds ``label_names``. The pickles are loaded with a
restricted unpickler that accepts only what those files contain (NumPy's array reconstructor,
``ndarray`` and ``dtype``, and ``codecs.encode``, which Python 3 uses for bytes at protocol 2),
so a tampered file cannot execute code. The folder can also be read
in place from the official ``cifar-10-python.tar.gz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nnlab.data.dataset import ImageSet
from nnlab.data.errors import DataFormatError
from nnlab.data.image_source import ImageSource
from nnlab.data.safe_pickle import safe_loads

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def load_pickle(data: bytes, source: str) -> dict[str, Any]:
    """Unpickle a CIFAR batch safely; keys come back as ``str``."""
    obj = safe_loads(data, source, what="CIFAR pickle", holds="NumPy arrays, lists, bytes and numbers")
    if not isinstance(obj, dict):
        raise DataFormatError(source, f"expected a dict, found {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _batch_arrays(d: dict[str, Any], source: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    missing = [k for k in ("data", "labels") if k not in d]
    if missing:
        raise DataFormatError(source, f"missing key(s) {missing}; found {sorted(d)}")
    data = d["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataFormatError(source, f"'data' must be a uint8 array of shape (N, 3072), found "
                                      f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}")
    labels = np.asarray(d["labels"], dtype=np.int64)
    if labels.shape != (len(data),):
        raise DataFormatError(source, f"{labels.size} labels for {len(data)} images")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataFormatError(source, f"labels outside 0..9 (min {labels.min()}, max {labels.max()})")
    names = [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in d.get("filenames", [])]
    if len(names) != len(data):
        names = [f"{Path(source).name}#{i}" for i in range(len(data))]
    return data.reshape(-1, 3, 32, 32), labels, names


def _read_member(src: ImageSource, base: tuple[str, ...], member: str) -> tuple[bytes, str]:
    """The bytes of ``base/member`` (a folder file or an archive member) and its display name."""
    parts = (*base, member)
    where = src.display(parts)
    if parts not in src.files:
        raise DataFormatError(where, "file not found in the CIFAR folder or archive")
    for _, data in src.read_many([parts]):
        if isinstance(data, OSError):
            raise DataFormatError(where, f"cannot read the file ({data})")
        return data, where
    raise AssertionError("unreachable")  # pragma: no cover


def read_cifar10(path: str | Path, split: str = "train", classes: Sequence[str] | None = None) -> ImageSet:
    """CIFAR-10 from a ``cifar-10-batches-py`` folder (or its parent) or ``cifar-10-python.tar.gz``.

    ``classes`` keeps only those classes (e.g. ``["horse"]`` for colourization), keeping the
    ten original label numbers and names. Images are (N, 3, 32, 32) uint8.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    # a cifar-10-batches-py folder, a folder holding one, or the official archive (read in place)
    with ImageSource(path) as src:
        base = src.find_dir(("cifar-10-batches-py",)) or ()
        meta = load_pickle(*_read_member(src, base, "batches.meta"))
        names = [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in meta.get("label_names", CLASSES)]
        if len(names) != 10:
            raise DataFormatError(src.display((*base, "batches.meta")), f"expected 10 label names, found {len(names)}")
        parts = []
        for batch in TRAIN_BATCHES if split == "train" else TEST_BATCHES:
            data, where = _read_member(src, base, batch)
            parts.append(_batch_arrays(load_pickle(data, where), where))
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    files = [f for p in parts for f in p[2]]
    out = ImageSet(images=images, labels=labels, class_names=names, name="cifar10", split=split, files=files,
                   source=str(path))
    return out.select_classes(list(classes)) if classes else out
