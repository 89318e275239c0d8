"""Every network of the lab, defined once with NumPy-engine layers.

Each factory returns an *unbuilt* :class:`~nnlab.engine.Sequential`; the PyTorch twin comes
from :func:`nnlab.torchlib.to_torch`, layer for layer with the same parameter names, so this
package imports only :mod:`nnlab.engine`. The registry gives one pipeline every model by name:

>>> from nnlab.models import create_model
>>> spec = create_model("colour_unet", num_filters=16)
>>> spec.input_shape
(1, 32, 32)
>>> model = spec.build(seed=0)   # or spec.model.build(spec.input_shape)

========================  ================================================================
``mnist_autoencoder``     784-500-200-100-30 autoencoder of seed 004 (1,032,414 parameters)
``code_classifier``       30-20-15-10 classifier on the autoencoder's codes (1,095)
``colour_base``           colourization base CNN of seed 001 (86,784)
``colour_unet``           colourization U-Net of seed 001, concatenating skips (112,344)
``colour_unet_full``      classic U-Net: two convolutions per stage, full-resolution ends (472,376)
``colour_residual``       colourization U-Net of ResNet basic blocks, full-resolution ends (498,648)
``colour_residual_seed``  the seed's U-Net with every stage's input added to its output (120,360)
``light_vgg``             light VGG of Hewitt & Gunes, 128x128x3, 8 classes (3,744,664)
``vgg16``                 VGG16 in torchvision's layout (138,357,544 at 224, 1000 classes)
``sr_mlp``                per-pixel super-resolution MLP 27-64-128-3 of seed 002 (10,499)
``espcn``                 ESPCN sub-pixel super-resolution CNN, x2 RGB (26,796)
``sr_cnn``                deeper ReLU sub-pixel CNN for the Y channel, x2 (47,716)
``utkface_cnn``           multi-task CNN for age, gender and ethnicity (608,168)
========================  ================================================================
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlab.engine import ConfigError, Sequential
from nnlab.models._count import count_parameters
from nnlab.models.autoencoder import code_classifier, decoder_of, encoder_of, mnist_autoencoder
from nnlab.models.colourization import (
    colour_base,
    colour_residual,
    colour_residual_seed,
    colour_unet,
    colour_unet_full,
    double_conv,
    res_block,
)
from nnlab.models.superres import espcn, sr_cnn, sr_mlp
from nnlab.models.utkface import UTKFACE_OUTPUTS, utkface_cnn
from nnlab.models.vgg import light_vgg, torchvision_vgg16_key, vgg16

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """A model from the registry with what a pipeline needs to use it.

    ``model`` is unbuilt; ``input_shape`` is one sample's shape (no batch axis); ``outputs``
    names column ranges of the output for multi-task models (``None`` otherwise).
    """

    model: Sequential
    input_shape: tuple[int, ...]
    outputs: dict[str, slice] | None = None
    notes: str = ""

    def build(self, seed: int | None = 0, dtype: Any = "float32") -> Sequential:
        """Build ``model`` for ``input_shape`` with weights drawn from ``seed``; return it."""
        self.model.rng = np.random.default_rng(seed)
        self.model.build(self.input_shape, dtype=dtype)
        return self.model

    def num_parameters(self) -> int:
        """The parameter count, computed without building (see :func:`count_parameters`)."""
        return count_parameters(self.model, self.input_shape)


@dataclass(frozen=True)
class ModelInfo:
    """A registry entry: the factory, how the input shape follows from its arguments, and text.

    ``input_shape`` is called with every argument resolved (defaults included), plus those of
    ``shape_args``: arguments that only set the input shape (the factory does not take them).
    """

    factory: Callable[..., Sequential]
    input_shape: Callable[[Mapping[str, Any]], tuple[int, ...]]
    description: str
    outputs: Mapping[str, slice] | None = None
    shape_args: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""


def _image(channels: str) -> Callable[[Mapping[str, Any]], tuple[int, ...]]:
    def shape(a: Mapping[str, Any]) -> tuple[int, ...]:
        return (int(a[channels]), int(a["input_size"]), int(a["input_size"]))

    return shape


def _multiple_of_4(a: Mapping[str, Any]) -> tuple[int, ...]:
    size = int(a["input_size"])
    if size < 4 or size % 4:
        raise ConfigError(f"the colourization networks pool twice: input_size must be a multiple of 4, got {size}")
    return (int(a["num_in_channels"]), size, size)


def _positive_image(a: Mapping[str, Any]) -> tuple[int, ...]:
    if int(a["input_size"]) < 1:
        raise ConfigError(f"input_size must be >= 1, got {a['input_size']}")
    return _image("channels")(a)


_COLOUR = {"input_shape": _multiple_of_4, "shape_args": {"input_size": 32}}

MODELS: dict[str, ModelInfo] = {
    "mnist_autoencoder": ModelInfo(mnist_autoencoder, lambda a: (int(a["input_size"]),),
                                   "784-500-200-100-30 autoencoder of seed 004 (ReLU, sigmoid output)",
                                   notes="Sequential([encoder, decoder]): encoder_of(model) is model.layers[0]."),
    "code_classifier": ModelInfo(code_classifier, lambda a: (int(a["code_size"]),),
                                 "30-20-15-10 classifier on the autoencoder's codes (logits)"),
    "colour_base": ModelInfo(colour_base, description="colourization base CNN of seed 001 (CSC321)", **_COLOUR),
    "colour_unet": ModelInfo(colour_unet, description="colourization U-Net of seed 001: concatenating skip connections",
                             **_COLOUR),
    "colour_unet_full": ModelInfo(colour_unet_full, description="colourization U-Net of two-convolution stages,"
                                  " full-resolution ends", notes="colour_residual without the additions", **_COLOUR),
    "colour_residual_seed": ModelInfo(colour_residual_seed, description="colourization: the seed's U-Net with"
                                      " every stage's input added to its output (the seed's residual net)",
                                      **_COLOUR),
    "colour_residual": ModelInfo(colour_residual, description="colourization U-Net of ResNet basic"
                                 " blocks", notes="our design; the seed gives no layer list", **_COLOUR),
    "light_vgg": ModelInfo(light_vgg, _image("in_channels"),
                           "light VGG of Hewitt & Gunes (arXiv:1807.08775) for facial expressions"),
    "vgg16": ModelInfo(vgg16, _image("in_channels"), "VGG16 in torchvision's layout (features, classifier)",
                       notes="torchvision weights load by name with torchvision_vgg16_key; at input sizes"
                             " other than 224 the first classifier layer has a different shape."),
    "sr_mlp": ModelInfo(sr_mlp, lambda a: (int(a["neighbourhood"]) ** 2 * int(a["channels"]),),
                        "per-pixel super-resolution MLP 27-64-128-3 of seed 002"),
    "espcn": ModelInfo(espcn, _positive_image, "ESPCN sub-pixel super-resolution CNN (Shi et al. 2016)",
                       shape_args={"input_size": 32},
                       notes="output (channels, input_size * scale, input_size * scale)"),
    "sr_cnn": ModelInfo(sr_cnn, _positive_image, "deeper ReLU sub-pixel super-resolution CNN (Y channel)",
                        shape_args={"input_size": 32},
                        notes="output (channels, input_size * scale, input_size * scale)"),
    "utkface_cnn": ModelInfo(utkface_cnn, _image("in_channels"),
                             "multi-task UTKFace CNN: age (regression), gender (2), ethnicity (5)",
                             outputs=UTKFACE_OUTPUTS),
}


def list_models() -> dict[str, str]:
    """``{name: one-line description}`` for every registered model, sorted by name."""
    return {name: MODELS[name].description for name in sorted(MODELS)}


def create_model(name: str, **kwargs: Any) -> ModelSpec:
    """Make the registered model ``name`` with keyword arguments overriding its defaults.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the known ones) or an argument the model does
        not take (the message names it and lists those it takes).
    """
    info = MODELS.get(name)
    if info is None:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    params = inspect.signature(info.factory).parameters
    unknown = sorted(set(kwargs) - set(params) - set(info.shape_args))
    if unknown:
        takes = sorted([*params, *info.shape_args])
        raise ConfigError(f"model {name!r} does not take {', '.join(map(repr, unknown))}; it takes: {', '.join(takes)}")
    resolved = {**{k: p.default for k, p in params.items()}, **info.shape_args, **kwargs}
    model = info.factory(**{k: v for k, v in kwargs.items() if k in params})
    input_shape = tuple(info.input_shape(resolved))
    log.debug("created model %s with %s, input shape %s", name, kwargs or "the defaults", input_shape)
    outputs = None if info.outputs is None else dict(info.outputs)
    return ModelSpec(model, input_shape, outputs, notes=info.notes or info.description)


__all__ = [
    "MODELS",
    "ModelInfo",
    "ModelSpec",
    "UTKFACE_OUTPUTS",
    "code_classifier",
    "colour_base",
    "colour_residual",
    "colour_residual_seed",
    "colour_unet",
    "colour_unet_full",
    "count_parameters",
    "create_model",
    "decoder_of",
    "double_conv",
    "encoder_of",
    "espcn",
    "light_vgg",
    "list_models",
    "mnist_autoencoder",
    "res_block",
    "sr_cnn",
    "sr_mlp",
    "torchvision_vgg16_key",
    "utkface_cnn",
    "vgg16",
]
