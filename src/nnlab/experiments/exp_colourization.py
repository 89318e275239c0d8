"""``colourization``: seed 001 (the CSC321 protocol), greyscale CIFAR-10 horses to 24 colours.

Data: the CIFAR-10 horses (class 7). The 5,000 training horses train; the 1,000 horses of the
CIFAR-10 test batch are the validation set (the seed's 1,000 validation images; no other
images of the test batch are used). As in the assignment, pixels are divided by 256. Input: the
mean of R, G and B, one channel of 32x32, standardised with the training pixels' mean and
standard deviation (``standardise``; the seed fed it in [0, 1)). Target: every pixel's nearest
colour of the palette: ``palette: csc321`` (the default) is the assignment's own
``colour_kmeans24_cat7.npy`` (data set ``csc321-colours``, read without running its pickle),
the palette the seed used; ``kmeans`` fits ``num_colours`` k-means centres to ``kmeans_pixels``
training pixels instead. Loss: the per-pixel cross-entropy over the 24 classes; metric: pixel
accuracy.

Reference: ``lookup_accuracy`` is the validation accuracy of the best table from a pixel's grey
level alone to a colour class (fitted on the training pixels): 62.0% with CSC321's palette. Many
of the 24 colours differ mostly in brightness, so a network must reproduce the grey level at full
resolution to beat it, and the seed's base CNN and U-Net, which see the full resolution only
through one final convolution, stay below it.

Each network in ``models`` is built in the NumPy engine and, on the torch engine (the default),
converted with ``to_torch`` and trained by the torch ``Trainer``; ``--engine numpy`` trains the
engine model itself (per-pixel cross-entropy, the same augmentation). Adam, batch 100, 25
epochs, each batch with a random half of its images mirrored (``flip``) and every image moved by up to 4 pixels (``shift``, mirrored
borders), each together with its colour targets. The shift is worth a quarter to half a point
to the residual net and keeps the larger networks from over-fitting (a three-level residual
U-Net of 2.1 M parameters went from 65.9% to 67.6% with it, on nnlab's own k-means colours):

* ``base``: ``colour_base``, the seed's base CNN (no skips).
* ``unet``: ``colour_unet_full`` (``unet_layout: full``), a classic U-Net of two-convolution
  stages with full-resolution ends; ``unet_layout: seed`` is the seed's ``colour_unet``.
* ``residual``: ``colour_residual``, the same graph as ``colour_unet_full`` with every stage a
  ResNet basic block, so the two differ only by the residual additions; ``residual_layout: seed``
  is ``colour_residual_seed``, the seed's description taken literally (its U-Net with each
  stage's input added to the stage's output).

``<model>_accuracy`` is the validation pixel accuracy after the **final** epoch
(``<model>_best_accuracy`` the best epoch's, for reference only: picking the best epoch on the
validation set flatters it). Preset ``seed`` is the seed's setting (constant lr 1e-3, 32
filters, grey in [0, 1), the seed's U-Net and residual net, base and U-Net 30 epochs and the
residual net 25, no mirroring or shifts); the default warms up for one epoch to lr 1e-2 and
decays it along a cosine to 1e-4. ``at-the-seeds-loss`` sets the seed's three results among
the epochs of nnlab's networks at an equal validation loss.

One concept, the seed-001 experiment: its three networks, their training and the figures and
tables its report needs, so one module of about 460 lines.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from nnlab.data import synthetic
from nnlab.data.augment import paired_flip_and_shift
from nnlab.data.cifar import CLASSES
from nnlab.data.errors import DataError, MissingDataError
from nnlab.data.palettes import CSC321_SCALE, CSC321_SIZES, csc321_file
from nnlab.data.palettes import fit_palette, quantize
from nnlab.data.preprocess import to_grayscale
from nnlab.engine.layers.activation import ReLU
from nnlab.engine.module import Module
from nnlab.engine.schedules import CosineWarmup
from nnlab.errors import ConfigError
from nnlab.experiments.registry import experiment
from nnlab.metrics.curves import at_reference_losses
from nnlab.metrics.pixel import PixelAccuracy
from nnlab.models import create_model
from nnlab.reporting.figures import overlay_figure
from nnlab.training.callbacks import LearningRateScheduler

log = logging.getLogger(__name__)

MODEL_NAMES = {"base": "colour_base", "unet": "colour_unet_full", "residual": "colour_residual"}
#: ``unet_layout`` -> the registered model that ``unet`` names
UNET_LAYOUTS = {"full": "colour_unet_full", "seed": "colour_unet"}
#: ``residual_layout`` -> the registered model that ``residual`` names
RESIDUAL_LAYOUTS = {"unet": "colour_residual", "seed": "colour_residual_seed"}
PALETTES = ("csc321", "kmeans")
#: each network's width when ``num_filters`` is 0 (the seed used 32 for all three)
FILTERS = {"base": 128, "unet": 32, "residual": 32}
HORSE = 7  # CIFAR-10 class index
#: the seed's final validation loss and pixel accuracy (base and U-Net after 30 epochs, the residual net after 25)
SEED_RESULTS = {"base": (1.5197, 0.447), "unet": (1.2101, 0.564), "residual": (0.8474, 0.705)}


@dataclass
class ColourizationConfig:
    seed: int = 0                 # weights, data order, k-means and the shown images draw from it
    models: list[str] = field(default_factory=lambda: ["base", "unet", "residual"])  # trained in turn
    num_filters: int = 0          # first-stage width nf (middle stages 2 nf); 0: each network's own, FILTERS
    kernel_size: int = 3          # every convolution's side (odd)
    unet_layout: str = "full"     # "full": two convolutions per stage, full-resolution ends; "seed": CSC321's
    residual_layout: str = "unet"  # "unet": nnlab's residual U-Net; "seed": the seed's U-Net, each stage's input added
    category: str = "horse"       # the CIFAR-10 class coloured (the seed: horse; another needs palette=kmeans)
    palette: str = "csc321"       # "csc321": the assignment's colour_kmeans<K>_cat7.npy; "kmeans": fit K colours here
    num_colours: int = 24         # colour classes (csc321: 16, 24 or 32)
    lr: float = 1e-2              # Adam's (peak) learning rate
    schedule: str = "cosine"      # "cosine" (warm-up, then a cosine decay to lr / 100) or "constant"
    warmup_epochs: int = 1        # cosine: epochs of linear warm-up
    batch_size: int = 100         # images per Adam step
    epochs: int = 25              # passes over the 5,000 training horses
    residual_epochs: int = 0      # the residual net's passes (0: epochs); the seed trained it 25, the others 30
    kmeans_pixels: int = 100_000  # training pixels drawn for the k-means fit
    standardise: bool = True      # feed (grey - mean) / std of the training pixels (False: grey in [0, 1])
    flip: bool = True             # mirror a random half of every training batch, input and target together
    shift: int = 4                # then move every training image and its targets by up to this many px (0: none)
    train_limit: int = 0          # use only the first N training images (0: all)
    val_limit: int = 0            # use only the first N validation images (0: all)
    shown: int = 8                # validation images in the colourized-samples figure
    feature_model: str = "unet"   # whose feature maps are shown (falls back to the first trained)
    feature_layer: int = 0        # index among the network's ReLU modules (0: the first)
    feature_maps: int = 16        # channels shown


SMOKE = {"epochs": 2, "residual_epochs": 0, "num_filters": 4, "kmeans_pixels": 2_000, "shown": 3, "feature_maps": 4, "batch_size": 16}


# -- data ---------------------------------------------------------------------------
def plural(category: str) -> str:
    """"horses", "deer": how captions name the images of a CIFAR-10 class."""
    return category if category == "deer" else f"{category}s"


def load_horses(ctx) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) RGB images, each (N, 3, 32, 32) uint8."""
    cfg = ctx.cfg
    if ctx.smoke:
        images = synthetic.colour_blobs(96, cfg.seed)
        train, val = images[:64], images[64:]
    else:
        train = ctx.data("cifar10", "train", classes=[cfg.category]).images
        val = ctx.data("cifar10", "test", classes=[cfg.category]).images
        for split, images in (("train", train), ("test", val)):
            if not len(images):
                raise DataError(f"category: the CIFAR-10 {split} images read hold no {plural(cfg.category)}"
                                f" ({ctx.data_used[-1]['folder'] if ctx.data_used else 'cifar-10'}); this copy of the"
                                " data set lacks that class")
    if cfg.train_limit:
        train = train[:cfg.train_limit]
    if cfg.val_limit:
        val = val[:cfg.val_limit]
    return train, val


