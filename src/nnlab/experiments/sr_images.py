"""Images and samples of the ``super-resolution`` experiment (not an experiment: no ``exp_`` prefix).

Bicubic resizing as the standard protocol does it, the seed's per-pixel samples, the block
layout of the block MLP, and smooth synthetic images for smoke runs.

Definition of the samples. With scale ``r``, HR image ``hr`` (H, W, 3) and LR image ``lr``
(H/r, W/r, 3) (bicubic, antialiased, rounded to 8 bits as in the standard protocol), HR pixel
``(i, j)`` belongs to LR pixel ``(i // r, j // r)``; its features are
``lr[i//r + dy, j//r + dx, c]`` for ``dy, dx`` in (-1, 0, 1) and ``c`` in (R, G, B), in that
order (feature ``(3 * (dy + 1) + (dx + 1)) * 3 + c``), with the LR border replicated.
The four HR pixels of one LR pixel therefore share their features: the seed's MLP can only
paint an ``r x r`` block in one colour, which cannot beat bicubic.
"""

from __future__ import annotations

import numpy as np


def mod_crop(hr: np.ndarray, scale: int) -> np.ndarray:
    """Crop (H, W, 3) to multiples of ``scale``."""
    h, w = hr.shape[0] - hr.shape[0] % scale, hr.shape[1] - hr.shape[1] % scale
    return hr[:h, :w]


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic (PIL, antialiased when shrinking) per channel in float. (H, W, 3) -> (h, w, 3), (h, w) = size."""
    from PIL import Image

    chans = [np.asarray(Image.fromarray(img[..., c].astype(np.float32), mode="F")
                        .resize((size[1], size[0]), Image.Resampling.BICUBIC)) for c in range(img.shape[2])]
    return np.stack(chans, -1).astype(np.float32)


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """The LR image: bicubic downscale of (H, W, 3) [0, 1], rounded to 8 bits. -> (H/s, W/s, 3)."""
    lr = resize(hr, (hr.shape[0] // scale, hr.shape[1] // scale))
    return (np.clip(np.round(lr * 255), 0, 255) / 255).astype(np.float32)


def upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic upscaling, clipped to [0, 1]. (h, w, 3) -> (h*s, w*s, 3)."""
    return np.clip(resize(lr, (lr.shape[0] * scale, lr.shape[1] * scale)), 0, 1)


def neighbourhood_features(lr: np.ndarray, k: int = 3) -> np.ndarray:
    """Each LR pixel's k x k neighbourhood (border replicated), features ordered (dy, dx, c).

    Shapes: (h, w, C) -> (h * w, k * k * C).
    """
    h, w = lr.shape[:2]
    p = np.pad(lr, ((k // 2, k // 2), (k // 2, k // 2), (0, 0)), mode="edge")
    cols = [p[dy:dy + h, dx:dx + w] for dy in range(k) for dx in range(k)]  # k*k of (h, w, C)
    return np.stack(cols, axis=2).reshape(h * w, -1)


def pixel_samples(hr: np.ndarray, lr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The seed's samples: one per HR pixel, features of its LR pixel (i//s, j//s). Row-major over HR.

    Shapes: hr (H, W, 3), lr (H/s, W/s, 3) -> x (H*W, 27), y (H*W, 3).
    """
    h, w = lr.shape[:2]
    feats = neighbourhood_features(lr).reshape(h, w, -1)
    x = np.repeat(np.repeat(feats, scale, 0), scale, 1)  # (H, W, 27)
    return x.reshape(-1, x.shape[-1]), hr.reshape(-1, hr.shape[-1])


def blocks(img: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, C) -> (H/s * W/s, s * s * C): each LR pixel's s x s HR block, ordered (sy, sx, c)."""
    h, w, c = img.shape[0] // scale, img.shape[1] // scale, img.shape[2]
    return img.reshape(h, scale, w, scale, c).transpose(0, 2, 1, 3, 4).reshape(h * w, -1)


def unblocks(b: np.ndarray, h: int, w: int, scale: int) -> np.ndarray:
    """Inverse of :func:`blocks`: (h*w, s*s*C) -> (h*s, w*s, C)."""
    c = b.shape[1] // (scale * scale)
    return b.reshape(h, w, scale, scale, c).transpose(0, 2, 1, 3, 4).reshape(h * scale, w * scale, c)
