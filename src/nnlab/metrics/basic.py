"""Accuracy, RMSE and MAE: pure functions and streaming (batch-by-batch) versions."""

from __future__ import annotations

import math

import numpy as np


def predicted_labels(y_pred: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class predictions: argmax over axis 1 for (N, C>1) scores, else ``y_pred > threshold``.

    ``threshold`` is 0.5 for probabilities and 0.0 for logits.
    """
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        return y_pred.argmax(axis=1)
    return (y_pred.reshape(len(y_pred)) > threshold).astype(np.intp)


def _labels(y_true: np.ndarray) -> np.ndarray:
    y_true = np.asarray(y_true)
    if y_true.ndim == 2 and y_true.shape[1] > 1:  # one-hot
        return y_true.argmax(axis=1)
    return y_true.reshape(len(y_true)).round().astype(np.intp)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of samples whose predicted class (see :func:`predicted_labels`) is right."""
    t, p = _labels(y_true), predicted_labels(y_pred, threshold)
    if t.shape != p.shape:
        raise ValueError(f"accuracy: {t.shape[0]} labels for {p.shape[0]} predictions")
    if t.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float(np.mean(t == p))


def _errors(y_true, y_pred) -> np.ndarray:
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.size != y_pred.size:
        raise ValueError(f"{y_true.shape} targets for {y_pred.shape} predictions")
    if y_true.size == 0:
        raise ValueError("error of an empty set is undefined")
    return y_pred.reshape(-1) - y_true.reshape(-1)


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error over all elements."""
    e = _errors(y_true, y_pred)
    return math.sqrt(float(np.dot(e, e)) / e.size)


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error over all elements."""
    return float(np.abs(_errors(y_true, y_pred)).mean())


class StreamingMetric:
    """Accumulates a metric batch by batch; ``result()`` equals the function on all the data."""

    name = ""

    def reset(self) -> None:
        self._sum, self._count = 0.0, 0

    def __init__(self) -> None:
        self.reset()

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        raise NotImplementedError  # pragma: no cover

    def result(self) -> float:
        return self._sum / self._count if self._count else math.nan

    def totals(self) -> tuple[float, int]:
        """The running (sum, count) that ``result`` is computed from (what data-parallel
        workers add up before computing the result)."""
        return self._sum, self._count

    def set_totals(self, total: float, count: int) -> None:
        self._sum, self._count = float(total), int(count)


class Accuracy(StreamingMetric):
    name = "accuracy"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        super().__init__()

    def update(self, y_true, y_pred):
        t, p = _labels(y_true), predicted_labels(y_pred, self.threshold)
        self._sum += float(np.count_nonzero(t == p))
        self._count += t.size


class RMSE(StreamingMetric):
    name = "rmse"

    def update(self, y_true, y_pred):
        e = _errors(y_true, y_pred)
        self._sum += float(np.dot(e, e))
        self._count += e.size

    def result(self):
        return math.sqrt(self._sum / self._count) if self._count else math.nan


class MAE(StreamingMetric):
    name = "mae"

    def update(self, y_true, y_pred):
        e = _errors(y_true, y_pred)
        self._sum += float(np.abs(e).sum())
        self._count += e.size


METRICS: dict[str, type[StreamingMetric]] = {"accuracy": Accuracy, "acc": Accuracy, "rmse": RMSE, "mae": MAE}


def make_metric(name: str, *, from_logits: bool = False) -> StreamingMetric:
    """A streaming metric by name; ``from_logits`` sets the binary-accuracy threshold to 0."""
    key = name.lower()
    if key not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
    if METRICS[key] is Accuracy:
        return Accuracy(threshold=0.0 if from_logits else 0.5)
    return METRICS[key]()
