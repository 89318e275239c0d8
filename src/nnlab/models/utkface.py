"""A multi-task CNN for UTKFace: age, gender and ethnicity from one face image.

A shared trunk of four blocks, each two Conv3x3-BN-ReLU and a 2x2 max pooling, with
``width``, 2, 4 and 4 times ``width`` channels, reduces the image to a feature vector by
global average pooling; three small heads read that vector side by side (a ``Concat`` of
three branches, which concatenates the (N, k) outputs along axis 1)::

    image (C, S, S) -> 4 x [Conv-BN-ReLU, Conv-BN-ReLU, MaxPool2] -> (4w, S/16, S/16)
                    -> GlobalAvgPool2d -> (4w,)
                    -> Concat[age head, gender head, ethnicity head] -> (8,)
    head k: Linear(4w, head_width) -> ReLU -> Dropout -> Linear(head_width, k)

Output columns (:data:`UTKFACE_OUTPUTS`): 0 the age (one value, a regression; scale the
targets, e.g. years / 100), 1-2 the gender logits, 3-7 the ethnicity logits. At the defaults
(64x64 RGB, width 32) the network has 608,168 parameters and costs about 0.17 G multiply-adds
per image forward. With the PyTorch twin (``channels_last``) on this 2-core CPU, alone, a
training step on 64 faces took 0.29 s at 64x64 and 0.14 s at 48x48 (about 0.1 G), so an epoch
of UTKFace (about 19,000 training faces) takes about 1.5 or 0.7 minutes; ``width=16``
(159,288 parameters) is cheaper still. Other jobs on the same cores slow this several-fold.

The convolutions and dense layers use PyTorch's default initialisation; with batch
normalisation the convolutions have no bias.
"""

from __future__ import annotations

from nnlab.engine import (
    BatchNorm2d,
    Concat,
    ConfigError,
    Conv2d,
    Dropout,
    GlobalAvgPool2d,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
)
from nnlab.engine.module import Module

#: Columns of the network's (N, 8) output for each task.
UTKFACE_OUTPUTS = {"age": slice(0, 1), "gender": slice(1, 3), "ethnicity": slice(3, 8)}


def _block(cin: int, cout: int, batch_norm: bool) -> list[Module]:
    """Two 3x3 Conv(-BN)-ReLU at the same size, then MaxPool(2): (cin, S, S) -> (cout, S/2, S/2)."""
    layers: list[Module] = []
    for c in (cin, cout):
        layers.append(Conv2d(c, cout, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(BatchNorm2d(cout))
        layers.append(ReLU())
    return [*layers, MaxPool2d(2)]


def _head(n_in: int, hidden: int, n_out: int, dropout: float) -> Sequential:
    drop = [Dropout(dropout)] if dropout > 0 else []
    return Sequential([Linear(n_in, hidden, init="torch_default"), ReLU(), *drop,
                       Linear(hidden, n_out, init="torch_default")])


def utkface_cnn(input_size: int = 64, in_channels: int = 3, width: int = 32, dropout: float = 0.3,
                batch_norm: bool = True, head_width: int = 64) -> Sequential:
    """The multi-task UTKFace CNN (unbuilt): one trunk, three heads, output (N, 8).

    Parameters
    ----------
    input_size : int
        Side of the square face image, >= 16 (four 2x poolings).
    in_channels : int
        3 for colour, 1 for greyscale.
    width : int
        Channels of the first block; the others have 2, 4 and 4 times as many.
    dropout : float
        Dropout probability inside each head; 0 leaves the layers out.
    batch_norm : bool
        Batch normalisation after every convolution.
    head_width : int
        Hidden units of each head.

    Shapes: (N, in_channels, input_size, input_size) -> (N, 8); see :data:`UTKFACE_OUTPUTS`.
    """
    if int(input_size) < 16:
        raise ConfigError(f"utkface_cnn halves the image four times: input_size must be >= 16, got {input_size}")
    if int(width) < 1 or int(head_width) < 1 or int(in_channels) < 1:
        raise ConfigError(f"width, head_width and in_channels must be >= 1, got {width}, {head_width}, {in_channels}")
    if not 0 <= dropout < 1:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    w = int(width)
    widths = (w, 2 * w, 4 * w, 4 * w)
    trunk: list[Module] = []
    c = int(in_channels)
    for cout in widths:
        trunk += _block(c, cout, batch_norm)
        c = cout
    heads = Concat([_head(c, head_width, s.stop - s.start, dropout) for s in UTKFACE_OUTPUTS.values()])
    return Sequential([*trunk, GlobalAvgPool2d(), heads], name="utkface_cnn")  # (N, 4w) -> (N, 8)
