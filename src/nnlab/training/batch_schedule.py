"""Batch-size schedules: "don't decay the learning rate, increase the batch size".

Smith, Kindermans, Ying and Le (2017) show that SGD's noise scale is roughly
``lr * N / (B * (1 - momentum))`` (N samples, batch B), so multiplying the batch by ``k`` at
the epochs where a step schedule would divide the learning rate by ``k`` gives about the same
training curve per epoch, with ``k`` times fewer optimizer updates after each milestone.

A batch-size schedule is, like a learning-rate schedule (:mod:`nnlab.engine.schedules`), a pure
function of the epoch (numbered from 1); :class:`BatchSizeScheduler` is the callback that sets
it at the start of every epoch. Engines: the NumPy ``Sequential.fit`` honours it (its loop
exposes a settable ``batch_size``); the PyTorch ``Trainer`` does not, and the callback says so
instead of being silently ignored.

>>> schedule = BatchSizeSteps(64, milestones=[3, 6], factor=5)
>>> [schedule(e) for e in range(1, 9)]
[64, 64, 64, 320, 320, 320, 1600, 1600]
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from nnlab.training.callbacks import Callback

log = logging.getLogger(__name__)


class BatchSizeSteps:
    """``batch_size * factor ** k``, where k counts the milestones before ``epoch``, capped at ``max_batch``.

    The mirror image of :class:`nnlab.engine.schedules.MultiStepDecay`: where that divides the
    learning rate by ``1 / gamma`` after each milestone, this multiplies the batch by ``factor``.
    ``max_batch`` (0: no cap) bounds the batch, e.g. by the number of training samples.
    """

    def __init__(self, batch_size: int, milestones: list[int] = (), factor: float = 2, max_batch: int = 0) -> None:
        if int(batch_size) < 1 or factor <= 0 or any(int(m) < 1 for m in milestones) or int(max_batch) < 0:
            raise ValueError("BatchSizeSteps needs batch_size >= 1, factor > 0, milestones >= 1 and max_batch >= 0")
        self.batch_size, self.factor, self.max_batch = int(batch_size), float(factor), int(max_batch)
        self.milestones = sorted(int(m) for m in milestones)

    def __call__(self, epoch: int) -> int:
        if epoch < 1:
            raise ValueError(f"epochs are numbered from 1, got {epoch}")
        size = max(1, round(self.batch_size * self.factor ** sum(epoch > m for m in self.milestones)))
        return min(size, self.max_batch) if self.max_batch else size

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "milestones": list(self.milestones), "factor": self.factor,
                "max_batch": self.max_batch}

    def __repr__(self) -> str:
        return "BatchSizeSteps(" + ", ".join(f"{k}={v}" for k, v in self.get_config().items()) + ")"


class BatchSizeScheduler(Callback):
    """Set the batch size from ``schedule(epoch)`` at the start of every epoch.

    ``schedule`` is a :class:`BatchSizeSteps` or any callable ``epoch -> int``. The loop must
    expose a settable ``batch_size`` (``Sequential.fit`` does; its ``steps_per_epoch`` follows).
    Place it before callbacks that read ``steps_per_epoch`` when an epoch begins (a progress
    bar). ``batch_sizes`` and ``steps`` record, for every epoch it has begun, the batch size
    and the number of optimizer steps the epoch takes.
    """

    def __init__(self, schedule: Callable[[int], int]) -> None:
        self.schedule = schedule
        self.batch_sizes: list[int] = []
        self.steps: list[int] = []

    state_attributes = ("batch_sizes", "steps")

    def on_train_begin(self, trainer):
        if not isinstance(getattr(type(trainer), "batch_size", None), property):
            raise TypeError(f"{type(trainer).__name__} cannot change its batch size between epochs; "
                            "BatchSizeScheduler works with the NumPy engine's Sequential.fit")

    def on_epoch_begin(self, trainer, epoch):
        size = int(self.schedule(epoch))
        if size != trainer.batch_size:
            log.info("epoch %d: batch size %d -> %d", epoch, trainer.batch_size, size)
        trainer.batch_size = size
        self.batch_sizes.append(size)
        self.steps.append(int(trainer.steps_per_epoch))
