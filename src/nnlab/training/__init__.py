"""Framework-free training utilities shared by the NumPy engine and the PyTorch trainer.

A training loop (``Sequential.fit`` in the NumPy engine, the PyTorch trainer later) drives a
list of :class:`Callback` objects, handing each a :class:`TrainerLike`: the small interface
(learning rate, weights, checkpointing, stop flag) that callbacks are allowed to touch.
"""

from nnlab.training.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    EpochLogger,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    TrainerLike,
)
from nnlab.training.history import History

__all__ = [
    "Callback", "CallbackList", "CSVLogger", "EarlyStopping", "EpochLogger", "History",
    "LearningRateScheduler", "ModelCheckpoint", "ProgressBar", "TrainerLike",
]
