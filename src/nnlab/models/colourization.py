"""The colourization networks of seed 001 (the CSC321 protocol).

A greyscale image goes in; for every pixel, out come scores for ``num_colours`` colour
classes (k-means centres of the training colours), trained with a per-pixel cross-entropy.
All three networks are fully convolutional with two 2x down-samplings, so any height and
width divisible by 4 works; CIFAR-10 gives 32x32. Every convolution keeps the size
(``padding = kernel_size // 2``, so ``kernel_size`` must be odd).

``colour_base`` (86,784 parameters at the defaults) and ``colour_unet`` (112,344) are layer
for layer ``examples/colourization-base.yaml`` and ``examples/colourization-unet.yaml``. In
the U-Net, three skip connections concatenate (``Concat`` with an ``Identity`` branch):
``cat(rfconv, down2) -> up1``, ``cat(up1, down1) -> up2``, ``cat(up2, input) -> final``.

``colour_residual`` is our design: the seed only says that in its residual network each
layer's input is added, unchanged, to the output of the operations that follow it, that this
adds parameters, and that it reached 70.5% validation accuracy against the U-Net's 56.4% (at
about six times the U-Net's training time). We keep the U-Net's concatenating skips and make
every stage a ResNet basic block, with the first and last stages at full resolution (where the
colour edges are)::

    ResBlock(a -> b) = ReLU(BN(Conv(ReLU(BN(Conv(x))))) + P(x)),  P = identity if a == b
                                                                    else BN(Conv1x1(x))
    e1 = ResBlock(in -> nf)(x)                          # (nf, H, W)
    e2 = ResBlock(nf -> 2nf)(MaxPool(e1))               # (2nf, H/2, W/2)
    b  = ResBlock(2nf -> 4nf)(MaxPool(e2))              # (4nf, H/4, W/4)
    d2 = ResBlock(6nf -> 2nf)(cat(Upsample(b), e2))     # (2nf, H/2, W/2)
    d1 = ResBlock(3nf -> nf)(cat(Upsample(d2), e1))     # (nf, H, W)
    out = Conv1x1(nf -> colours)(d1)

The block convolutions have no bias (each is followed by batch normalisation). At the
defaults this network has 498,648 parameters and about 113 M multiply-adds per 32x32 image
(the U-Net: 112,344 and about 19 M). An earlier design of ours, the U-Net's own shape with
additive skips and half-resolution blocks (189,592 parameters), reached only 52.2% in the seed's
25 epochs.

``colour_residual_seed`` is the seed's own description taken literally: the seed's U-Net with
each of its five stages (Conv -> [MaxPool | Upsample] -> BN -> ReLU) given a shortcut, its input
added to the stage's output before the ReLU (through a 1x1 convolution, resampled, with BN when
the shape changes); the final convolution stays linear (it gives the logits).

``colour_unet_full`` is the same graph with plain stages (:func:`double_conv`: Conv-BN-ReLU
twice, no addition), the U-Net of Ronneberger et al. at two levels (472,376 parameters). It
sees the full-resolution grey image through two convolutions after the last skip, where the
seed's ``colour_unet`` has one linear convolution, and so it can, unlike the seed's, beat a
per-pixel lookup from grey level to colour.
"""

from __future__ import annotations

from nnlab.engine import (
    BatchNorm2d,
    Concat,
    ConfigError,
    Conv2d,
    Identity,
    MaxPool2d,
    ReLU,
    Residual,
    Sequential,
    Upsample,
)
from nnlab.engine.module import Module


def _padding(kernel_size: int) -> int:
    if int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
        raise ConfigError(f"kernel_size must be odd (the convolutions keep the image size), got {kernel_size}")
    return int(kernel_size) // 2


def _down(cin: int, cout: int, k: int) -> list[Module]:
    """Conv -> MaxPool(2) -> BN -> ReLU: (cin, H, W) -> (cout, H/2, W/2)."""
    return [Conv2d(cin, cout, k, padding=_padding(k)), MaxPool2d(2), BatchNorm2d(cout), ReLU()]


def _same(cin: int, cout: int, k: int) -> list[Module]:
    """Conv -> BN -> ReLU at the same size (the seed's "rfconv")."""
    return [Conv2d(cin, cout, k, padding=_padding(k)), BatchNorm2d(cout), ReLU()]


