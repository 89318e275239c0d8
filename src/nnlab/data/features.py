"""Features fitted on the training split: per-channel or per-feature standardisation, PCA, and
the images-to-vectors pipeline of seed 000.

Everything here must be **fitted on the training split only** and then applied unchanged to the
validation and test splits; otherwise test information leaks into the model.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from nnlab.data.preprocess import CHUNK_IMAGES, scale01, to_grayscale
from nnlab.errors import ConfigError, ShapeError

log = logging.getLogger(__name__)

__all__ = ["FeaturePipeline", "Standardizer", "fit_pca"]


def _chunked_mean_var(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and (population) variance of ``x`` over axis 0 and ``axes``, in float64, a chunk of
    samples at a time (Chan et al.'s pairwise combination), so no float64 copy of ``x`` is made."""
    reduce = (0,) + tuple(axes)
    mean = var_sum = None
    count = 0
    for start in range(0, len(x), CHUNK_IMAGES):
        chunk = x[start:start + CHUNK_IMAGES].astype(np.float64)
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