def greyscale(images: np.ndarray) -> np.ndarray:
    """The assignment's input: the mean of R, G and B divided by 256, in [0, 1).

    Shapes: (N, 3, H, W) uint8 -> (N, 1, H, W) float32.
    """
    return to_grayscale(images.astype(np.float32), "mean") / np.float32(CSC321_SCALE)


def colour_palette(ctx, train: np.ndarray) -> tuple[np.ndarray, str]:
    """The colour classes in uint8 pixel units, (K, 3) float, and where they came from.

    ``palette: csc321`` reads the assignment's file (its rows are in units of 1/256, so times 256;
    a pixel then gets the class the assignment gives it). ``kmeans`` fits ``num_colours``
    centres to ``kmeans_pixels`` training pixels (:func:`nnlab.data.palettes.fit_palette`).
    A smoke run without the palette file fits k-means colours instead, and says so.
    """
    cfg = ctx.cfg
    if cfg.palette == "csc321":
        try:
            return (ctx.data("csc321-colours", str(cfg.num_colours)) * CSC321_SCALE,
                    f"CSC321's {csc321_file(cfg.num_colours)} (the seed's colours)")
        except MissingDataError as exc:
            if not ctx.smoke:
                raise MissingDataError(f"{exc}\n(or run with --set palette=kmeans to fit {cfg.num_colours}"
                                       " k-means colours to the training pixels instead)") from None
            log.warning("smoke run: no %s, fitting k-means colours instead", csc321_file(cfg.num_colours))
    return (fit_palette(train, cfg.num_colours, seed=cfg.seed, max_pixels=cfg.kmeans_pixels),
            f"{cfg.num_colours} k-means colours of {cfg.kmeans_pixels:,} training pixels")


