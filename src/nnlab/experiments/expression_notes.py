"""The notes of the ``expression`` report, and the numbers they quote: seed 003 Q5.1-Q5.3.

* :func:`augmentation_note`: which transforms, why each suits faces, how many images (Q5.1);
* :func:`transfer_note`: what was pretrained on what, and why (Q5.2);
* :func:`network_costs`: parameters, multiply-adds and size of the light VGG against VGG16 (Q5.3).

The class activation maps (Q5.4) are in :mod:`nnlab.experiments.expression_cam`.

Not an experiment itself (no ``exp_`` prefix): ``exp_expression`` calls these.
"""

from __future__ import annotations

import math
from typing import Any

from nnlab.engine import Conv2d, Linear, Sequential
from nnlab.models import create_model


# -- Q5.1: augmentation -----------------------------------------------------------------
def augmentation_note(cfg, before: dict[str, int], after: dict[str, int], epochs: int) -> str:
    """Why the faces are augmented, with what, and the counts before and after."""
    n_before, n_after = sum(before.values()), sum(after.values())
    small, large = min(before, key=before.get), max(before, key=before.get)
    unequal = before[large] > 1.5 * max(1, before[small])
    parts = [
        f"**Why augment.** {n_before:,} training faces in {len(before)} classes are few for a CNN of millions of"
        f" parameters trained from scratch"
        + (f", and the classes are unequal ({small}: {before[small]:,} faces, {large}: {before[large]:,})"
           if unequal else "")
        + ". Without augmentation the network memorises the training faces (training accuracy runs far ahead of"
        + " validation)" + (" and seldom predicts the small classes" if unequal else "")
        + ". Augmentation shows it label-preserving variations of every face, so it learns the expression rather"
        " than the picture.",
        f"**Which transforms, and why they suit faces.** Mirror (probability 0.5): an expression is left-right"
        f" symmetric, so the mirrored face keeps its label. Rotation up to +-{cfg.degrees:g} degrees, zoom"
        f" 1+-{cfg.zoom:g} and shifts up to +-{cfg.shift:g} of the side: the face crops differ in head tilt, face"
        " size and position by about that much; the borders are reflected, so no black corners give a view away."
        + (f" Random erasing (probability {cfg.erase:g}) hides a patch, so no single part of the face can decide."
           if cfg.erase > 0 else "")
        + " Not used: vertical flips (an upside-down face never occurs, it would teach features of no use), colour"
        " or hue changes (the faces are greyscale), and large crops (they would cut off the mouth or the eyes,"
        " which carry the expression).",
    ]
    offline = []
    if cfg.balance_to > 0:
        offline.append(f"classes with fewer than {cfg.balance_to:,} faces were topped up to {cfg.balance_to:,} with"
                       " augmented copies of their own faces")
    if cfg.augment_copies > 0:
        offline.append(f"every face then got {cfg.augment_copies} augmented cop{'y' if cfg.augment_copies == 1 else 'ies'}"
                       " (the seed's protocol: a training set enlarged by augmentation)")
    how_many = (f"**How many.** {n_before:,} training images before augmentation and {n_after:,} after: "
                + ("; ".join(offline) if offline else "nothing is added offline, so the count does not change") + ".")
    if cfg.augment:
        how_many += (f" Online augmentation then replaces every stored face by a fresh random view in every epoch:"
                     f" the stored count stays {n_after:,}, but over {epochs} epochs the network sees"
                     f" {epochs * n_after:,} different views, which is the count that matters for over-fitting.")
    parts.append(how_many)
    return "\n\n".join(parts)


