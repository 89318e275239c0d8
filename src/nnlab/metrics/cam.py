"""Class activation maps: CAM (Zhou et al. 2016) and Grad-CAM (Selvaraju et al. 2017).

Pure NumPy over arrays a framework has already produced (see ``nnlab.torchlib.cam`` for the
PyTorch hooks that collect them). Maps are (h, w) for one sample or (N, h, w) for a batch.
scikit-image (resizing) and matplotlib (colour maps) are imported inside the functions.
"""

from __future__ import annotations

import numpy as np


def normalize_map(maps: np.ndarray) -> np.ndarray:
    """Shift each map to minimum 0 and scale it to maximum 1; a constant map becomes all 0.

    Shapes: (h, w) or (N, h, w) -> same, float64 in [0, 1].
    """
    maps = np.asarray(maps, dtype=np.float64)
    lo = maps.min(axis=(-2, -1), keepdims=True)
    span = maps.max(axis=(-2, -1), keepdims=True) - lo
    shifted = maps - lo
    return np.divide(shifted, span, out=np.zeros_like(shifted), where=span > 0)


def resize_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (``skimage.transform.resize``, ``order=1``) of each map to ``size``.

    Shapes: (h, w) or (N, h, w) -> (H, W) or (N, H, W).
    """
    maps = np.asarray(maps, dtype=np.float64)
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise ValueError(f"size must be (H, W), got {size}")
    if maps.shape[-2:] == size:
        return maps
    from skimage.transform import resize

    if maps.ndim == 2:
        return resize(maps, size, order=1, mode="edge")
    return np.stack([resize(m, size, order=1, mode="edge") for m in maps])  # (N, H, W)


def _check_maps_input(features: np.ndarray, name: str) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim not in (3, 4):
        raise ValueError(f"{name}: expected (C, h, w) or (N, C, h, w), got {features.shape}")
    return features


def class_activation_map(features: np.ndarray, fc_weight: np.ndarray, class_idx,
                         size: tuple[int, int] | None = None, *,
                         normalize: bool = False) -> np.ndarray:
    """CAM of Zhou et al. (2016): ``M_k = sum_c w[k, c] F_c`` for a global-average-pooling head.

    ``features`` are the maps that the pooling averages; ``fc_weight`` is the weight of the
    linear layer after the pooling. The map is returned raw, as in the paper (no ReLU);
    ``size`` resizes it bilinearly and ``normalize=True`` applies :func:`normalize_map`.
    For a batch, ``class_idx`` is one class for all samples or one per sample.

    Shapes: features (C, h, w), fc_weight (K, C), class_idx int -> (h, w) or size;
    features (N, C, h, w), class_idx int or (N,) -> (N, h, w) or (N, *size).
    """
    features = _check_maps_input(features, "class_activation_map")
    fc_weight = np.asarray(fc_weight, dtype=np.float64)
    c = features.shape[-3]
    if fc_weight.ndim != 2 or fc_weight.shape[1] != c:
        raise ValueError(f"class_activation_map: fc_weight {fc_weight.shape} does not match "
                         f"{c} feature channels; expected (K, {c})")
    idx = np.asarray(class_idx, dtype=np.intp)
    if features.ndim == 3:
        if idx.ndim != 0:
            raise ValueError("class_activation_map: one sample takes one class index")
        maps = np.einsum("c,chw->hw", fc_weight[idx], features)  # (h, w)
    else:
        idx = np.broadcast_to(idx, features.shape[:1])  # (N,)
        maps = np.einsum("nc,nchw->nhw", fc_weight[idx], features)  # (N, h, w)
    if size is not None:
        maps = resize_maps(maps, size)
    return normalize_map(maps) if normalize else maps


def grad_cam(activations: np.ndarray, gradients: np.ndarray,
             size: tuple[int, int] | None = None) -> np.ndarray:
    """Grad-CAM of Selvaraju et al. (2017): ``ReLU(sum_c alpha_c A_c)``, normalised to [0, 1].

    ``alpha_c`` is the gradient of the class score with respect to ``A_c``, averaged over the
    spatial positions. ``size`` resizes the map bilinearly before normalisation.

    Shapes: activations, gradients (C, h, w) -> (h, w); (N, C, h, w) -> (N, h, w);
    with ``size``, (H, W) replaces (h, w).
    """
    activations = _check_maps_input(activations, "grad_cam")
    gradients = np.asarray(gradients, dtype=np.float64)
    if gradients.shape != activations.shape:
        raise ValueError(f"grad_cam: gradients {gradients.shape} != activations {activations.shape}")
    alpha = gradients.mean(axis=(-2, -1), keepdims=True)  # (..., C, 1, 1)
    maps = np.maximum((alpha * activations).sum(axis=-3), 0.0)  # (h, w) or (N, h, w)
    if size is not None:
        maps = resize_maps(maps, size)
    return normalize_map(maps)


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.5,
            colormap: str = "jet") -> np.ndarray:
    """A heat map of ``cam`` blended over ``image``, for figures.

    ``image`` is grey or RGB, float in [0, 1] or uint8; ``cam`` is a map in [0, 1] (values
    outside are clipped) of the image's spatial size (resize it with ``size=`` first).
    The result is ``(1 - alpha) * image + alpha * colormap(cam)``.

    Shapes: image (H, W) or (H, W, 3), cam (H, W) -> (H, W, 3) float64 in [0, 1].
    """
    import matplotlib

    img = np.asarray(image)
    img = img.astype(np.float64) / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"overlay expects an (H, W) or (H, W, 3) image, got {img.shape}")
    cam = np.asarray(cam, dtype=np.float64)
    if cam.shape != img.shape[:2]:
        raise ValueError(f"overlay: cam {cam.shape} does not match image {img.shape[:2]}; "
                         "resize it with size=")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    heat = matplotlib.colormaps[colormap](np.clip(cam, 0.0, 1.0))[..., :3]  # (H, W, 3)
    return np.clip((1.0 - alpha) * np.clip(img, 0.0, 1.0) + alpha * heat, 0.0, 1.0)


def mass_share(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The share of each map's total mass that lies inside ``mask``.

    ``maps`` are non-negative (Grad-CAM's, or CAMs after a ReLU); ``mask`` is a boolean (H, W)
    region, e.g. the centre of a face. A map with no mass at all gives NaN (it looks nowhere).
    A map spread evenly gives the mask's area fraction, the chance level to compare with.

    Shapes: maps (H, W) -> float; (N, H, W) -> (N,); mask (H, W) bool.
    """
    maps = np.asarray(maps, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if maps.shape[-2:] != mask.shape:
        raise ValueError(f"mass_share: mask {mask.shape} does not match maps {maps.shape[-2:]}")
    if (maps < 0).any():
        raise ValueError("mass_share needs non-negative maps (apply a ReLU or normalize_map first)")
    total = maps.sum(axis=(-2, -1))
    inside = (maps * mask).sum(axis=(-2, -1))
    share = np.divide(inside, total, out=np.full_like(total, np.nan), where=total > 0)
    return float(share) if share.ndim == 0 else share
