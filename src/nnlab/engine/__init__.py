"""The NumPy engine: layers with explicit forward/backward, losses, initialisers, optimizers,
schedules, ``Sequential`` with ``fit``/``evaluate``/``predict``/``summary``, serialisation and
gradient checking. It imports NumPy and nothing else outside the standard library and nnlab's
own framework-free packages (``nnlab.training``, ``nnlab.metrics``).
"""

from nnlab.engine import init, schedules
from nnlab.engine.checkpoint import architecture, load_checkpoint, save_checkpoint
from nnlab.engine.gradcheck import GradcheckResult, gradcheck, numerical_gradient
from nnlab.engine.layers import (
    LAYERS,
    Activation,
    AvgPool1d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Concat,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool1d,
    MaxPool2d,
    PixelShuffle,
    PReLU,
    ReLU,
    Reshape,
    Residual,
    Sigmoid,
    Softmax,
    Tanh,
    Upsample,
    layer_from_config,
)
from nnlab.engine.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Loss,
    MSELoss,
    NLLLoss,
    make_loss,
)
from nnlab.engine.module import Module, Parameter
from nnlab.engine.optim import SGD, Adam, AdamW, Momentum, Optimizer, make_optimizer
from nnlab.engine.schedules import (
    Constant,
    CosineWarmup,
    ExponentialDecay,
    MultiStepDecay,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
    TimeDecay,
    make_schedule,
)
from nnlab.engine.sequential import Sequential
from nnlab.engine.serialization import load_model, model_from_spec, save_model
from nnlab.errors import (
    ConfigError,
    DataError,
    NNLabError,
    ShapeError,
    TrainingDivergedError,
    WeightsMismatchError,
)

__all__ = [
    "init", "schedules",
    "ConfigError", "DataError", "NNLabError", "ShapeError", "TrainingDivergedError", "WeightsMismatchError",
    "GradcheckResult", "gradcheck", "numerical_gradient",
    "LAYERS", "Activation", "Dense", "Identity", "LeakyReLU", "Linear", "LogSoftmax", "PReLU", "ReLU", "Sigmoid",
    "Softmax", "Tanh", "layer_from_config", "AvgPool1d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Concat",
    "Conv1d", "Conv2d", "ConvTranspose2d", "Dropout", "Flatten", "MaxPool1d", "MaxPool2d", "Reshape", "Residual",
    "Upsample", "PixelShuffle", "GlobalAvgPool2d",
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Loss", "MSELoss", "NLLLoss", "make_loss",
    "Module", "Parameter",
    "SGD", "Adam", "AdamW", "Momentum", "Optimizer", "make_optimizer",
    "Constant", "CosineWarmup", "ExponentialDecay", "MultiStepDecay", "ReduceOnPlateau", "Schedule", "StepDecay", "TimeDecay",
    "make_schedule",
    "Sequential",
    "architecture", "load_checkpoint", "load_model", "model_from_spec", "save_checkpoint", "save_model",
]
