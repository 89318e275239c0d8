"""Losses the PyTorch trainer needs beyond ``torch.nn``'s: several tasks on one output."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


class MultiTaskLoss(nn.Module):
    """Weighted sum of per-task losses on column blocks of one output.

    ``tasks`` maps a task name to ``(outputs, target_column, kind, weight)``: ``outputs`` is the
    slice of the network's output columns, ``kind`` is ``"mse"``, ``"l1"`` or
    ``"cross_entropy"`` (the target column then holds class indices). Targets are one (N, T)
    float tensor with a column per task.

    Shapes: outputs (N, K), targets (N, T) -> a scalar (the weighted mean losses).
    """

    KINDS = ("mse", "l1", "cross_entropy")

    def __init__(self, tasks: Mapping[str, tuple[slice, int, str, float]]) -> None:
        super().__init__()
        if not tasks:
            raise ValueError("MultiTaskLoss needs at least one task")
        for name, (_, _, kind, _) in tasks.items():
            if kind not in self.KINDS:
                raise ValueError(f"task {name}: kind must be one of {self.KINDS}, got {kind!r}")
        self.tasks = dict(tasks)

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if targets.ndim != 2:
            raise ValueError(f"MultiTaskLoss expects (N, T) targets, got {tuple(targets.shape)}")
        total = outputs.new_zeros(())
        for name, (cols, column, kind, weight) in self.tasks.items():
            out, target = outputs[:, cols], targets[:, column]
            if kind == "cross_entropy":
                loss = nn.functional.cross_entropy(out, target.long())
            elif kind == "mse":
                loss = nn.functional.mse_loss(out.reshape(-1), target.to(out.dtype))
            else:
                loss = nn.functional.l1_loss(out.reshape(-1), target.to(out.dtype))
            total = total + weight * loss
        return total
