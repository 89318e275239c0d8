"""The PyTorch side of nnlab: the only package that imports torch.

``to_torch``/``from_torch`` move a network between the engines with its weights; the
``Trainer`` trains a torch module with the same callbacks as the NumPy engine; ``distributed``
runs it data-parallel under ``torchrun``; ``cam`` computes class activation maps.
"""

from nnlab.torchlib.convert import ConversionError, from_torch, to_torch
from nnlab.torchlib.distributed import DistContext, init_distributed
from nnlab.torchlib.trainer import Trainer, make_loss, make_optimizer, pick_device, torch_threads

__all__ = ["ConversionError", "from_torch", "to_torch", "DistContext", "init_distributed", "Trainer", "make_loss",
           "make_optimizer", "pick_device", "torch_threads"]
