"""Callbacks: the hooks a training loop calls, and the standard ones.

The loop calls, in order: ``on_train_begin(trainer)``; per epoch ``on_epoch_begin(trainer,
epoch)``, ``on_batch_end(trainer, step, logs)`` after each optimizer step, and
``on_epoch_end(trainer, epoch, logs)`` with the epoch's logs (``loss``, metrics, ``val_*``,
``lr``); finally ``on_train_end(trainer)``, also when training stops early or fails. Epochs are
numbered from 1. Callbacks only touch the trainer through :class:`TrainerLike`, so the same
callbacks serve the NumPy engine and the PyTorch trainer.

One concept, the callback protocol and the standard callbacks both engines' loops run (early
stopping, schedules, logging, checkpoints, the NaN guard, progress), so one module of about 530 lines.
"""

from __future__ import annotations

import copy
import csv
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

import numpy as np

from nnlab.errors import TrainingDivergedError

log = logging.getLogger(__name__)


@runtime_checkable
class TrainerLike(Protocol):
    """What a callback may use of the loop that drives it."""

    #: set by a callback to stop: after the epoch, or after the batch when set in ``on_batch_end``
    #: (data-parallel torch training stops at the epoch's end, so that every process stops together)
    stop_training: bool
    epoch: int
    steps_per_epoch: int

    @property
    def lr(self) -> float: ...

    @lr.setter
    def lr(self, value: float) -> None: ...

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of the model's weights (parameters and buffers)."""
        ...

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None: ...

    def save_checkpoint(self, path: str | Path) -> None:
        """Write everything needed to resume (weights, optimizer, epoch, history), atomically."""
        ...

    def snapshot(self) -> Any:
        """A copy of the weights (parameters and buffers) in the loop's own form, for :meth:`restore`."""
        ...

    def restore(self, snapshot: Any) -> None: ...

    def weights_finite(self) -> bool:
        """Whether every weight is finite (no NaN or infinity)."""
        ...

    # Optional, looked up with getattr (the TensorBoard callback skips gradient histograms without it):
    # ``get_gradients() -> dict[str, np.ndarray]``, copies of the last optimizer step's gradient of
    # each parameter, named as in ``get_weights``.


class Callback:
    """Base class with no-op hooks; override the ones you need.

    A callback whose progress matters for an exact resume (early stopping's patience, the best
    value so far) defines ``state_dict()`` and ``load_state_dict(state)``; trainers store that
    state in their checkpoints. ``rank_zero_only`` callbacks (files, bars, logs) run in one
    process of a data-parallel job only.
    """

    rank_zero_only = False
    #: True when ``on_batch_end`` only looks at logs a loop has anyway: it does not make a loop
    #: compute per-batch logs it would otherwise skip (see :attr:`CallbackList.has_batch_hooks`)
    batch_hook_optional = False
    #: attributes an exact resume carries (what the callback has recorded so far): the default
    #: ``state_dict``/``load_state_dict`` save and restore them
    state_attributes: tuple[str, ...] = ()

    def state_dict(self) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(self, name)) for name in self.state_attributes}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for name in self.state_attributes:
            if name in state:
                setattr(self, name, state[name])

    def on_train_begin(self, trainer: TrainerLike) -> None: ...
    def on_epoch_begin(self, trainer: TrainerLike, epoch: int) -> None: ...
    def on_batch_end(self, trainer: TrainerLike, step: int, logs: Mapping[str, float]) -> None: ...
    def on_epoch_end(self, trainer: TrainerLike, epoch: int, logs: Mapping[str, float]) -> None: ...
    def on_train_end(self, trainer: TrainerLike) -> None: ...