def _up(cin: int, cout: int, k: int) -> list[Module]:
    """Conv -> Upsample(2) -> BN -> ReLU: (cin, H, W) -> (cout, 2H, 2W)."""
    return [Conv2d(cin, cout, k, padding=_padding(k)), Upsample(2), BatchNorm2d(cout), ReLU()]


def colour_base(num_filters: int = 32, kernel_size: int = 3, num_colours: int = 24,
                num_in_channels: int = 1) -> Sequential:
    """The base CNN of the colourization seed (``examples/colourization-base.yaml``).

    Parameters
    ----------
    num_filters : int
        Width ``nf`` of the first stage; the middle stages have ``2 * nf`` channels.
    kernel_size : int
        Side of every convolution kernel (odd).
    num_colours : int
        Number of colour classes (output channels).
    num_in_channels : int
        Input channels: 1 for greyscale.

    Shapes: (N, num_in_channels, H, W) -> (N, num_colours, H, W), H and W divisible by 4.
    """
    nf, k, c = num_filters, kernel_size, num_colours
    return Sequential([
        *_down(num_in_channels, nf, k), *_down(nf, 2 * nf, k), *_same(2 * nf, 2 * nf, k),
        *_up(2 * nf, nf, k), *_up(nf, c, k),
        Conv2d(c, c, k, padding=_padding(k)),
    ], name="colour_base")


def colour_unet(num_filters: int = 32, kernel_size: int = 3, num_colours: int = 24,
                num_in_channels: int = 1) -> Sequential:
    """The U-Net of the colourization seed (``examples/colourization-unet.yaml``).

    The base CNN with three concatenating skip connections (see the module docstring).
    Arguments as :func:`colour_base`.

    Shapes: (N, num_in_channels, H, W) -> (N, num_colours, H, W), H and W divisible by 4.
    """
    nf, k, c, cin = num_filters, kernel_size, num_colours, num_in_channels
    inner = Sequential([*_down(nf, 2 * nf, k), Concat([Sequential(_same(2 * nf, 2 * nf, k)), Identity()]),
                        *_up(4 * nf, nf, k)])                           # cat(rfconv(out2), out2) -> up1
    middle = Sequential([*_down(cin, nf, k), Concat([inner, Identity()]), *_up(2 * nf, c, k)])  # cat(up1, out1)
    return Sequential([Concat([middle, Identity()]),                    # cat(up2, x) -> final
                       Conv2d(c + cin, c, k, padding=_padding(k))], name="colour_unet")


def res_block(cin: int, cout: int, kernel_size: int = 3) -> list[Module]:
    """A ResNet basic block, ``[Residual(...), ReLU()]``: two Conv-BN at the same size.

    The skip path is the identity when ``cin == cout`` and a 1x1 convolution with batch
    normalisation otherwise.

    Shapes: (N, cin, H, W) -> (N, cout, H, W).
    """
    p = _padding(kernel_size)
    block = [Conv2d(cin, cout, kernel_size, padding=p, bias=False), BatchNorm2d(cout), ReLU(),
             Conv2d(cout, cout, kernel_size, padding=p, bias=False), BatchNorm2d(cout)]
    projection = None if cin == cout else [Conv2d(cin, cout, 1, bias=False), BatchNorm2d(cout)]
    return [Residual(block, projection), ReLU()]


def double_conv(cin: int, cout: int, kernel_size: int = 3) -> list[Module]:
    """A U-Net stage (Ronneberger et al. 2015): two Conv-BN-ReLU at the same size, no shortcut.

    :func:`res_block` without the addition. Shapes: (N, cin, H, W) -> (N, cout, H, W).
    """
    p = _padding(kernel_size)
    return [Conv2d(cin, cout, kernel_size, padding=p, bias=False), BatchNorm2d(cout), ReLU(),
            Conv2d(cout, cout, kernel_size, padding=p, bias=False), BatchNorm2d(cout), ReLU()]


