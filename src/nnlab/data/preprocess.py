"""Image preprocessing: greyscale, scaling to [0, 1], resizing and block-mean downscaling.

The other preprocessing topics have modules of their own: standardisation, PCA and the seed-000
feature pipeline in :mod:`nnlab.data.features`; train/validation/test splits in
:mod:`nnlab.data.splits`; super-resolution samples in :mod:`nnlab.data.superres`; colour palettes
in :mod:`nnlab.data.palettes`.

Conventions
-----------
* Images are ``(N, C, H, W)`` (a batch) or ``(C, H, W)`` (one image) NumPy arrays, ``uint8`` in
  ``[0, 255]`` or floating point (by convention in ``[0, 1]``). Functions that take both say so.
* Bad arguments raise ``ValueError`` subclasses: :class:`~nnlab.errors.ShapeError` for
  arrays of the wrong shape, :class:`~nnlab.errors.ConfigError` for bad settings.
"""

from __future__ import annotations

import numpy as np

from nnlab.errors import ConfigError, ShapeError

__all__ = ["LUMA_WEIGHTS", "downscale", "resize", "scale01", "to_grayscale"]

#: ITU-R BT.601 luma weights for R, G, B (what Pillow's ``Image.convert("L")`` uses)
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])

#: images processed at a time by the functions that work in chunks to bound memory
CHUNK_IMAGES = 256


def image_array(images: np.ndarray, what: str = "images") -> np.ndarray:
    """``images`` as an array of shape (C, H, W) or (N, C, H, W), else a ShapeError."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ShapeError(f"{what} must be (N, C, H, W) or (C, H, W), got shape {images.shape}")
    return images


def round_to(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``values`` cast to ``dtype``: rounded and clipped to [0, 255] for uint8, a plain cast else."""
    if np.dtype(dtype) == np.uint8:
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return values.astype(dtype, copy=False)


# --------------------------------------------------------------------------------------------
# greyscale and scaling
# --------------------------------------------------------------------------------------------

def to_grayscale(images: np.ndarray, method: str = "luma") -> np.ndarray:
    """Greyscale images: ``(N, 3, H, W) -> (N, 1, H, W)`` (or ``(3, H, W) -> (1, H, W)``).

    ``method="luma"``: ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601, the weights of
    Pillow's ``convert("L")``). ``method="mean"``: ``Y = (R + G + B) / 3``, the plain mean the
    colourization seed feeds its network.

    The dtype is kept. For uint8 the exact value is rounded half up with integer arithmetic
    (luma: ``(299 R + 587 G + 114 B + 500) // 1000``; mean: ``(R + G + B + 1) // 3``); Pillow
    uses a 16-bit fixed-point approximation of the same weights, so it can differ by one grey
    level on a few pixels. Float input gives float output of the same dtype, unrounded.

    Single-channel input is returned unchanged (the same array); any other channel count than
    1 or 3 raises a :class:`ShapeError` naming the shape.
    """
    images = image_array(images)
    if method not in ("luma", "mean"):
        raise ConfigError(f"unknown greyscale method {method!r}; use 'luma' or 'mean'")
    channels = images.shape[-3]
    if channels == 1:
        return images
    if channels != 3:
        raise ShapeError(f"greyscale needs 1 or 3 channels, got images of shape {images.shape}")
    single = images.ndim == 3
    batch = images[None] if single else images
    if batch.dtype == np.uint8:
        out = np.empty((len(batch), 1) + batch.shape[2:], np.uint8)
        for start in range(0, len(batch), CHUNK_IMAGES):
            chunk = batch[start:start + CHUNK_IMAGES].astype(np.int32)
            if method == "luma":
                total = 299 * chunk[:, 0] + 587 * chunk[:, 1] + 114 * chunk[:, 2]
                out[start:start + CHUNK_IMAGES, 0] = (total + 500) // 1000
            else:
                out[start:start + CHUNK_IMAGES, 0] = (chunk.sum(axis=1) + 1) // 3
    elif np.issubdtype(batch.dtype, np.floating):
        weights = LUMA_WEIGHTS if method == "luma" else np.full(3, 1.0 / 3.0)
        out = np.einsum("nchw,c->nhw", batch, weights.astype(batch.dtype))[:, None]
    else:
        raise ConfigError(f"greyscale supports uint8 or float images, got dtype {batch.dtype}")
    return out[0] if single else out


