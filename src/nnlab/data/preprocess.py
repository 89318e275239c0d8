"""Preprocessing for image sets: greyscale, scaling, standardisation, PCA, resizing, splits,
super-resolution patches and the colourization palette.

Conventions
-----------
* Images are ``(N, C, H, W)`` (a batch) or ``(C, H, W)`` (one image) NumPy arrays, ``uint8`` in
  ``[0, 255]`` or floating point (by convention in ``[0, 1]``). Functions that take both say so.
* Everything that learns from data (``Standardizer``, ``fit_pca``, ``FeaturePipeline``,
  ``fit_palette``) must be **fitted on the training split only** and then applied unchanged to
  the validation and test splits; otherwise test information leaks into the model.
* Randomness is always seeded explicitly (``seed`` arguments); nothing uses global state.
* Bad arguments raise ``ValueError`` subclasses: :class:`~nnlab.errors.ShapeError` for
  arrays of the wrong shape, :class:`~nnlab.errors.ConfigError` for bad settings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

from nnlab.data.dataset import ImageSet
from nnlab.errors import ConfigError, ShapeError

log = logging.getLogger(__name__)

__all__ = [
    "LUMA_WEIGHTS",
    "FeaturePipeline",
    "Standardizer",
    "assemble",
    "downscale",
    "fit_palette",
    "fit_pca",
    "palette_image",
    "quantize",
    "resize",
    "scale01",
    "split_imageset",
    "split_indices",
    "sr_patches",
    "to_grayscale",
]

#: ITU-R BT.601 luma weights for R, G, B (what Pillow's ``Image.convert("L")`` uses)
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])

#: images processed at a time by the functions that work in chunks to bound memory
_CHUNK_IMAGES = 256


def _image_array(images: np.ndarray, what: str = "images") -> np.ndarray:
    """``images`` as an array of shape (C, H, W) or (N, C, H, W), else a ShapeError."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ShapeError(f"{what} must be (N, C, H, W) or (C, H, W), got shape {images.shape}")
    return images


