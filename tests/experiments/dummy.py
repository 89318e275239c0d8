"""A tiny experiment for the tests of the shared pipeline (configs, runs, reports, sweeps):
importing this module registers ``dummy-test``; sweep workers import it by its name."""

import time
from dataclasses import dataclass, field

import numpy as np

from nnlab.engine import Dense, Sequential
from nnlab.experiments import experiment
from nnlab.reporting.figures import confusion_figure


@dataclass
class Opt:
    lr: float = 0.05      # SGD learning rate
    momentum: float = 0.0


@dataclass
class DummyConfig:
    seed: int = 0                 # everything random draws from it
    epochs: int = 3
    hidden: list[int] = field(default_factory=lambda: [8])
    activation: str = "relu"
    fail: bool = False
    sleep_s: float = 0.0          # a slow point (the tests that kill a worker mid-trial)
    optimizer: Opt = field(default_factory=Opt)


@experiment("dummy-test", "a tiny classifier (framework test)", config=DummyConfig,
            presets={"seed": {"hidden": [4], "optimizer": {"lr": 0.1}}}, smoke={"epochs": 1},
            objective=("test_accuracy", "max"))
def run_dummy(ctx):
    cfg = ctx.cfg
    rng = np.random.default_rng(cfg.seed)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] > 0).astype(int)
    model = Sequential([*[Dense(h, cfg.activation) for h in cfg.hidden], Dense(2)], input_shape=(4,), seed=cfg.seed)
    model.compile(loss="cross_entropy", optimizer={"name": "sgd", "lr": cfg.optimizer.lr}, metrics=["accuracy"])
    h = model.fit(x[:150], y[:150], epochs=cfg.epochs, batch_size=16, validation_data=(x[150:], y[150:]),
                  callbacks=ctx.callbacks(cfg.epochs))
    ctx.history(h)
    time.sleep(cfg.sleep_s)
    if cfg.fail:
        raise RuntimeError("asked to fail")
    ctx.record(test_accuracy=model.evaluate(x[150:], y[150:])["accuracy"])
    ctx.table("weights", [{"layer": k, "size": int(v.size)} for k, v in model.state_dict().items()])
    ctx.figure("confusion", confusion_figure(np.eye(2) * 5, ["neg", "pos"]), "a confusion matrix")
    ctx.note("Some **text**.", title="Notes")
    ctx.save_model(model)
