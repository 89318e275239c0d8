"""Framework-free training utilities shared by the NumPy engine and the PyTorch trainer.

A training loop (``Sequential.fit`` in the NumPy engine, the PyTorch trainer later) drives a
list of :class:`Callback` objects, handing each a :class:`TrainerLike`: the small interface
(learning rate, weights, checkpointing, stop flag) that callbacks are allowed to touch.
"""

from nnlab.training.batch_history import BatchHistory
from nnlab.training.batch_schedule import BatchSizeScheduler, BatchSizeSteps
from nnlab.training.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    EpochLogger,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    TerminateOnNaN,
    TrainerLike,
)
from nnlab.training.evaluation import EvaluateSets
from nnlab.training.history import History
from nnlab.training.live import LiveCurves
from nnlab.training.tensorboard import TensorBoard  # imports the tensorboard package only when used

__all__ = [
    "BatchHistory", "BatchSizeScheduler", "BatchSizeSteps", "EvaluateSets",
    "Callback", "CallbackList", "CSVLogger", "EarlyStopping", "EpochLogger", "History",
    "LearningRateScheduler", "LiveCurves", "ModelCheckpoint", "ProgressBar", "TensorBoard", "TerminateOnNaN",
    "TrainerLike",
]