def lookup_accuracy(grey_train: np.ndarray, y_train: np.ndarray, grey_val: np.ndarray, y_val: np.ndarray,
                    levels: int = 256) -> float:
    """Validation pixel accuracy of the best per-pixel lookup table from grey level to colour class.

    The table maps each of ``levels`` grey levels to the colour class most frequent at that level
    among the training pixels; it sees one pixel at a time, so a network that uses context should
    beat it. Shapes: grey (N, 1, H, W) in [0, 1], y (N, H, W) class indices.
    """
    k = int(max(y_train.max(), y_val.max())) + 1

    def level(grey: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(grey[:, 0] * levels), 0, levels - 1).astype(np.int64).ravel()

    counts = np.bincount(level(grey_train) * k + y_train.ravel(), minlength=levels * k).reshape(levels, k)
    table = counts.argmax(1)                                        # (levels,) the likeliest class per level
    return float((table[level(grey_val)] == y_val.ravel()).mean())


# -- training -----------------------------------------------------------------------
def model_for(cfg, key: str) -> str:
    """The registered model that network ``key`` is under ``cfg``'s layouts."""
    return {"unet": UNET_LAYOUTS[cfg.unet_layout], "residual": RESIDUAL_LAYOUTS[cfg.residual_layout]}.get(
        key, MODEL_NAMES[key])


def epochs_for(cfg, key: str) -> int:
    """Network ``key``'s passes over the training set (``residual_epochs`` for the residual net)."""
    return cfg.residual_epochs if key == "residual" and cfg.residual_epochs else cfg.epochs


