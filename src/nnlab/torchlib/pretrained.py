"""Pretrained weights from local files: VGG16 in torchvision's state-dict layout.

Nothing is downloaded here. A user who has torchvision's ``vgg16-397923af.pth`` (or any file
with the same keys: ``features.0.weight`` ... ``classifier.6.bias``) points
:func:`load_vgg16_weights` at it; the file is read with ``weights_only=True``, so it cannot run
code. Where to get it, on a machine that is online::

    https://download.pytorch.org/models/vgg16-397923af.pth   (528 MB, sha256 prefix 397923af)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnlab.errors import DataError, WeightsMismatchError
from nnlab.models.vgg import torchvision_vgg16_key

log = logging.getLogger(__name__)

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a ``.pth``/``.pt`` file (plain, or under ``state_dict``/``model``),
    read with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist; put a torchvision-layout VGG16 state dict there"
                        f" (for example {VGG16_URL}, downloaded on a machine that is online)")
    try:
        state: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for foreign or damaged files
        raise DataError(f"{path} is not a readable PyTorch state dict: {exc}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"{path} does not hold a state dict of tensors")
    return state


def load_vgg16_weights(module: nn.Module, path: str | Path) -> dict[str, list[str]]:
    """Copy torchvision VGG16 weights into the torch twin of :func:`nnlab.models.vgg16`.

    Every convolution must be in the file with the right shape (else
    :class:`WeightsMismatchError`). Classifier layers whose shape differs (another number of
    classes, another input size) keep their initial weights and are reported as skipped. A
    one-channel model gets the first convolution summed over RGB, which equals feeding the
    grey image repeated on three channels.

    Returns ``{"loaded": [...], "skipped": [...]}`` with the model's parameter names.
    """
    source = read_state_dict(path)
    target = module.state_dict()
    loaded, skipped, update = [], [], {}
    for key, tensor in source.items():
        name = torchvision_vgg16_key(key)
        if name is None:
            continue
        if name not in target:
            raise WeightsMismatchError(f"{path}: {key} maps to {name}, which this model does not have")
        want = target[name].shape
        tensor = tensor.to(dtype=target[name].dtype)
        if name == "0.0.weight" and tensor.shape[1] == 3 and want[1] == 1:
            tensor = tensor.sum(dim=1, keepdim=True)
        if tensor.shape != want:
            if name.startswith("0."):
                raise WeightsMismatchError(f"{path}: {key} has shape {tuple(tensor.shape)}, the model's"
                                           f" {name} has {tuple(want)}; is this a VGG16?")
            skipped.append(f"{name} (file {tuple(tensor.shape)}, model {tuple(want)})")
            continue
        update[name] = tensor
        loaded.append(name)
    convs = [k for k in target if k.startswith("0.")]
    missing = sorted(set(convs) - set(loaded))
    if missing:
        raise WeightsMismatchError(f"{path} lacks the VGG16 feature weights {missing[:4]}"
                                   f"{' ...' if len(missing) > 4 else ''}")
    module.load_state_dict(update, strict=False)
    skipped += sorted(k for k in target if k.startswith("2.") and k not in loaded and not any(
        s.startswith(k + " ") for s in skipped))
    log.info("loaded %d VGG16 tensors from %s; kept the initial weights of %s", len(loaded), path,
             ", ".join(skipped) or "nothing")
    return {"loaded": loaded, "skipped": skipped}
