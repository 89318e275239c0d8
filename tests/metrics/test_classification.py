import json
import logging
import math

import numpy as np
import pytest

from nnlab.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    precision_recall_f1,
    roc_curves,
    top_k_accuracy,
)

skm = pytest.importorskip("sklearn.metrics")

SCORES = np.array([[0.1, 0.5, 0.3, 0.1],   # true 2: second best
                   [0.7, 0.1, 0.1, 0.1],   # true 0: best
                   [0.4, 0.3, 0.2, 0.1]])  # true 3: last


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_top_k_by_hand_and_k1_is_accuracy(rng):
    assert top_k_accuracy([2, 0, 3], SCORES, k=1) == pytest.approx(1 / 3)
    assert top_k_accuracy([2, 0, 3], SCORES, k=2) == pytest.approx(2 / 3)
    assert top_k_accuracy(np.eye(4)[[2, 0, 3]], SCORES, k=4) == 1.0  # one-hot targets
    labels, scores = rng.integers(0, 6, 40), rng.standard_normal((40, 6))
    assert top_k_accuracy(labels, scores, k=1) == accuracy(labels, scores)
    assert top_k_accuracy(labels, scores, k=3) == skm.top_k_accuracy_score(labels, scores, k=3)


def test_top_k_rejects_bad_k_and_shapes():
    with pytest.raises(ValueError, match="k=5"):
        top_k_accuracy([2, 0, 3], SCORES, k=5)
    with pytest.raises(ValueError, match="2 labels for 3"):
        top_k_accuracy([2, 0], SCORES, k=1)


def test_confusion_by_hand_and_with_scores():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2])
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    np.testing.assert_array_equal(confusion_matrix([2, 0, 3], SCORES), [[1, 0, 0, 0], [0] * 4,
                                                                        [0, 1, 0, 0], [1, 0, 0, 0]])
    assert confusion_matrix([0, 1], [1, 1], num_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="non-integer"):
        confusion_matrix([0, 1], [0.2, 0.7])  # binary scores must be (N, 1)


@pytest.mark.parametrize("normalize, axis", [("true", 1), ("pred", 0), ("all", None)])
def test_confusion_normalize_sums_to_one_and_matches_sklearn(rng, normalize, axis):
    t, p = rng.integers(0, 4, 60), rng.integers(0, 3, 60)  # class 3 never predicted
    cm = confusion_matrix(t, p, num_classes=4, normalize=normalize)
    sums = cm.sum(axis=axis)
    expected = 1.0 if axis is None else np.where(np.isin(np.arange(4), t if axis == 1 else p), 1, 0)
    np.testing.assert_allclose(sums, expected)
    np.testing.assert_allclose(cm, skm.confusion_matrix(t, p, labels=range(4), normalize=normalize))
    np.testing.assert_array_equal(confusion_matrix(t, p, 4), skm.confusion_matrix(t, p, labels=range(4)))


def test_precision_recall_f1_match_sklearn_with_a_class_never_predicted(rng):
    t, p = rng.integers(0, 5, 80), rng.integers(0, 4, 80)  # class 4 never predicted
    ours = precision_recall_f1(t, p, num_classes=5)
    for average in (None, "macro", "weighted"):
        prec, rec, f1, support = skm.precision_recall_fscore_support(
            t, p, labels=range(5), average=average, zero_division=0)
        prefix = "" if average is None else f"{average}_"
        np.testing.assert_allclose(ours[prefix + "precision"], prec)
        np.testing.assert_allclose(ours[prefix + "recall"], rec)
        np.testing.assert_allclose(ours[prefix + "f1"], f1)
    np.testing.assert_array_equal(ours["support"], np.bincount(t, minlength=5))
    assert ours["precision"][4] == 0.0 and ours["f1"][4] == 0.0


def test_roc_perfect_reversed_and_sklearn(rng):
    labels = np.array([0, 1, 2, 0, 1, 2])
    perfect = np.eye(3)[labels] * 0.8 + 0.1
    assert roc_curves(labels, perfect)["macro_auc"] == 1.0
    reversed_ = roc_curves(labels, -perfect)
    np.testing.assert_array_equal(reversed_["auc"], 0.0)
    assert reversed_["micro_auc"] == 0.0
    t, logits = rng.integers(0, 4, 100), rng.standard_normal((100, 4))
    probs = _softmax(logits)
    roc = roc_curves(t, probs)
    assert roc["macro_auc"] == pytest.approx(skm.roc_auc_score(t, probs, multi_class="ovr",
                                                               average="macro"))
    assert roc["micro_auc"] == pytest.approx(skm.roc_auc_score(np.eye(4)[t], probs, average="micro"))
    assert len(roc["fpr"]) == 4 and roc["fpr"][0][-1] == 1.0 and roc["tpr"][0][-1] == 1.0
    assert roc_curves(t, logits, from_logits=True)["macro_auc"] == pytest.approx(roc["macro_auc"])


def test_roc_binary_scores_vector(rng):
    t, s = rng.integers(0, 2, 50), rng.standard_normal(50)
    roc = roc_curves(t, s)
    np.testing.assert_allclose(roc["auc"], skm.roc_auc_score(t, s))


def test_roc_missing_class_is_nan_and_logged(rng, caplog):
    t, probs = rng.integers(0, 3, 40), _softmax(rng.standard_normal((40, 4)))  # no class 3
    with caplog.at_level(logging.WARNING, logger="nnlab.metrics.classification"):
        roc = roc_curves(t, probs)
    assert math.isnan(roc["auc"][3]) and roc["fpr"][3].size == 0
    assert roc["macro_auc"] == pytest.approx(np.mean(roc["auc"][:3]))
    assert "[3]" in caplog.text


def test_classification_report_is_json(rng, caplog):
    t, logits = rng.integers(0, 4, 30), rng.standard_normal((30, 4))
    t[t == 3] = 0  # class 3 absent: its AUC is null, not NaN
    report = classification_report(t, logits, ["a", "b", "c", "d"], from_logits=True)
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text)["auc"][3] is None
    assert report["accuracy"] == accuracy(t, logits)
    assert report["top_3_accuracy"] == top_k_accuracy(t, logits, 3)
    assert np.sum(report["confusion_matrix"]) == 30 and report["class_names"][3] == "d"
    binary = classification_report(rng.integers(0, 2, 20), rng.random(20))
    assert binary["num_classes"] == 2 and "top_1_accuracy" not in binary
    json.dumps(binary, allow_nan=False)
