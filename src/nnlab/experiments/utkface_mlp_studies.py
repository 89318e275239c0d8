"""The studies of ``utkface-mlp`` (seed 000), each a few short runs of the seed's own networks.

* initialisation (zeros, tiny, small, large, He) and a constant vs decaying learning rate, on
  age with the seed's 35-6-1 LeakyReLU network, SGD with momentum 0.99;
* hidden activation x loss (the comparison the seed's abstract promises), on ethnicity with the
  seed's 64-32 network, SGD with momentum 0.9 and a constant rate.

Every run trains for ``study_epochs`` without early stopping on the unmirrored features. Not an
experiment itself (no ``exp_`` prefix): ``exp_utkface_mlp.run`` calls these.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from nnlab.experiments.utkface_mlp_figures import study_grid_figure
from nnlab.experiments.utkface_mlp_networks import (
    SEED_PRESET,
    TaskConfig,
    loss_label,
    predict,
    train_task,
)
from nnlab.metrics.basic import accuracy
from nnlab.reporting.figures import overlay_figure

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
LOSSES = ("cross_entropy", "mse")  # softmax cross-entropy on labels; L2 on one-hot targets


def run_studies(ctx, feats: dict[str, Any], y_age: np.ndarray) -> None:
    """Seed 000's studies on the age task with its 35-6-1 LeakyReLU SGD-momentum network."""
    tc = TaskConfig(**SEED_PRESET["age"])
    feats = {**feats, "x_flip": None}
    epochs = ctx.cfg.study_epochs
    runs = {}
    for init in ("zeros", "tiny", "small", "large", "he_normal"):
        model, h, _, _ = train_task(ctx, "age", feats, y_age, tc, name=f"init-{init}", init=init, epochs=epochs,
                                    early_stop=False)
        runs[init] = h
        if init == "zeros":
            w = model.state_dict()["0.weight"]  # (35, k): every hidden unit's incoming weights
            ctx.record(zero_init_final_loss=float(h["loss"][-1]), zero_init_weight_abs_max=float(np.abs(w).max()),
                       zero_init_units_distinct=int(len(np.unique(np.round(w, 12), axis=0))))
    ctx.figure("study-zero-init", overlay_figure({k: runs[k] for k in ("zeros", "small")}, keys=["loss", "val_loss"],
                                                  title="zero vs small random initialisation (age)"),
               "Zero initialisation: every hidden unit stays identical (zero) and only the output bias learns, "
               "so the loss stalls where a constant prediction leaves it.")
    ctx.figure("study-init-scale", overlay_figure(runs, keys=["loss", "val_loss"], log_y=True,
                                                  title="initialisation scale (age)"),
               "Initial weights ~N(0, s^2): tiny 1e-3, small 1e-2, large 1e-1, He; zeros for reference.")
    ctx.record(**{f"init_{k}_val_loss": float(min(h["val_loss"])) for k, h in runs.items()})
    lr_runs = {"constant": train_task(ctx, "age", feats, y_age, tc, name="lr-constant", schedule="constant",
                                      epochs=epochs, early_stop=False).history,
               "decaying (auto)": runs["small"]}
    ctx.figure("study-lr", overlay_figure(lr_runs, keys=["loss", "val_loss", "lr"],
                                          title="constant vs decaying learning rate (age)"),
               f"Constant rate {tc.lr + tc.lr_floor:g} vs the automatic decay {tc.lr:g}/epoch + {tc.lr_floor:g}.")
    ctx.record(lr_constant_val_loss=float(min(lr_runs["constant"]["val_loss"])),
               lr_decaying_val_loss=float(min(runs["small"]["val_loss"])))


def run_activation_study(ctx, feats: dict[str, Any], y_ethnicity: np.ndarray) -> None:
    """Every hidden activation with both losses on ethnicity: a table of test accuracy and final
    training loss, and the validation accuracy per epoch."""
    base = TaskConfig(**SEED_PRESET["ethnicity"])
    feats = {**feats, "x_flip": None}
    test = feats["test"]
    histories, rows = {}, []
    for loss in LOSSES:
        for activation in ACTIVATIONS:
            tc = replace(base, activation=activation, loss=loss, output_activation=None, monitor="val_loss")
            run = train_task(ctx, "ethnicity", feats, y_ethnicity, tc, name=f"study-{activation}-{loss}",
                             epochs=ctx.cfg.study_epochs, early_stop=False)
            h = run.history
            test_acc = accuracy(y_ethnicity[test], predict(run.model, feats, test, "ethnicity", None))
            histories[(activation, loss)] = h
            rows.append({"activation": activation, "loss": loss, "test_accuracy": test_acc,
                         "best_val_accuracy": float(np.nanmax(h["val_accuracy"])), "final_train_loss": h["loss"][-1]})
            ctx.record(**{f"study_{activation}_{loss}_accuracy": test_acc,
                          f"study_{activation}_{loss}_final_loss": float(h["loss"][-1])})
    net = "-".join(str(w) for w in base.hidden)
    setup = (f"the seed's ethnicity network ({net} hidden units, linear output), SGD with momentum {base.momentum:g}, "
             f"constant rate {base.lr:g}, batch {base.batch_size}, {ctx.cfg.study_epochs} epochs, no early stopping")
    ctx.table("activation-loss-study", rows,
              f"Hidden activation x loss on ethnicity: test accuracy, best validation accuracy and the last epoch's "
              f"training loss, which is a cross-entropy (nats) or an MSE on one-hot targets by row, so compare it "
              f"within one loss only; {setup}.")
    names = {loss: loss_label("ethnicity", replace(base, loss=loss)) for loss in LOSSES}
    ctx.figure("activation-loss-study",
               study_grid_figure(histories, "val_accuracy", "validation accuracy",
                                 "ethnicity: hidden activation x loss", names),
               f"Validation accuracy per epoch for each hidden activation, with softmax cross-entropy (left) and "
               f"MSE on one-hot targets (right); {setup}. Accuracy is the argmax of the outputs under both losses.")
