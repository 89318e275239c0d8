"""The figures of ``utkface-mlp``: preprocessing stages, per-epoch curves, age scatter, study grid.

Not an experiment itself (no ``exp_`` prefix). The ``*_figure`` functions take arrays or
histories and return a matplotlib ``Figure`` (object API, no pyplot); the ``show_*`` functions
add figures with their captions to a run through ``ctx``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nnlab.reporting.figures import epoch_axis

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure  # lazy: registering the experiment loads no matplotlib

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _epoch_axis(ax, ylabel: str, title: str) -> None:
    epoch_axis(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)


def preprocessing_figure(stages: list[tuple[str, np.ndarray]], row_labels: list[str], title: str) -> Figure:
    """A grid of faces (rows) through the preprocessing stages (columns).

    ``stages`` is ``[(column title, images)]`` with images (N, 3, H, W) uint8 (shown as RGB) or
    (N, 1, H, W) / (N, H, W) greyscale, uint8 on 0-255 or float on 0-1 (clipped for display).
    """
    n = len(row_labels)
    fig = _figure(1.55 * len(stages) + 0.9, 1.55 * n + 0.7)
    axes = fig.subplots(n, len(stages), squeeze=False)
    for c, (name, images) in enumerate(stages):
        for r in range(n):
            ax, img = axes[r][c], np.asarray(images[r])
            if img.ndim == 3 and img.shape[0] == 3:
                ax.imshow(np.moveaxis(img, 0, -1))
            else:
                img = img.reshape(img.shape[-2:])
                top = 255 if img.dtype == np.uint8 else 1.0
                ax.imshow(np.clip(img, 0, top), cmap="gray", vmin=0, vmax=top)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=8)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def curves_figure(history: Any, series: dict[str, str], ylabel: str, title: str,
                  kept_epoch: int | None = None, log_y: bool = False) -> Figure:
    """One panel: the history columns ``series`` (label -> key) per epoch.

    ``kept_epoch`` draws a dashed line at the epoch whose weights the model ends with.
    """
    fig = _figure(5.0, 3.4)
    ax = fig.subplots()
    for label, key in series.items():
        if key in history:
            ax.plot(history.epochs, history[key], marker="o", markersize=3, label=label)
    if kept_epoch is not None:
        ax.axvline(kept_epoch, color="k", ls="--", lw=1, label=f"weights kept (epoch {kept_epoch})")
    _epoch_axis(ax, ylabel, title)
    if log_y:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    return fig


def age_scatter(y_true: np.ndarray, y_pred: np.ndarray, title: str) -> Figure:
    """Predicted against true age, with the diagonal of a perfect prediction."""
    fig = _figure(4.2, 4.0)
    ax = fig.subplots()
    ax.scatter(y_true, y_pred, s=3, alpha=0.25)
    top = float(max(y_true.max(), y_pred.max(), 1))
    ax.plot([0, top], [0, top], "k--", lw=1, label="perfect")
    ax.set_xlabel("true age (years)")
    ax.set_ylabel("predicted age (years)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def study_grid_figure(histories: dict[tuple[str, str], Any], key: str, ylabel: str, title: str,
                      loss_names: dict[str, str] | None = None) -> Figure:
    """One panel per loss, one curve per activation: ``histories[(activation, loss)][key]``;
    ``loss_names`` gives the panel titles."""
    losses = list(dict.fromkeys(loss for _, loss in histories))
    fig = _figure(4.2 * len(losses) + 0.4, 3.4)
    axes = fig.subplots(1, len(losses), squeeze=False, sharey=True)[0]
    for ax, loss in zip(axes, losses):
        for (activation, run_loss), h in histories.items():
            if run_loss == loss and key in h:
                ax.plot(h.epochs, h[key], marker="o", markersize=3, label=activation)
        _epoch_axis(ax, ylabel, (loss_names or {}).get(loss, loss))
        ax.legend(fontsize=8, title="hidden activation", title_fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def show_preprocessing(ctx, faces: np.ndarray, stages: list[tuple[str, np.ndarray]], pca: Any, labels: list[str],
                       standardized: bool) -> None:
    """Faces (n, 3, H, W) as loaded, their preprocessing ``stages`` and their rebuild from ``pca``."""
    last = stages[-1][1]  # (n, 1, h, w): what the PCA sees
    rebuilt = pca.inverse_transform(pca.transform(last.reshape(len(last), -1))).reshape(last.shape)
    k, kept = pca.n_components_, float(pca.explained_variance_ratio_.sum())
    shown = [(f"as loaded (RGB {faces.shape[-2]}x{faces.shape[-1]})", faces), *stages,
             (f"from {k} PCA components", rebuilt)]
    title = f"preprocessing of {len(faces)} test faces: PCA keeps {k} components, {kept:.1%} of the variance"
    steps = ", ".join(name.split(" (")[0] for name, _ in stages)
    scaled = ", each z-scored with training statistics" if standardized else ""
    ctx.figure("preprocessing", preprocessing_figure(shown, labels, title),
               f"Test faces (never seen by the PCA fit) as loaded, after each preprocessing step ({steps}; the "
               f"greyscale is BT.601 luma), and rebuilt from their {k} PCA component scores, which keep "
               f"{kept:.1%} of the training pixels' variance. The networks see those {k} scores{scaled}.")


def show_curves(ctx, task: str, history: Any, kept_epoch: int, loss_label: str, monitor: str, flip: bool) -> None:
    """The loss per epoch, and the age RMSE in years or the accuracy per epoch, training to test
    (the history columns of ``exp_utkface_mlp.curve_monitor``)."""
    ctx.figure(f"{task}-curves", curves_figure(history, {"training": "loss", "validation": "val_loss"}, loss_label,
                                               f"{task}: loss per epoch", kept_epoch, log_y=task == "age"),
               f"{task}: training loss (the mean over the epoch's batches, in training mode) and validation loss per "
               f"epoch; early stopping watches {monitor} and keeps the weights of epoch {kept_epoch}.")
    monitored = (f"The test split is only monitored: early stopping watches {monitor} on the validation part and "
                 f"never sees the test faces.")
    mirrored = ", mirrored faces averaged" if flip else ""
    if task == "age":
        series = {"training part": "train_rmse_years", "validation": "val_rmse_years", "test": "test_rmse_years"}
        ctx.figure("age-rmse-curves", curves_figure(history, series, "RMSE (years)", "age: RMSE in years per epoch",
                                             kept_epoch),
                   f"Age RMSE in years after every epoch on the training part, the validation part and the test "
                   f"split, each predicted as at test time (dropout off{mirrored}) by the network trained on scaled "
                   f"ages. {monitored}")
        return
    series = {"training part": "train_accuracy", "validation" + (" (one view)" if flip else ""): "val_accuracy",
              "test": "test_accuracy"}
    ctx.figure(f"{task}-accuracy-curves", curves_figure(history, series, "accuracy", f"{task}: accuracy per epoch",
                                                 kept_epoch),
               f"{task} accuracy after every epoch on the training part and the test split, predicted as at test "
               f"time (argmax of the outputs, dropout off{mirrored}), and the training loop's validation accuracy. "
               f"{monitored}")