def scale01(images: np.ndarray) -> np.ndarray:
    """Images as float32 in [0, 1]: uint8 is divided by 255; float input must already lie in
    [0, 1] (and be finite) and is only cast to float32. Anything else raises ``ValueError``."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(images.dtype, np.floating):
        raise ConfigError(f"scale01 supports uint8 or float images, got dtype {images.dtype}")
    if images.size:
        lo, hi = float(np.min(images)), float(np.max(images))
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
            raise ConfigError(
                f"float images must already be in [0, 1], got values in [{lo:g}, {hi:g}] "
                f"(uint8 images are divided by 255; rescale other ranges first)"
            )
    return images.astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------------
# resizing
# --------------------------------------------------------------------------------------------

def resize(images: np.ndarray, size: tuple[int, int], anti_aliasing: bool = True,
           order: int = 1) -> np.ndarray:
    """Images (N, C, H, W) or (C, H, W) resized to ``size = (H2, W2)`` with
    ``skimage.transform.resize`` (``order=1``: bilinear; ``mode="reflect"`` at the borders;
    Gaussian anti-aliasing before downsampling when ``anti_aliasing``). Only the spatial axes
    are resized. The dtype is kept: uint8 is rounded and clipped to [0, 255], float is cast
    back to its dtype. Works a chunk of images at a time to bound memory.
    """
    from skimage.transform import resize as sk_resize

    images = image_array(images)
    h2, w2 = (int(size[0]), int(size[1]))
    if h2 < 1 or w2 < 1:
        raise ConfigError(f"resize size must be positive, got {size}")
    single = images.ndim == 3
    batch = images[None] if single else images
    n, c, h, w = batch.shape
    out = np.empty((n, c, h2, w2), batch.dtype)
    for start in range(0, n, CHUNK_IMAGES):
        chunk = batch[start:start + CHUNK_IMAGES]
        m = len(chunk)
        # spatial axes first; the stacked channels (m*c) are the last axis, which skimage keeps
        # as channels when the output shape names only (H2, W2)
        hwk = chunk.reshape(m * c, h, w).transpose(1, 2, 0)
        res = sk_resize(hwk, (h2, w2), order=order, anti_aliasing=anti_aliasing,
                        preserve_range=True, mode="reflect")
        out[start:start + m] = round_to(res, batch.dtype).transpose(2, 0, 1).reshape(m, c, h2, w2)
    return out[0] if single else out


# --------------------------------------------------------------------------------------------
# block-mean downscaling
# --------------------------------------------------------------------------------------------

def downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """The low-resolution version of ``image`` (C, H, W) (or a batch (N, C, H, W)).

    Method: **area (box) averaging** with ``skimage.transform.downscale_local_mean``: each
    low-resolution pixel is the mean of a ``factor x factor`` block of high-resolution pixels,
    ``lr[c, a, b] = mean(hr[c, a*f:(a+1)*f, b*f:(b+1)*f])``. H and W are first cropped (at the
    bottom and right) to multiples of ``factor``, so every block is complete.
    The dtype is kept (uint8 rounded to nearest).
    """
    from skimage.transform import downscale_local_mean

    image = image_array(image, "image")
    f = int(factor)
    if f < 1:
        raise ConfigError(f"downscale factor must be a positive integer, got {factor}")
    h, w = image.shape[-2:]
    hc, wc = h // f * f, w // f * f
    if hc == 0 or wc == 0:
        raise ShapeError(f"image of shape {image.shape} is smaller than the factor {f}")
    cropped = image[..., :hc, :wc]
    factors = (1,) * (image.ndim - 2) + (f, f)
    low = downscale_local_mean(cropped.astype(np.float64), factors)
    return round_to(low, image.dtype)
