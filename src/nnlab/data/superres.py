"""Super-resolution images and samples in (C, H, W), the standard protocol and seed 002, Q5.

The low-resolution (LR) image of a high-resolution (HR) image ``hr`` (C, H, W) in [0, 1] at
scale ``r``: ``hr`` cropped to multiples of ``r`` (:func:`mod_crop`), shrunk by bicubic
interpolation (PIL, antialiased) and rounded to 8 bits, as the LR files of Set5/Set14 are made
(:func:`bicubic_downscale`). Bicubic upscaling (:func:`bicubic_upscale`) is the baseline.

The seed's samples: HR pixel ``(i, j)`` belongs to LR pixel ``(i // r, j // r)``; its features
are the 3x3 LR neighbourhood ``lr[c, i//r + dy, j//r + dx]`` for ``dy, dx`` in (-1, 0, 1) and
``c`` in (R, G, B), **in that order** (feature ``(3 * (dy + 1) + (dx + 1)) * C + c``), with the
LR border replicated (:func:`neighbourhoods`, :func:`sr_patches`). The ``r x r`` HR pixels of
one LR pixel therefore share their features: a per-pixel model can only paint each block in one
colour. :func:`blocks` gathers each LR pixel's ``r x r`` block as one target row (for models
that predict the whole block) and :func:`assemble` puts rows back into an image.

Metrics (:mod:`nnlab.metrics.image`) and figures take channel-last images: use
``image.transpose(1, 2, 0)`` there.
"""

from __future__ import annotations

import numpy as np

from nnlab.errors import ConfigError, ShapeError

__all__ = ["assemble", "bicubic_downscale", "bicubic_resize", "bicubic_upscale", "blocks", "mod_crop",
           "neighbourhoods", "sr_patches"]


def _image(image, name: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3:
        raise ShapeError(f"{name} must be one image (C, H, W), got shape {image.shape}")
    return image


def _factor(factor) -> int:
    f = int(factor)
    if f != factor or f < 1:
        raise ConfigError(f"the scale factor must be a positive integer, got {factor!r}")
    return f


def mod_crop(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` (..., H, W) cropped at the bottom and right to H, W multiples of ``factor``."""
    f = _factor(factor)
    h, w = image.shape[-2:]
    return image[..., :h - h % f, :w - w % f]


def bicubic_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic resizing (PIL; antialiased when shrinking) of each channel in float32.

    Shapes: (C, H, W) -> (C, h, w) with ``(h, w) = size``; values are not clipped.
    """
    from PIL import Image

    image = _image(image)
    h, w = (int(s) for s in size)
    return np.stack([np.asarray(Image.fromarray(channel.astype(np.float32), mode="F")
                                .resize((w, h), Image.Resampling.BICUBIC)) for channel in image]).astype(np.float32)


def bicubic_downscale(hr: np.ndarray, factor: int) -> np.ndarray:
    """The LR image of ``hr`` (C, H, W) in [0, 1]: bicubic shrink by ``factor`` rounded to 8 bits.

    -> (C, H // factor, W // factor) float32 in [0, 1] (multiples of 1/255).
    """
    hr, f = _image(hr, "hr"), _factor(factor)
    if hr.shape[1] < f or hr.shape[2] < f:
        raise ShapeError(f"image of shape {hr.shape} is smaller than the factor {f}")
    lr = bicubic_resize(hr, (hr.shape[1] // f, hr.shape[2] // f))
    return (np.clip(np.round(lr * 255), 0, 255) / 255).astype(np.float32)


def bicubic_upscale(lr: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic upscaling clipped to [0, 1]. (C, h, w) -> (C, h * factor, w * factor) float32."""
    lr, f = _image(lr, "lr"), _factor(factor)
    return np.clip(bicubic_resize(lr, (lr.shape[1] * f, lr.shape[2] * f)), 0, 1)


def neighbourhoods(lr: np.ndarray, k: int = 3) -> np.ndarray:
    """Each LR pixel's ``k x k`` neighbourhood (border replicated) as one row, ordered (dy, dx, c).

    Rows are the LR pixels in row-major order. Shapes: (C, h, w) -> (h * w, k * k * C).
    """
    lr = _image(lr, "lr")
    c, h, w = lr.shape
    p = np.pad(lr, ((0, 0), (k // 2, k // 2), (k // 2, k // 2)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(p, (k, k), axis=(1, 2))  # (C, h, w, k, k)
    return np.ascontiguousarray(windows.transpose(1, 2, 3, 4, 0)).reshape(h * w, k * k * c)


def sr_patches(hr: np.ndarray, factor: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed's samples of one image ``hr`` (C, H, W) in [0, 1]: one per HR pixel.

    ``hr`` is cropped to multiples of ``factor`` and ``lr = bicubic_downscale(hr, factor)``.
    ``X[p]`` (row-major HR pixel ``p = i * W + j``) is the :func:`neighbourhoods` row of LR pixel
    ``(i // factor, j // factor)`` and ``Y[p] = hr[:, i, j]``.

    Returns ``X (H*W, 9*C)``, ``Y (H*W, C)`` and ``lr (C, H/f, W/f)``; :func:`assemble` turns
    ``Y`` (or a prediction of it) back into an image.
    """
    f = _factor(factor)
    hr = mod_crop(_image(hr, "hr"), f)
    lr = bicubic_downscale(hr, f)
    c, h, w = lr.shape
    feats = neighbourhoods(lr).reshape(h, w, -1)
    X = np.repeat(np.repeat(feats, f, 0), f, 1).reshape(h * w * f * f, -1)
    Y = np.ascontiguousarray(hr.reshape(c, -1).T)
    return X, Y, lr


def blocks(image: np.ndarray, factor: int) -> np.ndarray:
    """Each LR pixel's ``factor x factor`` block of ``image`` as one row, ordered (sy, sx, c).

    Shapes: (C, H, W) -> (H/f * W/f, f * f * C); :func:`assemble` is its inverse.
    """
    image, f = mod_crop(_image(image), factor), _factor(factor)
    c, h, w = image.shape[0], image.shape[1] // f, image.shape[2] // f
    return np.ascontiguousarray(image.reshape(c, h, f, w, f).transpose(1, 3, 2, 4, 0)).reshape(h * w, f * f * c)


def assemble(values: np.ndarray, shape: tuple[int, int, int], factor: int = 1) -> np.ndarray:
    """The image (C, H, W) = ``shape`` from rows of :func:`blocks` (``factor`` > 1) or of per-pixel
    values (H*W, C) (``factor`` = 1, the order of :func:`sr_patches`' ``Y``; ``(H*W,)`` is accepted
    for C = 1). Values and dtype are kept (clip a network's output yourself)."""
    c, H, W = (int(s) for s in shape)
    f = _factor(factor)
    if H % f or W % f:
        raise ShapeError(f"assemble: the image size {H}x{W} is not a multiple of the factor {f}")
    h, w = H // f, W // f
    v = np.asarray(values)
    if v.ndim == 1 and c == 1 and f == 1:
        v = v[:, None]
    if v.shape != (h * w, f * f * c):
        raise ShapeError(f"assemble({shape}, factor={f}) needs values of shape ({h * w}, {f * f * c}), got {v.shape}")
    return np.ascontiguousarray(v.reshape(h, w, f, f, c).transpose(4, 0, 2, 1, 3)).reshape(c, H, W)
