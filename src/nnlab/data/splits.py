"""Group-aware hold-out splits: samples that are the same go to the same side.

Some image sets hold the same picture more than once: UTKFace has about 375 groups of
pixel-identical images (765 images), some of them with different labels. A plain random split
puts copies on both sides, so the test set partly measures memory rather than generalisation.
Here the images are grouped by a hash of their bytes and whole groups are assigned::

    groups = image_groups(data.images)                     # (N,) int64, equal for equal images
    train, test = group_split(groups, test_fraction=0.2, seed=0)

or in one call, ``train, test = image_holdout_split(data.images, 0.2, seed=0)``.

The split is a function of the *set* of group ids and the seed only: the groups are ordered by
their (content-derived) ids, shuffled with ``numpy.random.default_rng(seed)``, and taken into
the test side until it holds ``round(test_fraction * N)`` samples (it may exceed that by less
than one group). So two experiments that load the same data set and use the same seed get
identical indices, whatever else they do, and a reordered data set gets the same images.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from sklearn.model_selection import train_test_split

from nnlab.data.dataset import ImageSet

from nnlab.errors import ConfigError, ShapeError

log = logging.getLogger(__name__)

__all__ = ["group_split", "image_groups", "image_holdout_split"]


def image_groups(images: np.ndarray) -> np.ndarray:
    """A content-derived group id per sample: equal ids for byte-identical samples.

    ``images``: (N, ...) any dtype. Returns (N,) int64, the first 8 bytes of the BLAKE2b hash
    of each sample's bytes (with its dtype and shape), so the id does not depend on the order
    of the samples. Two different images share an id with probability ~N^2 / 2^64.
    """
    images = np.ascontiguousarray(images)
    if images.ndim < 2 or len(images) == 0:
        raise ShapeError(f"image_groups needs a non-empty batch (N, ...), got shape {images.shape}")
    header = f"{images.dtype.str}{images.shape[1:]}".encode()
    ids = np.empty(len(images), np.int64)
    for i, sample in enumerate(images):
        digest = hashlib.blake2b(header + sample.tobytes(), digest_size=8).digest()
        ids[i] = np.frombuffer(digest, "<i8")[0]
    n_groups = len(np.unique(ids))
    if n_groups < len(images):
        log.info("%d samples in %d groups: %d samples are copies of another", len(images), n_groups,
                 len(images) - n_groups)
    return ids


def group_split(groups: np.ndarray, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, test) index arrays in which no group straddles the two sides.

    Parameters
    ----------
    groups : array (N,)
        A group id per sample (any sortable values, e.g. from :func:`image_groups`); samples
        with equal ids always land on the same side.
    test_fraction : float
        In (0, 1): the test side gets ``round(test_fraction * N)`` samples, or up to one group more.
    seed : int
        The shuffle of the groups; the same ids and seed give the same split.

    Returns
    -------
    train, test : sorted int64 arrays, disjoint and together covering ``range(N)``.
    """
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) < 2:
        raise ShapeError(f"groups must be one id per sample (1-D, N >= 2), got shape {groups.shape}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    unique, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if len(unique) < 2:
        raise ConfigError("all samples are in one group; there is nothing to split")
    order = np.random.default_rng(seed).permutation(len(unique))
    target = int(round(float(test_fraction) * len(groups)))
    filled = np.cumsum(counts[order])
    n_test_groups = int(np.searchsorted(filled, max(target, 1)) + 1)  # the first prefix holding >= target
    n_test_groups = min(n_test_groups, len(unique) - 1)  # keep at least one group for training
    in_test = np.zeros(len(unique), bool)
    in_test[order[:n_test_groups]] = True
    mask = in_test[inverse.ravel()]
    return np.flatnonzero(~mask).astype(np.int64), np.flatnonzero(mask).astype(np.int64)


def image_holdout_split(images: np.ndarray, test_fraction: float = 0.2,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`group_split` of ``images`` (N, ...) grouped by :func:`image_groups`."""
    return group_split(image_groups(images), test_fraction, seed)


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
