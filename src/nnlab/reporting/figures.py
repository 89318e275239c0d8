"""Figures that a deep-learning report is made of."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

# the history curves and their panel dress live in nnlab.plotting (History.plot draws them too)
from nnlab.plotting import epoch_axis, history_figure  # noqa: F401  (re-exported for experiments)
from nnlab.plotting import finish_panel as _finish_panel
from nnlab.plotting import new_figure as _figure
from nnlab.plotting import save_figure as save  # noqa: F401  (the reports' figures: PNG, atomically)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from nnlab.data.dataset import ImageSet


def to_display(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """A (C, H, W) image as (H, W) or (H, W, 3) for imshow, with the colour map to use."""
    img = np.asarray(image)
    if img.ndim != 3:
        raise ValueError(f"expected (C, H, W), got {img.shape}")
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 1)
    if img.shape[0] == 1:
        return img[0], "gray"
    return np.moveaxis(img[:3], 0, -1), None


def sample_grid(data: "ImageSet", per_class: int = 8, seed: int = 0, max_classes: int = 12) -> "Figure":
    """A grid with a row of ``per_class`` random samples for each class (or just samples)."""
    rng = np.random.default_rng(seed)
    if data.labels is None:
        rows = [("samples", rng.choice(len(data), min(per_class * 4, len(data)), replace=False))]
    else:
        rows = []
        for k, name in enumerate(data.class_names[:max_classes]):
            idx = np.flatnonzero(data.labels == k)
            if len(idx):
                rows.append((name, rng.choice(idx, min(per_class, len(idx)), replace=False)))
    cols = max(len(r[1]) for r in rows)
    fig = _figure(1.1 * cols + 1.2, 1.1 * len(rows) + 0.4)
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for r, (name, idx) in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(idx):
                img, cmap = to_display(data.images[idx[c]])
                ax.imshow(img, cmap=cmap, vmin=0, vmax=255 if img.dtype == np.uint8 else 1)
        axes[r][0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    title = f"{data.name}/{data.split}" if data.split else data.name
    fig.suptitle(f"{title}: {len(data):,} images {data.shape[1]}x{data.shape[2]}", fontsize=10)
    return fig


def class_counts_bar(data: "ImageSet", title: str | None = None) -> "Figure":
    """A bar chart of samples per class, with the count on each bar."""
    counts = data.class_counts()
    fig = _figure(max(4.0, 0.6 * len(counts) + 1.5), 3.2)
    ax = fig.subplots()
    positions = np.arange(len(counts))
    bars = ax.bar(positions, list(counts.values()), color="#4C72B0")
    ax.set_xticks(positions, list(counts))
    ax.bar_label(bars, labels=[f"{v:,}" for v in counts.values()], fontsize=8)
    ax.set_ylabel("samples")
    ax.set_title(title or f"{data.name}/{data.split}: samples per class ({len(data):,} in all)", fontsize=10)
    ax.tick_params(axis="x", labelrotation=30 if len(counts) > 6 else 0, labelsize=8)
    ax.margins(y=0.12)
    return fig


def overlay_figure(histories: dict[str, object], keys: list[str] | None = None, x: str = "epoch",
                   title: str = "", log_y: bool = False) -> "Figure":
    """Curves of several runs overlaid, one panel per key (``loss``, ``val_accuracy``, ...).

    ``histories`` maps a label to a History; ``x="epoch"`` or the name of a column (e.g. a
    cumulative ``time_s``) to plot against.
    """
    if keys is None:
        keys = []
        for h in histories.values():
            keys += [k for k in h.keys() if k != "lr" and k not in keys and k != x]
    fig = _figure(3.6 * len(keys) + 0.4, 3.0)
    axes = fig.subplots(1, max(1, len(keys)), squeeze=False)[0]
    markers, styles = "os^Dv<>", ("-", "--", "-.", ":")
    for ax, key in zip(axes, keys):
        drawn: list[tuple[str, np.ndarray, np.ndarray]] = []
        for i, (label, h) in enumerate(histories.items()):
            if key not in h:
                continue
            xs, ys = np.asarray(h.epochs if x == "epoch" else h[x], float), np.asarray(h[key], float)
            # a curve equal to one drawn before would hide it: say so in the legend
            same = next((other for other, ox, oy in drawn if ox.shape == xs.shape and np.allclose(ox, xs)
                         and np.allclose(oy, ys, equal_nan=True)), None)
            drawn.append((label, xs, ys))
            ax.plot(xs, ys, marker=markers[i % len(markers)], markersize=3, linestyle=styles[i % len(styles)],
                    fillstyle="none" if same else "full", label=f"{label} (same as {same})" if same else label)
        _finish_panel(ax, x, key, log_y)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def confusion_figure(matrix: np.ndarray, class_names: list[str] | None = None, title: str = "confusion matrix",
                     normalize: bool = True) -> "Figure":
    """A confusion matrix (rows: true class, columns: predicted), row-normalised with counts."""
    m = np.asarray(matrix, dtype=float)
    k = len(m)
    names = class_names or [str(i) for i in range(k)]
    shown = m / np.maximum(m.sum(axis=1, keepdims=True), 1) if normalize else m
    fig = _figure(0.55 * k + 2.6, 0.5 * k + 1.8)
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.set_xticks(range(k), names, rotation=45 if k > 5 else 0, ha="right" if k > 5 else "center", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 12:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > 0.5 * (shown.max() or 1) else "black")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=10)
    return fig


def decision_regions(panels: dict[str, Any], x: np.ndarray, y: np.ndarray, extent: float = 3.0,
                     steps: int = 201, colours: tuple[str, str] = ("#2166ac", "#b2182b")) -> "Figure":
    """One panel per model of a 2-D, two-class problem: its decision regions and the points.

    ``panels`` maps a title to a function from grid points (G, 2) to the probability of class
    1 (G,): the panel shades it from 0 to 1 and draws the p = 0.5 boundary. Points of class 0
    and 1 are drawn in ``colours``; the grid spans [-extent, extent] in both directions.

    Shapes: x (N, 2), y (N,) in {0, 1}.
    """
    fig = _figure(3.3 * len(panels) + 0.5, 3.2)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    g1, g2 = np.meshgrid(np.linspace(-extent, extent, steps), np.linspace(-extent, extent, steps))
    grid = np.column_stack([g1.ravel(), g2.ravel()])                 # (G, 2)
    for ax, (title, prob) in zip(axes, panels.items()):
        p = np.asarray(prob(grid), dtype=float).reshape(g1.shape)
        ax.contourf(g1, g2, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.3)
        ax.contour(g1, g2, p, levels=[0.5], colors="k", linewidths=1.2)
        ax.scatter(x[:, 0], x[:, 1], c=np.where(np.asarray(y) == 1, colours[1], colours[0]), s=8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_aspect("equal")
    return fig
