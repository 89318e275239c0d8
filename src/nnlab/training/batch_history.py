"""The per-iteration record of a training run: the loss of every optimizer step."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from nnlab.training.callbacks import Callback


class BatchHistory(Callback):
    """The logs of every batch (``loss`` by default), with the epoch and step they belong to.

    Both training loops call ``on_batch_end(trainer, step, {"loss": ...})`` after each
    optimizer step, so the same callback records the NumPy engine and the PyTorch trainer.
    Several ``fit`` calls with one recorder append in order (iterations keep counting).

    ``values[key]`` holds one float per iteration; ``epochs`` and ``steps`` (0-based, within
    the epoch) say where each came from. A key missing from a batch's logs is NaN there.
    """

    def __init__(self, keys: tuple[str, ...] = ("loss",)) -> None:
        self.keys = tuple(keys)
        self.epochs: list[int] = []
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {k: [] for k in self.keys}
        self._epoch = 0

    state_attributes = ("epochs", "steps", "values")

    def on_epoch_begin(self, trainer: Any, epoch: int) -> None:
        self._epoch = int(epoch)

    def on_batch_end(self, trainer: Any, step: int, logs: Mapping[str, float]) -> None:
        self.epochs.append(self._epoch)
        self.steps.append(int(step))
        for key in self.keys:
            self.values[key].append(float(logs.get(key, np.nan)))

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, key: str) -> np.ndarray:
        """One value per iteration. Shapes: -> (iterations,) float64."""
        if key not in self.values:
            raise KeyError(f"no {key!r} recorded per batch; recorded: {', '.join(self.values)}")
        return np.asarray(self.values[key], dtype=np.float64)

    def epoch_starts(self) -> list[tuple[int, int]]:
        """``(epoch, iteration)`` of each epoch's first batch; iterations count from 1."""
        starts, previous = [], None
        for i, epoch in enumerate(self.epochs):
            if epoch != previous:
                starts.append((epoch, i + 1))
                previous = epoch
        return starts

    def epoch_means(self, key: str = "loss") -> dict[int, float]:
        """The mean of ``key`` over each epoch's batches (unweighted by batch size)."""
        values, epochs = self[key], np.asarray(self.epochs)
        return {int(e): float(values[epochs == e].mean()) for e in dict.fromkeys(self.epochs)}

    def to_rows(self) -> list[dict[str, float]]:
        return [{"iteration": i + 1, "epoch": e, "step": s, **{k: v[i] for k, v in self.values.items()}}
                for i, (e, s) in enumerate(zip(self.epochs, self.steps))]

    def to_csv(self, path: str | Path) -> Path:
        """One row per iteration: ``iteration, epoch, step`` and the recorded keys."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["iteration", "epoch", "step", *self.keys])
            writer.writeheader()
            writer.writerows(self.to_rows())
        return path
