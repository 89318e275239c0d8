"""Layers of the NumPy engine and the registry that maps architecture-JSON type names to them."""

from __future__ import annotations

from nnlab.engine.layers.activation import (
    Activation,
    Identity,
    LeakyReLU,
    LogSoftmax,
    PReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from nnlab.engine.layers.containers import Concat, Residual
from nnlab.engine.layers.conv import Conv1d, Conv2d, ConvTranspose2d
from nnlab.engine.layers.dropout import Dropout
from nnlab.engine.layers.linear import Dense, Linear
from nnlab.engine.layers.norm import BatchNorm1d, BatchNorm2d
from nnlab.engine.layers.pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d, Upsample
from nnlab.engine.layers.registry import LAYERS, layer_config, layer_from_config, register
from nnlab.engine.layers.reshape import Flatten, Reshape
from nnlab.engine.layers.shuffle import GlobalAvgPool2d, PixelShuffle

__all__ = [
    "LAYERS", "register", "layer_from_config", "layer_config",
    "Linear", "Dense", "Activation", "Identity", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
    "Softmax", "LogSoftmax", "PReLU", "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d",
    "AvgPool2d", "Upsample", "BatchNorm1d", "BatchNorm2d", "Dropout", "Flatten", "Reshape", "Residual", "Concat",
    "PixelShuffle", "GlobalAvgPool2d",
]