class CallbackList:
    """Calls each hook on every callback, in order, skipping hooks a callback leaves empty."""

    HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")

    def __init__(self, callbacks: Iterable[Any]) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            missing = [h for h in self.HOOKS if not callable(getattr(cb, h, None))]
            if missing:
                raise TypeError(f"{type(cb).__name__} is not a callback: it lacks {missing}")
        batch = [cb for cb in self.callbacks
                 if getattr(type(cb), "on_batch_end", None) is not Callback.on_batch_end]
        self._batch_hooks = [cb.on_batch_end for cb in batch]
        self._wants_batch_logs = any(not getattr(cb, "batch_hook_optional", False) for cb in batch)

    @property
    def has_batch_hooks(self) -> bool:
        """Whether any callback wants per-batch logs (a loop may skip computing them if not);
        ``batch_hook_optional`` callbacks do not count."""
        return self._wants_batch_logs

    def state_dict(self) -> dict[str, Any]:
        """The state of every callback that has one, keyed by position and type."""
        return {f"{i}:{type(cb).__name__}": cb.state_dict() for i, cb in enumerate(self.callbacks)
                if callable(getattr(cb, "state_dict", None))}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Give each callback its saved state: the k-th callback of a type gets the k-th saved state
        of that type, in saved order, so a callback added or removed before it (a newer version's
        defaults) does not lose it."""
        saved: dict[str, list[Any]] = {}
        for key in sorted(state, key=lambda k: int(k.partition(":")[0])):
            saved.setdefault(key.partition(":")[2], []).append(state[key])
        for cb in self.callbacks:
            queue = saved.get(type(cb).__name__)
            if queue and callable(getattr(cb, "load_state_dict", None)):
                cb.load_state_dict(queue.pop(0))

    def on_train_begin(self, trainer):
        for cb in self.callbacks:
            cb.on_train_begin(trainer)

    def on_epoch_begin(self, trainer, epoch):
        for cb in self.callbacks:
            cb.on_epoch_begin(trainer, epoch)

    def on_batch_end(self, trainer, step, logs):
        for hook in self._batch_hooks:
            hook(trainer, step, logs)

    def on_epoch_end(self, trainer, epoch, logs):
        for cb in self.callbacks:
            cb.on_epoch_end(trainer, epoch, logs)

    def on_train_end(self, trainer):
        for cb in self.callbacks:
            cb.on_train_end(trainer)


def _mode_for(monitor: str, mode: str) -> str:
    if mode != "auto":
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
        return mode
    return "max" if any(k in monitor for k in ("acc", "auc", "psnr", "ssim", "f1")) else "min"


class _Monitor:
    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        self.monitor, self.mode, self.min_delta = monitor, _mode_for(monitor, mode), abs(float(min_delta))
        self.best: float | None = None

    def value(self, logs: Mapping[str, float]) -> float | None:
        if self.monitor not in logs:
            log.warning("%s: %r is not in the epoch logs (%s)", type(self).__name__, self.monitor, ", ".join(logs))
            return None
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback, _Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends with the weights of its best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        _Monitor.__init__(self, monitor, mode, min_delta)
        self.patience, self.restore_best_weights = int(patience), bool(restore_best_weights)
        self.wait = 0
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._best_weights: dict[str, np.ndarray] | None = None

    def on_train_begin(self, trainer):
        if self._resumed:
            self._resumed = False
            return
        self.best, self.wait, self.best_epoch, self.stopped_epoch, self._best_weights = None, 0, None, None, None

    _resumed = False

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch,
                "best_weights": self._best_weights}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best, self.wait, self.best_epoch = state["best"], int(state["wait"]), state["best_epoch"]
        self._best_weights = state.get("best_weights")
        self._resumed = True

    def on_epoch_end(self, trainer, epoch, logs):
        value = self.value(logs)
        if value is None:
            return
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_weights = trainer.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True
            log.info("early stopping at epoch %d: best %s %.6g at epoch %s", epoch, self.monitor, self.best, self.best_epoch)

    def on_train_end(self, trainer):
        if self.restore_best_weights and self._best_weights is not None and self.best_epoch != trainer.epoch:
            trainer.set_weights(self._best_weights)
            log.info("restored the weights of epoch %s (%s %.6g)", self.best_epoch, self.monitor, self.best)


class LearningRateScheduler(Callback):
    """Set the learning rate from a schedule at the start of every epoch.

    ``schedule`` is a :class:`nnlab.engine.schedules.Schedule` or any callable
    ``epoch -> lr``. A schedule with an ``update`` method (reduce-on-plateau) is fed the value of
    ``monitor`` at the end of each epoch.
    """

    def __init__(self, schedule: Any, monitor: str = "val_loss") -> None:
        self.schedule, self.monitor = schedule, monitor

    def on_epoch_begin(self, trainer, epoch):
        trainer.lr = float(self.schedule(epoch))

    def state_dict(self) -> dict[str, Any]:
        get = getattr(self.schedule, "state_dict", None)
        return {"schedule": get()} if callable(get) else {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        put = getattr(self.schedule, "load_state_dict", None)
        if callable(put) and "schedule" in state:
            put(state["schedule"])

    def on_epoch_end(self, trainer, epoch, logs):
        update = getattr(self.schedule, "update", None)
        if update is not None and self.monitor in logs:
            update(float(logs[self.monitor]))


class CSVLogger(Callback):
    """Append one row per epoch to a CSV file, flushed at once (a crash loses nothing)."""

    rank_zero_only = True

    def __init__(self, path: str | Path, append: bool = False) -> None:
        self.path, self.append = Path(path), append
        self._file = None
        self._writer: csv.DictWriter | None = None
        self._keys: list[str] | None = None

    def on_train_begin(self, trainer):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        exists = self.append and self.path.exists() and self.path.stat().st_size > 0
        if exists:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f), None)
            self._keys = header[1:] if header else None
        self._file = open(self.path, "a" if exists else "w", newline="")
        if not exists:
            self._keys = None

    def on_epoch_end(self, trainer, epoch, logs):
        if self._file is None:
            self.on_train_begin(trainer)
        if self._keys is None:
            self._keys = list(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self._keys], extrasaction="ignore")
            self._writer.writeheader()
        elif self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self._keys], extrasaction="ignore")
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "") for k in self._keys}})
        self._file.flush()

    def on_train_end(self, trainer):
        if self._file is not None:
            self._file.close()
            self._file, self._writer = None, None


class ModelCheckpoint(Callback, _Monitor):
    """Save a resumable checkpoint at the end of epochs.

    ``path`` may contain ``{epoch}``. With ``save_best_only`` a checkpoint is written only when
    ``monitor`` improves. ``min_interval_s``: an epoch that ends sooner than this after the last
    write is not written (for runs of thousands of millisecond epochs; a resume then repeats at
    most that much work, to the same result). Writes are atomic (a temporary file, then a rename), so a crash
    mid-write never leaves a broken checkpoint behind.
    """

    def __init__(
        self,
        path: str | Path,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        every: int = 1,
        min_interval_s: float = 0.0,
    ) -> None:
        _Monitor.__init__(self, monitor, mode, 0.0)
        self.path, self.save_best_only, self.every = str(path), bool(save_best_only), max(1, int(every))
        self.min_interval_s = float(min_interval_s)  # skip an epoch's write if the last is more recent
        self._last: float | None = None
        self.saved: list[Path] = []

    rank_zero_only = True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best = state.get("best")

    def on_epoch_end(self, trainer, epoch, logs):
        if self.save_best_only:
            value = self.value(logs)
            if value is None or not self.improved(value):
                return
            self.best = value
        elif epoch % self.every:
            return
        if self._last is not None and time.monotonic() - self._last < self.min_interval_s:
            return
        self._last = time.monotonic()
        path = Path(self.path.format(epoch=epoch))
        path.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(path)
        self.saved.append(path)
        log.debug("checkpoint written to %s", path)


def fit_callbacks(callbacks: Iterable[Any], epochs: int, *, history: Any, progress: bool,
                  checkpoint: str | Path | ModelCheckpoint | None, suffix: str,
                  keep_any_suffix: bool = False) -> tuple[list[Any], Path | None]:
    """The callbacks a fit runs, in order, for both engines' loops: a :class:`TerminateOnNaN`
    first (unless one is given), so that nothing records a diverged epoch; the ``history``;
    ``callbacks``; a :class:`ProgressBar` with ``progress`` (unless one is given); and the
    :func:`checkpoint_saver` of ``checkpoint`` last, so that it saves what every other callback
    did in the epoch. Returns them and the checkpoint's path (None without one)."""
    user = list(callbacks)
    cbs = [*([] if any(isinstance(c, TerminateOnNaN) for c in user) else [TerminateOnNaN()]), history, *user]
    if progress and not any(isinstance(c, ProgressBar) for c in user):
        cbs.append(ProgressBar(total_epochs=epochs))
    if checkpoint is None:
        return cbs, None
    saver = checkpoint_saver(checkpoint, suffix, keep_any_suffix=keep_any_suffix)
    cbs.append(saver)
    return cbs, Path(saver.path)


