"""Colour palettes for colourization (seed 001): the CSC321 assignment's k-means colours, a palette
fitted to training pixels (:func:`fit_palette`), and images quantised to a palette and back.

The CSC321 (Toronto, 2018) colourization assignment, which seed 001 follows, ships the k-means
centres of the CIFAR-10 horse training pixels as ``colour_kmeans{K}_cat7.npy`` (K = 16, 24, 32).
Each is a NumPy *object* array ``[codebook, distortion]`` saved with pickle under Python 2:
``codebook`` float64 (K, 3), RGB in [0, 1] of pixels divided by :data:`CSC321_SCALE` (256), and
``distortion`` a float. The assignment reads it with ``np.load(..., allow_pickle=True)``, which
would run any code a tampered file names; :func:`read_csc321_palette` reads the ``.npy``
header with NumPy and the payload with :class:`~nnlab.data.safe_pickle.RestrictedUnpickler`,
which rebuilds NumPy arrays and scalars and nothing else. A plain-text sibling
(``colour_kmeans{K}_cat7.txt``, one colour per row, as ``numpy.savetxt`` writes) is read too.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from nnlab.data.errors import DataFormatError
from nnlab.data.preprocess import LUMA_WEIGHTS, round_to
from nnlab.data.safe_pickle import safe_loads
from nnlab.errors import ConfigError, ShapeError

log = logging.getLogger(__name__)

#: the assignment divides pixels by 256 (``process(..., max_pixel=256.0)``) before clustering and
#: before it assigns each pixel its colour class; a palette row times 256 is in uint8 units
CSC321_SCALE = 256.0
#: the palette sizes the assignment ships
CSC321_SIZES = (16, 24, 32)


def csc321_file(num_colours: int) -> str:
    """The assignment's file name for ``num_colours`` colours (class 7: horses)."""
    return f"colour_kmeans{int(num_colours)}_cat7.npy"


def _codebook(value: object, path: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.ndim != 2 or value.shape[1] != 3:
        raise DataFormatError(path, "expected a float codebook of shape (K, 3), found "
                                    f"{getattr(value, 'dtype', type(value).__name__)} {getattr(value, 'shape', '')}")
    if len(value) < 2 or not np.isfinite(value).all() or value.min() < 0 or value.max() > 1:
        raise DataFormatError(path, f"a palette needs at least 2 finite RGB colours in [0, 1]; found {len(value)}"
                                    f" colours in [{value.min():.3g}, {value.max():.3g}]")
    return value.astype(np.float64)


def read_csc321_palette(path: str | Path) -> np.ndarray:
    """The codebook of a CSC321 palette file: (K, 3) float64, RGB in [0, 1] (units of 1/256).

    ``.npy``: the pickled ``[codebook, distortion]`` object array, read without running code;
    a plain float (K, 3) ``.npy`` array is accepted too. ``.txt``: one ``R G B`` row per colour.
    Row i is colour class i. Raises :class:`DataFormatError` naming the file for anything else.
    """
    path = Path(path)
    source = str(path)
    if path.suffix == ".txt":
        try:
            return _codebook(np.loadtxt(path, ndmin=2), source)
        except ValueError as exc:
            raise DataFormatError(source, f"not a table of R G B rows: {exc}") from None
    data = path.read_bytes()
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                  np.lib.format.read_array_header_2_0)(f)
    except ValueError as exc:
        raise DataFormatError(source, f"not a .npy file: {exc}") from None
    shape, _fortran, dtype = header
    if not dtype.hasobject:
        f.seek(0)
        return _codebook(np.load(f, allow_pickle=False), source)
    value = safe_loads(data[f.tell():], source, what="pickled palette", encoding="latin1",
                       holds="a NumPy codebook array and a number (the CSC321 palette format)")
    if not isinstance(value, np.ndarray) or value.shape != shape or not len(value):
        raise DataFormatError(source, f"expected an object array [codebook, distortion], found {type(value).__name__}"
                                      f" {getattr(value, 'shape', '')}")
    return _codebook(value.ravel()[0], source)


def _rgb_batch(images: np.ndarray, what: str = "images") -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ShapeError(f"{what} must be RGB (N, 3, H, W), got shape {images.shape}")
    return images


