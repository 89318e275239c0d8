"""Loss functions with explicit gradients. Every loss is the *mean* over the batch.

``forward(pred, target)`` returns the loss as a Python float and caches what ``backward()``
needs; ``backward()`` returns dL/dpred. ``check_targets(target, pred_shape)`` validates a whole
target array once (``Sequential.fit`` calls it before training), so that labels out of range
or non-finite targets fail with a message naming the problem instead of a wrong number.

==========================  ===================================================  ==========
class                       loss                                                  target
==========================  ===================================================  ==========
``MSELoss``                 mean((p - t)^2) over all elements (the seed's L2)      same shape
``CrossEntropyLoss``        mean(logsumexp(z) - z[t]); softmax fused, stable       int labels
                            (per pixel: logits (N, C, H, W), labels (N, H, W))
``NLLLoss``                 mean(-logp[t]) on log-probabilities                    int labels
``BCELoss``                 mean(-(t log p + (1-t) log(1-p))) on probabilities     in [0, 1]
``BCEWithLogitsLoss``       BCE of sigmoid(z), computed stably from logits         in [0, 1]
==========================  ===================================================  ==========
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from nnlab.errors import ConfigError, DataError, ShapeError


class Loss:
    name = ""
    #: "labels" (integer class indices) or "values" (float targets shaped like the output)
    target_kind = "values"

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError  # pragma: no cover

    def backward(self) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> float:
        return self.forward(pred, target)

    def check_targets(self, target: np.ndarray, pred_shape: tuple[int, ...]) -> np.ndarray:
        """Validate and return the targets (cast/reshaped for this loss) for per-sample outputs of ``pred_shape``."""
        target = np.asarray(target)
        if not np.issubdtype(target.dtype, np.number) and target.dtype != np.bool_:
            raise DataError(f"{self.name}: targets must be numeric, got dtype {target.dtype}")
        shape = (target.shape[0], *pred_shape)
        if target.shape != shape:
            if target.size == int(np.prod(shape)) and (target.ndim == 1 or pred_shape == (1,)):
                target = target.reshape(shape)
            else:
                raise ShapeError(f"{self.name}: targets of shape {target.shape} do not match outputs of shape {shape}")
        if not np.all(np.isfinite(target)):
            bad = int(np.size(target) - np.count_nonzero(np.isfinite(target)))
            raise DataError(f"{self.name}: targets contain {bad} NaN or infinite value(s)")
        return target

    def _target_like(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        target = np.asarray(target)
        if target.shape != pred.shape:
            if target.size == pred.size and (target.ndim == 1 or pred.shape[1:] == (1,)):
                target = target.reshape(pred.shape)
            else:
                raise ShapeError(f"{self.name}: target shape {target.shape} does not match prediction shape {pred.shape}")
        return target.astype(pred.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """Mean squared error over every element: the seed's L2 loss."""

    name = "mse"

    def __init__(self) -> None:
        self._diff: np.ndarray | None = None

    def forward(self, pred, target):
        target = self._target_like(pred, target)
        # reuse the difference buffer: backward() returns it, valid until the next forward
        diff = self._diff
        if diff is None or diff.shape != pred.shape or diff.dtype != pred.dtype:
            diff = np.empty_like(pred)
        self._diff = np.subtract(pred, target, out=diff)
        d = self._diff.reshape(-1)
        self._scale = 2.0 / d.size
        return float(np.dot(d, d)) / d.size

    def backward(self):
        g = self._diff
        g *= self._scale
        return g


class _LabelLoss(Loss):
    target_kind = "labels"

    def check_targets(self, target, pred_shape):
        target = np.asarray(target)
        if len(pred_shape) < 1 or pred_shape[0] < 2:
            raise ShapeError(f"{self.name} needs outputs of shape (N, classes>=2) or (N, classes, H, W...),"
                             f" model gives (N, {pred_shape})")
        n_classes, spatial = pred_shape[0], tuple(pred_shape[1:])
        if not spatial and target.ndim == 2 and target.shape[1] == 1:
            target = target[:, 0]
        if spatial and target.shape[1:] != spatial:
            raise ShapeError(f"{self.name}: per-pixel labels must be (N, {', '.join(map(str, spatial))}) for outputs"
                             f" (N, {', '.join(map(str, pred_shape))}), got shape {target.shape}")
        if not spatial and target.ndim != 1:
            raise ShapeError(f"{self.name}: labels must be a 1-D array of class indices, got shape {target.shape}")
        if np.issubdtype(target.dtype, np.floating):
            if not np.all(np.isfinite(target)) or np.any(target != np.round(target)):
                raise DataError(f"{self.name}: labels must be integers 0..{n_classes - 1}, got non-integer values")
        elif not np.issubdtype(target.dtype, np.integer):
            raise DataError(f"{self.name}: labels must be integers, got dtype {target.dtype}")
        if target.size:
            lo, hi = target.min(), target.max()
            if lo < 0 or hi >= n_classes:
                bad = int(np.count_nonzero((target < 0) | (target >= n_classes)))
                raise DataError(
                    f"{self.name}: {bad} label(s) out of range [0, {n_classes - 1}] (min {lo}, max {hi});"
                    f" the model has {n_classes} outputs"
                )
        return target.astype(np.intp, copy=False)

    def _labels(self, pred, target):
        """The labels as (N, 1, *spatial) indices into the class axis of ``pred`` (N, C, *spatial)."""
        target = np.asarray(target)
        if pred.ndim == 2 and target.ndim == 2 and target.shape[1] == 1:
            target = target[:, 0]
        if pred.ndim < 2 or target.shape != (pred.shape[0], *pred.shape[2:]):
            raise ShapeError(f"{self.name}: expected pred (N, C) with labels (N,), or (N, C, H, W) with (N, H, W);"
                             f" got {pred.shape} and {target.shape}")
        return target.astype(np.intp, copy=False)[:, None]