def train_model(ctx, key: str, data: tuple[np.ndarray, ...]):
    """Train one network on the run's engine; return (the trained network: a torch module or the engine
    model, what trained it, history)."""
    cfg = ctx.cfg
    x_train, y_train, x_val, y_val = data
    model_name = model_for(cfg, key)
    epochs = epochs_for(cfg, key)
    spec = create_model(model_name, num_filters=cfg.num_filters or FILTERS[key], kernel_size=cfg.kernel_size,
                        num_colours=cfg.num_colours, input_size=x_train.shape[-1])
    params = spec.num_parameters()
    trainer = ctx.trainer(spec.build(seed=cfg.seed), loss="cross_entropy", optimizer={"name": "adam", "lr": cfg.lr},
                          metrics=[PixelAccuracy()], channels_last=True)
    log.info("%s: %s, %d parameters", key, model_name, params)
    callbacks = []
    if cfg.schedule == "cosine":
        warmup = min(cfg.warmup_epochs, epochs - 1)
        callbacks.append(LearningRateScheduler(CosineWarmup(cfg.lr, epochs, warmup, cfg.lr / 100)))
    augment = ({"augment": paired_flip_and_shift(cfg.shift, 0.5 if cfg.flip else 0.0), "augment_targets": True}
               if cfg.flip or cfg.shift else {})
    history, seconds = ctx.fit(key, trainer, x_train, y_train, epochs=epochs, batch_size=cfg.batch_size,
                               validation_data=(x_val, y_val), callbacks=callbacks, **augment,
                               caption=f"{key}: per-pixel cross-entropy and pixel accuracy per epoch (validation ="
                                       f" the {len(x_val):,} CIFAR-10 test {plural(cfg.category)})")
    net = trainer if isinstance(trainer, Module) else trainer.model   # the numpy engine trains the model itself
    val_acc = history["val_accuracy"]
    ctx.record(**{f"{key}_accuracy": float(val_acc[-1]), f"{key}_best_accuracy": float(max(val_acc)),
                  f"{key}_val_loss": float(history["val_loss"][-1]), f"{key}_train_loss": float(history["loss"][-1]),
                  f"{key}_params": int(params),
                  f"{key}_filters": cfg.num_filters or FILTERS[key],
                  f"{key}_train_s": round(seconds, 2), f"{key}_epoch_s": round(seconds / len(val_acc), 2)})
    ctx.save_model(net, key)
    return net, trainer, history


def seed_comparison(histories: dict) -> list[dict]:
    """One row per trained network: our final validation loss and accuracy beside the seed's."""
    rows = []
    for key, h in histories.items():
        seed_loss, seed_acc = SEED_RESULTS[key]
        rows.append({"model": key, "val_loss": round(float(h["val_loss"][-1]), 4), "seed_val_loss": seed_loss,
                     "val_accuracy": round(float(h["val_accuracy"][-1]), 4), "seed_val_accuracy": seed_acc})
    return rows


# -- figures --------------------------------------------------------------------------
def _image_axes(fig, rows: int, cols: int):
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return axes


def samples_figure(grey: np.ndarray, truth: np.ndarray, quantised: np.ndarray, predictions: dict[str, np.ndarray],
                   colours: np.ndarray, what: str = "horses"):
    """Rows: greyscale input, ground truth, quantised ground truth, one row per model.

    Shapes: grey (n, 1, H, W), truth (n, 3, H, W) uint8, quantised (n, H, W) and each
    prediction (n, H, W) colour classes, colours (K, 3).
    """
    from matplotlib.figure import Figure

    rows = [("greyscale", grey[:, 0], "gray"), ("ground truth", truth.transpose(0, 2, 3, 1), None),
            ("quantised", colours[quantised], None)]
    rows += [(name, colours[p], None) for name, p in predictions.items()]
    n = len(grey)
    fig = Figure(figsize=(1.1 * n + 1.4, 1.1 * len(rows) + 0.4), dpi=100, layout="constrained")
    axes = _image_axes(fig, len(rows), n)
    for r, (name, images, cmap) in enumerate(rows):
        for c in range(n):
            axes[r][c].imshow(images[c], cmap=cmap, vmin=0, vmax=255 if images.dtype == np.uint8 else 1)
        axes[r][0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"validation {what}: input, ground truth and colourizations", fontsize=10)
    return fig


