"""Figures of the ``mnist-autoencoder`` report that the shared figure modules do not draw.

Seed 004's figure 3 (random digits with their labels), 9 (the loss of every iteration),
11 (reconstructions during training) and 20 (accuracy per test batch). Not an experiment
itself (no ``exp_`` prefix). Each function returns a matplotlib ``Figure`` (OO API).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nnlab.reporting.figures import to_display

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from nnlab.training.batch_history import BatchHistory


def _figure(width: float, height: float) -> "Figure":
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _blank(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def digit_samples_figure(images: np.ndarray, labels: np.ndarray, title: str) -> "Figure":
    """One row of digits, each titled with its label.

    Shapes: images (n, 1, 28, 28) uint8 or float in [0, 1], labels (n,).
    """
    n = len(images)
    fig = _figure(1.3 * n + 0.4, 1.9)
    for ax, image, label in zip(fig.subplots(1, n, squeeze=False)[0], images, labels):
        img, cmap = to_display(image)
        ax.imshow(img, cmap=cmap, vmin=0, vmax=255 if img.dtype == np.uint8 else 1)
        ax.set_title(f"label {int(label)}", fontsize=9)
        _blank(ax)
    fig.suptitle(title, fontsize=10)
    return fig


def reconstruction_figure(originals: np.ndarray, snapshots: dict[int, np.ndarray], what: str = "digits") -> "Figure":
    """Originals in the top row, one row of reconstructions per snapshot epoch below.

    Shapes: originals (n, 784), each snapshot (n, 784).
    """
    rows = [("original", originals)] + [(f"epoch {e}", r) for e, r in sorted(snapshots.items())]
    n = len(originals)
    fig = _figure(1.0 * n + 1.2, 1.0 * len(rows) + 0.4)
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (name, images) in enumerate(rows):
        for c in range(n):
            axes[r][c].imshow(np.clip(images[c].reshape(28, 28), 0, 1), cmap="gray", vmin=0, vmax=1)
            _blank(axes[r][c])
        axes[r][0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"test {what} (top) and their reconstructions", fontsize=10)
    return fig


def iteration_loss_figure(batches: "BatchHistory", title: str, ylabel: str = "training MSE of the batch") -> "Figure":
    """The loss of every iteration (thin), its running mean over a tenth of an epoch (thick) and
    dotted lines where each epoch begins, labelled with the epoch."""
    loss = batches["loss"]                                                          # (iterations,)
    starts = batches.epoch_starts()
    steps = max(1, len(loss) // max(1, len(starts)))
    window = max(1, steps // 10)
    it = np.arange(1, len(loss) + 1)
    fig = _figure(7.5, 3.6)
    ax = fig.subplots()
    ax.plot(it, loss, lw=0.5, alpha=0.45, color="#4C72B0", label="one batch")
    if window > 1 and len(loss) >= window:
        mean = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax.plot(it[window - 1:], mean, lw=1.6, color="#C44E52", label=f"mean of the last {window} batches")
    for epoch, first in starts:
        ax.axvline(first - 0.5, color="0.4", lw=0.7, ls=":")
        ax.annotate(f"{epoch}", (first - 0.5, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                    ha="left", va="bottom", color="0.3")
    ax.set_xlabel(f"iteration (optimizer step; {steps} per epoch; dotted lines: epoch starts, numbered above)")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.set_xlim(0, len(loss) + 1)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title, fontsize=10, pad=14)
    return fig


def batch_accuracy_figure(accuracies: np.ndarray, batch_size: int, title: str) -> "Figure":
    """Accuracy of each test batch (markers joined by a line) and their mean (dashed).

    Shapes: accuracies (batches,) fractions.
    """
    from matplotlib.ticker import MaxNLocator

    acc = 100 * np.asarray(accuracies, dtype=float)
    k = np.arange(1, len(acc) + 1)
    fig = _figure(7.5, 3.4)
    ax = fig.subplots()
    ax.plot(k, acc, "-o", ms=2.5, lw=0.8, color="#4C72B0", label=f"one batch of {batch_size}")
    ax.axhline(acc.mean(), color="#C44E52", ls="--", lw=1.2, label=f"mean {acc.mean():.2f}%")
    lo, hi = int(acc.argmin()), int(acc.argmax())
    ax.annotate(f"min {acc[lo]:.0f}%", (k[lo], acc[lo]), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.annotate(f"max {acc[hi]:.0f}%", (k[hi], acc[hi]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("test batch")
    ax.set_ylabel("accuracy (%)")
    ax.set_xlim(0.5, len(acc) + 0.5)
    ax.set_ylim(max(0.0, acc.min() - 5), min(100.0, acc.max() + 3) + 0.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    return fig
