"""The networks of ``utkface-mlp`` (seed 000): per-task settings, building, training and predicting.

One MLP per task (age, ethnicity, gender) on the PCA features; :func:`train_task` fits one with
its rate schedule and early stopping, :func:`predict` turns its outputs into years or class
scores (averaged with the mirrored faces). The experiment (:mod:`.exp_utkface_mlp`) and its
studies (:mod:`.utkface_mlp_studies`) both build on this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from scipy.special import softmax

from nnlab.data.utkface import GENDERS, RACES
from nnlab.engine import Dense, Dropout, Sequential
from nnlab.engine.schedules import Constant, TimeDecay
from nnlab.errors import ConfigError
from nnlab.metrics.basic import accuracy, rmse
from nnlab.training.callbacks import EarlyStopping, LearningRateScheduler
from nnlab.training.evaluation import EvaluateSets

TASKS = {"age": "age", "ethnicity": "race", "gender": "gender"}  # task -> ImageSet target
CLASSES = {"ethnicity": RACES, "gender": GENDERS}


@dataclass
class TaskConfig:
    hidden: list[int] = field(default_factory=lambda: [512, 256])  # hidden layer widths
    activation: str = "relu"           # hidden activation
    output_activation: str | None = None  # the seed puts LeakyReLU on the output layer too
    init: str = "auto"                 # He for the ReLU family, Xavier otherwise; or zeros/tiny/small/large
    dropout: float = 0.5               # after every hidden layer (0: none)
    loss: str = "mse"                  # "mse" (age; gender in the seed, one-hot) or "cross_entropy"
    optimizer: str = "adam"            # "adam" or "sgd"
    lr: float = 1e-3                   # the rate; with schedule "auto" the `a` of a / epoch**n + b
    momentum: float = 0.0              # SGD momentum
    schedule: str = "constant"         # "constant" or "auto" (TimeDecay: lr / epoch**decay_power + lr_floor)
    decay_power: float = 1.0     # schedule auto: the epoch exponent of TimeDecay
    lr_floor: float = 0.0        # schedule auto: added to the decaying rate
    weight_decay: float = 0.0    # L2 penalty on the weights
    epochs: int = 60                   # at most; early stopping on val_loss ends sooner
    batch_size: int = 128        # samples per step
    patience: int = 8                  # early stopping; the best epoch's weights are kept
    monitor: str = "val_loss"          # what early stopping watches ("val_accuracy" for classifiers)
    scale_target: str = "zscore"       # age targets: "zscore", "std" (years / std, stays positive), "none"


def seed_task(**kw: Any) -> dict[str, Any]:
    # raw years diverge at once with momentum 0.99 (NaN in epoch 1); years / std stay positive, as the
    # seed's LeakyReLU output needs
    base = {"activation": "leaky_relu", "init": "small", "dropout": 0.0, "optimizer": "sgd", "momentum": 0.99,
            "schedule": "auto", "lr": 0.003, "lr_floor": 0.0005, "batch_size": 32, "epochs": 60, "patience": 5,
            "scale_target": "std", "monitor": "val_loss"}
    return {**base, **kw}


SEED_PRESET = {
    "pool": 1, "pca_components": 128, "standardize": False, "flip": False,
    "age": seed_task(hidden=[35, 6], output_activation="leaky_relu"),
    "ethnicity": seed_task(hidden=[64, 32], loss="cross_entropy", init="auto", schedule="constant", lr=0.002,
                            momentum=0.9),
    "gender": seed_task(hidden=[35, 6], output_activation="leaky_relu", loss="mse"),  # L2 on one-hot targets
}


def build_mlp(tc: TaskConfig, n_in: int, n_out: int, seed: int, init: str | None = None):
    init = init or tc.init
    layers = []
    for width in tc.hidden:
        layers.append(Dense(width, tc.activation, init=init))
        if tc.dropout > 0:
            layers.append(Dropout(tc.dropout))
    out_init = init if init != "auto" else "xavier_uniform"
    layers.append(Dense(n_out, tc.output_activation, init=out_init))
    model = Sequential(layers, input_shape=(n_in,), seed=seed)
    optimizer = {"name": tc.optimizer, "lr": tc.lr, "weight_decay": tc.weight_decay}
    if tc.optimizer == "sgd":
        optimizer["momentum"] = tc.momentum
    # a classifier logs accuracy whatever its loss: argmax of the outputs (one-hot targets under MSE)
    model.compile(loss=tc.loss, optimizer=optimizer, metrics=["accuracy"] if n_out > 1 else [])
    return model


def lr_callbacks(tc: TaskConfig, schedule: str | None = None) -> list[Any]:
    if (schedule or tc.schedule) == "auto":
        return [LearningRateScheduler(TimeDecay(tc.lr, tc.decay_power, tc.lr_floor))]
    # a constant-rate study of a decaying config keeps the decay's first rate, a + b
    rate = tc.lr + tc.lr_floor if schedule == "constant" and tc.schedule == "auto" else tc.lr
    return [LearningRateScheduler(Constant(rate))]


def encode_targets(task: str, tc: TaskConfig, y: np.ndarray, fit: np.ndarray) -> tuple[np.ndarray, Any]:
    """Training targets and the way back: z-scored age, one-hot rows for an L2 classifier, labels else."""
    if task == "age":
        if tc.scale_target not in ("zscore", "std", "none"):
            raise ConfigError(f"scale_target must be 'zscore', 'std' or 'none', got {tc.scale_target!r}")
        mu = float(y[fit].mean()) if tc.scale_target == "zscore" else 0.0
        sd = float(y[fit].std()) if tc.scale_target != "none" else 1.0
        return ((y - mu) / sd).astype(np.float32), (mu, sd)
    if tc.loss == "mse":
        return np.eye(len(CLASSES[task]), dtype=np.float32)[y], None
    return y, None


class Trained(NamedTuple):
    model: Any
    history: Any
    scale: Any      # (mean, std) of the age targets; None for a classifier
    kept_epoch: int  # the epoch whose weights the model ends with


def curve_monitor(model, feats: dict[str, Any], y: np.ndarray, task: str, scale: Any):
    """Per-epoch age RMSE in years (training, validation, test) or accuracy (training, test), each
    predicted as at test time; the test split is only watched."""
    parts = ("fit", "val", "test") if task == "age" else ("fit", "test")  # the loop logs val_accuracy already
    sets = {"train" if p == "fit" else p: (feats[p], y[feats[p]]) for p in parts}
    metrics = {"rmse_years": rmse} if task == "age" else {"accuracy": accuracy}
    return EvaluateSets(sets, lambda rows: predict(model, feats, rows, task, scale), metrics)


def train_task(ctx, task: str, feats: dict[str, Any], y: np.ndarray, tc: TaskConfig, *, name: str | None = None,
               init: str | None = None, schedule: str | None = None, epochs: int | None = None,
               early_stop: bool = True, curves: bool = False) -> Trained:
    """Fit one MLP on the training part (plus mirrored faces). With ``curves`` the history also gets
    the columns of :func:`curve_monitor`."""
    x, fit, val = feats["x"], feats["fit"], feats["val"]
    t, scale = encode_targets(task, tc, y, fit)
    xs, ts = x[fit], t[fit]
    if feats["x_flip"] is not None:
        xs, ts = np.concatenate([xs, feats["x_flip"][fit]]), np.concatenate([ts, ts])
    n_out = 1 if task == "age" else len(CLASSES[task])
    model = build_mlp(tc, x.shape[1], n_out, ctx.cfg.seed, init)
    epochs = epochs or tc.epochs
    cbs = lr_callbacks(tc, schedule)
    stopper = EarlyStopping(monitor=tc.monitor, patience=tc.patience) if early_stop else None
    monitor = curve_monitor(model, feats, y, task, scale) if curves else None
    cbs += [cb for cb in (stopper, monitor) if cb is not None]
    history, _ = ctx.fit(name or task, model, xs, ts, epochs=epochs, batch_size=tc.batch_size,
                         validation_data=(x[val], t[val]), callbacks=cbs, history=False)
    if monitor is not None:
        monitor.add_to(history)
    kept = stopper.best_epoch if stopper is not None and stopper.best_epoch is not None else history.epochs[-1]
    return Trained(model, history, scale, int(kept))


def predict(model, feats: dict[str, Any], rows: np.ndarray, task: str, scale: Any) -> np.ndarray:
    """Age in years, or class scores; averaged with the mirrored faces when ``flip`` is on."""
    out = model.predict(feats["x"][rows])
    if feats["x_flip"] is not None:
        out = 0.5 * (out + model.predict(feats["x_flip"][rows])) if task == "age" else \
            softmax(out, axis=1) + softmax(model.predict(feats["x_flip"][rows]), axis=1)
    if task == "age":
        mu, sd = scale
        return out[:, 0] * sd + mu
    return out


def loss_label(task: str, tc: TaskConfig) -> str:
    if task == "age":
        return {"zscore": "MSE of the z-scored age", "std": "MSE of age / std",
                "none": "MSE (years²)"}[tc.scale_target]
    return {"mse": "MSE on one-hot targets", "cross_entropy": "softmax cross-entropy (nats)"}[tc.loss]
