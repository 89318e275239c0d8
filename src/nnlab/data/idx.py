"""The IDX format of MNIST (and of any data set published in it), gzipped or not.

Layout: a 4-byte magic number ``0x00 0x00 TYPE NDIM``, then ``NDIM`` big-endian int32 sizes,
then the values in row-major order, big-endian. TYPE is 0x08 ubyte, 0x09 byte, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64 (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS").
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from nnlab.data.dataset import ImageSet
from nnlab.data.errors import DataFormatError

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            return f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataFormatError(path, f"the gzip stream is truncated or corrupt ({exc})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (``.gz`` or plain) into an array of its stored type (native byte order)."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataFormatError(path, f"only {len(raw)} bytes: too short for an IDX header")
    zero, type_code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or type_code not in IDX_TYPES or ndim == 0:
        raise DataFormatError(
            path, f"wrong magic number 0x{raw[:4].hex()} (expected 0x0000TTDD: TT a type code in"
                  f" {', '.join(f'0x{t:02x}' for t in IDX_TYPES)}, DD the number of dimensions)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(path, f"the header announces {ndim} dimensions but the file ends at byte {len(raw)}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[type_code])
    expected = int(np.prod(dims)) * dtype.itemsize
    actual = len(raw) - header
    if actual != expected:
        what = "truncated" if actual < expected else "longer than its header says"
        raise DataFormatError(path, f"{what}: header {dims} needs {expected} data bytes, found {actual}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).exists():
            return folder / name
    raise DataFormatError(folder / (stem + ".gz"), "file not found (the plain, uncompressed name is accepted too)")


def read_idx_pair(images_path: str | Path, labels_path: str | Path, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 1, H, W) and labels (N,) from an IDX image file and its label file, checked."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise DataFormatError(images_path, f"expected images of shape (N, H, W), found {images.shape}")
    if labels.ndim != 1:
        raise DataFormatError(labels_path, f"expected labels of shape (N,), found {labels.shape}")
    if len(images) != len(labels):
        raise DataFormatError(labels_path, f"{len(labels)} labels for {len(images)} images in {images_path}")
    labels = labels.astype(np.int64)
    if n_classes is not None and labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = int(np.count_nonzero((labels < 0) | (labels >= n_classes)))
        raise DataFormatError(labels_path, f"{bad} label(s) outside 0..{n_classes - 1}")
    return images[:, None, :, :], labels


def read_mnist(folder: str | Path, split: str = "train") -> ImageSet:
    """MNIST (or any IDX set with the same file names) from ``folder``: (N, 1, 28, 28) uint8."""
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {list(MNIST_FILES)}, got {split!r}")
    folder = Path(folder)
    img_stem, lbl_stem = MNIST_FILES[split]
    images, labels = read_idx_pair(_find(folder, img_stem), _find(folder, lbl_stem), n_classes=10)
    return ImageSet(images=np.ascontiguousarray(images, dtype=np.uint8), labels=labels,
                    class_names=[str(d) for d in range(10)], name="mnist", split=split, source=str(folder))