def loss_accuracy_figure(histories: dict):
    """Validation accuracy (%) against validation cross-entropy, per epoch and network; the seed's finals as stars."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), dpi=100, layout="constrained")
    ax = fig.subplots()
    for i, (key, h) in enumerate(histories.items()):
        colour = f"C{i}"
        loss, acc = np.asarray(h["val_loss"]), 100 * np.asarray(h["val_accuracy"])
        ax.plot(loss, acc, "o-", color=colour, ms=3, lw=0.8, alpha=0.8, label=f"{key} (nnlab, per epoch)")
        ax.plot(loss[-1:], acc[-1:], "o", color=colour, ms=9, mfc="none")
    for i, (key, (loss, acc)) in enumerate(SEED_RESULTS.items()):
        ax.plot([loss], [100 * acc], "*", color="k", ms=12)
        ax.annotate(f"seed {key}", (loss, 100 * acc), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xlabel("validation cross-entropy per pixel (nats)")
    ax.set_ylabel("validation pixel accuracy (%)")
    ax.set_title("accuracy against loss: nnlab's epochs and the seed's final results", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def feature_maps(net, x: np.ndarray, layer: int) -> tuple[str, np.ndarray]:
    """The output of the ``layer``-th ReLU module of ``net`` for ``x``: an engine model's through
    :meth:`~nnlab.engine.Module.recording_outputs`, a torch module's through a forward hook
    (:func:`nnlab.torchlib.cam.layer_output`).

    Shapes: x (n, 1, H, W) -> (name, maps (n, C, h, w)).
    """
    if isinstance(net, Module):
        relus = [(name, m) for name, m in net.named_modules() if isinstance(m, ReLU)]
        if not relus:
            raise ConfigError("the network has no ReLU module to show the feature maps of")
        name, module = relus[min(layer, len(relus) - 1)]
        with module.recording_outputs() as outputs:
            net.predict(x)
        return name, outputs[0]
    import torch

    from nnlab.torchlib.cam import layer_output

    relus = [name for name, m in net.named_modules() if isinstance(m, torch.nn.ReLU)]
    if not relus:
        raise ConfigError("the network has no ReLU module to show the feature maps of")
    name = relus[min(layer, len(relus) - 1)]
    return name, layer_output(net, name, x)[0]


def feature_figure(grey: np.ndarray, maps: np.ndarray, title: str):
    """The input image, then one panel per channel. Shapes: grey (H, W), maps (C, h, w)."""
    from matplotlib.figure import Figure

    cols = min(9, len(maps) + 1)
    rows = int(np.ceil((len(maps) + 1) / cols))
    fig = Figure(figsize=(1.2 * cols, 1.25 * rows + 0.4), dpi=100, layout="constrained")
    axes = _image_axes(fig, rows, cols)
    axes.flat[0].imshow(grey, cmap="gray", vmin=0, vmax=1)
    axes.flat[0].set_title("input", fontsize=8)
    for i, m in enumerate(maps):
        axes.flat[i + 1].imshow(m, cmap="viridis")
        axes.flat[i + 1].set_title(f"ch {i}", fontsize=8)
    for ax in list(axes.flat)[len(maps) + 1:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    return fig


def check_config(cfg) -> None:
    unknown = [m for m in cfg.models if m not in MODEL_NAMES]
    if unknown or not cfg.models:
        raise ConfigError(f"models must be a non-empty list of {sorted(MODEL_NAMES)}, got {cfg.models}")
    if cfg.unet_layout not in UNET_LAYOUTS:
        raise ConfigError(f"unet_layout must be one of {sorted(UNET_LAYOUTS)}, got {cfg.unet_layout!r}")
    if cfg.residual_layout not in RESIDUAL_LAYOUTS:
        raise ConfigError(f"residual_layout must be one of {sorted(RESIDUAL_LAYOUTS)}, got {cfg.residual_layout!r}")
    if cfg.palette not in PALETTES:
        raise ConfigError(f"palette must be one of {list(PALETTES)}, got {cfg.palette!r}")

    if cfg.category not in CLASSES:
        raise ConfigError(f"category: {cfg.category!r} is not a CIFAR-10 class; one of {', '.join(CLASSES)}")
    if cfg.palette == "csc321" and cfg.category != "horse":
        raise ConfigError(f"category: the CSC321 palettes were fitted to the horses (cat7); colouring"
                          f" {plural(cfg.category)} needs --set palette=kmeans")
    if cfg.palette == "csc321" and cfg.num_colours not in CSC321_SIZES:
        raise ConfigError(f"palette csc321 comes in num_colours {list(CSC321_SIZES)}, got {cfg.num_colours};"
                          " use palette=kmeans for other sizes")
    if cfg.residual_epochs < 0 or cfg.epochs < 1:
        raise ConfigError(f"epochs must be >= 1 and residual_epochs >= 0, got {cfg.epochs} and {cfg.residual_epochs}")
    if cfg.schedule not in ("cosine", "constant"):
        raise ConfigError(f"schedule must be 'cosine' or 'constant', got {cfg.schedule!r}")
    if cfg.num_filters < 0:
        raise ConfigError(f"num_filters must be >= 1, or 0 for each network's own width, got {cfg.num_filters}")
    if not 0 <= cfg.shift < 16:
        raise ConfigError(f"shift must be in [0, 16) pixels, got {cfg.shift}")
    if cfg.warmup_epochs < 0:
        raise ConfigError(f"warmup_epochs must be >= 0, got {cfg.warmup_epochs}")


ABOUT = """Seed 001 (the CSC321 colourization assignment): a network sees a greyscale 32x32 CIFAR-10 horse
and predicts, for every pixel, which of 24 colours it had, a 24-way classification per pixel trained with
cross-entropy. Three networks are compared as the homework did: a plain encoder-decoder CNN (base), a
U-Net whose skip connections concatenate encoder features into the decoder, and a network of residual
blocks. The score is the share of validation pixels whose colour class is right."""

METRICS = {
    "lookup_accuracy": ("reference: validation pixel accuracy of the best grey-level -> colour lookup table",
                        "fraction"),
    "input_mean": ("mean grey level of the training inputs (used to standardise)", ""),
    "input_std": ("standard deviation of the training grey levels", ""),
    "{model}_best_accuracy": ("{model}: best validation pixel accuracy over the epochs (for reference only)",
                              "fraction"),
    "{model}_accuracy": ("{model}: validation pixel accuracy after the final epoch", "fraction"),
    "{model}_val_loss": ("{model}: validation cross-entropy per pixel after the final epoch", "nats"),
    "{model}_train_loss": ("{model}: training cross-entropy per pixel in the final epoch", "nats"),
    "{model}_filters": ("{model}: number of filters of the first layer (num_filters)", "count"),
    "n_train": ("training images (the CIFAR-10 training images of the class coloured: horses by default)", "count"),
    "n_val": ("validation images (the CIFAR-10 test images of that class)", "count"),
}


@experiment("colourization", "seed-001 CSC321 colourization of CIFAR-10 horses: base CNN, U-Net, residual",
            config=ColourizationConfig, about=ABOUT, metrics=METRICS,
            presets={"seed": {"lr": 1e-3, "schedule": "constant", "warmup_epochs": 0, "num_filters": 32,
                              "standardise": False, "unet_layout": "seed", "residual_layout": "seed",
                              "epochs": 30, "residual_epochs": 25, "palette": "csc321",
                              "flip": False, "shift": 0}}, smoke=SMOKE,
            objective=("unet_accuracy", "max"),
            engines=("torch", "numpy"), check=check_config, phases=lambda cfg: list(cfg.models))
def run(ctx) -> None:
    cfg = ctx.cfg
    train, val = load_horses(ctx)

    palette, palette_source = colour_palette(ctx, train)            # (K, 3) in uint8 pixel units
    colours = np.clip(palette / 255.0, 0, 1)                         # (K, 3) RGB in [0, 1], for pictures
    grey_train, grey_val = greyscale(train), greyscale(val)
    y_train, y_val = quantize(train, palette), quantize(val, palette)
    mean, std = (float(grey_train.mean()), float(grey_train.std()) or 1.0) if cfg.standardise else (0.0, 1.0)
    data = ((grey_train - mean) / std, y_train, (grey_val - mean) / std, y_val)  # inputs as the networks see them
    lookup = lookup_accuracy(grey_train, y_train, grey_val, y_val)
    log.info("%d training and %d validation images, %s; grey-level lookup table: %.1f%%",
             len(train), len(val), palette_source, 100 * lookup)
    ctx.record(n_train=len(train), n_val=len(val), lookup_accuracy=lookup, input_mean=mean, input_std=std)

    trained = {key: train_model(ctx, key, data) for key in cfg.models}
    histories = {key: h for key, (_, _, h) in trained.items()}
    ctx.table("seed-comparison", seed_comparison(histories),
              "final validation cross-entropy and pixel accuracy beside the seed's"
              + (" (on the seed's own colours)" if palette_source.startswith("CSC321") else
                 " (the seed's colours were CSC321's; these are others, so the same loss can mean another accuracy)"))

    ctx.table("at-the-seeds-loss", at_reference_losses(histories, {f"seed {k}": v for k, v in SEED_RESULTS.items()}),
              "for each of the seed's final results (validation loss, accuracy), the epoch of nnlab's networks whose"
              " validation loss is nearest to the seed's, and its accuracy (difference = seed - nnlab): at an equal"
              " loss, equally measured accuracies should be close")
    ctx.figure("loss-vs-accuracy", loss_accuracy_figure(histories),
               "validation pixel accuracy against validation cross-entropy, one point per epoch and network (the"
               " last epoch ringed), with the seed's three final results as stars: at the seed's loss, the"
               " accuracy nnlab's networks reach there is the one the seed's number can be held against")
    ctx.figure("curves-overlay", overlay_figure(histories, keys=["val_accuracy", "val_loss", "accuracy", "loss"],
                                                title="the three networks"),
               "validation (and training) pixel accuracy and cross-entropy per epoch, networks overlaid")

    shown = np.sort(np.random.default_rng(cfg.seed).choice(len(val), min(cfg.shown, len(val)), replace=False))
    predictions = {key: trainer.predict(data[2][shown]).argmax(1) for key, (_, trainer, _) in trained.items()}
    ctx.figure("colourized", samples_figure(grey_val[shown], val[shown], data[3][shown], predictions, colours,
                                              "images" if ctx.smoke else plural(cfg.category)),
               "greyscale input, ground truth, ground truth quantised to the colour classes, and each network's"
               " per-pixel argmax colour")

    fkey = cfg.feature_model if cfg.feature_model in trained else cfg.models[0]
    name, maps = feature_maps(trained[fkey][0], data[2][shown[:1]], cfg.feature_layer)
    ctx.figure("feature-maps", feature_figure(grey_val[shown[0], 0], maps[0, :cfg.feature_maps],
                                              f"{fkey}: ReLU '{name}' output {maps.shape[1:]}"),
               f"first {min(cfg.feature_maps, maps.shape[1])} channels of the {fkey} network's ReLU module '{name}'"
               f" for one validation image ({'a forward hook on the torch module' if ctx.engine == 'torch' else 'recorded in the engine model'})")
    ctx.note(
        f"CIFAR-10 {plural(cfg.category)}: {len(train)} training images (the train batches) and {len(val)} validation"
        f" images (the test batch's {plural(cfg.category)}). Input the mean of R, G, B in [0, 1]"
        f"{f', standardised (mean {mean:.3f}, std {std:.3f})' if cfg.standardise else ''}; target each pixel's"
        f" nearest colour of {palette_source} (pixels divided by 256 as the assignment does). Per-pixel"
        f" cross-entropy, Adam lr {cfg.lr:g} ({cfg.schedule}), batch {cfg.batch_size}"
        f"{' (half of each mirrored with its targets)' if cfg.flip else ''}"
        f"{f' (shifted by up to {cfg.shift} px with its targets, mirrored borders)' if cfg.shift else ''},"
        f" {cfg.epochs} epochs{f' ({cfg.residual_epochs} for the residual net)' if cfg.residual_epochs else ''}, num_filters"
        f" {cfg.num_filters or FILTERS}, kernel_size {cfg.kernel_size}. `<model>_accuracy` is the validation pixel accuracy"
        " after the final epoch. The seed reported 44.7% (base), 56.4% (U-Net) and 70.5% (residual). Reference:"
        f" the best grey-level-to-colour lookup table, one pixel at a time, reaches {100 * lookup:.1f}%"
        f" (`lookup_accuracy`). U-Net layout: {cfg.unet_layout}; residual layout: {cfg.residual_layout}"
        f" (`{RESIDUAL_LAYOUTS[cfg.residual_layout]}`)."
        + (" The seed's residual net has no layer list: it says only that each layer's input is added, unchanged,"
           " to the output of its operations, that this adds parameters, and that an epoch took 7.5 times its"
           " U-Net's. `colour_residual_seed` reads that literally on the seed's U-Net (a shortcut around every"
           " stage, 1x1 convolutions where the shape changes), which costs far less than 7.5 times the time;"
           " `colour_residual`, the default, is nnlab's residual U-Net, whose full-resolution stages cost about"
           " what the seed's did." if "residual" in cfg.models else ""),
        title="Setting")
