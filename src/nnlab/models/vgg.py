"""VGG networks for the facial-expression experiment (seed 003 Q5).

``light_vgg`` is the light VGG of Hewitt & Gunes (2018, arXiv:1807.08775) from the seed's
table: five stages of two 3x3 convolutions (16, 32, 64, 128, 128 filters, padding 1, each
followed by a ReLU) and a 2x2 max pooling, then Flatten, two dense layers of 1024 with ReLU
and a dense output of ``num_classes`` logits: 3,744,664 parameters at 128x128x3 and 8 classes.

``vgg16`` is VGG16 (configuration D of Simonyan & Zisserman 2015) in torchvision's layout, so
that torchvision's pretrained weights load by name through :func:`torchvision_vgg16_key`::

    Sequential([features, Flatten(), classifier])
    features:   Conv2d at 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28 (each then a ReLU),
                MaxPool2d(2) at 4, 9, 16, 23, 30
    classifier: Linear(512*s*s, 4096), ReLU, Dropout, Linear(4096, 4096), ReLU, Dropout,
                Linear(4096, num_classes)

with ``s = input_size // 32``. torchvision puts ``AdaptiveAvgPool2d(7)`` between the two,
which is the identity at 224x224 (s = 7); at other sizes we flatten directly, so the first
classifier layer has 512*s*s inputs instead of 25,088 and pretrained weights fit it only at
224. 138,357,544 parameters at 224 and 1000 classes: count them with
:func:`nnlab.models.count_parameters` rather than building the model.

Activations are separate ``ReLU`` layers (torchvision's indices need them, and class
activation maps hook the ReLU outputs). Convolutions and dense layers use PyTorch's default
initialisation, like their PyTorch twins.
"""

from __future__ import annotations

import re

from nnlab.engine import (
    BatchNorm2d,
    ConfigError,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
)
from nnlab.engine.module import Module

#: VGG16's feature extractor: output channels of each 3x3 convolution, "M" for a 2x2 max pool.
VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
#: Light VGG (Hewitt & Gunes 2018): five stages of two convolutions.
LIGHT_VGG_CFG = (16, 16, "M", 32, 32, "M", 64, 64, "M", 128, 128, "M", 128, 128, "M")

VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
VGG16_POOL_INDICES = (4, 9, 16, 23, 30)
VGG16_LINEAR_INDICES = (0, 3, 6)


def _check(input_size: int, in_channels: int, num_classes: int) -> int:
    """Validate; return the side of the last feature map, ``input_size // 32``."""
    if int(input_size) < 32:
        raise ConfigError(f"VGG networks halve the image five times: input_size must be >= 32, got {input_size}")
    if int(in_channels) < 1 or int(num_classes) < 1:
        raise ConfigError(f"in_channels and num_classes must be >= 1, got {in_channels} and {num_classes}")
    return int(input_size) // 32


def _features(cfg, in_channels: int, batch_norm: bool = False) -> list[Module]:
    layers: list[Module] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(MaxPool2d(2))
            continue
        layers.append(Conv2d(c, v, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(BatchNorm2d(v))
        layers.append(ReLU())
        c = v
    return layers


def _dense(n_in: int, n_out: int) -> Linear:
    return Linear(n_in, n_out, init="torch_default")


def light_vgg(num_classes: int = 8, input_size: int = 128, in_channels: int = 3, dropout: float = 0.5,
              batch_norm: bool = False, pools: int = 5) -> Sequential:
    """The light VGG of Hewitt & Gunes (arXiv:1807.08775), as one flat ``Sequential`` (unbuilt).

    Parameters
    ----------
    num_classes : int
        Output logits (8 for AffectNet, 7 for FER2013).
    input_size : int
        Side of the square input image, >= 32; the flattened features are
        128 * (input_size // 2**pools)**2 (2,048 at 128).
    in_channels : int
        3 for colour, 1 for greyscale.
    dropout : float
        Probability of the ``Dropout`` after each hidden dense layer; 0 leaves them out.
        Dropout has no parameters, so the count does not change.
    batch_norm : bool
        Put a ``BatchNorm2d`` between each convolution and its ReLU (the convolution then has
        no bias). Off by default, which keeps the paper's 3,744,664 parameters.
    pools : int
        How many of the five stages end in a 2x2 max pooling (the first ``pools``). The paper
        pools after all five; at 48x48 (FER2013) that leaves a 1x1 map, 128 features, so
        ``pools=4`` keeps a 3x3 map (1,152 features) at the same convolution cost.

    Shapes: (N, in_channels, input_size, input_size) -> (N, num_classes).
    """
    _check(input_size, in_channels, num_classes)
    if not 1 <= int(pools) <= 5:
        raise ConfigError(f"pools must be between 1 and 5, got {pools}")
    s = int(input_size) // 2 ** int(pools)
    stages = [LIGHT_VGG_CFG[3 * i:3 * i + 3] for i in range(5)]     # (c, c, "M") each
    cfg = [v for i, st in enumerate(stages) for v in (st if i < int(pools) else st[:2])]
    if not 0 <= dropout < 1:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    drop = [Dropout(dropout)] if dropout > 0 else []
    return Sequential([
        *_features(cfg, in_channels, batch_norm), Flatten(),             # (N, 128 * s * s)
        _dense(128 * s * s, 1024), ReLU(), *drop,
        _dense(1024, 1024), ReLU(), *drop,
        _dense(1024, num_classes),
    ], name="light_vgg")


def vgg16(num_classes: int = 1000, input_size: int = 224, in_channels: int = 3,
          dropout: float = 0.5) -> Sequential:
    """VGG16 in torchvision's layout: ``Sequential([features, Flatten(), classifier])`` (unbuilt).

    Parameters
    ----------
    num_classes : int
        Output logits (1000 for ImageNet weights).
    input_size : int
        Side of the square input image, >= 32. At 224 the shapes are torchvision's; elsewhere
        the first classifier layer takes 512 * (input_size // 32)**2 features.
    in_channels : int
        Input channels (3 for ImageNet weights).
    dropout : float
        Probability of the two ``Dropout`` layers of the classifier (kept even at 0, so that the
        indices stay torchvision's).

    Shapes: (N, in_channels, input_size, input_size) -> (N, num_classes).
    """
    s = _check(input_size, in_channels, num_classes)
    features = Sequential(_features(VGG16_CFG, in_channels), name="features")
    classifier = Sequential([
        _dense(512 * s * s, 4096), ReLU(), Dropout(dropout),
        _dense(4096, 4096), ReLU(), Dropout(dropout),
        _dense(4096, num_classes),
    ], name="classifier")
    return Sequential([features, Flatten(), classifier], name="vgg16")


_TV_KEY = re.compile(r"(features|classifier)\.(\d+)\.(weight|bias)")


def torchvision_vgg16_key(key: str) -> str | None:
    """The :func:`vgg16` parameter name for a torchvision ``vgg16`` state_dict key.

    ``"features.N.weight"`` -> ``"0.N.weight"``, ``"classifier.N.bias"`` -> ``"2.N.bias"``;
    ``None`` for keys with no counterpart (anything else, or an index that is not a
    convolution or linear layer).
    """
    m = _TV_KEY.fullmatch(key)
    if m is None:
        return None
    part, index, kind = m.group(1), int(m.group(2)), m.group(3)
    if part == "features":
        return f"0.{index}.{kind}" if index in VGG16_CONV_INDICES else None
    return f"2.{index}.{kind}" if index in VGG16_LINEAR_INDICES else None
