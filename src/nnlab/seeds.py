"""What the five seed homework reports state, and the targets nnlab sets itself.

Pure data, importing nothing of nnlab: the runner reads it to put the seed's number and the
target beside every metric of a run report, the lab book to set the seed's numbers beside
nnlab's, and ``benchmarks/reproduce.py`` and ``benchmarks/experiments.py`` to judge runs.

Each :class:`SeedNumber` is one number a seed reports (``value``), or, where ``value`` is
``None``, one target nnlab sets for an experiment the seeds give no number for. ``metric`` is
the key under which an nnlab run records the same quantity (in ``metrics.json``; for an
exercise, in its ``values``). Accuracies are fractions, as the runs record them.

``mode`` says how a value is judged against ``target``: ``"min"`` (at most), ``"max"`` (at
least), ``"eq"`` (the same count), or ``None`` for a number given for reference only (a
training-set fit, a baseline, a loss that another palette changes): a lower training error is
not the goal, so no verdict is drawn from it. A ``target`` that is a string names another
metric of the same run, to be beaten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["min", "max", "eq"] | None

#: seed document -> (title, university and year) of the homework
HOMEWORKS: dict[str, tuple[str, str]] = {
    "000": ("Homework 1: a NumPy network for UTKFace; convolution and backprop by hand", "University of Tehran, 2021"),
    "001": ("Homework 2: CNNs, batch normalisation, residual learning; colourization", "2023"),
    "002": ("Homework 2: multilayer perceptrons, batch size, symmetry, super-resolution",
            "Amirkabir University of Technology, 2024"),
    "003": ("Homework 4: convolutional networks, dilation, facial expressions", "Amirkabir University of Technology, 2024"),
    "004": ("Homework 1, Q3: autoencoders for classification (MNIST)", "University of Tehran, 2023"),
}


@dataclass(frozen=True)
class SeedNumber:
    id: str                          # stable key in benchmarks/results/seed_reproduction.json
    seed: str                        # the seed document ("000" ... "004"); "" for a target of nnlab's own
    question: str                    # where in the seed
    experiment: str                  # the nnlab experiment (or "exercise:NAME") that measures it
    metric: str                      # the key nnlab records it under
    value: float | None              # the seed's number; None: the seed gives none
    what: str                        # what it is, for a reader
    unit: str                        # "fraction" (shown as %), "years", "MSE", "count", "dB", ...
    target: float | str | None = None  # nnlab's target for its default run
    mode: Mode = None
    note: str = ""                   # how the seed measured it, or why it is reference only

    def met(self, value: float | None, metrics: dict | None = None) -> bool | None:
        """Whether ``value`` meets the target (``None``: no target, or nothing measured)."""
        bound = (metrics or {}).get(self.target) if isinstance(self.target, str) else self.target
        if value is None or bound is None or self.mode is None:
            return None
        if self.mode == "eq":
            return value == bound
        relative = isinstance(self.target, str)
        if self.mode == "min":
            return value < bound if relative else value <= bound
        return value > bound if relative else value >= bound


def _n(*args, **kwargs) -> SeedNumber:
    return SeedNumber(*args, **kwargs)


NUMBERS: tuple[SeedNumber, ...] = (
    # -- seed 000: UTKFace with a NumPy MLP ----------------------------------------------------
    _n("000.age_rmse", "000", "Q1 part 1: age", "utkface-mlp", "age_rmse", 13.0,
       "age RMSE on the test split", "years", 11.5, "min",
       "the seed's test RMSE after early stopping (its figure 3)"),
    _n("000.age_rmse_train", "000", "Q1 part 1: age", "utkface-mlp", "age_rmse_train", 10.0,
       "age RMSE on the training split", "years", None, None, "a training-set fit: reference only"),
    _n("000.age_rmse_sklearn", "000", "Q1 part 1: age", "utkface-mlp", "age_rmse_logistic", 15.72,
       "age RMSE of scikit-learn's LogisticRegression on the same features (ages as classes)", "years", None, None,
       "the seed's scikit-learn baseline: a reference, not a target"),
    _n("000.ethnicity_accuracy", "000", "Q1 part 2: ethnicity", "utkface-mlp", "ethnicity_accuracy", 0.65,
       "ethnicity accuracy (5 classes) on the test split", "fraction", 0.75, "max"),
    _n("000.ethnicity_accuracy_train", "000", "Q1 part 2: ethnicity", "utkface-mlp", "ethnicity_accuracy_train", 0.68,
       "ethnicity accuracy on the training split", "fraction", None, None, "a training-set fit: reference only"),
    _n("000.gender_accuracy", "000", "Q1 part 3: gender", "utkface-mlp", "gender_accuracy", 0.86,
       "gender accuracy on the test split", "fraction", 0.88, "max"),
    _n("000.gender_accuracy_train", "000", "Q1 part 3: gender", "utkface-mlp", "gender_accuracy_train", 0.88,
       "gender accuracy on the training split", "fraction", None, None, "a training-set fit: reference only"),
    # -- seed 001: colourization (CSC321) ------------------------------------------------------
    _n("001.base_accuracy", "001", "Part 2: base model, 30 epochs", "colourization", "base_accuracy", 0.447,
       "base CNN: validation pixel accuracy after the final epoch", "fraction", 0.45, "max"),
    _n("001.base_val_loss", "001", "Part 2: base model, 30 epochs", "colourization", "base_val_loss", 1.5197,
       "base CNN: validation cross-entropy after the final epoch", "nats per pixel", None, None,
       "reference only"),
    _n("001.base_train_loss", "001", "Part 2: base model, 30 epochs", "colourization", "base_train_loss", 1.4972,
       "base CNN: training cross-entropy in the final epoch", "nats per pixel", None, None, "reference only"),
    _n("001.unet_accuracy", "001", "Part 2: U-Net, 30 epochs", "colourization", "unet_accuracy", 0.564,
       "U-Net: validation pixel accuracy after the final epoch", "fraction", 0.57, "max"),
    _n("001.unet_val_loss", "001", "Part 2: U-Net, 30 epochs", "colourization", "unet_val_loss", 1.2101,
       "U-Net: validation cross-entropy after the final epoch", "nats per pixel", None, None, "reference only"),
    _n("001.unet_train_loss", "001", "Part 2: U-Net, 30 epochs", "colourization", "unet_train_loss", 1.2096,
       "U-Net: training cross-entropy in the final epoch", "nats per pixel", None, None, "reference only"),
    _n("001.residual_accuracy", "001", "Part 2: residual blocks, 25 epochs", "colourization", "residual_accuracy",
       0.705, "residual network: validation pixel accuracy after the final epoch", "fraction", 0.71, "max"),
    _n("001.residual_val_loss", "001", "Part 2: residual blocks, 25 epochs", "colourization", "residual_val_loss",
       0.8474, "residual network: validation cross-entropy after the final epoch", "nats per pixel", None, None,
       "reference only"),
    _n("001.residual_train_loss", "001", "Part 2: residual blocks, 25 epochs", "colourization",
       "residual_train_loss", 0.9064, "residual network: training cross-entropy in the final epoch",
       "nats per pixel", None, None, "reference only"),
    # -- seed 002: MLPs; super-resolution ------------------------------------------------------
    _n("002.sr_samples", "002", "Q5.1: the data set", "super-resolution", "seed_samples", 10240,
       "per-pixel samples from 10 images of 32x32 (one per high-resolution pixel)", "count", 10240, "eq"),
    _n("002.sr_train_samples", "002", "Q5.1: the data set", "super-resolution", "seed_train_samples", 7168,
       "training samples (70%)", "count", 7168, "eq"),
    _n("002.sr_test_samples", "002", "Q5.1: the data set", "super-resolution", "seed_test_samples", 2048,
       "test samples (20%)", "count", 2048, "eq"),
    _n("002.sr_val_samples", "002", "Q5.1: the data set", "super-resolution", "seed_val_samples", 1024,
       "validation samples (10%)", "count", 1024, "eq"),
    # -- seed 003: CNN theory --------------------------------------------------------------------
    _n("003.conv1d_params", "003", "Q3.1: parameters of the 1-D network", "exercise:conv1d-network", "total_parameters",
       7904, "parameters of the 785-input Conv1d / AvgPool / FC-20 / sigmoid network", "count", 7904, "eq"),
    # -- seed 004: MNIST autoencoder -------------------------------------------------------------
    _n("004.ae_train_loss", "004", "3-2-3: autoencoder training", "mnist-autoencoder", "train_mse", 0.0165,
       "autoencoder training MSE in epoch 10", "MSE", 0.009, "min", "the seed's figure 8, epoch 10"),
    _n("004.ae_val_loss", "004", "3-2-3: autoencoder training", "mnist-autoencoder", "test_mse", 0.02,
       "autoencoder reconstruction MSE on the 10,000 test digits", "MSE", 0.009, "min",
       "the seed says its validation loss (the test set) falls to 'about two percent' (figure 10)"),
    _n("004.code_accuracy", "004", "3-3: classification", "mnist-autoencoder", "code_accuracy", 0.93,
       "code classifier accuracy on the 10,000 test digits", "fraction", 0.975, "max"),
    _n("004.code_train_accuracy", "004", "3-3: classification", "mnist-autoencoder", "code_train_accuracy", 0.95,
       "code classifier training accuracy in epoch 10", "fraction", None, None,
       "the seed's figure 14 prints whole numbers, likely one batch's accuracy: reference only"),
    # -- beyond the seeds: targets nnlab sets itself -------------------------------------------
    _n("sr.set5_x2_bicubic", "", "beyond the seed: Set5 x2", "super-resolution", "set5_x2_psnr_bicubic", None,
       "bicubic upscaling, Set5 x2, PSNR on Y with a 2-pixel border shaved", "dB", None, None,
       "the reference every network must beat (published: 33.66 dB)"),
    _n("sr.set5_x2_mlp", "", "beyond the seed: Set5 x2", "super-resolution", "set5_x2_psnr_mlp", None,
       "block MLP (27-64-128-12, residual over bicubic), Set5 x2 PSNR", "dB", 33.66, "max",
       "beat bicubic (published 33.66 dB)"),
    _n("sr.set5_x2_cnn", "", "beyond the seed: Set5 x2", "super-resolution", "set5_x2_psnr_cnn", None,
       "convolutional network (sr_cnn), Set5 x2 PSNR", "dB", 35.5, "max", "SRCNN reports 36.66 dB"),
    _n("sr.set14_x2_cnn", "", "beyond the seed: Set14 x2", "super-resolution", "set14_x2_psnr_cnn", None,
       "convolutional network, Set14 x2 PSNR", "dB", 30.24, "max", "beat bicubic (published 30.24 dB)"),
    _n("sr.set5_x4_cnn", "", "beyond the seed: Set5 x4", "super-resolution", "set5_x4_psnr_cnn", None,
       "convolutional network, Set5 x4 PSNR", "dB", 28.42, "max", "beat bicubic (published 28.42 dB)"),
    _n("expr.vgg_accuracy", "", "Q5.3: the light VGG", "expression", "vgg_accuracy", None,
       "light VGG: FER2013 test accuracy (ten views)", "fraction", 0.66, "max",
       "the seed gives no number; the paper reports 58% on AffectNet-8, other data"),
    _n("expr.transfer_accuracy", "", "Q5.2: transfer learning", "expression", "transfer_accuracy", None,
       "pretrained and fine-tuned light VGG: FER2013 test accuracy (ten views)", "fraction", "vgg_accuracy", "max"),
    _n("expr.macro_auc", "", "Q5.2: transfer learning", "expression", "macro_auc", None,
       "transferred network: macro one-vs-rest ROC AUC on the test set", "AUC", 0.90, "max"),
    _n("cnn.age_rmse", "", "beyond the seeds", "utkface-cnn", "age_rmse", None,
       "age RMSE on utkface-mlp's test split", "years", 8.0, "min"),
    _n("cnn.gender_accuracy", "", "beyond the seeds", "utkface-cnn", "gender_accuracy", None,
       "gender accuracy on the test split", "fraction", 0.91, "max"),
    _n("cnn.ethnicity_accuracy", "", "beyond the seeds", "utkface-cnn", "ethnicity_accuracy", None,
       "ethnicity accuracy on the test split", "fraction", 0.81, "max"),
)

#: the seed's sweep tables (seed 001): sweep -> [(value swept, the seed's validation accuracy)]
SWEEPS: dict[str, dict[str, list[tuple[float, float | None]]]] = {
    "base": {
        "num_filters": [(16, 0.432), (32, 0.454), (48, 0.442), (64, 0.458), (80, 0.46), (96, 0.467), (128, 0.467)],
        "lr": [(1, 0.074), (0.1, 0.415), (0.01, 0.467), (0.001, 0.455), (0.0001, 0.415), (0.00001, 0.273)],
    },
    "unet": {
        "num_filters": [(16, 0.55), (32, 0.564), (48, 0.564), (64, 0.574), (80, 0.561), (96, 0.568), (128, 0.565)],
        "lr": [(10, 0.398), (1, 0.612), (0.1, 0.54), (0.01, 0.576), (0.001, 0.564), (0.0001, 0.457)],
    },
}


#: the last epoch of each run behind seed 001's base-model filter table, as the seed prints it:
#: num_filters -> (training loss, validation loss, validation accuracy, seconds for 30 epochs).
#: The table above (``SWEEPS["base"]["num_filters"]``) is at or above each of these accuracies.
SWEEP_LOGS: dict[str, dict[int, tuple[float, float, float, float]]] = {
    "base.num_filters": {
        16: (1.6004, 1.5906, 0.432, 459), 32: (1.5026, 1.5095, 0.452, 646), 48: (1.4513, 1.5207, 0.44, 838),
        64: (1.4169, 1.5019, 0.454, 1071), 80: (1.3794, 1.5415, 0.443, 1288), 96: (1.3514, 1.4845, 0.46, 1665),
        128: (1.3359, 1.5095, 0.453, 2379),
    },
}

#: seed 001's closing comparison: network -> (epochs, seconds for all of them, as printed)
SEED_001_TIMES: dict[str, tuple[int, float]] = {"base": (30, 635), "unet": (30, 694), "residual": (25, 4359)}

#: per-epoch logs a seed prints in full: (epoch, training loss, validation loss, validation accuracy).
#: Seed 001's base model, 30 epochs (its Part 2 log).
CURVES: dict[str, list[tuple[int, float, float, float]]] = {
    "001.base": [
        (1, 2.4039, 2.0882, 0.305), (2, 1.9507, 1.876, 0.354), (3, 1.8231, 1.7819, 0.382),
        (4, 1.7588, 1.7267, 0.398), (5, 1.717, 1.6899, 0.406), (6, 1.6873, 1.6696, 0.411),
        (7, 1.6643, 1.6505, 0.416), (8, 1.6453, 1.6412, 0.416), (9, 1.6295, 1.6246, 0.421),
        (10, 1.6159, 1.6161, 0.421), (11, 1.6035, 1.6017, 0.426), (12, 1.593, 1.5926, 0.428),
        (13, 1.5836, 1.577, 0.435), (14, 1.5749, 1.5708, 0.436), (15, 1.5672, 1.5721, 0.434),
        (16, 1.5601, 1.5581, 0.439), (17, 1.5537, 1.5549, 0.439), (18, 1.5478, 1.5459, 0.442),
        (19, 1.5421, 1.5496, 0.44), (20, 1.5369, 1.5521, 0.438), (21, 1.5319, 1.5403, 0.442),
        (22, 1.5274, 1.5361, 0.444), (23, 1.5229, 1.5337, 0.444), (24, 1.5187, 1.5264, 0.447),
        (25, 1.5147, 1.5159, 0.451), (26, 1.5109, 1.5301, 0.444), (27, 1.5072, 1.5215, 0.447),
        (28, 1.5037, 1.51, 0.453), (29, 1.5004, 1.514, 0.45), (30, 1.4972, 1.5197, 0.447),
    ],
}


def numbers(experiment: str | None = None, seed: str | None = None) -> list[SeedNumber]:
    """The numbers of one experiment and/or one seed document, in the order above."""
    return [n for n in NUMBERS if (experiment is None or n.experiment == experiment)
            and (seed is None or n.seed == seed)]


def by_metric(experiment: str) -> dict[str, SeedNumber]:
    """metric key -> its :class:`SeedNumber`, for one experiment."""
    return {n.metric: n for n in NUMBERS if n.experiment == experiment}
