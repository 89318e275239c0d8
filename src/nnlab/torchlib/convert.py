"""One model, two engines: NumPy-engine networks to ``torch.nn`` modules and back.

>>> from nnlab.engine import Sequential, Dense
>>> net = Sequential([Dense(8, "relu"), Dense(2)], input_shape=(4,), seed=0)
>>> tnet = to_torch(net)                      # same weights, same state_dict keys
>>> back = from_torch(tnet, input_shape=(4,))  # and back again

Every engine layer maps to one torch module whose parameters and buffers have the engine's
names (``0.weight``, ``2.block.1.running_mean``, ...), so weights move by name with no
renaming table: standard ``torch.nn`` modules where one matches exactly, and the twins of
:mod:`nnlab.torchlib.layers` where none does (fused ``Linear``, ``Residual``, ``Concat``,
``Reshape``, ``GlobalAvgPool2d``). Engine float64 networks become float64 modules.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from nnlab.engine import layers as L
from nnlab.engine.module import Module, resolve_dtype
from nnlab.engine.sequential import Sequential
from nnlab.errors import ConfigError
from nnlab.torchlib import layers as T


class ConversionError(ConfigError):
    """A layer or setting that has no equivalent on the other engine."""


# -- activations ---------------------------------------------------------------------------
def activation_to_torch(kernel) -> nn.Module:
    """The ``torch.nn`` module for an engine activation kernel (softmax over axis 1)."""
    name = kernel.name
    if name == "identity":
        return nn.Identity()
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(kernel.negative_slope)
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "softmax":
        return nn.Softmax(dim=1)
    if name == "log_softmax":
        return nn.LogSoftmax(dim=1)
    raise ConversionError(f"no torch equivalent for the activation {name!r}")


def _activation_spec(m: nn.Module) -> Any:
    """The engine activation spec of a torch activation module, or ``None`` if it is not one."""
    if type(m) is nn.Identity:
        return "identity"
    if type(m) is nn.ReLU:
        return "relu"
    if type(m) is nn.LeakyReLU:
        return {"name": "leaky_relu", "negative_slope": m.negative_slope}
    if type(m) is nn.Sigmoid:
        return "sigmoid"
    if type(m) is nn.Tanh:
        return "tanh"
    if type(m) in (nn.Softmax, nn.LogSoftmax):
        if m.dim not in (1, None):
            raise ConversionError(f"{type(m).__name__}(dim={m.dim}): the engine applies it over axis 1")
        return "softmax" if type(m) is nn.Softmax else "log_softmax"
    return None


# -- engine -> torch -----------------------------------------------------------------------
def _conv_to_torch(layer, shape) -> nn.Module:
    pad = "same" if layer.padding == "same" else layer.padding
    one = layer.ndim == 1
    k, s, d = (layer.kernel_size[1], layer.stride[1], layer.dilation[1]) if one else (
        layer.kernel_size, layer.stride, layer.dilation)
    if not isinstance(pad, str) and one:
        pad = pad[1]
    if layer.transposed:
        return nn.ConvTranspose2d(layer.in_channels, layer.out_channels, k, stride=s, padding=pad,
                                  output_padding=layer.output_padding, dilation=d, bias=layer.use_bias)
    cls = nn.Conv1d if one else nn.Conv2d
    return cls(layer.in_channels, layer.out_channels, k, stride=s, padding=pad, dilation=d, bias=layer.use_bias)


def _pool_to_torch(layer, shape) -> nn.Module:
    one = layer.ndim == 1
    k, s, p = (layer.kernel_size[1], layer.stride[1], layer.padding[1]) if one else (
        layer.kernel_size, layer.stride, layer.padding)
    if layer.kind == "max":
        return (nn.MaxPool1d if one else nn.MaxPool2d)(k, s, p)
    return (nn.AvgPool1d if one else nn.AvgPool2d)(k, s, p, count_include_pad=layer.count_include_pad)


def _linear_to_torch(layer, shape) -> nn.Module:
    n_in = layer.in_features if layer.in_features is not None else shape[0]
    if layer.kernel.name == "identity":
        return nn.Linear(n_in, layer.out_features, bias=layer.use_bias)
    return T.LinearAct(n_in, layer.out_features, activation_to_torch(layer.kernel), bias=layer.use_bias)


def _norm_to_torch(layer, shape) -> nn.Module:
    cls = nn.BatchNorm2d if isinstance(layer, L.BatchNorm2d) else nn.BatchNorm1d
    return cls(layer.num_features, eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
               track_running_stats=layer.track_running_stats)


def _upsample_to_torch(layer, shape) -> nn.Module:
    if layer.mode == "nearest":
        return nn.Upsample(scale_factor=tuple(float(s) for s in layer.scale), mode="nearest")
    return nn.Upsample(scale_factor=tuple(float(s) for s in layer.scale), mode="bilinear", align_corners=False)


def _residual_to_torch(layer, shape) -> nn.Module:
    proj = None if layer.projection is None else _to_torch(layer.projection, shape)
    return T.Residual(_to_torch(layer.block, shape), proj)


def _sequential_to_torch(layer, shape) -> nn.Module:
    out = []
    for child in layer.layers:
        out.append(_to_torch(child, shape))
        shape = tuple(child.output_shape(shape))
    return nn.Sequential(*out)


TO_TORCH: dict[str, Callable[[Any, tuple[int, ...]], nn.Module]] = {
    "Sequential": _sequential_to_torch,
    "Linear": _linear_to_torch,
    "Conv1d": _conv_to_torch,
    "Conv2d": _conv_to_torch,
    "ConvTranspose2d": _conv_to_torch,
    "MaxPool1d": _pool_to_torch,
    "MaxPool2d": _pool_to_torch,
    "AvgPool1d": _pool_to_torch,
    "AvgPool2d": _pool_to_torch,
    "Upsample": _upsample_to_torch,
    "BatchNorm1d": _norm_to_torch,
    "BatchNorm2d": _norm_to_torch,
    "PReLU": lambda layer, shape: nn.PReLU(layer.num_slopes, layer.init),
    "Dropout": lambda layer, shape: nn.Dropout(layer.p),
    "Flatten": lambda layer, shape: nn.Flatten(),
    "Reshape": lambda layer, shape: T.Reshape(layer.shape),
    "Residual": _residual_to_torch,
    "Concat": lambda layer, shape: T.Concat([_to_torch(b, shape) for b in layer.branches]),
    "PixelShuffle": lambda layer, shape: nn.PixelShuffle(layer.upscale_factor),
    "GlobalAvgPool2d": lambda layer, shape: T.GlobalAvgPool2d(),
}


def _to_torch(layer: Module, shape: tuple[int, ...]) -> nn.Module:
    if isinstance(layer, L.Activation):
        return activation_to_torch(layer.kernel)
    convert = TO_TORCH.get(type(layer).type_name or type(layer).__name__)
    if convert is None:
        raise ConversionError(f"no torch twin for the engine layer {type(layer).__name__};"
                              f" convertible: {', '.join(sorted(TO_TORCH))} and activations")
    return convert(layer, tuple(shape))


def torch_dtype(dtype: Any) -> torch.dtype:
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[resolve_dtype(dtype)]


def to_torch(model: Module, input_shape: tuple[int, ...] | None = None, *, init: str = "engine",
             device: str | torch.device | None = None) -> nn.Module:
    """An equivalent ``torch.nn.Module`` with the same weights, dtype and train/eval mode.

    A built model's weights and buffers are copied. An unbuilt one needs ``input_shape`` (per
    sample); ``init="engine"`` builds it first so the engine's initialisers and seed decide the
    weights, ``init="torch"`` skips the NumPy build and keeps PyTorch's default initialisation
    (use it for very large networks such as VGG16).
    """
    if init not in ("engine", "torch"):
        raise ValueError(f"init must be 'engine' or 'torch', got {init!r}")
    if not model.built:
        if input_shape is None:
            raise ConfigError("to_torch: the model is not built; pass input_shape (per sample)")
        if init == "engine":
            if isinstance(model, Sequential):
                model.build(tuple(input_shape))
            else:
                model.build(tuple(input_shape), np.random.default_rng(0), model.dtype)
    shape = tuple(model.input_shape if model.built else input_shape)
    module = _to_torch(model, shape).to(torch_dtype(model.dtype))
    if model.built:
        copy_weights_to_torch(model, module)
    module.train(model.training)
    return module if device is None else module.to(device)


def copy_weights_to_torch(model: Module, module: nn.Module) -> None:
    """Copy an engine model's parameters and buffers into its torch twin, by name."""
    state = model.state_dict()
    target = module.state_dict()
    if set(state) != set(target):
        raise ConversionError(f"state keys differ: engine only {sorted(set(state) - set(target))},"
                              f" torch only {sorted(set(target) - set(state))}")
    module.load_state_dict({k: torch.as_tensor(np.asarray(v)).to(dtype=target[k].dtype, device=target[k].device)
                            for k, v in state.items()})