def _round_to(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
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
    images = _image_array(images)
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
        for start in range(0, len(batch), _CHUNK_IMAGES):
            chunk = batch[start:start + _CHUNK_IMAGES].astype(np.int32)
            if method == "luma":
                total = 299 * chunk[:, 0] + 587 * chunk[:, 1] + 114 * chunk[:, 2]
                out[start:start + _CHUNK_IMAGES, 0] = (total + 500) // 1000
            else:
                out[start:start + _CHUNK_IMAGES, 0] = (chunk.sum(axis=1) + 1) // 3
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
# standardisation and PCA
# --------------------------------------------------------------------------------------------

def _chunked_mean_var(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and (population) variance of ``x`` over axis 0 and ``axes``, in float64, a chunk of
    samples at a time (Chan et al.'s pairwise combination), so no float64 copy of ``x`` is made."""
    reduce = (0,) + tuple(axes)
    mean = var_sum = None
    count = 0
    for start in range(0, len(x), _CHUNK_IMAGES):
        chunk = x[start:start + _CHUNK_IMAGES].astype(np.float64)
        n = int(np.prod([chunk.shape[a] for a in reduce]))
        m = chunk.mean(axis=reduce)
        m2 = ((chunk - np.expand_dims(m, reduce)) ** 2).sum(axis=reduce)
        if mean is None:
            mean, var_sum, count = m, m2, n
        else:
            delta = m - mean
            total = count + n
            mean = mean + delta * (n / total)
            var_sum = var_sum + m2 + delta ** 2 * (count * n / total)
            count = total
    return mean, var_sum / count, count


class Standardizer:
    """``(x - mean) / std`` with statistics fitted on the training data only.

    ``mode="channel"``: one mean/std per channel (axis 1), over samples and all other axes;
    for images (N, C, H, W) that is over N, H, W. ``mode="feature"``: one mean/std per feature,
    i.e. per position of ``x.shape[1:]``, over the samples (axis 0); for flattened features
    (N, D) that is per column.

    ``std`` is the population standard deviation (``ddof=0``); where it is below ``eps`` (a
    constant feature or channel) it is replaced by 1, so such values map to 0 instead of
    dividing by zero. Statistics are computed in float64; ``transform`` returns float32
    (float64 for float64 input).

    ``state_dict()`` is a dict of NumPy arrays (``np.savez(path, **s.state_dict())``) and
    ``Standardizer.from_state_dict(np.load(path))`` restores it.
    """

    def __init__(self, mode: str = "channel", eps: float = 1e-8) -> None:
        if mode not in ("channel", "feature"):
            raise ConfigError(f"unknown standardisation mode {mode!r}; use 'channel' or 'feature'")
        self.mode = mode
        self.eps = float(eps)
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    # statistics are stored with the shape of one sample, broadcastable against x[i]
    def fit(self, x: np.ndarray) -> Standardizer:
        """Fit mean and std on ``x`` (N, ...), the training data only."""
        x = np.asarray(x)
        if x.ndim < 2 or len(x) == 0:
            raise ShapeError(f"Standardizer.fit needs a non-empty (N, ...) array, got shape {x.shape}")
        if self.mode == "channel":
            axes = tuple(range(2, x.ndim))
            mean, var, _ = _chunked_mean_var(x, axes)
            shape = (x.shape[1],) + (1,) * (x.ndim - 2)
            mean, var = mean.reshape(shape), var.reshape(shape)
        else:
            mean, var, _ = _chunked_mean_var(x, ())
        std = np.sqrt(var)
        small = std < self.eps
        if small.any():
            log.info("Standardizer: %d of %d %ss have std < %g; their std is set to 1",
                     int(small.sum()), small.size, self.mode, self.eps)
            std = np.where(small, 1.0, std)
        self.mean_, self.std_ = mean, std
        return self

    def _check(self, x: np.ndarray) -> np.ndarray:
        if self.mean_ is None:
            raise NotFittedError("Standardizer is not fitted yet: call fit(train_data) first")
        x = np.asarray(x)
        if self.mode == "feature":
            ok = x.shape[1:] == self.mean_.shape
        else:
            ok = x.ndim == self.mean_.ndim + 1 and x.shape[1] == self.mean_.shape[0]
        if not ok:
            expected = ("(N, " + ", ".join(map(str, self.mean_.shape)) + ")") if self.mode == "feature" \
                else f"(N, {self.mean_.shape[0]}, ...) with {self.mean_.ndim + 1} dimensions"
            raise ShapeError(f"Standardizer was fitted on {expected}, got shape {x.shape}")
        return x

    def _out_dtype(self, x: np.ndarray) -> type:
        return np.float64 if x.dtype == np.float64 else np.float32

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` with the fitted statistics."""
        x = self._check(x)
        dtype = self._out_dtype(x)
        return ((x - self.mean_.astype(dtype)) / self.std_.astype(dtype)).astype(dtype, copy=False)

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """``z * std + mean``: back to the original units (as float)."""
        z = self._check(z)
        dtype = self._out_dtype(z)
        return (z * self.std_.astype(dtype) + self.mean_.astype(dtype)).astype(dtype, copy=False)

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        """``fit(x)`` then ``transform(x)``."""
        return self.fit(x).transform(x)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The fitted state as NumPy arrays: ``mean``, ``std``, ``mode`` (a 0-d string array)
        and ``eps``; saveable with ``np.savez`` and loadable without pickle."""
        if self.mean_ is None:
            raise NotFittedError("Standardizer is not fitted yet: nothing to save")
        return {"mean": self.mean_.copy(), "std": self.std_.copy(), "mode": np.array(self.mode),
                "eps": np.array(self.eps)}

    def load_state_dict(self, state) -> Standardizer:
        """Restore a state from :meth:`state_dict` (a dict or an ``np.load`` result)."""
        mode = str(np.asarray(state["mode"]))
        if mode not in ("channel", "feature"):
            raise ConfigError(f"state has unknown standardisation mode {mode!r}")
        self.mode = mode
        self.eps = float(np.asarray(state["eps"]))
        self.mean_ = np.asarray(state["mean"], np.float64)
        self.std_ = np.asarray(state["std"], np.float64)
        if self.mean_.shape != self.std_.shape:
            raise ShapeError(f"state mean {self.mean_.shape} and std {self.std_.shape} differ in shape")
        return self

    @classmethod
    def from_state_dict(cls, state) -> Standardizer:
        """A new Standardizer with the state from :meth:`state_dict`."""
        return cls().load_state_dict(state)

    def __repr__(self) -> str:
        fitted = "unfitted" if self.mean_ is None else f"fitted, shape {self.mean_.shape}"
        return f"Standardizer(mode={self.mode!r}, {fitted})"


def fit_pca(train_features: np.ndarray, n_components: int, seed: int = 0) -> PCA:
    """A scikit-learn PCA (``whiten=False``) fitted on ``train_features`` (N, D).

    Fit on the **training split only**, then ``pca.transform`` the validation and test
    features with this same fitted object; fitting on all data leaks test information.
    ``pca.transform(x) = (x - pca.mean_) @ pca.components_.T`` (centred by the training mean).
    Up to 2,048 features the exact covariance solver is used (about 3 s for 32x32 faces, where
    the randomized solver took 30 s on 2 busy cores); above, the randomized SVD, whose
    ``random_state`` is ``seed``, so the result is reproducible either way.
    """
    x = np.asarray(train_features)
    if x.ndim != 2:
        raise ShapeError(f"PCA needs (N, D) features, got shape {x.shape}; flatten images first")
    n_components = int(n_components)
    if not 1 <= n_components <= min(x.shape):
        raise ConfigError(f"n_components must be in [1, min(N, D) = {min(x.shape)}], got {n_components}")
    solver = "covariance_eigh" if x.shape[1] <= 2048 else "randomized"
    pca = PCA(n_components=n_components, whiten=False, svd_solver=solver, random_state=seed)
    pca.fit(x)
    log.info("PCA (%s): %d -> %d components on %d training samples, %.1f%% of the variance kept", solver,
             x.shape[1], n_components, x.shape[0], 100 * float(pca.explained_variance_ratio_.sum()))
    return pca


class FeaturePipeline:
    """Images -> feature vectors: greyscale, scale to [0, 1], flatten, optionally standardise
    (per feature), optionally PCA. Every fitted step is fitted by :meth:`fit` on the training
    images only; :meth:`transform` applies them unchanged and refuses to run before ``fit``.

    Seed 000's "greyscale, /255, PCA 128" in two lines::

        pipe = FeaturePipeline(grayscale="luma", pca=128, seed=0).fit(train.images)
        x_train, x_test = pipe.transform(train.images), pipe.transform(test.images)

    ``grayscale``: ``"luma"``, ``"mean"`` or ``None`` (keep the channels). Output is float32
    (N, D) with D = C*H*W, or ``pca`` when set.
    """

    def __init__(self, grayscale: str | None = "luma", standardize: bool = False,
                 pca: int | None = None, seed: int = 0) -> None:
        if grayscale not in (None, "luma", "mean"):
            raise ConfigError(f"grayscale must be 'luma', 'mean' or None, got {grayscale!r}")
        self.grayscale = grayscale
        self.standardize = bool(standardize)
        self.pca = pca
        self.seed = seed
        self.standardizer_: Standardizer | None = None
        self.pca_: PCA | None = None
        self.input_shape_: tuple[int, ...] | None = None

    def _features(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4:
            raise ShapeError(f"FeaturePipeline needs images (N, C, H, W), got shape {images.shape}")
        if self.grayscale is not None:
            images = to_grayscale(images, self.grayscale)
        return scale01(images).reshape(len(images), -1)

    def fit(self, train_images: np.ndarray) -> FeaturePipeline:
        """Fit the standardiser and PCA (when asked for) on the training images only."""
        x = self._features(train_images)
        self.input_shape_ = tuple(np.asarray(train_images).shape[1:])
        self.standardizer_ = Standardizer("feature").fit(x) if self.standardize else None
        if self.standardizer_ is not None:
            x = self.standardizer_.transform(x)
        self.pca_ = fit_pca(x, self.pca, self.seed) if self.pca else None
        return self

    def transform(self, images: np.ndarray) -> np.ndarray:
        """Feature vectors (N, D) float32 of ``images`` with the steps fitted by :meth:`fit`."""
        if self.input_shape_ is None:
            raise NotFittedError("FeaturePipeline is not fitted yet: call fit(train_images) first")
        shape = tuple(np.asarray(images).shape[1:])
        if shape != self.input_shape_:
            raise ShapeError(f"FeaturePipeline was fitted on images of shape {self.input_shape_}, "
                             f"got {shape}")
        x = self._features(images)
        if self.standardizer_ is not None:
            x = self.standardizer_.transform(x)
        if self.pca_ is not None:
            x = self.pca_.transform(x)
        return np.asarray(x, np.float32)

    def fit_transform(self, train_images: np.ndarray) -> np.ndarray:
        """``fit(train_images)`` then ``transform(train_images)``."""
        return self.fit(train_images).transform(train_images)

    def __repr__(self) -> str:
        state = "unfitted" if self.input_shape_ is None else f"fitted on {self.input_shape_}"
        return (f"FeaturePipeline(grayscale={self.grayscale!r}, standardize={self.standardize}, "
                f"pca={self.pca}, {state})")


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

    images = _image_array(images)
    h2, w2 = (int(size[0]), int(size[1]))
    if h2 < 1 or w2 < 1:
        raise ConfigError(f"resize size must be positive, got {size}")
    single = images.ndim == 3
    batch = images[None] if single else images
    n, c, h, w = batch.shape
    out = np.empty((n, c, h2, w2), batch.dtype)
    for start in range(0, n, _CHUNK_IMAGES):
        chunk = batch[start:start + _CHUNK_IMAGES]
        m = len(chunk)
        # spatial axes first; the stacked channels (m*c) are the last axis, which skimage keeps
        # as channels when the output shape names only (H2, W2)
        hwk = chunk.reshape(m * c, h, w).transpose(1, 2, 0)
        res = sk_resize(hwk, (h2, w2), order=order, anti_aliasing=anti_aliasing,
                        preserve_range=True, mode="reflect")
        out[start:start + m] = _round_to(res, batch.dtype).transpose(2, 0, 1).reshape(m, c, h2, w2)
    return out[0] if single else out


# --------------------------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------------------------

def _check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    fr = tuple(float(f) for f in fractions)
    if len(fr) not in (2, 3):
        raise ConfigError(f"fractions must be (train, val) or (train, val, test), got {fractions}")
    if any(f <= 0 for f in fr):
        raise ConfigError(f"every split fraction must be > 0, got {fractions}")
    if abs(sum(fr) - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must sum to 1, got {fractions} (sum {sum(fr):g})")
    return fr


def split_indices(n_or_labels: int | Sequence | np.ndarray,
                  fractions: Sequence[float] = (0.7, 0.2, 0.1), seed: int = 0,
                  stratify: bool = True) -> tuple[np.ndarray, ...]:
    """Seeded train/validation(/test) index arrays with ``sklearn.model_selection.train_test_split``.

    ``n_or_labels``: the number of samples, or one label per sample; with labels and
    ``stratify=True`` every split keeps the class proportions (to within rounding).
    ``fractions``: ``(train, val)`` or ``(train, val, test)``, each > 0, summing to 1.
    The train split is taken first (its size rounded down by scikit-learn), then the rest is
    split into validation and test in the ratio ``val : test``.

    Returns 2 or 3 sorted int64 arrays, disjoint and together covering ``range(n)``; the same
    seed gives the same split.
    """
    fr = _check_fractions(fractions)
    if np.isscalar(n_or_labels) and np.issubdtype(np.asarray(n_or_labels).dtype, np.integer):
        n, labels = int(n_or_labels), None
    else:
        labels = np.asarray(n_or_labels)
        if labels.ndim != 1:
            raise ShapeError(f"labels must be one per sample (1-D), got shape {labels.shape}")
        n = len(labels)
    if n < len(fr):
        raise ConfigError(f"cannot split {n} samples into {len(fr)} non-empty parts")
    strat = labels if (stratify and labels is not None) else None
    index = np.arange(n)
    try:
        train, rest = train_test_split(index, train_size=fr[0], random_state=seed, shuffle=True,
                                       stratify=strat)
        if len(fr) == 2:
            parts = (train, rest)
        else:
            val, test = train_test_split(rest, test_size=fr[2] / (fr[1] + fr[2]), random_state=seed,
                                         shuffle=True, stratify=None if strat is None else strat[rest])
            parts = (train, val, test)
    except ValueError as err:
        what = "stratified " if strat is not None else ""
        raise ConfigError(f"cannot make a {what}split of {n} samples with fractions {fr}: {err}") from err
    return tuple(np.sort(p).astype(np.int64) for p in parts)


def split_imageset(imageset: ImageSet, fractions: Sequence[float] = (0.7, 0.2, 0.1), seed: int = 0,
                   stratify_by: str | None = None) -> tuple[ImageSet, ...]:
    """``imageset`` split into ImageSets named ``split="train"``, ``"val"`` (and ``"test"``).

    ``stratify_by``: ``None`` (plain seeded shuffle split), ``"labels"`` (the class labels) or
    the name of a discrete entry of ``imageset.targets`` (e.g. ``"gender"``, ``"race"``).
    See :func:`split_indices` for the rules.
    """
    if stratify_by is None:
        key = len(imageset)
    elif stratify_by == "labels":
        if imageset.labels is None:
            raise ConfigError(f"{imageset.name or 'this set'} has no labels to stratify by")
        key = imageset.labels
    elif stratify_by in imageset.targets:
        key = imageset.targets[stratify_by]
    else:
        known = ", ".join(["labels"] + list(imageset.targets))
        raise ConfigError(f"cannot stratify by {stratify_by!r}; known: {known}")
    parts = split_indices(key, fractions, seed=seed, stratify=stratify_by is not None)
    names = ("train", "val", "test")[:len(parts)]
    return tuple(replace(imageset.subset(idx), split=name) for idx, name in zip(parts, names))


# --------------------------------------------------------------------------------------------
# super-resolution patches (seed 002, Q5)
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

    image = _image_array(image, "image")
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
    return _round_to(low, image.dtype)


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


# --------------------------------------------------------------------------------------------
# colourization palette (seed 001)
# --------------------------------------------------------------------------------------------

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
    pal = _round_to(_check_palette(palette).astype(np.float64), np.uint8)
    if classes.ndim != 3:
        raise ShapeError(f"classes must be (N, H, W), got shape {classes.shape}")
    if not np.issubdtype(classes.dtype, np.integer):
        raise ConfigError(f"classes must be integer indices, got dtype {classes.dtype}")
    if classes.size and (classes.min() < 0 or classes.max() >= len(pal)):
        raise ConfigError(f"class indices must be in [0, {len(pal) - 1}], got "
                          f"[{classes.min()}, {classes.max()}]")
    return np.ascontiguousarray(pal[classes].transpose(0, 3, 1, 2))
