"""Classification metrics: top-k accuracy, confusion matrix, per-class P/R/F1, ROC curves.

Pure functions over NumPy arrays. Labels are integers in ``[0, C)``; wherever labels are
expected a one-hot ``(N, C)`` array is accepted too. scikit-learn is imported only inside
:func:`roc_curves`, so importing this module costs NumPy alone.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from nnlab.metrics.basic import _labels, predicted_labels

log = logging.getLogger(__name__)

NORMALIZE = (None, "true", "pred", "all")


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den == 0`` (scikit-learn's ``zero_division=0``)."""
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), np.asarray(den, np.float64))
    return np.divide(num, den, out=np.zeros(num.shape), where=den != 0)


def _scores_2d(scores: np.ndarray) -> np.ndarray:
    """(N, C) scores; a binary score vector (N,) or (N, 1) becomes the columns ``[-s, s]``.

    ``-s`` ranks samples for class 0 exactly as ``1 - s`` would, so rank-based metrics agree.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 1 or (s.ndim == 2 and s.shape[1] == 1):
        s = s.reshape(len(s))
        return np.stack([-s, s], axis=1)  # (N, 2)
    if s.ndim != 2:
        raise ValueError(f"expected scores of shape (N, C), got {s.shape}")
    return s


def _check_labels(labels: np.ndarray, num_classes: int, what: str) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{what} must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")


def _pred_labels(y_pred: np.ndarray) -> np.ndarray:
    """Labels from (N,) labels or (N, C) scores; (N, 1) scores are thresholded at 0.5."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        return predicted_labels(y_pred)
    if y_pred.ndim != 1 or not np.all(np.mod(y_pred, 1) == 0):
        raise ValueError(f"y_pred must be integer labels (N,) or scores (N, C); got {y_pred.shape} "
                         "with non-integer values (pass binary scores as (N, 1))")
    return y_pred.astype(np.intp)


def top_k_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int = 5) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores.

    A sample counts as right when fewer than ``k`` classes score strictly higher than its
    true class, so ties are resolved in the sample's favour.

    Shapes: y_true (N,) labels or (N, C) one-hot; scores (N, C) -> float.
    """
    t, s = _labels(y_true), np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"top_k_accuracy: expected scores of shape (N, C), got {s.shape}")
    n, c = s.shape
    if t.shape[0] != n:
        raise ValueError(f"top_k_accuracy: {t.shape[0]} labels for {n} rows of scores")
    if not 1 <= k <= c:
        raise ValueError(f"top_k_accuracy: k={k} must be in [1, {c}] for {c} classes")
    if n == 0:
        raise ValueError("top_k_accuracy of an empty set is undefined")
    _check_labels(t, c, "labels")
    true_score = s[np.arange(n), t]  # (N,)
    rank = np.count_nonzero(s > true_score[:, None], axis=1)  # classes scoring higher, (N,)
    return float(np.mean(rank < k))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None,
                     normalize: str | None = None) -> np.ndarray:
    """Counts of (true, predicted) pairs: rows are true classes, columns predicted classes.

    ``y_pred`` may be labels (N,) or scores (N, C), turned into labels by
    :func:`~nnlab.metrics.basic.predicted_labels` (argmax; (N, 1) thresholded at 0.5).
    ``num_classes`` defaults to the score columns, else to the largest label + 1.
    ``normalize``: None (counts), ``'true'`` (rows sum to 1), ``'pred'`` (columns sum to 1)
    or ``'all'`` (the matrix sums to 1); an empty row or column stays 0.

    Shapes: y_true (N,) or (N, C); y_pred (N,) or (N, C) -> (C, C), int64 or float64.
    """
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
    t, p = _labels(y_true), _pred_labels(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: {t.shape[0]} labels for {p.shape[0]} predictions")
    if num_classes is None:
        y_pred = np.asarray(y_pred)
        from_scores = y_pred.shape[1] if y_pred.ndim == 2 and y_pred.shape[1] > 1 else 0
        num_classes = max(from_scores, int(t.max(initial=-1)) + 1, int(p.max(initial=-1)) + 1)
    _check_labels(t, num_classes, "labels")
    _check_labels(p, num_classes, "predictions")
    cm = np.bincount(t * num_classes + p, minlength=num_classes**2)
    cm = cm.reshape(num_classes, num_classes).astype(np.int64)  # (C, C)
    if normalize == "true":
        return _safe_divide(cm, cm.sum(axis=1, keepdims=True))
    if normalize == "pred":
        return _safe_divide(cm, cm.sum(axis=0, keepdims=True))
    if normalize == "all":
        return _safe_divide(cm, cm.sum())
    return cm


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray,
                        num_classes: int | None = None) -> dict:
    """Per-class precision, recall, F1 and support, with macro and support-weighted means.

    A ratio with a zero denominator is 0, as scikit-learn's ``zero_division=0``. The macro
    mean runs over all ``num_classes`` classes, including classes with no samples.

    Shapes: y_true (N,) or (N, C); y_pred (N,) or (N, C) -> dict of (C,) arrays
    ``precision``, ``recall``, ``f1``, ``support`` and floats ``macro_*``, ``weighted_*``.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)  # (C,)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)  # (C,), (C,)
    out = {
        "precision": _safe_divide(tp, predicted),
        "recall": _safe_divide(tp, support),
        "f1": _safe_divide(2 * tp, support + predicted),  # 2 tp / (2 tp + fp + fn)
        "support": support,
    }
    weights = _safe_divide(support, support.sum())
    for name in ("precision", "recall", "f1"):
        out[f"macro_{name}"] = float(out[name].mean())
        out[f"weighted_{name}"] = float(np.dot(weights, out[name]))
    return out


