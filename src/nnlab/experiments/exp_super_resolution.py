"""``super-resolution``: the seed-002 Q5 per-pixel MLP, bicubic, and an ESPCN, on Set5/Set14.

The seed protocol (its Q5): 10 colour CIFAR-10 images (32x32), resolution halved, every
high-resolution (HR) pixel a sample whose 27 features are its low-resolution (LR) pixel and that
pixel's 8 neighbours, in R, G, B (:func:`nnlab.data.superres.sr_patches`); a shuffled 70/20/10 train/test/
validation split; the MLP 27-64-128-3 with MSE and Adam for 50 epochs, its loss on the three
parts per epoch (the test part only monitored), PSNR/SSIM of its images, and x4 by the x2 MLP
applied twice against an MLP trained directly at x4. The seed names no images beyond "10
CIFAR-10 images with varied colours", so ``seed_images`` takes the first test image of each
class in class order (the shared copy holds the 5,000 horses of the training set and the
whole test set).

The samples are defined in :mod:`nnlab.data.superres`: the four HR pixels of one LR
pixel share their features, so the seed's MLP can only paint an ``r x r`` block in one colour,
which cannot beat bicubic.

The improved MLP (the default ``mlp``) keeps the 27 inputs and the 64-128 hidden layers but
predicts the whole ``r x r`` block (27-64-128-3r^2) as a residual over bicubic upscaling.
The convolutional model (``cnn.arch``) is ``sr_cnn`` (:func:`nnlab.models.sr_cnn`: six 3x3
ReLU convolutions of 32 channels at low resolution and a sub-pixel shuffle) on the Y channel,
the colour coming from bicubic upscaling as in SRCNN, or ESPCN (:func:`nnlab.models.espcn`) on
RGB; both residual over bicubic, trained on the torch engine with Adam and a cosine decay on all
CIFAR-10 images in the data (train + test: not Set5/Set14). Evaluation: the standard protocol (HR mod-cropped to the
scale, PSNR/SSIM on Y, ``scale`` border pixels shaved). x4 compares a direct x4 model with
the x2 model applied twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from nnlab.data import synthetic
from nnlab.data.superres import (
    assemble,
    bicubic_downscale,
    bicubic_upscale,
    blocks,
    mod_crop,
    neighbourhoods,
    sr_patches,
)
from nnlab.engine import Linear, Sequential
from nnlab.errors import ConfigError
from nnlab.experiments.registry import experiment
from nnlab.experiments.sr_cnn import ARCHS, cnn_upscale, train_cnn
from nnlab.experiments.sr_figures import (
    architecture_figure,
    comparison_figure,
    loss_curves_figure,
    seed_images_figure,
)
from nnlab.metrics.image import psnr, ssim
from nnlab.models import sr_mlp
from nnlab.training.callbacks import Callback

log = logging.getLogger(__name__)


@dataclass
class MLPTraining:
    epochs: int = 50           # the seed's 50 epochs
    lr: float = 2e-3           # Adam
    batch_size: int = 256      # the block MLPs see 256 (x2) or 64 (x4) samples per image
    images: int = 500          # CIFAR images for the improved MLP (the seed MLP uses seed_images)


@dataclass
class CNNTraining:
    arch: str = "sr_cnn"       # sr_cnn (deep ReLU, Y channel) or espcn (Shi et al., RGB)
    width: int = 32            # sr_cnn: channels of the hidden convolutions
    depth: int = 6             # sr_cnn: hidden convolutions
    features: list[int] = field(default_factory=lambda: [64, 32])  # espcn: hidden convolutions
    epochs: int = 6            # passes over the training patches (12 gave 0.1-0.2 dB more, in twice the time)
    lr: float = 1e-3           # Adam, cosine decay to min_lr
    min_lr: float = 1e-5       # end of the cosine decay
    batch_size: int = 32       # patches per Adam step
    images: int = 0            # CIFAR images to train on (0: all in the data)


@dataclass
class SuperResolutionConfig:
    seed: int = 0              # weights, data order and the split draw from it
    seed_images: int = 10      # the seed's 10 colour images (the first CIFAR-10 test image of each class)
    scales: list[int] = field(default_factory=lambda: [2, 4])  # upscaling factors trained and measured
    residual: bool = True      # models predict HR - bicubic(LR)
    mlp: MLPTraining = field(default_factory=MLPTraining)
    cnn: CNNTraining = field(default_factory=CNNTraining)
    benchmarks: list[str] = field(default_factory=lambda: ["set5", "set14"])  # test sets (sr-benchmarks)
    crop: int = 96             # side of the HR crops shown in the figures


SMOKE = {"seed_images": 4, "mlp": {"epochs": 2, "images": 8},
         "cnn": {"epochs": 1, "images": 8, "features": [8, 4], "width": 4, "depth": 2}, "crop": 16}

ABOUT = """Super-resolution (the seed's question 5): every pixel of a 32x32 CIFAR-10 image is predicted
from the 3x3 neighbourhood of its pixel in the halved image, by the seed's MLP 27-64-128-3 trained with
MSE and Adam on 10 images, with its training, validation and test losses per epoch and PSNR/SSIM
against bicubic upscaling. The same 27 inputs then predict whole 2x2 or 4x4 blocks (block MLP), and a
small CNN is trained on all CIFAR-10 images; all are measured on the standard Set5 and Set14 images at
x2 and x4, where x4 is done directly or by applying an x2 model twice."""

METRICS = {
    "seed_samples": ("seed protocol at x2: per-pixel samples of the seed images (one per HR pixel)", "count"),
    "seed_train_samples": ("seed protocol: training samples (70%)", "count"),
    "seed_test_samples": ("seed protocol: test samples (20%)", "count"),
    "seed_val_samples": ("seed protocol: validation samples (10%)", "count"),
    "seed_test_mse": ("seed MLP at x2: MSE on the test part after the last epoch", "MSE"),
    "seed_train_mse": ("seed MLP at x2: mean training MSE over the last epoch's batches", "MSE"),
    "seed_val_mse": ("seed MLP at x2: MSE on the validation part after the last epoch", "MSE"),
    "seed_x{scale}_test_mse": ("seed MLP trained directly at x{scale}: MSE on its test part", "MSE"),
    "cnn_x{scale}_train_s": ("CNN at x{scale}: training seconds", "s"),
    "cnn_x{scale}_epoch_s": ("CNN at x{scale}: seconds per epoch", "s"),
    "cnn_x{scale}_params": ("CNN at x{scale}: parameters", "count"),
    "{set}_x{scale}_psnr_{method}": ("mean PSNR on Y ({scale}-pixel border shaved) of {method} at x{scale} on "
                                     "{set}", "dB"),
    "{set}_x{scale}_ssim_{method}": ("mean SSIM on Y ({scale}-pixel border shaved) of {method} at x{scale} on "
                                     "{set}", ""),
}

# x4 families: (label, direct x4 method, x2 method applied twice)
X4_PAIRS = (("seed MLP (per pixel)", "mlp_seed", "mlp_seed_2x_twice"), ("block MLP", "mlp", "mlp_2x_twice"),
            ("CNN", "cnn", "cnn_2x_twice"))


# -- the MLPs ----------------------------------------------------------------------------
class EpochLoss(Callback):
    """The loss of a held-out part after every epoch (monitoring only: nothing is chosen on it).

    ``evaluate`` is the engine's ``evaluate(x, y)`` (``Sequential.evaluate`` or ``Trainer.evaluate``).
    """

    def __init__(self, evaluate, x: np.ndarray, y: np.ndarray) -> None:
        self.evaluate, self.x, self.y = evaluate, x, y
        self.values: list[float] = []

    state_attributes = ("values",)

    def on_epoch_end(self, trainer, epoch, logs):
        self.values.append(float(self.evaluate(self.x, self.y)["loss"]))


def train_mlp(ctx, x, y, outputs: int, name: str, val=None, test=None):
    """An sr_mlp 27-64-128-``outputs`` trained with MSE and Adam on the context's engine.

    With ``test=(x, y)`` its loss after every epoch becomes the history's ``test_loss`` column.
    """
    cfg, tr = ctx.cfg, ctx.cfg.mlp
    model = sr_mlp() if outputs == 3 else Sequential(
        [Linear(27, 64, activation="relu"), Linear(64, 128, activation="relu"), Linear(128, outputs)], name="sr_mlp")
    model.rng = np.random.default_rng(cfg.seed)  # weights and the shuffling draw from it
    model.build((x.shape[1],), dtype="float32")
    learner = ctx.trainer(model, loss="mse", optimizer={"name": "adam", "lr": tr.lr}, device="cpu")
    monitor = EpochLoss(learner.evaluate, *test) if test is not None else None
    h, _ = ctx.fit(name, learner, x, y, epochs=tr.epochs, batch_size=tr.batch_size, validation_data=val,
                   callbacks=[monitor] if monitor is not None else [], history=False)
    if monitor is not None:
        h.add_column("test_loss", monitor.values)
    return model, h


def mlp_upscale(model, lr: np.ndarray, scale: int, residual: bool, per_pixel: bool = False) -> np.ndarray:
    """Apply a trained MLP to a whole LR image. (3, h, w) -> (3, h*s, w*s) in [0, 1]."""
    c, h, w = lr.shape
    out = model.predict(neighbourhoods(lr).astype(np.float32), batch_size=4096)
    if per_pixel:  # the seed's model: one colour per LR pixel, repeated over its block
        out = np.tile(out, (1, scale * scale))
    sr = assemble(out, (c, h * scale, w * scale), scale)
    if residual:
        sr = sr + bicubic_upscale(lr, scale)
    return np.clip(sr, 0, 1)


def seed_protocol(ctx, images: np.ndarray, scale: int = 2):
    """The seed's experiment at ``scale``: per-pixel samples of its images, shuffled, split 70/20/10.

    The MLP 27-64-128-3 trains for ``mlp.epochs`` on the 70%, validates on the 10% and its MSE on
    the 20% test part is evaluated after every epoch (the history's ``test_loss``). Returns
    (model, history, the part sizes {"samples", "train", "test", "val"}, final test MSE).
    """
    pairs = [sr_patches(im, scale) for im in images]
    x = np.concatenate([p[0] for p in pairs]).astype(np.float32)  # (N, 27)
    y = np.concatenate([p[1] for p in pairs]).astype(np.float32)  # (N, 3)
    order = np.random.default_rng(ctx.cfg.seed).permutation(len(x))
    n_tr, n_te = int(0.7 * len(x)), int(0.2 * len(x))
    tr, te, va = order[:n_tr], order[n_tr:n_tr + n_te], order[n_tr + n_te:]
    log.info("seed protocol x%d: %d samples, train %d test %d validation %d", scale, len(x), len(tr), len(te), len(va))
    model, h = train_mlp(ctx, x[tr], y[tr], 3, seed_name(scale), val=(x[va], y[va]), test=(x[te], y[te]))
    test_mse = float(np.mean((model.predict(x[te]) - y[te]) ** 2))
    return model, h, {"samples": len(x), "train": len(tr), "test": len(te), "val": len(va)}, test_mse


def seed_name(scale: int) -> str:
    return "seed_mlp" if scale == 2 else f"seed_mlp_x{scale}"


def seed_part(ctx, images: np.ndarray, names: list[str]) -> dict:
    """The seed's question 5 on its own images: the images and their halves, the seed MLP at x2 (and
    at x4 directly when ``scales`` has 4), its loss curves and its architecture. -> {scale: model}."""
    halves = [bicubic_downscale(im, 2) for im in images]
    ctx.figure("seed-images", seed_images_figure(list(images), halves, names),
               f"the seed's figures 14 and 15: its {len(images)} images (top, {images.shape[2]}x{images.shape[3]}) "
               "and their halved versions (bottom, bicubic), the inputs of the seed protocol")
    models = {}
    for scale in [2] + [s for s in ctx.cfg.scales if s == 4]:
        model, h, n, test_mse = seed_protocol(ctx, images, scale)
        ctx.history(h, seed_name(scale), plot=False)
        ctx.figure(f"{seed_name(scale)}-curves", loss_curves_figure(h, f"seed MLP 27-64-128-3 at x{scale}: MSE per epoch"),
                   f"seed protocol at x{scale}: training MSE (mean over each epoch's batches), validation MSE (the 10% "
                   "part) and test MSE (the 20% part, evaluated after every epoch and never used for training or "
                   "choices) per epoch, log scale")
        ctx.save_model(model, seed_name(scale))
        models[scale] = model
        if scale == 2:
            ctx.record(seed_test_mse=test_mse, seed_train_mse=h["loss"][-1], seed_val_mse=h["val_loss"][-1],
                       seed_samples=n["samples"], seed_train_samples=n["train"], seed_test_samples=n["test"],
                       seed_val_samples=n["val"])
        else:
            ctx.record(**{f"seed_x{scale}_test_mse": test_mse})
    ctx.figure("seed-architecture", architecture(models[2]),
               "the seed MLP: 27 inputs (the 3x3 low-resolution neighbourhood in R, G, B), hidden layers of 64 and "
               "128 ReLU units, 3 linear outputs (the high-resolution pixel's R, G, B); 8 units drawn per wide layer")
    shown = {"original": images[0], "bicubic": bicubic_upscale(halves[0], 2),
             "seed MLP": mlp_upscale(models[2], halves[0], 2, residual=False, per_pixel=True)}
    ctx.figure("seed-reconstructions", comparison_figure(shown, 32, f"seed protocol: {names[0]}"),
               "a seed image, bicubic x2 and the seed's per-pixel MLP (one colour per 2x2 block)")
    return models


def architecture(model):
    """The network diagram of a trained sr_mlp (sizes and activations read from its layers)."""
    sizes = [model.layers[0].in_features, *(layer.out_features for layer in model.layers)]
    acts = [{"relu": "ReLU", "identity": "linear (no activation)"}.get(a, a)
            for a in (layer.describe().get("activation", "identity") for layer in model.layers)]
    labels = [f"input: {sizes[0]}\n3x3 LR neighbourhood\nx R, G, B",
              *(f"hidden: {n}\n{a}" for n, a in zip(sizes[1:-1], acts)), f"output: {sizes[-1]}\nR, G, B of the HR pixel\n{acts[-1]}"]
    links = [f"W {a}x{b} + bias\n{a * b + b:,} parameters" for a, b in zip(sizes[:-1], sizes[1:])]
    return architecture_figure(sizes, labels, f"seed MLP {'-'.join(map(str, sizes))} "
                               f"({model.num_parameters():,} parameters)", links)


# -- data ------------------------------------------------------------------------------
def load_data(ctx):
    """(training images (N, 3, 32, 32) float32, {benchmark: [(name, (3, H, W) float32)]},
    the seed images (n, 3, 32, 32) float32 and their names), all in [0, 1]."""
    cfg = ctx.cfg
    if ctx.smoke:
        train = synthetic.waves(16, 32, cfg.seed)
        bench = synthetic.waves(4, 48, cfg.seed + 1)
        return train, {b: [(f"synthetic{i}", im) for i, im in enumerate(bench[i::2])]
                       for i, b in enumerate(cfg.benchmarks[:2])}, \
            train[:cfg.seed_images], [f"synthetic #{i}" for i in range(min(cfg.seed_images, len(train)))]
    sets = [ctx.data("cifar10", s) for s in ("train", "test")]
    train = np.concatenate([s.images for s in sets]).astype(np.float32) / 255  # (N, 3, 32, 32)
    picks = seed_picks(sets[1].labels, cfg.seed_images)
    seed = sets[1].images[picks].astype(np.float32) / 255
    names = [f"{sets[1].class_names[sets[1].labels[i]]} (test #{i})" for i in picks]
    bench = {b: [(n, im.astype(np.float32) / 255) for n, im in ctx.data("sr-benchmarks", b)]
             for b in cfg.benchmarks}
    return train, bench, seed, names


def seed_picks(labels: np.ndarray, n: int) -> list[int]:
    """Indices of ``n`` images with varied colours: the first of each class in class order, then
    the second of each, and so on."""
    by_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    rounds = max(len(i) for i in by_class)
    return [int(idx[k]) for k in range(rounds) for idx in by_class if k < len(idx)][:n]


# -- evaluation and figures ---------------------------------------------------------------
def evaluate(bench, methods, scale: int):
    """PSNR/SSIM (Y, border = scale) of every method on every image. -> (rows, outputs of the first image).

    Images are (3, H, W); the metrics take them channel-last."""
    rows, shown = [], {}
    for set_name, images in bench.items():
        for name, hr in images:
            hr = mod_crop(hr, scale)
            lr = bicubic_downscale(hr, scale)
            for method, fn in methods.items():
                sr = fn(lr)
                ref, out = (np.ascontiguousarray(im.transpose(1, 2, 0)) for im in (hr, sr))
                rows.append({"set": set_name, "image": name, "scale": scale, "method": method,
                             "psnr": psnr(ref, out, y_channel=True, border=scale),
                             "ssim": ssim(ref, out, y_channel=True, border=scale)})
                if set_name == next(iter(bench)) and method not in shown:
                    shown[method] = sr
            shown.setdefault("original", hr)
    return rows, shown


def record_means(ctx, rows) -> None:
    keys: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        keys.setdefault(f"{r['set']}_x{r['scale']}_{{}}_{r['method']}", []).append((r["psnr"], r["ssim"]))
    ctx.record(**{k.format(m): float(np.mean([v[i] for v in vals]))
                  for k, vals in keys.items() for i, m in enumerate(("psnr", "ssim"))})


def per_image_table(rows: list[dict]) -> list[dict]:
    """Long rows (image, method, psnr, ssim) -> one row per image with a PSNR and an SSIM column
    per method, and a last row of means."""
    table: dict[str, dict] = {}
    for r in rows:
        row = table.setdefault(r["image"], {"image": r["image"]})
        row[f"{r['method']}_psnr"], row[f"{r['method']}_ssim"] = round(r["psnr"], 3), round(r["ssim"], 4)
    out = list(table.values())
    keys = [k for k in out[0] if k != "image"]
    return out + [{"image": "mean", **{k: round(float(np.mean([row[k] for row in out])), 4) for k in keys}}]


def x4_table(rows: list[dict]) -> list[dict]:
    """Mean PSNR/SSIM per set of each family's direct x4 and its x2 model applied twice (bicubic beside)."""
    out = []
    for set_name in dict.fromkeys(r["set"] for r in rows):
        mean = {(r["method"], k): [] for r in rows for k in ("psnr", "ssim")}
        for r in rows:
            if r["set"] == set_name:
                mean[(r["method"], "psnr")].append(r["psnr"])
                mean[(r["method"], "ssim")].append(r["ssim"])
        for label, direct, twice in (("bicubic", "bicubic", "bicubic"), *X4_PAIRS):
            if mean.get((direct, "psnr")) and mean.get((twice, "psnr")):
                out.append({"set": set_name, "model": label,
                            **{f"{k}_{way}": round(float(np.mean(mean[(m, k)])), 4 if k == "ssim" else 3)
                               for k in ("psnr", "ssim") for way, m in (("direct_x4", direct), ("x2_twice", twice))}})
    return out


def scale_methods(scale: int, models: dict, seed_models: dict, residual: bool) -> dict:
    """The methods compared at ``scale``: name -> function (3, h, w) LR -> (3, h*s, w*s)."""
    mlp, net = models[scale]
    r = residual
    methods = {"bicubic": lambda lr: bicubic_upscale(lr, scale),
               "mlp": lambda lr: mlp_upscale(mlp, lr, scale, r),
               "cnn": lambda lr: cnn_upscale(net, lr, scale, r)}
    if scale in seed_models:  # the seed MLP trained at this scale
        methods["mlp_seed"] = lambda lr: mlp_upscale(seed_models[scale], lr, scale, False, per_pixel=True)
    if scale == 4 and 2 in models:
        m2, n2, s2 = *models[2], seed_models[2]
        methods["mlp_seed_2x_twice"] = lambda lr: mlp_upscale(s2, mlp_upscale(s2, lr, 2, False, True), 2, False, True)
        methods["mlp_2x_twice"] = lambda lr: mlp_upscale(m2, mlp_upscale(m2, lr, 2, r), 2, r)
        methods["cnn_2x_twice"] = lambda lr: cnn_upscale(n2, cnn_upscale(n2, lr, 2, r), 2, r)
    return methods


def train_models(ctx, train: np.ndarray) -> dict:
    """The block MLP and the CNN at every scale. -> {scale: (mlp, torch net)}."""
    cfg = ctx.cfg
    mlp_train = train[:cfg.mlp.images]
    models: dict[int, tuple] = {}
    for scale in cfg.scales:
        lrs = [bicubic_downscale(im, scale) for im in mlp_train]
        resid = [im - bicubic_upscale(lr, scale) if cfg.residual else im for im, lr in zip(mlp_train, lrs)]
        x = np.concatenate([neighbourhoods(lr) for lr in lrs]).astype(np.float32)  # (N, 27)
        y = np.concatenate([blocks(r, scale) for r in resid]).astype(np.float32)  # (N, 3 s^2)
        mlp, h = train_mlp(ctx, x, y, y.shape[1], f"mlp_x{scale}")
        ctx.history(h, f"mlp_x{scale}", caption=f"block MLP 27-64-128-{y.shape[1]} at x{scale}: training MSE")
        ctx.save_model(mlp, f"mlp_x{scale}")
        models[scale] = (mlp, train_cnn(ctx, train[:cfg.cnn.images or None], scale))
    return models


@experiment("super-resolution", "seed-002 Q5 per-pixel MLP 27-64-128-3 and ESPCN, x2/x4 on Set5 and Set14",
            config=SuperResolutionConfig, presets={"seed": {"residual": False}}, smoke=SMOKE,
            objective=("set5_x2_psnr_cnn", "max"), engines=("numpy", "torch"), about=ABOUT, metrics=METRICS)
def run(ctx) -> None:
    cfg = ctx.cfg
    if cfg.cnn.arch not in ARCHS:
        raise ConfigError(f"cnn.arch must be one of {ARCHS}, got {cfg.cnn.arch!r}")
    train, bench, seed_images, seed_names = load_data(ctx)
    seed_models = seed_part(ctx, seed_images, seed_names)
    models = train_models(ctx, train)
    x4_rows = []
    for scale in models:
        methods = scale_methods(scale, models, seed_models, cfg.residual)
        rows, shown = evaluate(bench, methods, scale)
        own, _ = evaluate({"seed_images": list(zip(seed_names, seed_images))}, methods, scale)
        record_means(ctx, rows + own)
        ctx.table(f"psnr-x{scale}", [{**row, "psnr": round(row["psnr"], 3), "ssim": round(row["ssim"], 4)}
                                     for row in rows], f"x{scale}: PSNR (dB) and SSIM per image (Y, border {scale})")
        ctx.table(f"seed-images-x{scale}", per_image_table(own),
                  f"x{scale} on the seed's own {len(seed_images)} images: PSNR (dB) and SSIM on Y (border {scale}) per "
                  "image and method, bicubic beside. The seed MLP trained on 70% of these pixels (the seed's protocol) "
                  "and the CNN on all CIFAR-10 images, so these are not held-out scores; Set5/Set14 are")
        ctx.figure(f"reconstructions-x{scale}", comparison_figure(shown, cfg.crop, f"x{scale}, first benchmark image"),
                   f"centre crops at x{scale}: original, bicubic and the models")
        ctx.save_model(models[scale][1], f"cnn_x{scale}")
        if scale == 4:
            x4_rows = x4_table(rows + own)
    if x4_rows:
        ctx.table("x4-direct-vs-twice", x4_rows, "x4 directly (a model trained at x4) or by the x2 model applied "
                  "twice: mean PSNR (dB) and SSIM on Y (border 4) per image set; the seed MLP at x4 is the same "
                  "27-64-128-3 trained by the seed protocol on x4 samples of the seed images")
    ctx.note(f"Seed protocol: the first CIFAR-10 test image of each class ({cfg.seed_images} images), per-pixel samples "
             f"split 70/20/10. Training images: {min(len(train), cfg.mlp.images)} for the block MLPs, "
             f"{min(len(train), cfg.cnn.images or len(train))} CIFAR-10 images (train + test, never Set5/Set14) for the "
             f"CNN ({cfg.cnn.arch}). Residual learning over bicubic: {cfg.residual}. The seed lists ReLU for every "
             "layer; here the output layer is linear (a ReLU there could only clip colours below 0). Reference on "
             "Set5 x2: bicubic 33.66 dB, SRCNN 36.66 dB (MATLAB resize).", title="Setting")
