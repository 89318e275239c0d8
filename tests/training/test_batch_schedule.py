"""Batch-size schedules (Smith et al. 2017) and the step-decay learning rate they stand in for."""

import pytest

from nnlab.engine.schedules import MultiStepDecay, make_schedule
from nnlab.errors import ConfigError
from nnlab.training.batch_schedule import BatchSizeScheduler, BatchSizeSteps


def test_batch_size_steps_multiplies_after_each_milestone_and_respects_its_cap():
    assert [BatchSizeSteps(64, [3, 6], factor=5)(e) for e in range(1, 9)] == [64, 64, 64, 320, 320, 320, 1600, 1600]
    assert [BatchSizeSteps(64, [3, 6], factor=5, max_batch=1000)(e) for e in (1, 4, 7)] == [64, 320, 1000]
    assert [BatchSizeSteps(10, [6, 2], factor=1.5)(e) for e in (2, 3, 7)] == [10, 15, 22]  # milestones sorted, rounded
    assert BatchSizeSteps(32)(100) == 32  # no milestones: constant
    with pytest.raises(ValueError):
        BatchSizeSteps(32)(0)
    for bad in ({"batch_size": 0}, {"batch_size": 8, "factor": 0}, {"batch_size": 8, "milestones": [0]}):
        with pytest.raises(ValueError):
            BatchSizeSteps(**bad)


def test_multistep_decay_divides_after_each_milestone():
    sched = MultiStepDecay(0.1, [6, 3], gamma=0.2)
    assert [round(sched(e), 12) for e in range(1, 9)] == [0.1] * 3 + [0.02] * 3 + [0.004] * 2
    assert make_schedule({"name": "multistep", "lr": 1.0, "milestones": [1]})(2) == 0.1
    with pytest.raises(ConfigError):
        MultiStepDecay(0.1, [0])


def test_increasing_the_batch_keeps_smiths_noise_scale_of_the_decayed_rate():
    """lr / B is the same in every epoch for decay-by-k and grow-by-k on the same milestones."""
    lr, batch, k, milestones = 0.05, 64, 5, [3, 6]
    decay, grow = MultiStepDecay(lr, milestones, gamma=1 / k), BatchSizeSteps(batch, milestones, factor=k)
    for epoch in range(1, 10):
        assert decay(epoch) / batch == pytest.approx(lr / grow(epoch), rel=1e-12)


class _FixedBatchTrainer:
    """A loop that cannot change its batch (like the PyTorch Trainer): a plain attribute."""

    batch_size, steps_per_epoch, epoch, stop_training = 32, 4, 0, False


def test_the_scheduler_refuses_a_loop_that_cannot_change_its_batch():
    with pytest.raises(TypeError, match="cannot change its batch size"):
        BatchSizeScheduler(BatchSizeSteps(8)).on_train_begin(_FixedBatchTrainer())


def test_the_pytorch_trainer_is_refused_rather_than_silently_ignored():
    torch = pytest.importorskip("torch")
    import numpy as np

    from nnlab.torchlib import Trainer

    trainer = Trainer(torch.nn.Linear(2, 1), loss="mse", optimizer={"name": "sgd", "lr": 0.1}, seed=0, device="cpu")
    x = np.zeros((8, 2), np.float32)
    with pytest.raises(TypeError, match="cannot change its batch size"):
        trainer.fit(x, x[:, :1], epochs=1, batch_size=4, callbacks=[BatchSizeScheduler(BatchSizeSteps(2))])