def copy_weights_from_torch(module: nn.Module, model: Module, prefix: str = "") -> None:
    """Copy a torch module's parameters and buffers into the engine model, by name."""
    state = {prefix + k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    model.load_state_dict(state, source=f"{type(module).__name__} state")


# -- torch -> engine -----------------------------------------------------------------------
def _pad_from_torch(m) -> Any:
    """torch's conv padding ("same", "valid" or a tuple) as the engine's argument."""
    if isinstance(m.padding, str):
        return "same" if m.padding == "same" else 0
    return list(m.padding) if len(m.padding) > 1 else m.padding[0]


def _conv_from_torch(m) -> Module:
    if m.groups != 1 or m.padding_mode != "zeros":
        raise ConversionError(f"{m}: the engine has only groups=1 and zero padding")
    bias = m.bias is not None
    if isinstance(m, nn.Conv1d):
        return L.Conv1d(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], _pad_from_torch(m),
                        m.dilation[0], bias=bias)
    if isinstance(m, nn.ConvTranspose2d):
        return L.ConvTranspose2d(m.in_channels, m.out_channels, list(m.kernel_size), list(m.stride),
                                 list(m.padding), list(m.output_padding), list(m.dilation), bias=bias)
    return L.Conv2d(m.in_channels, m.out_channels, list(m.kernel_size), list(m.stride), _pad_from_torch(m),
                    list(m.dilation), bias=bias)


