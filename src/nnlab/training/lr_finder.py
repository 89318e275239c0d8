"""The learning-rate finder (Smith 2015, "Cyclical Learning Rates", section 3.3; fastai's ``lr_find``).

Train a copy of the model for a few hundred steps while the learning rate grows exponentially
from ``start_lr`` to ``end_lr``, one value per step, and record the loss of each step. The loss
first barely moves (the rate is too small to matter), then falls (a useful rate), then turns and
explodes (too large). The suggestion is the rate where the smoothed loss falls fastest against
log(lr); the rate of the lowest loss, a tenth of it, is the usual upper pick.

It works on anything that trains through ``fit(x, y, epochs=, batch_size=, callbacks=)`` with the
:class:`~nnlab.training.TrainerLike` view: a compiled NumPy-engine ``Sequential`` and the PyTorch
``Trainer`` alike. The model itself is untouched: the sweep trains a deep copy (weights and
optimizer state), which it drops.
"""

from __future__ import annotations

import copy
import logging
import math
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nnlab.errors import ConfigError, TrainingDivergedError
from nnlab.training.callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)


@dataclass
class LRFinderResult:
    """What the sweep saw: one learning rate and loss per step trained."""

    lrs: np.ndarray            # the rate of each step
    losses: np.ndarray         # each step's batch loss
    smoothed: np.ndarray       # the bias-corrected exponential moving average of ``losses``
    suggestion: float          # where the smoothed loss falls fastest against log(lr)
    min_loss_lr: float         # where the smoothed loss is lowest
    diverged: bool             # the sweep stopped early: the loss exploded (or became NaN)
    steps: int                 # steps asked for
    batch_size: int

    def __repr__(self) -> str:
        return (f"LRFinderResult(suggestion={self.suggestion:.3g}, min_loss_lr={self.min_loss_lr:.3g},"
                f" steps={len(self.lrs)}/{self.steps}, batch_size={self.batch_size}, diverged={self.diverged})")

    @property
    def upper(self) -> float:
        """A tenth of the rate of the lowest loss: the largest rate usually safe to train with."""
        return self.min_loss_lr / 10

    def figure(self, title: str = "") -> "Figure":
        """The loss against the learning rate (log axis): each step faint, the smoothed curve, and
        the suggestion and the lowest loss marked."""
        from nnlab.plotting import new_figure

        fig = new_figure(6.0, 3.6)
        ax = fig.subplots()
        ax.plot(self.lrs, self.losses, color="#bbbbbb", lw=0.8, label="loss of each step")
        ax.plot(self.lrs, self.smoothed, color="#4C72B0", lw=1.8, label="smoothed loss")
        at = float(np.interp(math.log(self.suggestion), np.log(self.lrs), self.smoothed))
        ax.axvline(self.suggestion, color="#DD8452", ls="--", lw=1)
        ax.plot([self.suggestion], [at], "o", color="#DD8452",
                label=f"suggested {self.suggestion:.2g} (steepest fall)")
        ax.axvline(self.min_loss_lr, color="#55A868", ls=":", lw=1,
                   label=f"lowest loss at {self.min_loss_lr:.2g} (train below {self.upper:.2g})")
        ax.set_xscale("log")
        finite = self.smoothed[np.isfinite(self.smoothed)]
        if finite.size:      # keep the explosion from flattening the useful part of the curve
            raw = self.losses[: int(np.nanargmin(np.where(np.isfinite(self.smoothed), self.smoothed, np.nan))) + 1]
            raw = raw[np.isfinite(raw)]
            low, start = min(float(finite.min()), float(raw.min()) if raw.size else math.inf), float(finite[0])
            top = max(start, low) + 0.5 * abs(max(start, low) - low) + 1e-12
            ax.set_ylim(low - 0.05 * (top - low), top)
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("training loss")
        title = title or (f"learning-rate sweep: {len(self.lrs)} steps of batch {self.batch_size}"
                          f"{', stopped when the loss exploded' if self.diverged else ''}")
        ax.set_title(textwrap.fill(title, 80), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        return fig

    def to_dict(self) -> dict[str, Any]:
        return {"suggestion": self.suggestion, "min_loss_lr": self.min_loss_lr, "upper": self.upper,
                "diverged": self.diverged, "steps": self.steps, "batch_size": self.batch_size,
                "lrs": self.lrs.tolist(), "losses": self.losses.tolist()}


class _Sweep(Callback):
    """Sets the rate of each step and records its loss; stops at the last step or when the
    smoothed loss passes ``diverge`` times its lowest value."""

    def __init__(self, lrs: np.ndarray, smooth: float, diverge: float) -> None:
        self.lrs, self.smooth, self.diverge = lrs, smooth, diverge
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.diverged = False
        self._avg, self._best = 0.0, math.inf

    def on_train_begin(self, trainer):
        trainer.lr = float(self.lrs[0])

    def on_batch_end(self, trainer, step, logs):
        loss = float(logs["loss"])
        i = len(self.losses)
        self.losses.append(loss)
        self._avg = self.smooth * self._avg + (1 - self.smooth) * loss
        smoothed = self._avg / (1 - self.smooth ** (i + 1))
        self.smoothed.append(smoothed)
        self._best = min(self._best, smoothed)
        if not math.isfinite(smoothed) or (i > 0 and smoothed > self.diverge * self._best):
            self.diverged = True
            trainer.stop_training = True
        elif i + 1 >= len(self.lrs):
            trainer.stop_training = True
        else:
            trainer.lr = float(self.lrs[i + 1])


def _copy_for_sweep(trainer: Any) -> Any:
    """A deep copy that trains from the model's current state, for a fresh ``fit``."""
    work = copy.deepcopy(trainer)
    if hasattr(work, "finished"):        # the PyTorch Trainer counts epochs across fits: start over
        from nnlab.training.history import History

        work.epoch, work.finished, work.stop_training, work.history = 0, False, False, History()
    return work


def find_lr(trainer: Any, x: Any, y: Any, *, batch_size: int = 32, start_lr: float = 1e-7, end_lr: float = 10.0,
            steps: int = 100, smooth: float | None = None, diverge: float = 4.0, **fit_options: Any) -> LRFinderResult:
    """Sweep the learning rate exponentially from ``start_lr`` to ``end_lr`` over ``steps`` steps of
    ``batch_size`` samples of (x, y) on a copy of ``trainer`` (a compiled engine ``Sequential`` or
    a torchlib ``Trainer``), which is left untouched. ``smooth`` is the moving average's weight of
    the past; by default ``1 - 10 / steps`` (0.9 for 100 steps), an average over about a tenth of
    the sweep: fastai's fixed 0.98 averages over 50 steps, which on a 100-step sweep lags the raw
    loss by half the sweep. The sweep stops once the smoothed loss exceeds ``diverge`` times its
    lowest. ``fit_options`` go to ``fit`` (``augment``...). The data is gone through in shuffled
    epochs, as many as the steps need.
    """
    if not 0 < start_lr < end_lr or not math.isfinite(end_lr):
        raise ConfigError(f"the sweep needs 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if int(steps) < 5:
        raise ConfigError(f"the sweep needs at least 5 steps, got {steps}")
    if smooth is None:
        smooth = min(0.98, max(0.5, 1 - 10 / int(steps)))
    if not 0 <= smooth < 1 or diverge <= 1:
        raise ConfigError(f"smooth must be in [0, 1) and diverge > 1, got {smooth} and {diverge}")
    if not callable(getattr(trainer, "fit", None)):
        raise ConfigError(f"find_lr needs a model with fit() (a compiled Sequential or a Trainer),"
                          f" not {type(trainer).__name__}")
    if getattr(trainer, "optimizer", None) is None:
        raise ConfigError("find_lr needs a compiled model: call compile(loss=..., optimizer=...) first")
    n = len(x)
    if n == 0:
        raise ConfigError("find_lr got no samples")
    steps, batch_size = int(steps), min(int(batch_size), n)
    lrs = np.geomspace(start_lr, end_lr, steps)
    sweep = _Sweep(lrs, smooth, diverge)
    per_epoch = math.ceil(n / batch_size)
    work = _copy_for_sweep(trainer)
    try:
        work.fit(x, y, epochs=math.ceil(steps / per_epoch), batch_size=batch_size, callbacks=[sweep], **fit_options)
    except TrainingDivergedError:       # a NaN loss: TerminateOnNaN stopped the copy's fit
        sweep.diverged = True
    done = len(sweep.losses)
    if done < 3:
        raise ConfigError(f"the loss exploded within {done} steps: start the sweep lower than start_lr={start_lr:g}")
    used, losses, smoothed = lrs[:done], np.asarray(sweep.losses), np.asarray(sweep.smoothed)
    finite = np.isfinite(smoothed)
    lowest = int(np.nanargmin(np.where(finite, smoothed, np.nan)))
    # the steepest fall of the smoothed loss against log(lr), before the lowest loss, leaving out the
    # first tenth of the sweep: there the average has seen a few batches only and its noise looks steep
    slope = np.gradient(np.where(finite, smoothed, np.nan), np.log(used))
    skip = min(max(3, steps // 10), lowest)
    window = slope[skip : lowest + 1]
    steepest = skip + int(np.nanargmin(window)) if np.isfinite(window).any() else lowest
    result = LRFinderResult(lrs=used, losses=losses, smoothed=smoothed, suggestion=float(used[steepest]),
                            min_loss_lr=float(used[lowest]), diverged=sweep.diverged, steps=steps,
                            batch_size=batch_size)
    log.info("learning-rate sweep: %d of %d steps, suggested lr %.3g (steepest fall), lowest loss at %.3g%s",
             done, steps, result.suggestion, result.min_loss_lr, ", stopped when the loss exploded" if sweep.diverged
             else "")
    return result
