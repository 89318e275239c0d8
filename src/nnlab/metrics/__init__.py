"""Metrics as pure functions over arrays, plus streaming versions for training loops.

This package imports NumPy only at import time; metrics that need scikit-learn or
scikit-image import them inside the function that needs them.
"""

from nnlab.metrics.basic import (
    MAE,
    METRICS,
    RMSE,
    Accuracy,
    StreamingMetric,
    accuracy,
    mae,
    make_metric,
    predicted_labels,
    rmse,
)

__all__ = [
    "accuracy", "rmse", "mae", "predicted_labels", "Accuracy", "RMSE", "MAE",
    "StreamingMetric", "METRICS", "make_metric",
]