def roc_curves(y_true: np.ndarray, scores: np.ndarray, num_classes: int | None = None, *,
               from_logits: bool = False) -> dict:
    """One-vs-rest ROC curves and AUCs per class, with macro and micro AUC.

    AUC is rank-based, so any scores work for a binary problem. For several classes,
    softmax changes how one column ranks the samples: logits and probabilities give
    different AUCs. Pass probabilities, or logits with ``from_logits=True`` to apply softmax
    first. A binary score vector (N,) is the score of class 1.

    A class with no positive or no negative sample has no ROC curve: its ``fpr`` and ``tpr``
    are empty, its ``auc`` is NaN, it is left out of ``macro_auc``, and a warning is logged.
    ``micro_auc`` pools every (sample, class) pair: one-hot labels against scores, raveled.

    Shapes: y_true (N,) or (N, C); scores (N, C) or (N,) -> dict with lists ``fpr``, ``tpr``
    of C arrays, ``auc`` (C,) array, floats ``macro_auc`` and ``micro_auc``.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    s = _scores_2d(scores)
    if from_logits and np.asarray(scores).ndim == 2 and s.shape[1] > 1:
        from scipy.special import softmax  # here, not at the top: nnlab.engine imports this package

        s = softmax(s, axis=1)
    t = _labels(y_true)
    n, c = s.shape
    if num_classes is not None and num_classes != c:
        raise ValueError(f"roc_curves: num_classes={num_classes} but scores have {c} columns")
    if t.shape[0] != n:
        raise ValueError(f"roc_curves: {t.shape[0]} labels for {n} rows of scores")
    _check_labels(t, c, "labels")
    onehot = np.eye(c, dtype=np.intp)[t]  # (N, C)
    fpr, tpr, auc, undefined = [], [], np.full(c, np.nan), []
    for k in range(c):
        positives = int(onehot[:, k].sum())
        if positives in (0, n):
            fpr.append(np.empty(0))
            tpr.append(np.empty(0))
            undefined.append(k)
            continue
        f, r, _ = roc_curve(onehot[:, k], s[:, k])
        fpr.append(f)
        tpr.append(r)
        auc[k] = roc_auc_score(onehot[:, k], s[:, k])
    if undefined:
        log.warning("roc_curves: AUC undefined for classes %s (no positive or no negative "
                    "sample); left out of macro_auc", undefined)
    defined = auc[~np.isnan(auc)]
    macro = float(defined.mean()) if defined.size else math.nan
    pooled = onehot.ravel()
    micro = float(roc_auc_score(pooled, s.ravel())) if 0 < pooled.sum() < pooled.size else math.nan
    return {"fpr": fpr, "tpr": tpr, "auc": auc, "macro_auc": macro, "micro_auc": micro}


def _json_float(x: float) -> float | None:
    """NaN is not JSON: it becomes None (``null``)."""
    return None if math.isnan(x) else float(x)


def classification_report(y_true: np.ndarray, scores: np.ndarray,
                          class_names: list[str] | None = None, *,
                          from_logits: bool = False) -> dict:
    """Accuracy, top-k accuracy, confusion matrix, per-class P/R/F1 and AUCs in one dict.

    Everything is a plain ``int``, ``float``, ``str``, ``None`` (for an undefined AUC) or a
    list of those, so ``json.dumps(report, allow_nan=False)`` works. Top-k uses
    ``k = min(3, C - 1)`` and is left out for binary problems, where it is trivially 1.
    ``from_logits`` only matters for AUC (see :func:`roc_curves`); binary (N,) scores are
    thresholded at 0 when ``from_logits`` else at 0.5.

    Shapes: y_true (N,) or (N, C); scores (N, C) or (N,) -> dict.
    """
    raw = np.asarray(scores, dtype=np.float64)
    binary = raw.ndim == 1 or raw.shape[1] == 1
    c = 2 if binary else raw.shape[1]
    if class_names is not None and len(class_names) != c:
        raise ValueError(f"{len(class_names)} class names for {c} classes")
    labels = predicted_labels(raw, threshold=0.0 if from_logits else 0.5)  # (N,)
    prf = precision_recall_f1(y_true, labels, c)
    roc = roc_curves(y_true, raw, c, from_logits=from_logits)
    report = {
        "num_samples": int(len(raw)),
        "num_classes": c,
        "class_names": list(class_names) if class_names is not None else [str(k) for k in range(c)],
        "accuracy": float(np.mean(_labels(y_true) == labels)),
    }
    if not binary:
        k = min(3, c - 1)
        report[f"top_{k}_accuracy"] = top_k_accuracy(y_true, raw, k)
    report["confusion_matrix"] = confusion_matrix(y_true, labels, c).tolist()
    for name in ("precision", "recall", "f1", "support"):
        report[name] = prf[name].tolist()
    for name in ("precision", "recall", "f1"):
        report[f"macro_{name}"] = prf[f"macro_{name}"]
        report[f"weighted_{name}"] = prf[f"weighted_{name}"]
    report["auc"] = [_json_float(a) for a in roc["auc"]]
    report["macro_auc"] = _json_float(roc["macro_auc"])
    report["micro_auc"] = _json_float(roc["micro_auc"])
    return report
