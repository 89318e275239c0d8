"""Drawing a training history: the figure helpers both ``training`` and ``reporting`` use.

A :class:`~nnlab.training.History` plots itself (``history.plot()``, the live curves of a
notebook) and a run report draws the same curves, so the drawing lives below both packages, as
``atomic_io`` and ``errors`` do: ``training`` must not import ``reporting`` (which builds on it),
and a second copy of the curves in ``training`` would drift from the report's. matplotlib is
imported inside the functions, through its object-oriented API (no backend, no global state),
so importing this module costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def new_figure(width: float, height: float) -> "Figure":
    """A matplotlib figure of ``width`` x ``height`` inches at 100 dpi, constrained layout."""
    from matplotlib.figure import Figure  # the OO API needs no backend/screen and no global state

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


#: the file formats a figure is written in, by the path's suffix
FIGURE_FORMATS = (".png", ".svg", ".pdf")


def save_figure(fig: "Figure", path: str | Path, dpi: float | None = None) -> Path:
    """Write a figure (creating the folder), atomically: SVG or PDF by the path's suffix, else PNG."""
    import io

    from nnlab.atomic_io import atomic_write_bytes

    path = Path(path)
    suffix = path.suffix.lower()
    buf = io.BytesIO()
    fig.savefig(buf, format=suffix[1:] if suffix in FIGURE_FORMATS else "png", dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())
    return path


def metric_groups(keys: list[str]) -> list[str]:
    """Base metric names (``loss``, ``accuracy``, ...) of history keys, without ``val_``/``lr``."""
    bases = []
    for k in keys:
        base = k[4:] if k.startswith("val_") else k
        if base != "lr" and base not in bases:
            bases.append(base)
    return bases


def epoch_axis(ax, label: str = "epoch") -> None:
    """Label ``ax``'s x axis with ``label`` and tick it at whole epochs only (no 2.5)."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def finish_panel(ax, xlabel: str, title: str, log_y: bool = False) -> None:
    """The common dress of a curves panel: both axes labelled (the y axis by the quantity the
    panel shows), optional log scale, grid, legend."""
    ax.set_xlabel("epoch" if xlabel == "epoch" else xlabel.replace("_", " "))
    if xlabel == "epoch":
        epoch_axis(ax)
    ax.set_ylabel(title.replace("val_", "validation ").replace("_", " ") + (" (log scale)" if log_y else ""))
    ax.set_title(title, fontsize=10)
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def history_figure(history: Any, title: str = "", log_loss: bool = False, keys: list[str] | None = None) -> "Figure":
    """One panel per metric (loss, accuracy, ...), training and validation curves per epoch.

    ``history`` is a :class:`~nnlab.training.History` (anything with ``keys()``, ``epochs`` and
    ``history[key]``); ``keys`` limits the panels to those base metrics (``["loss"]``).
    """
    present = list(history.keys())
    groups = [g for g in metric_groups(present) if keys is None or g in keys] or ["loss"]
    fig = new_figure(3.6 * len(groups) + 0.4, 3.0)
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, base in zip(axes, groups):
        for key, style in ((base, "-"), (f"val_{base}", "--")):
            if key in present:
                ax.plot(history.epochs, history[key], style, marker="o", markersize=3,
                        label="validation" if key.startswith("val_") else "training")
        finish_panel(ax, "epoch", base, log_y=base == "loss" and log_loss)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
