"""History: per-epoch metrics and times, kept through CSVs and checkpoints."""

import math

import numpy as np
import pytest

from nnlab.engine import Dense, Sequential, load_checkpoint
from nnlab.training import Callback, History


def fresh():
    model = Sequential([Dense(6, "tanh"), Dense(1)], input_shape=(3,), seed=0, dtype="float64")
    return model.compile("mse", {"name": "adam", "lr": 1e-2}, metrics=["rmse"])


def data(rng):
    x = rng.standard_normal((40, 3))
    return x, x.sum(1, keepdims=True)


def test_fit_times_each_epoch_beside_the_metrics(rng):
    x, y = data(rng)
    h = fresh().fit(x, y, epochs=3, batch_size=8, validation_data=(x, y))
    assert len(h.seconds) == 3 and all(s > 0 for s in h.seconds)
    assert "epoch_s" not in h and "epoch_s" not in h.last()      # never a curve, a log column or a scalar
    assert h.elapsed() == pytest.approx(np.cumsum(h.seconds).tolist())


def test_times_go_through_csv_and_a_history_without_times_writes_none(tmp_path):
    h = History()
    h.append(1, {"loss": 2.0}, seconds=1.5)
    h.append(2, {"loss": 1.0, "epoch_s": 2.5})                   # a checkpoint row holds the time as epoch_s
    h.to_csv(tmp_path / "h.csv")
    assert (tmp_path / "h.csv").read_text().splitlines()[0] == "epoch,loss,epoch_s"
    back = History.from_csv(tmp_path / "h.csv")
    assert back.seconds == [1.5, 2.5] and list(back.keys()) == ["loss"] and back.elapsed() == [1.5, 4.0]

    untimed = History()
    untimed.append(1, {"loss": 1.0})
    untimed.to_csv(tmp_path / "u.csv")
    assert (tmp_path / "u.csv").read_text().splitlines()[0] == "epoch,loss"
    assert math.isnan(History.from_csv(tmp_path / "u.csv").seconds[0])


def test_first_reaching():
    h = History()
    for e, acc in enumerate([0.3, 0.5, math.nan, 0.7, 0.6], 1):
        h.append(e, {"val_accuracy": acc, "val_loss": 1 / e})
    assert h.first_reaching("val_accuracy", 0.5) == 1
    assert h.first_reaching("val_accuracy", 0.65) == 3
    assert h.first_reaching("val_accuracy", 0.9) is None
    assert h.first_reaching("val_loss", 0.3, mode="min") == 3
    with pytest.raises(ValueError, match="mode"):
        h.first_reaching("val_loss", 0.3, mode="lowest")
    with pytest.raises(KeyError, match="no 'accuracy'"):
        h.first_reaching("accuracy", 0.3)


def test_a_resumed_fit_keeps_the_times_of_the_epochs_before_the_stop(tmp_path, rng):
    x, y = data(rng)

    class Interrupt(Callback):                         # Ctrl-C at the end of epoch 3, before its checkpoint
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 3:
                raise KeyboardInterrupt

    first = fresh()
    with pytest.raises(KeyboardInterrupt):
        first.fit(x, y, epochs=5, batch_size=8, callbacks=[Interrupt()], checkpoint=tmp_path / "c.npz")
    saved = load_checkpoint(tmp_path / "c.npz", fresh())["history"]
    assert saved.epochs == [1, 2] and all(s > 0 for s in saved.seconds)
    resumed = fresh().fit(x, y, epochs=5, batch_size=8, checkpoint=tmp_path / "c.npz")
    assert resumed.epochs == [1, 2, 3, 4, 5]
    assert resumed.seconds[:2] == saved.seconds and all(s > 0 for s in resumed.seconds[2:])