def _pool_from_torch(m) -> Module:
    one = isinstance(m, (nn.MaxPool1d, nn.AvgPool1d))
    if getattr(m, "ceil_mode", False) or getattr(m, "dilation", 1) not in (1, (1, 1)):
        raise ConversionError(f"{m}: the engine pools without ceil_mode or dilation")
    if isinstance(m, nn.AvgPool2d) and m.divisor_override is not None:
        raise ConversionError(f"{m}: divisor_override is not supported")

    def val(v):
        if v is None:
            return None
        if one:
            return v[0] if isinstance(v, tuple) else v
        return list(v) if isinstance(v, tuple) else v

    k, s, p = val(m.kernel_size), val(m.stride), val(m.padding)
    if isinstance(m, nn.MaxPool1d):
        return L.MaxPool1d(k, s, p)
    if isinstance(m, nn.MaxPool2d):
        return L.MaxPool2d(k, s, p)
    if isinstance(m, nn.AvgPool1d):
        return L.AvgPool1d(k, s, p, count_include_pad=m.count_include_pad)
    return L.AvgPool2d(k, s, p, count_include_pad=m.count_include_pad)


def _upsample_from_torch(m) -> Module:
    if m.size is not None or m.mode not in ("nearest", "bilinear") or (m.mode == "bilinear" and m.align_corners):
        raise ConversionError(f"{m}: the engine upsamples by an integer scale_factor, nearest or bilinear"
                              " with align_corners=False")
    sf = m.scale_factor if isinstance(m.scale_factor, tuple) else (m.scale_factor, m.scale_factor)
    if any(float(s) != int(s) for s in sf):
        raise ConversionError(f"{m}: scale_factor must be an integer")
    return L.Upsample([int(s) for s in sf], mode=m.mode)


def _from_torch(m: nn.Module) -> Module:
    spec = _activation_spec(m)
    if spec is not None:
        return L.Activation(spec)
    if isinstance(m, T.LinearAct):
        act = _activation_spec(m.activation)
        if act is None:
            raise ConversionError(f"LinearAct with activation {m.activation} has no engine equivalent")
        return L.Linear(m.in_features, m.out_features, activation=act, bias=m.bias is not None, init="torch_default")
    if type(m) is nn.Linear:
        return L.Linear(m.in_features, m.out_features, bias=m.bias is not None, init="torch_default")
    if type(m) in (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d):
        return _conv_from_torch(m)
    if type(m) in (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d):
        return _pool_from_torch(m)
    if type(m) in (nn.BatchNorm1d, nn.BatchNorm2d):
        cls = L.BatchNorm2d if type(m) is nn.BatchNorm2d else L.BatchNorm1d
        return cls(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                   track_running_stats=m.track_running_stats)
    if type(m) is nn.PReLU:
        return L.PReLU(m.num_parameters, init=float(m.init))
    if type(m) is nn.Dropout:
        return L.Dropout(m.p)
    if type(m) is nn.Flatten:
        if m.start_dim != 1 or m.end_dim != -1:
            raise ConversionError(f"{m}: the engine flattens every axis but the batch axis")
        return L.Flatten()
    if type(m) is nn.Upsample:
        return _upsample_from_torch(m)
    if type(m) is nn.PixelShuffle:
        return L.LAYERS["PixelShuffle"](m.upscale_factor)
    if type(m) is T.GlobalAvgPool2d:
        return L.LAYERS["GlobalAvgPool2d"]()
    if type(m) is T.Reshape:
        return L.Reshape(m.shape)
    if type(m) is T.Residual:
        return L.Residual(_from_torch(m.block), None if m.projection is None else _from_torch(m.projection))
    if type(m) is T.Concat:
        return L.Concat([_from_torch(b) for b in m])
    if type(m) is nn.Sequential:
        return Sequential([_from_torch(c) for c in m])
    raise ConversionError(f"no engine equivalent for {type(m).__name__}; write the model with nnlab layers"
                          " or the twins in nnlab.torchlib.layers")


def from_torch(module: nn.Module, input_shape: tuple[int, ...], *, dtype: Any = None,
               seed: int | None = 0) -> Sequential:
    """An engine ``Sequential`` equivalent to ``module``, built for ``input_shape`` (per sample),
    with its weights, buffers and train/eval mode. ``dtype`` defaults to the module's."""
    if dtype is None:
        first = next((t for t in module.state_dict().values() if t.is_floating_point()), None)
        dtype = "float64" if first is not None and first.dtype == torch.float64 else "float32"
    layer = _from_torch(module)
    wrapped = not isinstance(layer, Sequential)
    model = Sequential([layer] if wrapped else layer.layers, input_shape=tuple(input_shape), dtype=dtype, seed=seed)
    copy_weights_from_torch(module, model, prefix="0." if wrapped else "")
    model.train(module.training)
    return model