class CrossEntropyLoss(_LabelLoss):
    """Softmax + cross-entropy on logits (fused and stable), as ``torch.nn.CrossEntropyLoss``:
    logits (N, C) with labels (N,), or per pixel, (N, C, H, W) with (N, H, W) (the mean over
    every pixel of every sample; the colourization seed's loss)."""

    name = "cross_entropy"

    def forward(self, pred, target):
        labels = self._labels(pred, target)
        count = labels.size                              # samples times pixels
        probs = pred - pred.max(axis=1, keepdims=True)   # shifted logits, then probabilities in place
        picked = np.take_along_axis(probs, labels, axis=1)
        np.exp(probs, out=probs)
        sums = probs.sum(axis=1, keepdims=True)
        loss = float(np.log(sums).sum(dtype=np.float64) - picked.sum(dtype=np.float64)) / count
        probs /= sums
        np.put_along_axis(probs, labels, np.take_along_axis(probs, labels, axis=1) - 1, axis=1)
        probs /= count
        self._grad = probs
        return loss

    def backward(self):
        return self._grad


class NLLLoss(_LabelLoss):
    """Negative log-likelihood on log-probabilities (pair with ``LogSoftmax``), (N, C) with labels (N,) or
    per pixel, (N, C, H, W) with (N, H, W)."""

    name = "nll"

    def forward(self, pred, target):
        labels = self._labels(pred, target)
        count = labels.size
        grad = np.zeros_like(pred)
        np.put_along_axis(grad, labels, -1.0 / count, axis=1)
        self._grad = grad
        return -float(np.take_along_axis(pred, labels, axis=1).sum(dtype=np.float64)) / count

    def backward(self):
        return self._grad


class _BinaryLoss(Loss):
    def check_targets(self, target, pred_shape):
        target = super().check_targets(target, pred_shape)
        if target.size and (target.min() < 0 or target.max() > 1):
            raise DataError(f"{self.name}: targets must lie in [0, 1], got min {target.min()} and max {target.max()}")
        return target


class BCELoss(_BinaryLoss):
    """Binary cross-entropy on probabilities; logs clamped at -100 as in PyTorch."""

    name = "bce"
    EPS = 1e-12

    def forward(self, pred, target):
        target = self._target_like(pred, target)
        if pred.size and (pred.min() < 0 or pred.max() > 1):
            raise DataError("bce: predictions must be probabilities in [0, 1]; use BCEWithLogitsLoss for logits")
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(pred), -100)
            log_1p = np.maximum(np.log1p(-pred), -100)
        loss = -(target * log_p + (1 - target) * log_1p)
        self._grad = (pred - target) / np.maximum(pred * (1 - pred), self.EPS) / pred.size
        return float(loss.mean())

    def backward(self):
        return self._grad


class BCEWithLogitsLoss(_BinaryLoss):
    """Binary cross-entropy of sigmoid(z), computed stably from the logits z."""

    name = "bce_with_logits"

    def forward(self, pred, target):
        target = self._target_like(pred, target)
        loss = np.maximum(pred, 0) - pred * target + np.log1p(np.exp(-np.abs(pred)))
        with np.errstate(over="ignore"):
            sig = 1.0 / (1.0 + np.exp(-pred))
        self._grad = (sig - target) / pred.size
        return float(loss.mean())

    def backward(self):
        return self._grad


LOSSES: dict[str, type[Loss]] = {
    c.name: c for c in (MSELoss, CrossEntropyLoss, NLLLoss, BCELoss, BCEWithLogitsLoss)
}
ALIASES = {"l2": "mse", "mean_squared_error": "mse", "softmax_cross_entropy": "cross_entropy",
           "crossentropy": "cross_entropy", "binary_cross_entropy": "bce", "bce_logits": "bce_with_logits"}


def make_loss(spec: str | Mapping[str, Any] | Loss) -> Loss:
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, Mapping):
        spec = dict(spec)
        name = spec.pop("name", None)
        if spec:
            raise ConfigError(f"loss {name!r} takes no arguments, got {sorted(spec)}")
    else:
        name = spec
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; known: {', '.join(sorted(LOSSES))} (aliases: {', '.join(sorted(ALIASES))})")
    return LOSSES[key]()
