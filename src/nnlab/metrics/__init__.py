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
from nnlab.metrics.cam import class_activation_map, grad_cam, normalize_map, overlay, resize_maps
from nnlab.metrics.classification import (
    classification_report,
    confusion_matrix,
    precision_recall_f1,
    roc_curves,
    top_k_accuracy,
)
from nnlab.metrics.image import psnr, rgb_to_y, shave, ssim
from nnlab.metrics.pixel import PixelAccuracy, pixel_accuracy

__all__ = [
    "accuracy", "rmse", "mae", "predicted_labels", "Accuracy", "RMSE", "MAE",
    "StreamingMetric", "METRICS", "make_metric",
    "top_k_accuracy", "confusion_matrix", "precision_recall_f1", "roc_curves",
    "classification_report",
    "rgb_to_y", "shave", "psnr", "ssim", "pixel_accuracy", "PixelAccuracy",
    "class_activation_map", "grad_cam", "normalize_map", "resize_maps", "overlay",
]