def seed_res_stage(cin: int, cout: int, kernel_size: int = 3, resample: str = "") -> list[Module]:
    """One stage of the seed's networks with its input added to its output: ``[Residual, ReLU]``.

    ``ReLU(BN(R(Conv(x))) + S(x))`` where ``R`` is ``MaxPool2d(2)`` (``resample="down"``),
    ``Upsample(2)`` (``"up"``) or nothing, and ``S`` the identity when the shape is kept, else
    ``BN(R(Conv1x1(x)))``. Shapes: (N, cin, H, W) -> (N, cout, H', W'), H' = H/2, 2H or H.
    """
    if resample not in ("", "down", "up"):
        raise ConfigError(f"resample must be '', 'down' or 'up', got {resample!r}")
    r = {"": [], "down": [MaxPool2d(2)], "up": [Upsample(2)]}
    block = [Conv2d(cin, cout, kernel_size, padding=_padding(kernel_size)), *r[resample], BatchNorm2d(cout)]
    same = cin == cout and not resample
    projection = None if same else [Conv2d(cin, cout, 1, bias=False), *r[resample], BatchNorm2d(cout)]
    return [Residual(block, projection), ReLU()]


def colour_residual_seed(num_filters: int = 32, kernel_size: int = 3, num_colours: int = 24,
                         num_in_channels: int = 1) -> Sequential:
    """The seed's residual network as it describes it: :func:`colour_unet` with every stage a
    :func:`seed_res_stage` (each stage's input added to its output). Arguments as :func:`colour_base`.

    Shapes: (N, num_in_channels, H, W) -> (N, num_colours, H, W), H and W divisible by 4.
    """
    nf, k, c, cin = num_filters, kernel_size, num_colours, num_in_channels
    inner = Sequential([*seed_res_stage(nf, 2 * nf, k, "down"),
                        Concat([Sequential(seed_res_stage(2 * nf, 2 * nf, k)), Identity()]),
                        *seed_res_stage(4 * nf, nf, k, "up")])
    middle = Sequential([*seed_res_stage(cin, nf, k, "down"), Concat([inner, Identity()]),
                         *seed_res_stage(2 * nf, c, k, "up")])
    return Sequential([Concat([middle, Identity()]), Conv2d(c + cin, c, k, padding=_padding(k))],
                      name="colour_residual_seed")


def _stage_unet(stage, nf: int, k: int, c: int, cin: int, name: str) -> Sequential:
    """The two-level U-Net of the module docstring, every stage built by ``stage(cin, cout, k)``."""
    bottom = Sequential([MaxPool2d(2), *stage(2 * nf, 4 * nf, k), Upsample(2)])            # b, upsampled
    middle = Sequential([MaxPool2d(2), *stage(nf, 2 * nf, k), Concat([bottom, Identity()]),  # cat(up(b), e2)
                         *stage(6 * nf, 2 * nf, k), Upsample(2)])                           # d2, upsampled
    return Sequential([*stage(cin, nf, k), Concat([middle, Identity()]),                   # cat(up(d2), e1)
                       *stage(3 * nf, nf, k), Conv2d(nf, c, 1)], name=name)


def colour_residual(num_filters: int = 32, kernel_size: int = 3, num_colours: int = 24,
                    num_in_channels: int = 1) -> Sequential:
    """The residual colourization network: a U-Net of ResNet basic blocks.

    Our reading of the seed's "residual block" network (the seed gives no layer list); see
    the module docstring for the exact graph. Arguments as :func:`colour_base`.

    Shapes: (N, num_in_channels, H, W) -> (N, num_colours, H, W), H and W divisible by 4.
    """
    return _stage_unet(res_block, num_filters, kernel_size, num_colours, num_in_channels, "colour_residual")


def colour_unet_full(num_filters: int = 32, kernel_size: int = 3, num_colours: int = 24,
                     num_in_channels: int = 1) -> Sequential:
    """The classic U-Net: :func:`colour_residual`'s graph with plain two-convolution stages.

    Every stage is :func:`double_conv` (no identity addition, no projection), so comparing it
    with :func:`colour_residual` isolates what the residual additions do. Unlike the seed's
    :func:`colour_unet`, it convolves at full resolution after the last skip. Arguments as
    :func:`colour_base`.

    Shapes: (N, num_in_channels, H, W) -> (N, num_colours, H, W), H and W divisible by 4.
    """
    return _stage_unet(double_conv, num_filters, kernel_size, num_colours, num_in_channels, "colour_unet_full")
