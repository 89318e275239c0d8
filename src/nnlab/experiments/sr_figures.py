"""The figures of the ``super-resolution`` experiment (not an experiment itself: no ``exp_`` prefix).

The seed's images and their halves, the seed MLP's loss curves (training, validation and the
monitored test part), a drawing of its 27-64-128-3 architecture, and crops of reconstructions.
Images are (C, H, W) in [0, 1], as everywhere in :mod:`nnlab.data.superres`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from nnlab.reporting.figures import epoch_axis


def seed_images_figure(images: list[np.ndarray], halves: list[np.ndarray], names: list[str]) -> Figure:
    """The seed's figures 14 and 15: each image (top) above its half-resolution version (bottom).

    Shapes: images [(3, H, W)], halves [(3, H/2, W/2)] in [0, 1].
    """
    n = len(images)
    fig = Figure(figsize=(max(1.25 * n + 0.6, 5.0), 3.4), dpi=100, layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for col, (hr, lr, name) in enumerate(zip(images, halves, names)):
        for row, img in enumerate((hr, lr)):
            ax = axes[row, col]
            ax.imshow(np.clip(img.transpose(1, 2, 0), 0, 1), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, col].set_title(name, fontsize=7)
    h, w = images[0].shape[1:]
    axes[0, 0].set_ylabel(f"original\n{h}x{w}", fontsize=8)
    axes[1, 0].set_ylabel(f"halved (bicubic)\n{h // 2}x{w // 2}", fontsize=8)
    fig.suptitle("the seed protocol's images (top) and their halved versions (bottom, shown at the same size)",
                 fontsize=9)
    return fig


def loss_curves_figure(history, title: str) -> Figure:
    """Training, validation and test MSE per epoch on one panel (log scale).

    ``history`` needs ``loss``, ``val_loss`` and ``test_loss`` columns.
    """
    fig = Figure(figsize=(5.4, 3.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    curves = (("loss", "training (mean over the epoch's batches)", "-"), ("val_loss", "validation (10%)", "--"),
              ("test_loss", "test (20%, monitored only)", ":"))
    for key, label, style in curves:
        if key in history:
            ax.plot(history.epochs, history[key], style, marker="o", markersize=2.5, label=label)
    ax.set_yscale("log")
    epoch_axis(ax)
    ax.set_ylabel("MSE (pixel values in [0, 1])")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def _layer_units(size: int, shown: int) -> list[float | None]:
    """Vertical positions of the drawn units of a layer of ``size`` units; None marks the "...". """
    if size <= shown:
        return list(np.linspace(-(size - 1) / 2, (size - 1) / 2, size))
    half = shown // 2
    slots = list(np.linspace(-shown / 2, shown / 2, shown + 1))  # shown units and one gap
    return slots[:half] + [None] + slots[half + 1:]


def architecture_figure(sizes: list[int], labels: list[str], title: str, links: list[str] = (),
                        shown: int = 8) -> Figure:
    """A network diagram: each layer a column of units (at most ``shown`` drawn, "..." for the rest).

    ``sizes`` are the layer widths from input to output and ``labels`` one caption per layer
    (size, activation), written under its column; ``links`` (optional) one caption per weight
    layer, written above the connections. Every drawn unit is joined to every drawn unit of
    the next layer.
    """
    fig = Figure(figsize=(2.0 * len(sizes) + 1, 4.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    columns = [_layer_units(s, shown) for s in sizes]
    for i, (left, right) in enumerate(zip(columns[:-1], columns[1:])):
        for y0 in (y for y in left if y is not None):
            for y1 in (y for y in right if y is not None):
                ax.plot([i, i + 1], [y0, y1], color="0.75", lw=0.4, zorder=1)
    colours = ["tab:green"] + ["tab:blue"] * (len(sizes) - 2) + ["tab:red"]
    low = min(y for col in columns for y in col if y is not None)
    for i, (col, colour, label) in enumerate(zip(columns, colours, labels)):
        units = [y for y in col if y is not None]
        ax.scatter([i] * len(units), units, s=140, color=colour, edgecolor="black", zorder=3)
        for gap in (j for j, y in enumerate(col) if y is None):
            y = (col[gap - 1] + col[gap + 1]) / 2
            ax.text(i, y, "...", rotation=90, ha="center", va="center", fontsize=12, fontweight="bold")
        ax.text(i, low - 1.0, label, ha="center", va="top", fontsize=8)
    for i, link in enumerate(links):
        ax.text(i + 0.5, -low + 0.9, link, ha="center", va="bottom", fontsize=7, color="0.3")
    ax.set_xlim(-0.6, len(sizes) - 0.4)
    ax.set_ylim(low - 3.2, -low + (2.2 if links else 0.8))
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return fig


def comparison_figure(shown: dict[str, np.ndarray], crop: int, title: str) -> Figure:
    """Crops (centre, ``crop`` pixels) of the original and each method's reconstruction (3, H, W), side by side."""
    fig = Figure(figsize=(2.2 * len(shown), 2.6), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, (name, img) in zip(axes, shown.items()):
        h, w = img.shape[1:]
        c = min(crop, h, w)
        y0, x0 = (h - c) // 2, (w - c) // 2
        ax.imshow(np.clip(img[:, y0:y0 + c, x0:x0 + c].transpose(1, 2, 0), 0, 1), interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    return fig