def fit_palette(images: np.ndarray, k: int = 24, seed: int = 0, max_pixels: int = 100_000,
                n_init: int = 4) -> np.ndarray:
    """A palette of ``k`` colours: k-means (``sklearn.cluster.KMeans``, ``random_state=seed``)
    on a seeded uniform random sample of at most ``max_pixels`` pixels (without replacement)
    of the **training** images (N, 3, H, W) uint8.

    Returns (k, 3) float32 RGB centres in [0, 255], sorted deterministically by BT.601
    luminance ``0.299 R + 0.587 G + 0.114 B`` (ties by R, then G, then B), so the class index of
    a colour does not depend on k-means' internal order. Same images and seed -> same palette.
    Raises ``ValueError`` when the sample has fewer than ``k`` distinct colours.
    """
    from sklearn.cluster import KMeans

    images = _rgb_batch(images)
    if images.dtype != np.uint8:
        raise ConfigError(f"fit_palette expects uint8 images, got dtype {images.dtype}")
    k = int(k)
    n, _, h, w = images.shape
    total = n * h * w
    if not 1 <= k <= total:
        raise ConfigError(f"k must be in [1, {total}] (the number of pixels), got {k}")
    rng = np.random.default_rng(seed)
    m = min(int(max_pixels), total)
    pick = np.sort(rng.choice(total, size=m, replace=False)) if m < total else np.arange(total)
    img, rest = np.divmod(pick, h * w)
    row, col = np.divmod(rest, w)
    pixels = images[img, :, row, col].astype(np.float64)  # (m, 3)
    distinct = len(np.unique(pixels, axis=0))
    if distinct < k:
        raise ConfigError(f"cannot fit a palette of {k} colours: the {m} sampled pixels have only "
                          f"{distinct} distinct colours")
    km = KMeans(n_clusters=k, random_state=seed, n_init=n_init).fit(pixels)
    centres = km.cluster_centers_
    lum = centres @ LUMA_WEIGHTS
    order = np.lexsort((centres[:, 2], centres[:, 1], centres[:, 0], lum))
    log.info("fit_palette: k=%d colours from %d of %d pixels (inertia %.4g)", k, m, total, km.inertia_)
    return centres[order].astype(np.float32)


def _check_palette(palette: np.ndarray) -> np.ndarray:
    palette = np.asarray(palette)
    if palette.ndim != 2 or palette.shape[1] != 3 or len(palette) == 0:
        raise ShapeError(f"palette must be (k, 3) RGB, got shape {palette.shape}")
    return palette


def quantize(images: np.ndarray, palette: np.ndarray, chunk_pixels: int = 1 << 16) -> np.ndarray:
    """Class indices (N, H, W) int64: for each pixel of ``images`` (N, 3, H, W), the index of
    the nearest palette colour by squared Euclidean distance ``sum_c (x_c - p_c)^2`` (the first
    on ties). ``images`` and ``palette`` must be in the same units (0..255 for uint8 images and
    a :func:`fit_palette` palette). Computed a chunk of about ``chunk_pixels`` pixels at a time,
    so memory stays bounded by ``chunk_pixels * k`` floats."""
    images = _rgb_batch(images)
    pal = _check_palette(palette).astype(np.float64)
    n, _, h, w = images.shape
    out = np.empty((n, h, w), np.int64)
    per_chunk = max(1, int(chunk_pixels) // max(1, h * w))
    for start in range(0, n, per_chunk):
        chunk = images[start:start + per_chunk]
        px = chunk.transpose(0, 2, 3, 1).reshape(-1, 3).astype(np.float64)  # (m, 3)
        d = np.zeros((len(px), len(pal)))
        for ch in range(3):  # sum over channels without an (m, k, 3) temporary
            d += (px[:, ch:ch + 1] - pal[None, :, ch]) ** 2
        out[start:start + len(chunk)] = d.argmin(axis=1).reshape(len(chunk), h, w)
    return out


def palette_image(classes: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """The uint8 RGB images (N, 3, H, W) of class indices ``classes`` (N, H, W): each pixel is
    its palette colour, rounded and clipped to [0, 255]."""
    classes = np.asarray(classes)
    pal = round_to(_check_palette(palette).astype(np.float64), np.uint8)
    if classes.ndim != 3:
        raise ShapeError(f"classes must be (N, H, W), got shape {classes.shape}")
    if not np.issubdtype(classes.dtype, np.integer):
        raise ConfigError(f"classes must be integer indices, got dtype {classes.dtype}")
    if classes.size and (classes.min() < 0 or classes.max() >= len(pal)):
        raise ConfigError(f"class indices must be in [0, {len(pal) - 1}], got "
                          f"[{classes.min()}, {classes.max()}]")
    return np.ascontiguousarray(pal[classes].transpose(0, 3, 1, 2))
