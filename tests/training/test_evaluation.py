"""EvaluateSets: per-epoch metrics of extra sets, from the weights the model has at each epoch end."""

import math

import numpy as np
import pytest

from nnlab.engine import Dense, Sequential
from nnlab.metrics.basic import rmse
from nnlab.training import Callback, History
from nnlab.training.evaluation import EvaluateSets


def toy(rng):
    model = Sequential([Dense(1)], input_shape=(3,), seed=0)
    model.compile("mse", {"name": "sgd", "lr": 0.05})
    x = rng.standard_normal((60, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 3.0  # (60, 1)
    return model, x, y


def test_each_epoch_is_evaluated_with_that_epochs_weights(rng):
    model, x, y = toy(rng)
    xt, yt = x[:20] + 1.0, y[:20]
    seen = []

    class Snapshot(Callback):  # what the weights predict at each epoch end, computed independently
        def on_epoch_end(self, trainer, epoch, logs):
            w = trainer.get_weights()
            seen.append(rmse(yt, xt @ w["0.weight"].T + w["0.bias"]))

    ev = EvaluateSets({"": (x, y), "test": (xt, yt)}, model.predict, {"rmse": rmse})
    history = model.fit(x, y, epochs=4, batch_size=10, callbacks=[ev, Snapshot()])
    assert ev.keys() == ["rmse", "test_rmse"] and ev.epochs == [1, 2, 3, 4]
    assert ev.values["test_rmse"] == pytest.approx(seen, rel=1e-5)
    assert ev.values["test_rmse"][0] > ev.values["test_rmse"][-1]  # it learns
    assert ev.values["rmse"][-1] == pytest.approx(rmse(y, model.predict(x)), rel=1e-6)  # the final weights
    ev.add_to(history)
    assert history["test_rmse"] == pytest.approx(ev.values["test_rmse"])


def test_pass_weights_hands_the_predict_function_the_trainers_weights(rng):
    model, x, y = toy(rng)

    def linear(inputs, weights):  # the model rebuilt from its weights, NumPy only
        return inputs @ weights["0.weight"].T + weights["0.bias"]

    ev = EvaluateSets({"train": (x, y)}, linear, {"rmse": rmse, "mean": lambda t, p: float(np.mean(p))},
                      pass_weights=True)
    model.fit(x, y, epochs=2, batch_size=10, callbacks=[ev])
    assert ev.keys() == ["train_rmse", "train_mean"]
    assert ev.values["train_rmse"][-1] == pytest.approx(rmse(y, model.predict(x)), rel=1e-5)
    assert ev.values["train_mean"][-1] == pytest.approx(float(model.predict(x).mean()), rel=1e-5)


def test_every_skips_epochs_and_add_to_fills_them_with_nan(rng, tmp_path):
    model, x, y = toy(rng)
    ev = EvaluateSets({"test": (x, y)}, model.predict, {"rmse": rmse}, every=2)
    history = model.fit(x, y, epochs=5, batch_size=10, callbacks=[ev])
    assert ev.epochs == [1, 2, 4]
    ev.add_to(history)
    column = history["test_rmse"]
    assert [math.isnan(v) for v in column] == [False, False, True, False, True]
    history.to_csv(tmp_path / "h.csv")
    assert History.from_csv(tmp_path / "h.csv")["test_rmse"][1] == pytest.approx(column[1])


def test_a_second_fit_starts_afresh_and_empty_arguments_are_refused(rng):
    model, x, y = toy(rng)
    ev = EvaluateSets({"": (x, y)}, model.predict, {"rmse": rmse})
    model.fit(x, y, epochs=3, callbacks=[ev])
    model.fit(x, y, epochs=2, callbacks=[ev])
    assert ev.epochs == [1, 2] and len(ev.values["rmse"]) == 2
    with pytest.raises(ValueError):
        EvaluateSets({}, model.predict, {"rmse": rmse})
