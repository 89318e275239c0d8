"""Per-pixel classification accuracy (colourization): a pure function and a streaming version.

Shapes: y_true (N, H, W) integer classes; y_pred (N, K, H, W) scores (logits or
probabilities: only the argmax over K matters).
"""

from __future__ import annotations

import numpy as np

from nnlab.metrics.basic import StreamingMetric


def _pixel_hits(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int]:
    """(number of pixels whose argmax class is right, number of pixels)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_pred.ndim != y_true.ndim + 1 or y_pred.shape[:1] + y_pred.shape[2:] != y_true.shape:
        raise ValueError(f"pixel accuracy: scores {y_pred.shape} do not match targets {y_true.shape}"
                         " (expected (N, K, H, W) and (N, H, W))")
    if y_true.size == 0:
        raise ValueError("pixel accuracy of an empty set is undefined")
    predicted = y_pred.argmax(axis=1)  # (N, H, W)
    return int(np.count_nonzero(predicted == y_true.astype(np.intp))), int(y_true.size)


def pixel_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of pixels whose highest-scoring class equals the target class.

    Shapes: y_true (N, H, W) ints, y_pred (N, K, H, W) scores -> float.
    """
    hits, count = _pixel_hits(y_true, y_pred)
    return hits / count


class PixelAccuracy(StreamingMetric):
    """:func:`pixel_accuracy` accumulated batch by batch (every pixel weighs the same).

    ``name`` is ``"accuracy"`` so that training logs read ``accuracy`` / ``val_accuracy``.
    """

    name = "accuracy"

    def update(self, y_true, y_pred):
        hits, count = _pixel_hits(y_true, y_pred)
        self._sum += float(hits)
        self._count += count
