"""Class activation maps of ``torch.nn`` models: the hooks that collect what CAM needs.

The maps themselves are the NumPy functions of :mod:`nnlab.metrics.cam`; this module only
runs the model with hooks on one layer and hands back NumPy arrays on the CPU.

>>> maps, predicted = grad_cam_maps(model, "features.7", images)  # (N, H, W) in [0, 1]
"""

from __future__ import annotations

import difflib
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from nnlab.metrics.cam import class_activation_map, grad_cam


def find_layer(model: nn.Module, layer: nn.Module | str) -> nn.Module:
    """``layer`` itself, or the submodule of ``model`` with that dotted name.

    Raises ``KeyError`` naming close matches (or the first few names) for an unknown name.
    """
    if isinstance(layer, nn.Module):
        return layer
    modules = dict(model.named_modules())
    if layer not in modules:
        names = [n for n in modules if n]
        near = difflib.get_close_matches(layer, names, n=5) or names[:8]
        raise KeyError(f"no layer {layer!r} in {type(model).__name__}; "
                       f"try one of: {', '.join(near)}")
    return modules[layer]


@contextmanager
def _eval_mode(model: nn.Module):
    """Evaluation mode inside the block; every submodule's own mode restored after it."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _as_input(model: nn.Module, x) -> torch.Tensor:
    """``x`` as a tensor on the model's device, in its floating dtype."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.as_tensor(x)
    if param is not None and x.is_floating_point():
        x = x.to(dtype=param.dtype)
    if x.ndim != 4:
        raise ValueError(f"expected x of shape (N, C, H, W), got {tuple(x.shape)}")
    return x.to(device)


def _chosen(logits: torch.Tensor, class_idx) -> torch.Tensor:
    """Class per sample: the prediction, one class for all, or one each. Shapes: (N,)."""
    if class_idx is None:
        return logits.argmax(dim=1)
    idx = torch.as_tensor(np.asarray(class_idx), dtype=torch.long, device=logits.device)
    return idx.expand(logits.shape[0]) if idx.ndim == 0 else idx


def activations_and_gradients(model: nn.Module, layer: nn.Module | str, x,
                              class_idx=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A layer's output and the gradient of the chosen class logits with respect to it.

    Runs ``model`` in eval mode (restoring each module's mode afterwards) with a forward
    hook on ``layer`` and a tensor hook on its output, then backpropagates the sum over
    samples of each sample's chosen logit (``class_idx``: None for the predicted class, an
    int for all samples, or one per sample). Samples do not interact in eval mode, so each
    sample's gradient is that of its own logit. Hooks are always removed, and parameters'
    ``.grad`` are left untouched (``torch.autograd.grad`` is used, not ``backward``).

    Shapes: x (N, C, H, W) -> activations (N, C', h, w), gradients (N, C', h, w),
    logits (N, K); NumPy arrays on the CPU.
    """
    module = find_layer(model, layer)
    x = _as_input(model, x).detach().requires_grad_(True)  # a leaf to differentiate towards
    store: dict[str, torch.Tensor] = {}

    def keep_gradient(grad: torch.Tensor) -> None:
        store["gradient"] = grad.detach()

    def keep_output(_module, _inputs, output) -> None:
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"CAM needs a layer that outputs a tensor, got {type(output).__name__}")
        store["activation"] = output.detach().clone()  # before any in-place op that follows
        output.register_hook(keep_gradient)

    handle = module.register_forward_hook(keep_output)
    try:
        with _eval_mode(model), torch.enable_grad():
            logits = model(x)  # (N, K)
            if "activation" not in store:
                raise RuntimeError("the layer was not called in the forward pass")
            score = logits.gather(1, _chosen(logits, class_idx)[:, None]).sum()
            torch.autograd.grad(score, x)
    finally:
        handle.remove()
    return (store["activation"].cpu().numpy(), store["gradient"].cpu().numpy(),
            logits.detach().cpu().numpy())


def grad_cam_maps(model: nn.Module, layer: nn.Module | str, x, class_idx=None,
                  size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps at ``layer``, resized to ``size`` (default: the input's) and in [0, 1].

    For a global-average-pooling + linear head, Grad-CAM at the pooling's input equals
    ReLU(CAM) up to a positive factor. Pick the output of the last block (after its
    activation), not the convolution before it: the ReLU's gradient would mask the weights.

    Shapes: x (N, C, H, W) -> maps (N, H, W) float64, predicted classes (N,) int64.
    """
    activations, gradients, logits = activations_and_gradients(model, layer, x, class_idx)
    size = tuple(np.shape(x)[-2:]) if size is None else size
    return grad_cam(activations, gradients, size), logits.argmax(axis=1)


def cam_maps(model: nn.Module, features_layer: nn.Module | str, fc_layer: nn.Module | str, x,
             class_idx=None, size: tuple[int, int] | None = None, *,
             normalize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """CAM (Zhou et al. 2016) for a model whose head is global average pooling + linear.

    ``features_layer`` outputs the maps that the pooling averages; ``fc_layer`` is the
    linear layer (its ``weight`` is (K, C')). ``class_idx`` as in
    :func:`activations_and_gradients`. The maps are raw (see
    :func:`nnlab.metrics.cam.class_activation_map`) at the features' size unless ``size``.

    Shapes: x (N, C, H, W) -> maps (N, h, w) or (N, *size) float64, predicted (N,) int64.
    """
    weight = find_layer(model, fc_layer).weight.detach().cpu().numpy()  # (K, C')
    features, logits = layer_output(model, features_layer, x)             # (N, C', h, w), (N, K)
    chosen = _chosen(torch.as_tensor(logits), class_idx).cpu().numpy()  # (N,)
    maps = class_activation_map(features, weight, chosen, size, normalize=normalize)
    return maps, logits.argmax(axis=1)


def layer_output(model: nn.Module, layer: nn.Module | str, x) -> tuple[np.ndarray, np.ndarray]:
    """What ``layer`` outputs for ``x`` (its feature maps), and the model's output, in eval mode
    without gradients (each module's mode restored after), through a forward hook that is always
    removed.

    Shapes: x (N, C, H, W) -> layer output (N, C', h, w), model output; NumPy arrays on the CPU.
    """
    module = find_layer(model, layer)
    store: dict[str, torch.Tensor] = {}

    def keep_output(_module, _inputs, output) -> None:
        store["output"] = output.detach().clone()  # before any in-place op that follows

    handle = module.register_forward_hook(keep_output)
    try:
        with _eval_mode(model), torch.no_grad():
            out = model(_as_input(model, x))
    finally:
        handle.remove()
    if "output" not in store:
        raise RuntimeError("the layer was not called in the forward pass")
    return store["output"].cpu().numpy(), out.detach().cpu().numpy()
