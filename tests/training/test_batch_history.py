"""BatchHistory: the loss of every optimizer step, from both training loops."""

import numpy as np
import pytest

from nnlab.engine import Dense, Sequential
from nnlab.training.batch_history import BatchHistory


def _data(rng):
    x = rng.standard_normal((12, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], np.float32))  # (12, 1)


def _numpy_model():
    model = Sequential([Dense(4, "relu"), Dense(1)], input_shape=(3,), seed=0)
    model.compile(loss="mse", optimizer={"name": "adam", "lr": 1e-2})
    return model


def test_every_step_is_recorded_with_its_epoch_and_the_epoch_means_are_the_epoch_losses(rng, tmp_path):
    x, y = _data(rng)
    batches = BatchHistory()
    history = _numpy_model().fit(x, y, epochs=3, batch_size=4, callbacks=[batches])  # 3 steps per epoch
    assert len(batches) == 9 and batches.epochs == [1, 1, 1, 2, 2, 2, 3, 3, 3] and batches.steps == [0, 1, 2] * 3
    assert batches.epoch_starts() == [(1, 1), (2, 4), (3, 7)]
    # equal batches: the epoch's loss is the mean of its batch losses, so these are the real losses
    np.testing.assert_allclose(list(batches.epoch_means().values()), history["loss"], rtol=1e-6)
    assert len(set(batches["loss"].round(8))) == 9                                  # not one value repeated
    rows = batches.to_csv(tmp_path / "b.csv").read_text().splitlines()
    assert rows[0] == "iteration,epoch,step,loss" and rows[4].startswith("4,2,0,") and len(rows) == 10


def test_a_second_fit_appends_and_missing_keys_are_nan(rng):
    x, y = _data(rng)
    batches = BatchHistory(keys=("loss", "accuracy"))
    model = _numpy_model()
    model.fit(x, y, epochs=1, batch_size=6, callbacks=[batches])
    model.fit(x, y, epochs=1, batch_size=6, callbacks=[batches])
    assert len(batches) == 4 and np.isnan(batches["accuracy"]).all() and np.isfinite(batches["loss"]).all()
    with pytest.raises(KeyError, match="recorded: loss, accuracy"):
        batches["val_loss"]


def test_the_torch_trainer_reports_its_steps_too(rng, torch_one_thread):
    from nnlab.torchlib import Trainer

    x, y = _data(rng)
    batches = BatchHistory()
    trainer = Trainer(_numpy_model(), loss="mse", optimizer={"name": "adam", "lr": 1e-2}, seed=0, device="cpu")
    history = trainer.fit(x, y, epochs=2, batch_size=4, callbacks=[batches])
    assert len(batches) == 6 and batches.epoch_starts() == [(1, 1), (2, 4)]
    np.testing.assert_allclose(list(batches.epoch_means().values()), history["loss"], rtol=1e-5)
