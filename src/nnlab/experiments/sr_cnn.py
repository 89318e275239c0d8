"""The convolutional model of the ``super-resolution`` experiment, on the torch engine.

``sr_cnn`` (:func:`nnlab.models.sr_cnn`) on the Y channel, the colour coming from bicubic
upscaling as in SRCNN, or ESPCN (:func:`nnlab.models.espcn`) on RGB; both residual over bicubic,
trained with Adam and a cosine decay on whole CIFAR-10 images. Not an experiment itself (no
``exp_`` prefix).
"""

from __future__ import annotations


import numpy as np

from nnlab.data.superres import bicubic_downscale, bicubic_upscale
from nnlab.engine.schedules import CosineWarmup
from nnlab.metrics.image import rgb_to_y
from nnlab.models import create_model
from nnlab.training.callbacks import LearningRateScheduler

ARCHS = ("sr_cnn", "espcn")


def luma(images: np.ndarray) -> np.ndarray:
    """Y (BT.601, MATLAB) of RGB images in [0, 1] as float32. Shapes: (..., 3, H, W) -> (..., H, W)."""
    return rgb_to_y(np.ascontiguousarray(np.moveaxis(images, -3, -1))).astype(np.float32)


def train_cnn(ctx, images: np.ndarray, scale: int):
    """The CNN trained on whole CIFAR images (LR = 32/scale), residual over bicubic. Returns the torch net.

    ``sr_cnn`` works on the Y channel (the colour of its output comes from bicubic upscaling,
    as in SRCNN); ``espcn`` on R, G, B.
    """
    import torch

    from nnlab.torchlib import to_torch

    cfg, tr = ctx.cfg, ctx.cfg.cnn
    lrs = np.stack([bicubic_downscale(im, scale) for im in images])  # (N, 3, h, w)
    bicubic = np.stack([bicubic_upscale(lr, scale) for lr in lrs]) if cfg.residual else 0
    if tr.arch == "sr_cnn":
        x, y = luma(lrs)[:, None], (luma(images) - (luma(bicubic) if cfg.residual else 0))[:, None]
        spec = create_model("sr_cnn", scale=scale, width=tr.width, depth=tr.depth, input_size=lrs.shape[2])
    else:
        x, y = lrs, images - bicubic
        spec = create_model("espcn", scale=scale, features=list(tr.features), input_size=lrs.shape[2])
    x, y = x.astype(np.float32), y.astype(np.float32)  # (N, C, h, w), (N, C, H, W)
    n_val = max(1, len(x) // 20)
    torch.manual_seed(cfg.seed)  # PyTorch's default initialisation draws from it
    net = to_torch(spec.model, spec.input_shape, init="torch")
    trainer = ctx.trainer(net, loss="mse", optimizer={"name": "adam", "lr": tr.lr}, engine="torch", channels_last=True)
    sched = LearningRateScheduler(CosineWarmup(tr.lr, tr.epochs, 0, tr.min_lr))
    h, seconds = ctx.fit(f"cnn_x{scale}", trainer, x[n_val:], y[n_val:], epochs=tr.epochs, batch_size=tr.batch_size,
                         validation_data=(x[:n_val], y[:n_val]), callbacks=[sched],
                         caption=f"{tr.arch} x{scale}: MSE of the residual over bicubic (validation = {n_val}"
                                 " held-out CIFAR images)")
    ctx.record(**{f"cnn_x{scale}_train_s": round(seconds, 1), f"cnn_x{scale}_epoch_s": round(seconds / tr.epochs, 2),
                  f"cnn_x{scale}_params": spec.num_parameters()})
    net.eval()
    return net


def cnn_upscale(net, lr: np.ndarray, scale: int, residual: bool) -> np.ndarray:
    """Apply the CNN to one LR image (3, h, w) -> (3, h*s, w*s) in [0, 1].

    A one-channel network predicts Y; Cb and Cr come from bicubic upscaling (MATLAB's
    ``ycbcr`` convention, through scikit-image)."""
    import torch
    from skimage.color import rgb2ycbcr, ycbcr2rgb

    dev = next(net.parameters()).device
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    bicubic = bicubic_upscale(lr, scale)
    x = luma(lr)[None, None] if first.in_channels == 1 else lr[None]
    with torch.no_grad():
        out = net(torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(dev)).cpu().numpy()[0]
    if first.in_channels == 1:
        ycc = rgb2ycbcr(np.ascontiguousarray(bicubic.transpose(1, 2, 0)))  # (H, W, 3), Y in [16, 235]
        ycc[..., 0] = 255 * (out[0] + (luma(bicubic) if residual else 0))
        return np.clip(ycbcr2rgb(ycc), 0, 1).astype(np.float32).transpose(2, 0, 1)
    return np.clip(out + (bicubic if residual else 0), 0, 1)
