"""Super-resolution samples of seed 002, Q5, in NCHW: the low-resolution image by box averaging,
one training pair per high-resolution pixel from its low-resolution 3x3 neighbourhood, and the
image back from per-pixel values.
"""

from __future__ import annotations

import numpy as np

from nnlab.data.preprocess import downscale
from nnlab.errors import ShapeError

__all__ = ["assemble", "sr_patches"]


def sr_patches(hr: np.ndarray, factor: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training pairs for per-pixel super-resolution from one image ``hr`` (C, H, W).

    ``hr`` is cropped to H, W multiples of ``factor``; ``lr = downscale(hr, factor)`` (box
    averaging, see :func:`downscale`) has shape (C, H/f, W/f). For each high-resolution pixel
    (i, j), in row-major order (row ``p = i*W + j``):

    * ``X[p]`` = the 3x3 neighbourhood of the low-resolution pixel ``(i//f, j//f)`` in all
      channels, ``lr`` padded by 1 with ``np.pad(mode="reflect")`` at the borders (the pixel
      mirrored without repeating the edge: ``lr[-1] -> lr[1]``). **Feature order: channel-major,
      then the 3x3 window row-major**: ``X[p, c*9 + 3*(di+1) + (dj+1)] = lr_pad(c, i//f + di,
      j//f + dj)`` for ``di, dj`` in ``-1, 0, 1``. C = 3 gives 27 features.
    * ``Y[p] = hr[:, i, j]`` (C outputs).

    Returns ``X (H*W, 9*C)``, ``Y (H*W, C)`` and ``lr``, all with the dtype of ``hr`` (uint8
    stays uint8; use ``scale01(hr)`` first for float features). Vectorised (no Python loop over
    pixels). :func:`assemble` turns ``Y`` (or a prediction of it) back into an image.
    """
    hr = np.asarray(hr)
    if hr.ndim != 3:
        raise ShapeError(f"sr_patches takes one image (C, H, W), got shape {hr.shape}")
    f = int(factor)
    lr = downscale(hr, f)
    c, h, w = hr.shape[0], lr.shape[1] * f, lr.shape[2] * f
    hr = hr[:, :h, :w]
    padded = np.pad(lr, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))  # (C, h, w, 3, 3)
    rows, cols = np.arange(h) // f, np.arange(w) // f
    per_pixel = windows[:, rows[:, None], cols[None, :]]  # (C, H, W, 3, 3)
    X = np.ascontiguousarray(per_pixel.transpose(1, 2, 0, 3, 4)).reshape(h * w, 9 * c)
    Y = np.ascontiguousarray(hr.reshape(c, h * w).T)
    return X, Y, lr


def assemble(y_pred: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Rebuild an image (C, H, W) from per-pixel values ``y_pred`` (H*W, C) in the row-major
    pixel order of :func:`sr_patches` (``(H*W,)`` is accepted for C = 1). Values and dtype are
    left as given (clip a network's output yourself if needed)."""
    c, h, w = (int(s) for s in shape)
    y = np.asarray(y_pred)
    if y.ndim == 1 and c == 1:
        y = y[:, None]
    if y.shape != (h * w, c):
        raise ShapeError(f"assemble({shape}) needs values of shape ({h * w}, {c}), got {y.shape}")
    return np.ascontiguousarray(y.T.reshape(c, h, w))