def _times(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


# -- Q5.2: transfer learning ------------------------------------------------------------
def transfer_note(cfg, num_classes: int, pretrain_faces: int | None, words: str, pretrain_classes: int) -> str:
    """What the transferred network was pretrained on, why, and what is re-trained."""
    from nnlab.torchlib.pretrained import VGG16_URL

    tuned = (f"fine-tuned, all layers, for {_times(cfg.finetune_epochs or cfg.epochs, 'epoch')} on the expressions at peak lr"
             f" {cfg.finetune_lr:g}")
    why_not = (f"The seed asks for VGG16 pretrained on ImageNet. Its weights ({VGG16_URL}, 528 MB) cannot be"
               " downloaded here: the machines are offline and nnlab never downloads weights.")
    if cfg.backbone == "vgg16":
        return (f"{why_not} This run used the torchvision VGG16 file {cfg.vgg16_weights} (ImageNet, 1,000 classes):"
                " its 13 convolutions load by name, the first summed over RGB so that a grey face gives what the"
                " grey image repeated on three channels would; the first classifier layer fits the file only at"
                f" 224 px and is otherwise initialised fresh, as is the new {num_classes}-class head; then {tuned}.")
    faces = f"{pretrain_faces:,} " if pretrain_faces else ""
    return (f"{why_not} So the default (`backbone: light_vgg`) transfers from a network this run pretrains itself:"
            f" the same light VGG, trained for {_times(cfg.pretrain_epochs, 'epoch')} on {faces}UTKFace faces (greyscale,"
            f" 48 px, like FER2013) to tell {words} ({pretrain_classes} classes). Another face task is a closer"
            " source than ImageNet's objects: edges, eyes, mouths and the face's shape are what expressions are made"
            " of. Every convolution and both hidden dense layers are copied; the"
            f" {num_classes}-class head starts from scratch; then {tuned}. A user who has torchvision's VGG16 file"
            " runs the seed's version with `--set backbone=vgg16 --set vgg16_weights=/path/to/vgg16-397923af.pth`.")


# -- Q5.3: the cost of the networks -----------------------------------------------------
def multiply_adds(model, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass of an (unbuilt) engine model, counted for its
    convolutions (C_out * H_out * W_out * C_in * kH * kW) and dense layers (in * out); pooling,
    normalisation and activations are not counted.

    Shapes: ``input_shape`` is one sample's (C, H, W) or (features,).
    """
    total = 0

    def walk(layer, shape: tuple[int, ...]) -> tuple[int, ...]:
        nonlocal total
        if isinstance(layer, Sequential):
            for child in layer.layers:
                shape = walk(child, shape)
            return shape
        out = tuple(layer.output_shape(shape))
        if isinstance(layer, Conv2d):
            total += math.prod(out) * layer.in_channels * math.prod(layer.kernel_size)
        elif isinstance(layer, Linear):
            total += shape[0] * layer.out_features
        return out

    walk(model, tuple(int(d) for d in input_shape))
    return total


def network_costs(cfg, num_classes: int) -> list[dict[str, Any]]:
    """Parameters, multiply-adds and float32 size of the light VGG as trained here, of the
    paper's light VGG, of VGG16 at the input used here and of VGG16 as ImageNet trained it.
    Counted from the configurations; nothing is built."""
    s, k = cfg.input_size, num_classes
    specs = [
        (f"light VGG as trained here (BatchNorm {cfg.batch_norm}, {cfg.pools} poolings)", (1, s, s), k,
         create_model("light_vgg", input_size=s, in_channels=1, num_classes=k, batch_norm=cfg.batch_norm,
                      dropout=cfg.dropout, pools=cfg.pools)),
        ("light VGG of the paper (Hewitt & Gunes 2018)", (3, 128, 128), 8, create_model("light_vgg")),
        ("VGG16 at the input used here (backbone vgg16)", (1, s, s), k,
         create_model("vgg16", input_size=s, in_channels=1, num_classes=k)),
        ("VGG16 as trained on ImageNet", (3, 224, 224), 1000, create_model("vgg16")),
    ]
    rows = []
    for name, shape, classes, spec in specs:
        params = int(spec.num_parameters())
        rows.append({"network": name, "input": "x".join(map(str, shape)), "classes": classes, "parameters": params,
                     "mult_adds_M": round(multiply_adds(spec.model, shape) / 1e6, 1),
                     "size_MB": round(4 * params / 2 ** 20, 1)})
    for row in rows:
        row["params_vs_light"] = round(row["parameters"] / rows[0]["parameters"], 2)
    return rows


def cost_note(rows: list[dict[str, Any]], metrics: dict[str, Any]) -> str:
    """The seed's Q5.3 comparison in words: size and cost, then accuracy where both were measured."""
    light, vgg16 = rows[0], rows[2]
    text = (f"At {light['input']} the light VGG has {light['parameters']:,} parameters ({light['size_MB']:g} MB in"
            f" float32) and costs {light['mult_adds_M']:,.0f} M multiply-adds per face; VGG16 at the same input has"
            f" {vgg16['parameters']:,} ({vgg16['size_MB']:g} MB), {vgg16['params_vs_light']:g} times as many, and"
            f" costs {vgg16['mult_adds_M'] / light['mult_adds_M']:.0f} times as much. VGG16's extra parameters are"
            " mostly in its two dense layers of 4,096 units; its extra cost is in its convolutions, which have four"
            " times the light VGG's filters at every resolution (64 against 16 at full size), and three instead of"
            " two per stage from the third on. A network meant for a phone must cut both.")
    if "vgg_accuracy" in metrics and "transfer_accuracy" in metrics:
        text += (f" Test accuracy: light VGG from scratch {metrics['vgg_accuracy']:.1%}, transferred network"
                 f" {metrics['transfer_accuracy']:.1%} ({metrics.get('transfer_params', 0):,} parameters).")
    return text
