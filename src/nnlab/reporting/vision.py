"""Figures for image classifiers: ROC curves per class, grids of class activation maps, and
grouped bars of per-class counts (before and after augmentation, say).

Each function takes plain arrays or dicts, builds a matplotlib ``Figure`` with the OO API
(no backend, no global state) and returns it; ``RunContext.figure`` saves it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def _figure(width: float, height: float) -> "Figure":
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def roc_figure(roc: Mapping, class_names: Sequence[str], title: str = "ROC curves") -> "Figure":
    """One-vs-rest ROC curves of every class in one panel, each labelled with its AUC.

    ``roc`` is what :func:`nnlab.metrics.classification.roc_curves` returns (lists ``fpr``,
    ``tpr``, array ``auc``, float ``macro_auc``); a class with an empty curve (AUC undefined)
    is listed as "n/a". The chance diagonal is dashed; the title gets the macro AUC.
    """
    fpr, tpr, auc = roc["fpr"], roc["tpr"], np.asarray(roc["auc"], dtype=float)
    if not len(fpr) == len(tpr) == len(auc) == len(class_names):
        raise ValueError(f"roc_figure: {len(class_names)} class names for {len(auc)} curves")
    fig = _figure(5.2, 4.6)
    ax = fig.subplots()
    for k, name in enumerate(class_names):
        label = f"{name} (AUC n/a)" if np.isnan(auc[k]) else f"{name} (AUC {auc[k]:.3f})"
        if len(fpr[k]):
            ax.plot(fpr[k], tpr[k], lw=1.3, label=label)
        else:
            ax.plot([], [], lw=1.3, label=label)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"{title}: macro AUC {roc['macro_auc']:.3f}", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def cam_grid(cells: Sequence[Sequence[tuple[np.ndarray, np.ndarray, str] | None]], row_labels: Sequence[str],
             col_labels: Sequence[str] | None = None, title: str = "", alpha: float = 0.45,
             colormap: str = "jet") -> "Figure":
    """A grid of class activation maps blended over their images.

    ``cells[r][c]`` is ``(image, cam, caption)`` or ``None`` (an empty panel, e.g. a class with
    too few wrong predictions to show). The overlay is :func:`nnlab.metrics.cam.overlay`
    (``(1 - alpha) * image + alpha * colormap(cam)``); images are grey (H, W) or RGB
    (H, W, 3), float in [0, 1] or uint8, and every cam has its image's spatial size.

    Shapes: rows = len(cells) = len(row_labels); columns = the longest row.
    """
    from nnlab.metrics.cam import overlay

    if len(cells) != len(row_labels) or not cells:
        raise ValueError(f"cam_grid: {len(row_labels)} row labels for {len(cells)} rows")
    cols = max(1, max(len(row) for row in cells))
    if col_labels is not None and len(col_labels) != cols:
        raise ValueError(f"cam_grid: {len(col_labels)} column labels for {cols} columns")
    fig = _figure(1.35 * cols + 1.2, 1.45 * len(cells) + 0.5)
    axes = fig.subplots(len(cells), cols, squeeze=False)
    for r, row in enumerate(cells):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            cell = row[c] if c < len(row) else None
            if cell is None:
                for spine in ax.spines.values():
                    spine.set_visible(False)
                continue
            image, cam, caption = cell
            ax.imshow(overlay(image, cam, alpha=alpha, colormap=colormap))
            ax.set_title(caption, fontsize=7)
        axes[r][0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=9)
    if col_labels is not None:
        for c, label in enumerate(col_labels):
            axes[0][c].annotate(label, (0.5, 1.32), xycoords="axes fraction", ha="center", fontsize=8,
                                fontweight="bold")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def count_bars(counts: Mapping[str, Mapping[str, int]], title: str = "samples per class") -> "Figure":
    """Grouped bars: one group per class, one bar per series (e.g. ``{"before": {...}, "after":
    {...}}``), with the count on each bar. Every series must name the same classes."""
    series = list(counts)
    if not series:
        raise ValueError("count_bars: no series to draw")
    classes = list(counts[series[0]])
    for s in series[1:]:
        if list(counts[s]) != classes:
            raise ValueError(f"count_bars: series {s!r} has classes {list(counts[s])}, expected {classes}")
    fig = _figure(max(4.5, 0.9 * len(classes) + 1.5), 3.4)
    ax = fig.subplots()
    width = 0.8 / len(series)
    positions = np.arange(len(classes))
    for i, s in enumerate(series):
        values = [int(counts[s][k]) for k in classes]
        bars = ax.bar(positions + (i - (len(series) - 1) / 2) * width, values, width, label=s)
        ax.bar_label(bars, labels=[f"{v:,}" for v in values], fontsize=6, rotation=90, padding=2)
    ax.set_xticks(positions, classes)
    ax.tick_params(axis="x", labelrotation=30 if len(classes) > 6 else 0, labelsize=8)
    ax.set_ylabel("samples")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: never over a bar
    ax.margins(y=0.18)
    return fig
