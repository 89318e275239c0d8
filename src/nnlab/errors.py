"""The exceptions every part of nnlab raises. Each names the problem and, where it can, the fix.

They live at the package root, beside nothing else, so that any package (the engine, the data
readers, the experiments) can raise and catch them without importing another.
"""


class NNLabError(Exception):
    """Base class for nnlab errors."""


class ShapeError(NNLabError, ValueError):
    """An array does not have the shape a layer, loss or model expects."""


class DataError(NNLabError, ValueError):
    """Training or evaluation data is unusable (empty, NaN/inf, labels out of range...)."""


class ConfigError(NNLabError, ValueError):
    """A layer, loss, optimizer or schedule was configured with an invalid value."""


class WeightsMismatchError(NNLabError, ValueError):
    """A weights file does not match the architecture it is loaded into."""


class TrainingDivergedError(NNLabError, FloatingPointError):
    """The loss became NaN or infinite during training; training was stopped."""