class TerminateOnNaN(Callback):
    """Stop training when the loss or the weights stop being finite, with the weights put back.

    Each epoch starts from a snapshot of the weights (``trainer.snapshot()``); a NaN or infinite
    loss (of a batch, when the loop reports batches, or of the epoch) or non-finite weights at
    the end of an epoch restore it and raise :class:`~nnlab.errors.TrainingDivergedError`,
    which says where it happened and what to try. Both engines' ``fit`` put one first in their
    callbacks. Its batch check is optional: a loop that skips per-batch logs (the PyTorch
    trainer, which would have to wait for the device every batch) is checked once per epoch.
    """

    batch_hook_optional = True

    def __init__(self) -> None:
        self._snapshot: Any = None

    def on_epoch_begin(self, trainer, epoch):
        self._snapshot = trainer.snapshot()

    def on_batch_end(self, trainer, step, logs):
        value = logs.get("loss", 0.0)
        if not math.isfinite(value):
            self._stop(trainer, f"the loss became {value} at epoch {trainer.epoch}, batch {step + 1}/"
                                f"{trainer.steps_per_epoch}; training stopped and")

    def on_epoch_end(self, trainer, epoch, logs):
        value = logs.get("loss", 0.0)
        if not math.isfinite(value):
            self._stop(trainer, f"the loss became {value} during epoch {epoch}; training stopped and")
        elif not trainer.weights_finite():
            self._stop(trainer, f"the weights became NaN or infinite during epoch {epoch};")

    def on_train_end(self, trainer):
        self._snapshot = None

    def _stop(self, trainer, what: str) -> None:
        if self._snapshot is not None:
            trainer.restore(self._snapshot)
        raise TrainingDivergedError(f"{what} the weights were restored to the start of epoch {trainer.epoch}."
                                    f" Try a lower learning rate (now {trainer.lr:g}) or scaled inputs and targets.")


