"""The networks of ``expression``: the light VGG (nnlab's model, converted to PyTorch, with an
upsampling first layer), torchvision's VGG16 from a local weights file, and the weight transfer from
the UTKFace-pretrained backbone. Not an experiment itself (no ``exp_`` prefix).
"""

from __future__ import annotations

import logging


from nnlab.experiments.expression_data import NATIVE_SIZE
from nnlab.models import create_model


log = logging.getLogger(__name__)

def upsample_first(net, size: int):
    """``nn.Sequential(Upsample(size), net)``: the network sees ``size`` x ``size`` images
    (bilinear) whatever the side of its input, so the 48 px faces stay 48 px in memory."""
    from torch import nn

    return nn.Sequential(nn.Upsample(size=(size, size), mode="bilinear", align_corners=False), net)


def build_light_vgg(cfg, num_classes: int):
    """The light VGG as a torch module taking 48x48 greyscale faces, and its parameter count."""
    from nnlab.torchlib import to_torch

    spec = create_model("light_vgg", input_size=cfg.input_size, in_channels=1, num_classes=num_classes,
                        batch_norm=cfg.batch_norm, dropout=cfg.dropout, pools=cfg.pools)
    net = to_torch(spec.build(seed=cfg.seed))
    if cfg.input_size != NATIVE_SIZE:
        net = upsample_first(net, cfg.input_size)
    return net, int(spec.num_parameters())


def build_vgg16(cfg, num_classes: int):
    """VGG16 with the user's torchvision weights (the grey input sums the first filters over RGB)."""
    from nnlab.torchlib import to_torch
    from nnlab.torchlib.pretrained import load_vgg16_weights

    spec = create_model("vgg16", input_size=cfg.input_size, in_channels=1, num_classes=num_classes)
    net = to_torch(spec.model, spec.input_shape, init="torch")
    report = load_vgg16_weights(net, cfg.vgg16_weights)
    log.info("vgg16: loaded %d tensors from %s; kept initial: %s", len(report["loaded"]), cfg.vgg16_weights,
             ", ".join(report["skipped"]) or "none")
    if cfg.input_size != NATIVE_SIZE:
        net = upsample_first(net, cfg.input_size)
    return net, sum(int(p.numel()) for p in net.parameters())


def transfer_weights(source, target) -> list[str]:
    """Copy every tensor of ``source``'s state dict into ``target``'s with the same name and
    shape (the trunk and hidden dense layers; not a head with another number of classes).
    Returns the names of the tensors that were not copied."""
    src, dst = source.state_dict(), target.state_dict()
    same = {k: v for k, v in src.items() if k in dst and dst[k].shape == v.shape}
    target.load_state_dict({**dst, **same})
    return sorted(set(dst) - set(same))
