"""MNIST as the MNIST experiments use it, and a synthetic stand-in for their smoke runs.

Shared by ``mnist-autoencoder`` and ``batch-size`` (not an experiment itself: its name has no
``exp_`` prefix, so the registry does not import it as one).
"""

from __future__ import annotations

import numpy as np

from nnlab.data import synthetic
from nnlab.data.dataset import ImageSet
from nnlab.data.preprocess import scale01
from nnlab.data.registry import IDX_SETS
from nnlab.errors import ConfigError

DIGITS = [str(d) for d in range(10)]


def mnist_sets(ctx):
    """(train, test) :class:`~nnlab.data.dataset.ImageSet` s: MNIST (or the IDX data set named by
    ``cfg.dataset``, e.g. ``fashion-mnist``) from the data root, the
    first ``train_limit`` training images when that is set; under ``--smoke``, 256 + 128
    :func:`nnlab.data.synthetic.digits`.

    Shapes: images (N, 1, 28, 28), uint8 for MNIST, float32 in [0, 1] for the stand-ins.
    """
    if ctx.smoke:
        x, y = synthetic.digits(384, ctx.cfg.seed)
        x = x.reshape(-1, 1, 28, 28)                                             # (384, 1, 28, 28)
        return (ImageSet(x[:256], y[:256], DIGITS, name="synthetic digits", split="train"),
                ImageSet(x[256:], y[256:], DIGITS, name="synthetic digits", split="test"))
    name = getattr(ctx.cfg, "dataset", "mnist")
    train, test = ctx.data(name, "train"), ctx.data(name, "test")
    if ctx.cfg.train_limit:
        train = train.subset(slice(0, ctx.cfg.train_limit))
    return train, test


def check_dataset(cfg) -> None:
    """``dataset`` must be a data set in MNIST's IDX layout (28x28 greyscale, 10 classes)."""
    if cfg.dataset not in IDX_SETS:
        raise ConfigError(f"dataset: {cfg.dataset!r} is not a data set in MNIST's IDX layout; use one of"
                          f" {', '.join(IDX_SETS)}")


def noun(cfg) -> str:
    """What the images are called in captions: digits for MNIST, else "images"."""
    return "digits" if getattr(cfg, "dataset", "mnist") == "mnist" else "images"


def flatten(imageset) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels): images as (N, C*H*W) float32 in [0, 1], labels (N,) int64."""
    return scale01(imageset.images).reshape(len(imageset), -1), np.asarray(imageset.labels, dtype=np.int64)


def load_mnist(ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): images flattened to (N, 784) float32 in [0, 1]."""
    train, test = mnist_sets(ctx)
    return (*flatten(train), *flatten(test))