def checkpoint_saver(checkpoint: str | Path | ModelCheckpoint, suffix: str, *,
                     keep_any_suffix: bool = False) -> ModelCheckpoint:
    """The :class:`ModelCheckpoint` a fit writes (and resumes from) for its ``checkpoint``
    argument, a path or a ModelCheckpoint, its path ending in ``suffix``: added unless the path
    already ends in it (or, with ``keep_any_suffix``, has any suffix)."""
    saver = checkpoint if isinstance(checkpoint, ModelCheckpoint) else ModelCheckpoint(checkpoint)
    path = Path(saver.path)
    if not (path.suffix if keep_any_suffix else path.suffix == suffix):
        saver.path = str(path.with_name(path.name + suffix))
    return saver


class ProgressBar(Callback):
    """A tqdm bar per epoch over the batches, with the running loss and the epoch's metrics."""

    rank_zero_only = True

    def __init__(self, total_epochs: int | None = None, leave: bool = True, file: Any = None) -> None:
        self.total_epochs, self.leave, self.file = total_epochs, leave, file
        self._bar = None
        self._loss_sum = 0.0
        self._count = 0

    def on_epoch_begin(self, trainer, epoch):
        from tqdm.auto import tqdm  # lazy: the engine itself never needs tqdm

        of = f"/{self.total_epochs}" if self.total_epochs else ""
        self._bar = tqdm(total=trainer.steps_per_epoch, desc=f"epoch {epoch}{of}", leave=self.leave,
                         file=self.file, unit="batch", dynamic_ncols=True)
        self._loss_sum, self._count = 0.0, 0

    def on_batch_end(self, trainer, step, logs):
        if self._bar is None:
            return
        self._loss_sum += float(logs.get("loss", math.nan))
        self._count += 1
        self._bar.update(1)
        if self._count % 10 == 0 or self._count == trainer.steps_per_epoch:
            self._bar.set_postfix(loss=f"{self._loss_sum / self._count:.4g}", refresh=False)

    def on_epoch_end(self, trainer, epoch, logs):
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=True)
            self._bar.close()
            self._bar = None

    def on_train_end(self, trainer):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class PhaseBar(Callback):
    """One progress line for a whole training phase: its label (e.g. ``[2/3] unet``), the epoch, the
    time left in the phase (tqdm's estimate over all its batches, so it counts the epochs to come)
    and the last epoch's loss and validation metrics. A resumed phase starts where it stopped."""

    rank_zero_only = True

    def __init__(self, total_epochs: int, label: str = "", leave: bool = True, file: Any = None,
                 epoch_lines: bool = True) -> None:
        self.total_epochs, self.label, self.leave, self.file = int(total_epochs), label, leave, file
        self.epoch_lines = epoch_lines   # a compact line per finished epoch above the bar (Keras-like)
        self._bar = None
        self._epoch_start = 0.0

    def on_train_begin(self, trainer):
        from tqdm.auto import tqdm

        steps = int(getattr(trainer, "steps_per_epoch", 0) or 0)
        start = int(getattr(trainer, "epoch", 0) or 0)    # a resumed phase: its finished epochs count as done
        self._bar = tqdm(total=self.total_epochs * steps or None, initial=start * steps, desc=self.label or "training",
                         leave=self.leave, file=self.file, unit="batch", dynamic_ncols=True)

    def on_epoch_begin(self, trainer, epoch):
        if self._bar is None:
            return
        remaining = (self.total_epochs - epoch + 1) * int(getattr(trainer, "steps_per_epoch", 0) or 0)
        if remaining and self._bar.total != self._bar.n + remaining:   # a batch-size schedule changed the steps
            self._bar.total = self._bar.n + remaining
        self._bar.set_description(f"{self.label + ' ' if self.label else ''}epoch {epoch}/{self.total_epochs}",
                                  refresh=False)
        self._epoch_start = time.perf_counter()

    def on_batch_end(self, trainer, step, logs):
        if self._bar is not None:
            self._bar.update(1)

    def on_epoch_end(self, trainer, epoch, logs):
        if self._bar is not None:
            shown = {k: v for k, v in logs.items() if k == "loss" or k.startswith("val_")}
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=True)
            if self.epoch_lines:
                seconds = time.perf_counter() - self._epoch_start if self._epoch_start else None
                # above the bar, on the bar's stream (tqdm.write would pick stdout)
                self._bar.write(epoch_line(self.label, epoch, self.total_epochs, logs, seconds),
                                file=self.file if self.file is not None else sys.stderr)

    def on_train_end(self, trainer):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def epoch_line(label: str, epoch: int, total: int | None, logs: Mapping[str, float],
               seconds: float | None = None) -> str:
    """One compact line for a finished epoch, as the terminal shows it:
    ``[1/3] unet  epoch 3/25  loss 0.4123  accuracy 61.20%  val_loss 0.4550  lr 0.001  41.2 s``
    (accuracies as percentages, four significant digits, the epoch's seconds last)."""
    def value(key: str, v: float) -> str:
        if "accuracy" in key and 0.0 <= v <= 1.0:
            return f"{100 * v:.2f}%"
        return f"{v:.4g}" if key == "lr" else f"{v:.4f}" if 1e-3 <= abs(v) < 1e4 else f"{v:.4g}"

    parts = [f"{label}  " if label else "", f"epoch {epoch}{f'/{total}' if total else ''}"]
    parts += [f"  {k} {value(k, v)}" for k, v in logs.items()]
    if seconds is not None:
        parts.append(f"  {seconds:.1f} s")
    return "".join(parts)


class EpochLogger(Callback):
    """Log one line per epoch (``logging.INFO``): what a run's log file records.

    With ``console=False`` the records carry ``nnlab_console=False``, which the CLI's console
    handler drops: a progress bar already shows the epoch as a compact line (:func:`epoch_line`),
    and the log file keeps the full-precision record."""

    rank_zero_only = True

    def __init__(self, logger: logging.Logger | None = None, console: bool = True) -> None:
        self.logger, self.console = logger or log, console

    def on_epoch_end(self, trainer, epoch, logs):
        self.logger.info("epoch %d: %s", epoch, "  ".join(f"{k}={v:.5g}" for k, v in logs.items()),
                         extra=None if self.console else {"nnlab_console": False})
