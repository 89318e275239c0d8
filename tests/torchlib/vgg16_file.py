"""A torchvision-layout VGG16 state dict built in the test (no weights can be downloaded here)."""

from pathlib import Path


def write_vgg16_file(path: Path, classifier: bool = True):
    """Save the features (and, with ``classifier``, the last classifier layer) of a torchvision
    ``vgg16`` state dict with torchvision's names and shapes, random float16 values (small file);
    return the state dict."""
    import torch

    from nnlab.models.vgg import VGG16_CFG

    g = torch.Generator().manual_seed(0)
    state, c, i = {}, 3, 0
    for v in VGG16_CFG:
        if v == "M":
            i += 1
            continue
        state[f"features.{i}.weight"] = (torch.randn(v, c, 3, 3, generator=g) * 0.05).half()
        state[f"features.{i}.bias"] = (torch.randn(v, generator=g) * 0.05).half()
        c, i = v, i + 2
    if classifier:
        state["classifier.6.weight"] = torch.zeros(1000, 4096, dtype=torch.half)
        state["classifier.6.bias"] = torch.zeros(1000, dtype=torch.half)
    torch.save(state, path)
    return state
