"""Image-quality metrics: PSNR and SSIM, with the Y-channel protocol of super-resolution papers.

Images are channel-last: (H, W) grey or (H, W, 3) RGB. scikit-image is imported inside the
functions that need it, so importing this module costs NumPy alone.

The super-resolution protocol (SRCNN onwards, as in MATLAB ``rgb2ycbcr``): convert both
images to the BT.601 luma channel Y, shave ``scale`` pixels off each border, then compute
PSNR or SSIM on Y alone.
"""

from __future__ import annotations

import math

import numpy as np

# ITU-R BT.601 luma for [0, 1] RGB, as MATLAB's rgb2ycbcr: Y in [16, 235] / 255
_Y_OFFSET = 16.0
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])

# Wang et al. (2004) SSIM: an 11x11 Gaussian window with sigma 1.5, population covariance
_SSIM_PROTOCOL = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def _as_unit_range(img: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """float64 in [0, 1]: uint8 is divided by 255, floats by ``data_range``."""
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    if not np.issubdtype(img.dtype, np.floating):
        raise ValueError(f"expected a float image in [0, {data_range}] or uint8, got {img.dtype}")
    return img.astype(np.float64) / data_range


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Y in [16/255, 235/255] of (..., H, W, 3) RGB in [0, 1]."""
    return (_Y_OFFSET + rgb @ _Y_WEIGHTS) / 255.0


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image, as MATLAB's ``rgb2ycbcr`` (the super-resolution protocol).

    ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` for R, G, B in [0, 1]; a uint8
    image is divided by 255 first. The result is float64 in [16/255, 235/255] (black is
    16/255 ~ 0.063, white 235/255 ~ 0.922), on the same [0, 1] scale as the input.

    Shapes: (H, W, 3) -> (H, W); a stack (..., H, W, 3) -> (..., H, W).
    """
    img = np.asarray(img)
    if img.ndim < 3 or img.shape[-1] != 3:
        raise ValueError(f"rgb_to_y expects (H, W, 3) RGB images (or a stack of them), got shape {img.shape}")
    return _luma(_as_unit_range(img))


def shave(img: np.ndarray, border: int) -> np.ndarray:
    """Drop ``border`` pixels from each side of the two spatial axes; 0 leaves it unchanged.

    Shapes: (H, W) or (H, W, C) -> (H - 2 border, W - 2 border[, C]).
    """
    img = np.asarray(img)
    if border < 0:
        raise ValueError(f"border must be >= 0, got {border}")
    if img.ndim < 2 or 2 * border >= min(img.shape[:2]):
        raise ValueError(f"cannot shave {border} pixels from each side of an image of shape {img.shape}")
    if border == 0:
        return img
    return img[border:-border, border:-border]


def _check_pair(reference: np.ndarray, test: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    reference, test = np.asarray(reference), np.asarray(test)
    for img in (reference, test):
        if not (img.ndim == 2 or (img.ndim == 3 and img.shape[-1] == 3)):
            raise ValueError(f"{name} expects (H, W) grey or (H, W, 3) RGB images (channel-last), "
                             f"got shape {img.shape}")
    if reference.shape != test.shape:
        raise ValueError(f"{name}: reference shape {reference.shape} != test shape {test.shape}")
    return reference, test


def _prepare(reference, test, data_range, y_channel, border, name):
    """The two images to compare and the data range to compare them with."""
    reference, test = _check_pair(reference, test, name)
    if y_channel:
        if reference.ndim != 3:
            raise ValueError(f"{name}: y_channel=True needs (H, W, 3) RGB, got {reference.shape}")
        reference = _luma(_as_unit_range(reference, data_range))  # (H, W)
        test = _luma(_as_unit_range(test, data_range))
        data_range = 1.0
    elif reference.dtype == np.uint8 and data_range != 255:
        raise ValueError(f"{name}: uint8 images need data_range=255, got {data_range}")
    return shave(reference, border), shave(test, border), data_range


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float = 1.0, *,
         y_channel: bool = False, border: int = 0) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range**2 / MSE)``; inf for equal images.

    ``data_range`` is the span of pixel values (1.0 for [0, 1] floats, 255 for uint8). With
    ``y_channel=True`` both RGB images go through :func:`rgb_to_y` (floats read as
    [0, ``data_range``], uint8 as [0, 255]) and PSNR is computed on Y in [0, 1]. ``border``
    pixels are shaved from each side first (the scale factor, in super-resolution papers).

    Shapes: reference, test (H, W) or (H, W, 3), equal -> float.
    """
    from skimage.metrics import peak_signal_noise_ratio

    reference, test, data_range = _prepare(reference, test, data_range, y_channel, border, "psnr")
    if np.array_equal(reference, test):
        return math.inf
    return float(peak_signal_noise_ratio(reference, test, data_range=data_range))


def ssim(reference: np.ndarray, test: np.ndarray, data_range: float = 1.0, *,
         y_channel: bool = False, border: int = 0) -> float:
    """Structural similarity (Wang et al. 2004), 1 for equal images.

    Uses the settings of the original paper, which super-resolution papers report:
    an 11x11 Gaussian window with ``sigma=1.5`` and population covariance
    (``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``). RGB images are
    compared per channel and averaged (``channel_axis=-1``). ``data_range``, ``y_channel``
    and ``border`` mean what they mean for :func:`psnr`. Images must be at least 11 pixels
    on each side after shaving.

    Shapes: reference, test (H, W) or (H, W, 3), equal -> float.
    """
    from skimage.metrics import structural_similarity

    reference, test, data_range = _prepare(reference, test, data_range, y_channel, border, "ssim")
    channel_axis = -1 if reference.ndim == 3 else None
    return float(structural_similarity(reference.astype(np.float64), test.astype(np.float64),
                                       data_range=data_range, channel_axis=channel_axis,
                                       **_SSIM_PROTOCOL))
