"""Metrics of one task of a multi-task network whose outputs share one array.

A multi-task network (e.g. the UTKFace CNN) returns one (N, K) array whose column blocks are
the tasks (``age`` = column 0, ``gender`` = columns 1-2, ...), and its targets are one (N, T)
array with a column per task. :class:`TaskMetric` scores one task: it slices both and feeds a
streaming metric, so ``TaskMetric("gender", "accuracy", slice(1, 3), 1)`` logs
``gender_accuracy``.
"""

from __future__ import annotations

import numpy as np

from nnlab.metrics.basic import StreamingMetric, make_metric


class TaskMetric(StreamingMetric):
    """``metric`` on outputs ``[:, outputs]`` against targets ``[:, target]``.

    Shapes: y_true (N, T), y_pred (N, K) -> one float.
    """

    def __init__(self, task: str, metric: str | StreamingMetric, outputs: slice, target: int) -> None:
        self.inner = make_metric(metric, from_logits=True) if isinstance(metric, str) else metric
        self.task, self.outputs, self.target = task, outputs, int(target)
        self.name = f"{task}_{self.inner.name}"
        super().__init__()

    def reset(self) -> None:
        if hasattr(self, "inner"):
            self.inner.reset()

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if y_true.ndim != 2 or self.target >= y_true.shape[1]:
            raise ValueError(f"{self.name}: targets must be (N, T) with a column {self.target}, got {y_true.shape}")
        self.inner.update(y_true[:, self.target], y_pred[:, self.outputs])

    def result(self) -> float:
        return self.inner.result()

    def totals(self) -> tuple[float, int]:
        return self.inner.totals()

    def set_totals(self, total: float, count: int) -> None:
        self.inner.set_totals(total, count)
