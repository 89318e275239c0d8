"""Synthetic, seeded data sets: the exercises' blobs and the stand-ins every experiment trains on
under ``--smoke``, each with the shape and dtype of the real data set it replaces.

=====================  =======================================  ===========================
function               stands in for                            returns
=====================  =======================================  ===========================
``make_blobs``         seed 002's two Gaussian blobs            (n, d) float64, (n,) int64
``digits``             MNIST                                    (n, 784) float32, (n,) int64
``colour_blobs``       CIFAR-10 images (colourization)          (n, 3, 32, 32) uint8
``shaded_images``      CIFAR-10 horses (the batch-norm exercise) (n, 3, s, s) float64 [0, 1]
``waves``              Set5/Set14 photographs (super-resolution) (n, s, s, 3) float32 [0, 1]
``utkface``            UTKFace (age, gender, race)              ImageSet (n, 3, 64, 64) uint8
``faces``              FER2013 (expressions)                    ImageSet (n, 1, s, s) uint8
=====================  =======================================  ===========================
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nnlab.data.dataset import ImageSet
from nnlab.data.utkface import RACES


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


def digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stand-ins for MNIST: 10 random blurred templates plus noise, in [0, 1].

    Shapes: -> images (n, 784) float32, labels (n,) int64.
    """
    rng = np.random.default_rng(seed)
    templates = (rng.random((10, 28, 28)) > 0.7).astype(np.float32)  # (10, 28, 28)
    templates = (templates + np.roll(templates, 1, 1) + np.roll(templates, 1, 2)) / 3
    labels = rng.integers(0, 10, n)
    images = templates[labels].reshape(n, 784) + 0.1 * rng.standard_normal((n, 784)).astype(np.float32)
    return np.clip(images, 0, 1).astype(np.float32), labels.astype(np.int64)


def colour_blobs(n: int, seed: int) -> np.ndarray:
    """Stand-ins for CIFAR images: smooth random colour blobs.

    Shapes: -> (n, 3, 32, 32) uint8.
    """
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, 3, 4, 4))                               # (n, 3, 4, 4)
    images = coarse.repeat(8, axis=2).repeat(8, axis=3)             # (n, 3, 32, 32)
    images += 0.1 * rng.standard_normal(images.shape)
    return (np.clip(images, 0, 1) * 255).astype(np.uint8)


def shaded_images(n: int = 480, size: int = 32, seed: int = 0) -> np.ndarray:
    """Colour images in [0, 1] (n, 3, size, size) float64: smooth gradients, a bright disc and
    noise, with a brightness and contrast that vary from image to image."""
    rng = np.random.default_rng(seed)
    r, c = np.mgrid[0:size, 0:size] / (size - 1)
    out = np.empty((n, 3, size, size))
    for i in range(n):
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(angle) * r + np.sin(angle) * c
        cy, cx, rad = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
        disc = ((r - cy) ** 2 + (c - cx) ** 2 < rad ** 2).astype(float)
        base = rng.uniform(0.15, 0.45) + rng.uniform(0.1, 0.3) * (ramp + 0.5) + rng.uniform(0.1, 0.3) * disc
        tint = rng.uniform(0.85, 1.15, 3)[:, None, None]
        out[i] = np.clip(base[None] * tint + rng.normal(0, 0.04, (3, size, size)), 0, 1)
    return out


def waves(n: int, size: int, seed: int) -> np.ndarray:
    """Smooth random colour images in [0, 1], sums of sine waves. -> (n, 3, size, size) float32."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        f = rng.uniform(1, 4, (3, 2))
        ph = rng.uniform(0, 6.3, 3)
        out.append(np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (f[c, 0] * yy + f[c, 1] * xx) + ph[c])
                             for c in range(3)]))
    return np.asarray(out, np.float32)


def utkface(n: int, seed: int) -> ImageSet:
    """A stand-in for UTKFace with its shapes: (n, 3, 64, 64) uint8, targets age/gender/race, and
    pixel-identical pairs as UTKFace has (one image in 50 repeats another)."""
    rng = np.random.default_rng(seed)
    age, gender, race = rng.integers(1, 90, n), rng.integers(0, 2, n), rng.integers(0, 5, n)
    base = rng.integers(0, 256, (n, 3, 8, 8)).astype(np.float64)
    base[:, :, :, :4] += (age[:, None, None, None] - 45) * 1.5  # something to learn
    images = np.clip(np.kron(base, np.ones((8, 8))), 0, 255).astype(np.uint8)  # (n, 3, 64, 64)
    images[1::50] = images[0::50][: len(images[1::50])]
    return ImageSet(images=images, labels=race.copy(), class_names=list(RACES), name="utkface-synthetic",
                    targets={"age": age, "gender": gender, "race": race})


def faces(n: int, num_classes: int, seed: int, name: str = "synthetic", size: int = 48) -> ImageSet:
    """Stand-ins for FER2013: grey blobs whose position depends on the class, the classes in equal
    numbers (so a stratified split of a few per class works).

    Shapes: -> ImageSet of (n, 1, size, size) uint8, labels 0..num_classes-1.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % num_classes)                           # every class, evenly
    yy, xx = np.mgrid[0:size, 0:size]
    centres = size / 6 + size * 2 / 3 * rng.random((num_classes, 2))                # (K, 2)
    c = centres[labels] + rng.normal(0, 2, (n, 2))                                  # (n, 2)
    blob = np.exp(-((yy - c[:, :1, None]) ** 2 + (xx - c[:, 1:, None]) ** 2) / 60.0)  # (n, size, size)
    images = np.clip(255 * (0.8 * blob + 0.2 * rng.random(blob.shape)), 0, 255).astype(np.uint8)[:, None]
    return ImageSet(images=images, labels=labels, class_names=[f"class{k}" for k in range(num_classes)], name=name)
