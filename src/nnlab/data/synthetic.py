"""Synthetic data sets for the exercises (scikit-learn's generators, seeded)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def make_blobs(
    n_samples: int = 200,
    centers: Sequence[Sequence[float]] = ((-1.0, -1.0), (1.0, 1.0)),
    cluster_std: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs: (x (n, d) float64, y (n,) int64). The defaults are seed 002 Q1's set:
    two classes centred on (-1, -1) and (1, 1) with standard deviation 0.5, 200 samples."""
    from sklearn.datasets import make_blobs as sk_make_blobs

    x, y = sk_make_blobs(n_samples=n_samples, centers=np.asarray(centers, dtype=float),
                         cluster_std=cluster_std, random_state=seed)
    return x, y.astype(np.int64)
