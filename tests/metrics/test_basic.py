import math

import numpy as np
import pytest

from nnlab.metrics import MAE, RMSE, Accuracy, accuracy, mae, make_metric, predicted_labels, rmse


def test_accuracy_multiclass_binary_and_logits():
    assert accuracy([0, 1, 2, 1], np.eye(3)[[0, 1, 1, 1]]) == 0.75
    assert accuracy([0, 1, 1], np.array([[0.2], [0.7], [0.4]])) == pytest.approx(2 / 3)
    assert accuracy([0, 1, 1], np.array([-1.0, 2.0, 0.3]), threshold=0.0) == 1.0
    assert accuracy(np.eye(3)[[2, 0]], np.eye(3)[[2, 1]]) == 0.5  # one-hot targets
    np.testing.assert_array_equal(predicted_labels(np.array([[0.1, 0.9], [0.8, 0.2]])), [1, 0])


def test_rmse_mae_by_hand():
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rmse([], [])
    with pytest.raises(ValueError):
        mae([1, 2], [1])


def test_streaming_equals_the_function(rng):
    yt, yp = rng.standard_normal((50, 2)), rng.standard_normal((50, 2))
    labels, scores = rng.integers(0, 4, 50), rng.standard_normal((50, 4))
    r, m, a = RMSE(), MAE(), Accuracy()
    for lo in range(0, 50, 7):
        r.update(yt[lo:lo + 7], yp[lo:lo + 7])
        m.update(yt[lo:lo + 7], yp[lo:lo + 7])
        a.update(labels[lo:lo + 7], scores[lo:lo + 7])
    assert r.result() == pytest.approx(rmse(yt, yp))
    assert m.result() == pytest.approx(mae(yt, yp))
    assert a.result() == pytest.approx(accuracy(labels, scores))


def test_make_metric():
    assert make_metric("acc", from_logits=True).threshold == 0.0
    with pytest.raises(ValueError, match="unknown metric"):
        make_metric("bleu")
