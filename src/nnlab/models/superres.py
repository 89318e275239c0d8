"""Super-resolution networks (seed 002 Q5).

``sr_mlp`` is the seed's model: each high-resolution pixel is predicted from the
low-resolution pixel at the same place and its 8 neighbours, all three colour channels, so
27 inputs and 3 outputs, through an MLP 27-64-128-3 (ReLU hidden, identity out; the
activations are fused into ``Linear``, whose ``"auto"`` initialisation is He for ReLU layers).

``espcn`` is the efficient sub-pixel CNN of Shi et al. (CVPR 2016) for comparison: it works
on the whole low-resolution image and enlarges it once, at the end, with a ``PixelShuffle``::

    Conv 5x5 (channels -> 64), tanh, Conv 3x3 (64 -> 32), tanh,
    Conv 3x3 (32 -> channels * scale**2), PixelShuffle(scale)

Every convolution keeps the size (padding 2, 1, 1) and uses PyTorch's default
initialisation. At the defaults (scale 2, RGB) it has 26,796 parameters.

``sr_cnn`` is the deeper, ReLU version of the same idea (FSRCNN/VDSR-style, at low
resolution), made for the luma (Y) channel and for predicting the residual over bicubic
upscaling::

    Conv 3x3 (channels -> width), ReLU, (depth - 1) x [Conv 3x3 (width -> width), ReLU],
    Conv 3x3 (width -> channels * scale**2), PixelShuffle(scale)

At the defaults (scale 2, one channel, width 32, depth 6) it has 47,716 parameters. On
CIFAR-10 images it beat ESPCN by about 1.4 dB on Set5 x2 after three epochs (36.6 against
35.3 dB, both on Y, residual over bicubic; ``/tmp`` trial, recorded in the issue-7 note).
"""

from __future__ import annotations

from collections.abc import Sequence

from nnlab.engine import ConfigError, Conv2d, Linear, PixelShuffle, ReLU, Sequential, Tanh
from nnlab.engine.module import Module


def sr_mlp(neighbourhood: int = 3, channels: int = 3, hidden: Sequence[int] = (64, 128)) -> Sequential:
    """The seed's per-pixel super-resolution MLP, 27-64-128-3 at the defaults (unbuilt).

    Parameters
    ----------
    neighbourhood : int
        Side of the low-resolution window around each pixel (3: the pixel and its 8
        neighbours).
    channels : int
        Colour channels, predicted together (3 for RGB).
    hidden : sequence of int
        Hidden layer sizes, each followed by a ReLU.

    Shapes: (N, neighbourhood**2 * channels) -> (N, channels).
    """
    sizes = (int(neighbourhood) ** 2 * int(channels), *(int(h) for h in hidden), int(channels))
    if int(neighbourhood) < 1 or min(sizes) < 1:
        raise ConfigError(f"neighbourhood, channels and hidden sizes must be >= 1, got {neighbourhood},"
                          f" {channels}, {tuple(hidden)}")
    last = len(sizes) - 2
    return Sequential([Linear(a, b, activation="relu" if i < last else None)
                       for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))], name="sr_mlp")


def espcn(scale: int = 2, channels: int = 3, features: Sequence[int] = (64, 32)) -> Sequential:
    """ESPCN (Shi et al. 2016): convolutions at low resolution, then a ``PixelShuffle`` (unbuilt).

    Parameters
    ----------
    scale : int
        Upscaling factor ``r`` (2, 3, 4...).
    channels : int
        Image channels in and out (3 for RGB, 1 for the Y channel as in the paper).
    features : sequence of int
        Channels of the hidden convolutions: the first is 5x5, the others 3x3, each followed
        by tanh.

    Shapes: (N, channels, H, W) -> (N, channels, H * scale, W * scale).
    """
    feats = tuple(int(f) for f in features)
    if int(scale) < 1 or not feats or min(feats) < 1 or int(channels) < 1:
        raise ConfigError(f"espcn needs scale, channels and features >= 1, got {scale}, {channels}, {feats}")
    layers: list[Module] = []
    c = int(channels)
    for i, f in enumerate(feats):
        k = 5 if i == 0 else 3
        layers += [Conv2d(c, f, k, padding=k // 2), Tanh()]
        c = f
    r = int(scale)
    layers += [Conv2d(c, int(channels) * r * r, 3, padding=1), PixelShuffle(r)]
    return Sequential(layers, name="espcn")


def sr_cnn(scale: int = 2, channels: int = 1, width: int = 32, depth: int = 6) -> Sequential:
    """A plain deep CNN at low resolution ending in a ``PixelShuffle`` (unbuilt).

    Parameters
    ----------
    scale : int
        Upscaling factor ``r``.
    channels : int
        Image channels in and out (1: the Y channel, the super-resolution convention).
    width : int
        Channels of the hidden 3x3 convolutions.
    depth : int
        Number of hidden convolutions, each followed by a ReLU.

    Shapes: (N, channels, H, W) -> (N, channels, H * scale, W * scale).
    """
    if min(int(scale), int(channels), int(width), int(depth)) < 1:
        raise ConfigError(f"sr_cnn needs scale, channels, width and depth >= 1, got {scale}, {channels},"
                          f" {width}, {depth}")
    layers: list[Module] = []
    c = int(channels)
    for _ in range(int(depth)):
        layers += [Conv2d(c, int(width), 3, padding=1), ReLU()]
        c = int(width)
    r = int(scale)
    layers += [Conv2d(c, int(channels) * r * r, 3, padding=1), PixelShuffle(r)]
    return Sequential(layers, name="sr_cnn")
