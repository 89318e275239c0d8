import numpy as np
import pytest

from nnlab.metrics import accuracy, rmse
from nnlab.metrics.multitask import TaskMetric


def test_task_metrics_score_their_own_columns_batch_by_batch(rng):
    out = rng.normal(size=(50, 8))
    y = np.stack([rng.normal(size=50) * 10, rng.integers(0, 2, 50), rng.integers(0, 5, 50)], axis=1)
    age = TaskMetric("age", "rmse", slice(0, 1), 0)
    gender = TaskMetric("gender", "accuracy", slice(1, 3), 1)
    eth = TaskMetric("ethnicity", "accuracy", slice(3, 8), 2)
    for lo in range(0, 50, 16):
        for m in (age, gender, eth):
            m.update(y[lo:lo + 16], out[lo:lo + 16])
    assert age.name == "age_rmse" and gender.name == "gender_accuracy"
    assert age.result() == pytest.approx(rmse(y[:, 0], out[:, 0]))
    assert gender.result() == pytest.approx(accuracy(y[:, 1], out[:, 1:3]))
    assert eth.result() == pytest.approx(accuracy(y[:, 2], out[:, 3:8]))
    total, count = eth.totals()
    eth.reset()
    assert np.isnan(eth.result())
    eth.set_totals(total, count)
    assert eth.result() == pytest.approx(accuracy(y[:, 2], out[:, 3:8]))


def test_targets_without_the_task_column_are_an_error(rng):
    with pytest.raises(ValueError, match="column 2"):
        TaskMetric("ethnicity", "accuracy", slice(3, 8), 2).update(np.zeros((4, 2)), rng.normal(size=(4, 8)))
