"""``super-resolution``: the seed-002 Q5 per-pixel MLP, bicubic, and an ESPCN, on Set5/Set14.

The seed protocol (its Q5): 10 colour CIFAR-10 images (32x32), resolution halved, every
high-resolution (HR) pixel a sample whose 27 features are its low-resolution (LR) pixel and that
pixel's 8 neighbours, in R, G, B (:func:`pixel_samples`); a shuffled 70/20/10 train/test/
validation split; the MLP 27-64-128-3 with MSE and Adam for 50 epochs. The seed names no images,
so ``seed_images`` takes the first N of the CIFAR-10 training batches (the shared copy holds the
5,000 horses of the training set and the whole test set).

Definition of the samples. With scale ``r``, HR image ``hr`` (H, W, 3) and LR image ``lr``
(H/r, W/r, 3) (bicubic, antialiased, rounded to 8 bits as in the standard protocol), HR pixel
``(i, j)`` belongs to LR pixel ``(i // r, j // r)``; its features are
``lr[i//r + dy, j//r + dx, c]`` for ``dy, dx`` in (-1, 0, 1) and ``c`` in (R, G, B), in that
order (feature ``(3 * (dy + 1) + (dx + 1)) * 3 + c``), with the LR border replicated.
The four HR pixels of one LR pixel therefore share their features: the seed's MLP can only
paint an ``r x r`` block in one colour, which cannot beat bicubic.

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
import time
from dataclasses import dataclass, field

import numpy as np

from nnlab.experiments.registry import experiment

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
    epochs: int = 12
    lr: float = 1e-3           # Adam, cosine decay to min_lr
    min_lr: float = 1e-5
    batch_size: int = 32
    images: int = 0            # CIFAR images to train on (0: all in the data)


@dataclass
class SuperResolutionConfig:
    seed: int = 0
    seed_images: int = 10      # the seed's 10 colour images
    scales: list[int] = field(default_factory=lambda: [2, 4])
    residual: bool = True      # models predict HR - bicubic(LR)
    mlp: MLPTraining = field(default_factory=MLPTraining)
    cnn: CNNTraining = field(default_factory=CNNTraining)
    benchmarks: list[str] = field(default_factory=lambda: ["set5", "set14"])
    crop: int = 96             # side of the HR crops shown in the figures


SMOKE = {"seed_images": 4, "mlp": {"epochs": 2, "images": 8},
         "cnn": {"epochs": 1, "images": 8, "features": [8, 4], "width": 4, "depth": 2}, "crop": 16}


# -- images and samples ------------------------------------------------------------------
def mod_crop(hr: np.ndarray, scale: int) -> np.ndarray:
    """Crop (H, W, 3) to multiples of ``scale``."""
    h, w = hr.shape[0] - hr.shape[0] % scale, hr.shape[1] - hr.shape[1] % scale
    return hr[:h, :w]


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic (PIL, antialiased when shrinking) per channel in float. (H, W, 3) -> (h, w, 3), (h, w) = size."""
    from PIL import Image

    chans = [np.asarray(Image.fromarray(img[..., c].astype(np.float32), mode="F")
                        .resize((size[1], size[0]), Image.Resampling.BICUBIC)) for c in range(img.shape[2])]
    return np.stack(chans, -1).astype(np.float32)


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """The LR image: bicubic downscale of (H, W, 3) [0, 1], rounded to 8 bits. -> (H/s, W/s, 3)."""
    lr = resize(hr, (hr.shape[0] // scale, hr.shape[1] // scale))
    return (np.clip(np.round(lr * 255), 0, 255) / 255).astype(np.float32)


def upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic upscaling, clipped to [0, 1]. (h, w, 3) -> (h*s, w*s, 3)."""
    return np.clip(resize(lr, (lr.shape[0] * scale, lr.shape[1] * scale)), 0, 1)


def neighbourhood_features(lr: np.ndarray, k: int = 3) -> np.ndarray:
    """Each LR pixel's k x k neighbourhood (border replicated), features ordered (dy, dx, c).

    Shapes: (h, w, C) -> (h * w, k * k * C).
    """
    h, w = lr.shape[:2]
    p = np.pad(lr, ((k // 2, k // 2), (k // 2, k // 2), (0, 0)), mode="edge")
    cols = [p[dy:dy + h, dx:dx + w] for dy in range(k) for dx in range(k)]  # k*k of (h, w, C)
    return np.stack(cols, axis=2).reshape(h * w, -1)


def pixel_samples(hr: np.ndarray, lr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The seed's samples: one per HR pixel, features of its LR pixel (i//s, j//s). Row-major over HR.

    Shapes: hr (H, W, 3), lr (H/s, W/s, 3) -> x (H*W, 27), y (H*W, 3).
    """
    h, w = lr.shape[:2]
    feats = neighbourhood_features(lr).reshape(h, w, -1)
    x = np.repeat(np.repeat(feats, scale, 0), scale, 1)  # (H, W, 27)
    return x.reshape(-1, x.shape[-1]), hr.reshape(-1, hr.shape[-1])


def blocks(img: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, C) -> (H/s * W/s, s * s * C): each LR pixel's s x s HR block, ordered (sy, sx, c)."""
    h, w, c = img.shape[0] // scale, img.shape[1] // scale, img.shape[2]
    return img.reshape(h, scale, w, scale, c).transpose(0, 2, 1, 3, 4).reshape(h * w, -1)


def unblocks(b: np.ndarray, h: int, w: int, scale: int) -> np.ndarray:
    """Inverse of :func:`blocks`: (h*w, s*s*C) -> (h*s, w*s, C)."""
    c = b.shape[1] // (scale * scale)
    return b.reshape(h, w, scale, scale, c).transpose(0, 2, 1, 3, 4).reshape(h * scale, w * scale, c)


# -- the MLPs ----------------------------------------------------------------------------
def train_mlp(ctx, x, y, outputs: int, name: str, val=None):
    """An sr_mlp 27-64-128-``outputs`` trained with MSE and Adam on the context's engine."""
    from nnlab.engine import Linear, Sequential
    from nnlab.models import sr_mlp

    cfg, tr = ctx.cfg, ctx.cfg.mlp
    model = sr_mlp() if outputs == 3 else Sequential(
        [Linear(27, 64, activation="relu"), Linear(64, 128, activation="relu"), Linear(128, outputs)], name="sr_mlp")
    model.rng = np.random.default_rng(cfg.seed)  # weights and the shuffling draw from it
    model.build((x.shape[1],), dtype="float32")
    model.compile(loss="mse", optimizer={"name": "adam", "lr": tr.lr})
    callbacks = ctx.callbacks(tr.epochs, name)
    if ctx.engine == "torch":
        from nnlab.torchlib import Trainer, to_torch
        from nnlab.torchlib.convert import copy_weights_from_torch

        net = to_torch(model)
        h = Trainer(net, loss="mse", optimizer={"name": "adam", "lr": tr.lr}, seed=cfg.seed, device="cpu").fit(
            x, y, epochs=tr.epochs, batch_size=tr.batch_size, validation_data=val, callbacks=callbacks)
        copy_weights_from_torch(net, model)
    else:
        h = model.fit(x, y, epochs=tr.epochs, batch_size=tr.batch_size, validation_data=val, callbacks=callbacks)
    return model, h


def mlp_upscale(model, lr: np.ndarray, scale: int, residual: bool, per_pixel: bool = False) -> np.ndarray:
    """Apply a trained MLP to a whole LR image. (h, w, 3) -> (h*s, w*s, 3) in [0, 1]."""
    h, w = lr.shape[:2]
    out = model.predict(neighbourhood_features(lr).astype(np.float32), batch_size=4096)
    if per_pixel:  # the seed's model: one colour per LR pixel, repeated over its block
        out = np.tile(out, (1, scale * scale))
    sr = unblocks(out, h, w, scale)
    if residual:
        sr = sr + upscale(lr, scale)
    return np.clip(sr, 0, 1)


def seed_protocol(ctx, images: np.ndarray):
    """The seed's experiment: per-pixel samples of its images at x2, split 70/20/10, 50 epochs."""
    lrs = [downscale(im, 2) for im in images]
    pairs = [pixel_samples(im, lr, 2) for im, lr in zip(images, lrs)]
    x = np.concatenate([p[0] for p in pairs]).astype(np.float32)  # (N, 27)
    y = np.concatenate([p[1] for p in pairs]).astype(np.float32)  # (N, 3)
    order = np.random.default_rng(ctx.cfg.seed).permutation(len(x))
    n_tr, n_te = int(0.7 * len(x)), int(0.2 * len(x))
    tr, te, va = order[:n_tr], order[n_tr:n_tr + n_te], order[n_tr + n_te:]
    log.info("seed protocol: %d samples, train %d test %d validation %d", len(x), len(tr), len(te), len(va))
    model, h = train_mlp(ctx, x[tr], y[tr], 3, "seed_mlp", val=(x[va], y[va]))
    ctx.history(h, "seed_mlp", caption="seed protocol: MLP 27-64-128-3, per-pixel samples, MSE (validation = 10%)")
    ctx.record(seed_test_mse=float(np.mean((model.predict(x[te]) - y[te]) ** 2)), seed_samples=len(x))
    return model, lrs


# -- the CNN on the torch engine ----------------------------------------------------------
ARCHS = ("sr_cnn", "espcn")


def luma(images: np.ndarray) -> np.ndarray:
    """Y (BT.601, MATLAB) of RGB images in [0, 1] as float32. Shapes: (..., H, W, 3) -> (..., H, W)."""
    from nnlab.metrics.image import rgb_to_y

    return rgb_to_y(images).astype(np.float32)


def train_cnn(ctx, images: np.ndarray, scale: int):
    """The CNN trained on whole CIFAR images (LR = 32/scale), residual over bicubic. Returns the torch net.

    ``sr_cnn`` works on the Y channel (the colour of its output comes from bicubic upscaling,
    as in SRCNN); ``espcn`` on R, G, B.
    """
    import torch

    from nnlab.engine.schedules import CosineWarmup
    from nnlab.models import create_model
    from nnlab.torchlib import Trainer, to_torch
    from nnlab.training.callbacks import LearningRateScheduler

    cfg, tr = ctx.cfg, ctx.cfg.cnn
    lrs = np.stack([downscale(im, scale) for im in images])  # (N, h, w, 3)
    bicubic = np.stack([upscale(lr, scale) for lr in lrs]) if cfg.residual else 0
    if tr.arch == "sr_cnn":
        x, y = luma(lrs)[:, None], (luma(images) - (luma(bicubic) if cfg.residual else 0))[:, None]
        spec = create_model("sr_cnn", scale=scale, width=tr.width, depth=tr.depth, input_size=lrs.shape[1])
    else:
        x, y = lrs.transpose(0, 3, 1, 2), (images - bicubic).transpose(0, 3, 1, 2)
        spec = create_model("espcn", scale=scale, features=list(tr.features), input_size=lrs.shape[1])
    x, y = x.astype(np.float32), y.astype(np.float32)  # (N, C, h, w), (N, C, H, W)
    n_val = max(1, len(x) // 20)
    torch.manual_seed(cfg.seed)  # PyTorch's default initialisation draws from it
    net = to_torch(spec.model, spec.input_shape, init="torch")
    trainer = Trainer(net, loss="mse", optimizer={"name": "adam", "lr": tr.lr}, seed=cfg.seed, channels_last=True)
    sched = LearningRateScheduler(CosineWarmup(tr.lr, tr.epochs, 0, tr.min_lr))
    start = time.perf_counter()
    h = trainer.fit(x[n_val:], y[n_val:], epochs=tr.epochs, batch_size=tr.batch_size,
                    validation_data=(x[:n_val], y[:n_val]), callbacks=[sched, *ctx.callbacks(tr.epochs, f"cnn_x{scale}")])
    seconds = time.perf_counter() - start
    ctx.record(**{f"cnn_x{scale}_train_s": round(seconds, 1), f"cnn_x{scale}_epoch_s": round(seconds / tr.epochs, 2),
                  f"cnn_x{scale}_params": spec.num_parameters()})
    ctx.history(h, f"cnn_x{scale}", caption=f"{tr.arch} x{scale}: MSE of the residual over bicubic "
                f"(validation = {n_val} held-out CIFAR images)")
    net.eval()
    return net


def cnn_upscale(net, lr: np.ndarray, scale: int, residual: bool) -> np.ndarray:
    """Apply the CNN to one LR image (h, w, 3) -> (h*s, w*s, 3) in [0, 1].

    A one-channel network predicts Y; Cb and Cr come from bicubic upscaling (MATLAB's
    ``ycbcr`` convention, through scikit-image)."""
    import torch
    from skimage.color import rgb2ycbcr, ycbcr2rgb

    dev = next(net.parameters()).device
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    bicubic = upscale(lr, scale)
    x = luma(lr)[None, None] if first.in_channels == 1 else lr.transpose(2, 0, 1)[None]
    with torch.no_grad():
        out = net(torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(dev)).cpu().numpy()[0]
    if first.in_channels == 1:
        ycc = rgb2ycbcr(bicubic)                                   # Y in [16, 235]
        ycc[..., 0] = 255 * (out[0] + (luma(bicubic) if residual else 0))
        return np.clip(ycbcr2rgb(ycc), 0, 1).astype(np.float32)
    return np.clip(out.transpose(1, 2, 0) + (bicubic if residual else 0), 0, 1)


# -- data ------------------------------------------------------------------------------
def synthetic_images(n: int, size: int, seed: int) -> np.ndarray:
    """Smooth random colour images in [0, 1] for smoke runs. -> (n, size, size, 3) float32."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        f = rng.uniform(1, 4, (3, 2))
        ph = rng.uniform(0, 6.3, 3)
        out.append(np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (f[c, 0] * yy + f[c, 1] * xx) + ph[c])
                             for c in range(3)], -1))
    return np.asarray(out, np.float32)


def load_data(ctx):
    """(training images (N, 32, 32, 3) float32, {benchmark: [(name, (H, W, 3) float32)]})."""
    if ctx.smoke:
        train = synthetic_images(16, 32, ctx.cfg.seed)
        bench = synthetic_images(4, 48, ctx.cfg.seed + 1)
        return train, {b: [(f"synthetic{i}", im) for i, im in enumerate(bench[i::2])]
                       for i, b in enumerate(ctx.cfg.benchmarks[:2])}
    sets = [ctx.data("cifar10", s).images for s in ("train", "test")]
    train = np.concatenate(sets).transpose(0, 2, 3, 1).astype(np.float32) / 255  # (N, 32, 32, 3)
    bench = {b: [(n, im.transpose(1, 2, 0).astype(np.float32) / 255) for n, im in ctx.data("sr-benchmarks", b)]
             for b in ctx.cfg.benchmarks}
    return train, bench


# -- evaluation and figures ---------------------------------------------------------------
def evaluate(bench, methods, scale: int):
    """PSNR/SSIM (Y, border = scale) of every method on every image. -> (rows, outputs of the first image)."""
    from nnlab.metrics.image import psnr, ssim

    rows, shown = [], {}
    for set_name, images in bench.items():
        for name, hr in images:
            hr = mod_crop(hr, scale)
            lr = downscale(hr, scale)
            for method, fn in methods.items():
                sr = fn(lr)
                rows.append({"set": set_name, "image": name, "scale": scale, "method": method,
                             "psnr": psnr(hr, sr, y_channel=True, border=scale),
                             "ssim": ssim(hr, sr, y_channel=True, border=scale)})
                if set_name == next(iter(bench)) and method not in shown:
                    shown[method] = sr
            shown.setdefault("original", hr)
    return rows, shown


def comparison_figure(shown: dict[str, np.ndarray], crop: int, title: str):
    """Crops (centre, ``crop`` pixels) of the original and each method's reconstruction, side by side."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.2 * len(shown), 2.6), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, (name, img) in zip(axes, shown.items()):
        h, w = img.shape[:2]
        c = min(crop, h, w)
        y0, x0 = (h - c) // 2, (w - c) // 2
        ax.imshow(np.clip(img[y0:y0 + c, x0:x0 + c], 0, 1), interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    return fig


def record_means(ctx, rows) -> None:
    keys: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        keys.setdefault(f"{r['set']}_x{r['scale']}_{{}}_{r['method']}", []).append((r["psnr"], r["ssim"]))
    ctx.record(**{k.format(m): float(np.mean([v[i] for v in vals]))
                  for k, vals in keys.items() for i, m in enumerate(("psnr", "ssim"))})


@experiment("super-resolution", "seed-002 Q5 per-pixel MLP 27-64-128-3 and ESPCN, x2/x4 on Set5 and Set14",
            config=SuperResolutionConfig, presets={"seed": {"residual": False}}, smoke=SMOKE,
            objective=("set5_x2_psnr_cnn", "max"), engines=("numpy", "torch"))
def run(ctx) -> None:
    from nnlab.engine.errors import ConfigError

    cfg = ctx.cfg
    if cfg.cnn.arch not in ARCHS:
        raise ConfigError(f"cnn.arch must be one of {ARCHS}, got {cfg.cnn.arch!r}")
    train, bench = load_data(ctx)
    seed_model, seed_lrs = seed_protocol(ctx, train[:cfg.seed_images])
    shown_seed = {"original": train[0], "bicubic": upscale(seed_lrs[0], 2),
                  "seed MLP": mlp_upscale(seed_model, seed_lrs[0], 2, residual=False, per_pixel=True)}
    ctx.figure("seed-reconstructions", comparison_figure(shown_seed, 32, "seed protocol: a training image"),
               "a training image, bicubic x2 and the seed's per-pixel MLP (one colour per 2x2 block)")
    ctx.save_model(seed_model, "seed_mlp")

    mlp_train = train[:cfg.mlp.images]
    models: dict[int, tuple] = {}
    for scale in cfg.scales:
        lrs = [downscale(im, scale) for im in mlp_train]
        resid = [im - upscale(lr, scale) if cfg.residual else im for im, lr in zip(mlp_train, lrs)]
        x = np.concatenate([neighbourhood_features(lr) for lr in lrs]).astype(np.float32)  # (N, 27)
        y = np.concatenate([blocks(r, scale) for r in resid]).astype(np.float32)  # (N, 3 s^2)
        mlp, h = train_mlp(ctx, x, y, y.shape[1], f"mlp_x{scale}")
        ctx.history(h, f"mlp_x{scale}", caption=f"block MLP 27-64-128-{y.shape[1]} at x{scale}: training MSE")
        ctx.save_model(mlp, f"mlp_x{scale}")
        models[scale] = (mlp, train_cnn(ctx, train[:cfg.cnn.images or None], scale))

    r = cfg.residual
    for scale, (mlp, net) in models.items():
        methods = {"bicubic": lambda lr, s=scale: upscale(lr, s),
                   "mlp": lambda lr, m=mlp, s=scale: mlp_upscale(m, lr, s, r),
                   "cnn": lambda lr, n=net, s=scale: cnn_upscale(n, lr, s, r)}
        if scale == 2:
            methods["mlp_seed"] = lambda lr: mlp_upscale(seed_model, lr, 2, False, per_pixel=True)
        if scale == 4 and 2 in models:
            m2, n2 = models[2]
            methods["mlp_2x_twice"] = lambda lr: mlp_upscale(m2, mlp_upscale(m2, lr, 2, r), 2, r)
            methods["cnn_2x_twice"] = lambda lr: cnn_upscale(n2, cnn_upscale(n2, lr, 2, r), 2, r)
        rows, shown = evaluate(bench, methods, scale)
        record_means(ctx, rows)
        ctx.table(f"psnr-x{scale}", [{**row, "psnr": round(row["psnr"], 3), "ssim": round(row["ssim"], 4)}
                                     for row in rows], f"x{scale}: PSNR (dB) and SSIM per image (Y, border {scale})")
        ctx.figure(f"reconstructions-x{scale}", comparison_figure(shown, cfg.crop, f"x{scale}, first benchmark image"),
                   f"centre crops at x{scale}: original, bicubic and the models")
        ctx.save_model(net, f"cnn_x{scale}")
    ctx.note(f"Training images: the first {cfg.seed_images} CIFAR-10 training images for the seed protocol, "
             f"{len(mlp_train)} for the block MLPs, {min(len(train), cfg.cnn.images or len(train))} CIFAR-10 images "
             f"(train + test, never Set5/Set14) for the CNN ({cfg.cnn.arch}). Residual learning over bicubic: "
             f"{cfg.residual}. Reference on Set5 x2: bicubic 33.66 dB, SRCNN 36.66 dB (MATLAB resize).",
             title="Setting")
