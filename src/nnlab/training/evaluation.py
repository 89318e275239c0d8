"""Evaluate extra data sets at the end of every epoch: curves the training loop does not log.

The loop logs the training loss (averaged over the epoch's batches, in training mode) and the
validation metrics. A report often wants more: the error on the *training* set as the model
predicts at test time (dropout off, test-time augmentation on), or the curve of a test split
that is only watched, never used for decisions, or the error in the units of the problem
(years, not z-scores). :class:`EvaluateSets` computes those from a predict function.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from nnlab.training.callbacks import Callback

log = logging.getLogger(__name__)


class EvaluateSets(Callback):
    """After every ``every``-th epoch, compute ``metric(targets, predict(inputs))`` for named sets.

    Parameters
    ----------
    sets
        ``name -> (inputs, targets)``. ``inputs`` is whatever ``predict`` takes (features, or
        row indices into a feature table); ``targets`` whatever the metrics take.
    predict
        ``predict(inputs) -> predictions``. It sees the weights the model has at the end of the
        epoch: a closure over the model being trained (``model.predict``), or, with
        ``pass_weights=True``, ``predict(inputs, weights)`` with ``trainer.get_weights()``.
    metrics
        ``metric name -> fn(targets, predictions) -> float``.
    every
        Evaluate after epochs ``every, 2 * every, ...`` and after the first one.

    The values are kept in :attr:`values`, keyed ``"{set}_{metric}"`` (``"{metric}"`` for the
    set named ``""``), one entry per evaluated epoch of :attr:`epochs`. The loop's ``History``
    has already recorded the epoch when this callback runs, so copy them there after ``fit``
    with :meth:`add_to` (epochs that were not evaluated get NaN).
    """

    def __init__(self, sets: Mapping[str, tuple[Any, Any]], predict: Callable[..., np.ndarray],
                 metrics: Mapping[str, Callable[[Any, np.ndarray], float]], *, every: int = 1,
                 pass_weights: bool = False) -> None:
        if not sets or not metrics:
            raise ValueError("EvaluateSets needs at least one set and one metric")
        self.sets, self.predict, self.metrics = dict(sets), predict, dict(metrics)
        self.every, self.pass_weights = max(1, int(every)), bool(pass_weights)
        self.epochs: list[int] = []
        self.values: dict[str, list[float]] = {key: [] for key in self.keys()}

    state_attributes = ("epochs", "values")

    def keys(self) -> list[str]:
        """The column names, in order: every metric of the first set, then of the next."""
        return [f"{name}_{metric}" if name else metric for name in self.sets for metric in self.metrics]

    def on_train_begin(self, trainer) -> None:
        self.epochs = []
        self.values = {key: [] for key in self.keys()}

    def on_epoch_end(self, trainer, epoch: int, logs: Mapping[str, float]) -> None:
        if epoch != 1 and epoch % self.every:
            return
        weights = trainer.get_weights() if self.pass_weights else None
        row = self.evaluate(weights)
        self.epochs.append(int(epoch))
        for key, value in row.items():
            self.values[key].append(value)
        log.debug("epoch %d: %s", epoch, "  ".join(f"{k}={v:.5g}" for k, v in row.items()))

    def evaluate(self, weights: Mapping[str, np.ndarray] | None = None) -> dict[str, float]:
        """One value per key for the current weights (or ``weights``, with ``pass_weights``)."""
        row = {}
        for name, (inputs, targets) in self.sets.items():
            pred = self.predict(inputs, weights) if self.pass_weights else self.predict(inputs)
            for metric, fn in self.metrics.items():
                row[f"{name}_{metric}" if name else metric] = float(fn(targets, pred))
        return row

    def add_to(self, history: Any) -> None:
        """Add every key as a column of ``history`` (a :class:`~nnlab.training.History`)."""
        at = {epoch: i for i, epoch in enumerate(self.epochs)}
        for key, values in self.values.items():
            history.add_column(key, [values[at[e]] if e in at else math.nan for e in history.epochs])
