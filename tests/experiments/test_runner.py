"""RunContext's training helpers: one fit for every experiment, on either engine."""

from dataclasses import dataclass

import numpy as np
import pytest

from nnlab.engine import Dense, Sequential
from nnlab.experiments.registry import Experiment
from nnlab.experiments.runner import RunContext
from nnlab.training.callbacks import Callback


@dataclass
class _Cfg:
    seed: int = 0


def _ctx(tmp_path, engine: str) -> RunContext:
    exp = Experiment("fit-helper-test", "", _Cfg, lambda ctx: None, engines=("numpy", "torch"))
    return RunContext(exp, _Cfg(), tmp_path, smoke=True, engine=engine, data_dir=None, progress=False)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    return x, (x @ np.array([1.0, -2.0, 0.5, 0.0], np.float32))[:, None]


def _net():
    return Sequential([Dense(8, "tanh"), Dense(1)], input_shape=(4,), seed=0)


class _Count(Callback):
    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, trainer, epoch, logs):
        self.epochs += 1


def test_numpy_engine_trains_the_model_itself_and_writes_history_and_checkpoint(tmp_path):
    ctx, (x, y), net = _ctx(tmp_path, "numpy"), _data(), _net()
    learner = ctx.trainer(net, loss="mse", optimizer={"name": "adam", "lr": 0.01})
    assert learner is net and net.optimizer is not None
    count = _Count()
    history, seconds = ctx.fit("phase", learner, x, y, epochs=3, batch_size=16, validation_data=(x, y),
                               callbacks=[count], caption="the phase")
    assert count.epochs == 3 and history.epochs == [1, 2, 3] and seconds > 0
    assert history["loss"][-1] < history["loss"][0]
    assert (tmp_path / "phase.csv").exists() and (tmp_path / "figures" / "phase-curves.png").exists()
    assert ctx.checkpoint_names == ["phase"] and (tmp_path / "checkpoints" / "phase.npz").exists()
    assert any(e.get("caption") == "the phase" for e in ctx.manifest)
    assert ctx.phases_started == 1                               # the run's own callbacks were added


def test_torch_engine_trains_a_copy_and_gives_the_weights_back(tmp_path):
    pytest.importorskip("torch")
    from nnlab.torchlib import Trainer

    ctx, (x, y), net = _ctx(tmp_path, "torch"), _data(), _net()
    before = {k: v.copy() for k, v in net.state_dict().items()}
    learner = ctx.trainer(net, loss="mse", optimizer={"name": "adam", "lr": 0.01}, device="cpu")
    assert isinstance(learner, Trainer) and learner.seed == 0
    history, _ = ctx.fit("phase", learner, x, y, epochs=2, batch_size=16, history=False)
    assert not (tmp_path / "phase.csv").exists()
    trained = {k: v.detach().numpy() for k, v in learner.model.state_dict().items()}
    after = net.state_dict()
    assert any(not np.array_equal(before[k], after[k]) for k in before)      # the engine model changed...
    for k, v in after.items():                                                # ...to the trained weights
        np.testing.assert_array_equal(v, trained[k])
    np.testing.assert_allclose(net.predict(x), learner.predict(x), rtol=1e-5, atol=1e-6)


def test_numpy_engine_refuses_a_torch_module(tmp_path):
    torch = pytest.importorskip("torch")
    from nnlab.errors import ConfigError

    with pytest.raises(ConfigError, match="numpy engine trains nnlab.engine models"):
        _ctx(tmp_path, "numpy").trainer(torch.nn.Linear(2, 1), loss="mse", optimizer="adam")
