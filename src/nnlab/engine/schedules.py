"""Learning-rate schedules, as functions of the epoch number (the first epoch is 1).

=====================  ===================================================================
``Constant(lr)``        lr
``TimeDecay(a, n, b)``  a / epoch**n + b: the seed's automatic ("AUTO") decay
``StepDecay``           lr * gamma ** ((epoch - 1) // step_size)
``MultiStepDecay``      lr * gamma ** (number of milestones already passed): the rate is
                        multiplied by ``gamma`` after each milestone epoch (torch's MultiStepLR)
``ExponentialDecay``    lr * gamma ** (epoch - 1)
``CosineWarmup``        linear warm-up to lr over ``warmup_epochs``, then a half cosine from lr
                        (first epoch after warm-up) down to ``min_lr`` (last epoch)
``ReduceOnPlateau``     lr * factor after ``patience`` epochs without improvement of a monitored
                        value (stateful: feed it with ``update(value)`` after each epoch)
=====================  ===================================================================
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from nnlab.errors import ConfigError


class Schedule:
    name = ""

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError  # pragma: no cover

    def update(self, value: float) -> None:
        """Feed the monitored value at the end of an epoch (only stateful schedules use it)."""

    def get_config(self) -> dict[str, Any]:
        return dict(vars(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v}" for k, v in self.get_config().items()) + ")"


def _epoch(epoch: int) -> int:
    if epoch < 1:
        raise ValueError(f"epochs are numbered from 1, got {epoch}")
    return int(epoch)


class Constant(Schedule):
    name = "constant"

    def __init__(self, lr: float) -> None:
        self.lr = float(lr)

    def __call__(self, epoch):
        _epoch(epoch)
        return self.lr


class TimeDecay(Schedule):
    """lr = a / epoch**n + b (the seed's automatic decay; ``n=1, b=0`` is classic 1/t)."""

    name = "time_decay"

    def __init__(self, a: float, n: float = 1.0, b: float = 0.0) -> None:
        if a < 0 or n < 0 or b < 0:
            raise ConfigError("TimeDecay needs a, n, b >= 0")
        self.a, self.n, self.b = float(a), float(n), float(b)

    def __call__(self, epoch):
        return self.a / _epoch(epoch) ** self.n + self.b


class StepDecay(Schedule):
    name = "step"

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        if step_size < 1:
            raise ConfigError("StepDecay needs step_size >= 1")
        self.lr, self.step_size, self.gamma = float(lr), int(step_size), float(gamma)

    def __call__(self, epoch):
        return self.lr * self.gamma ** ((_epoch(epoch) - 1) // self.step_size)


class MultiStepDecay(Schedule):
    """lr * gamma ** k, where k counts the milestones before ``epoch``.

    ``milestones=[3, 6]`` trains epochs 1-3 at ``lr``, 4-6 at ``lr * gamma`` and 7 on at
    ``lr * gamma**2``: the step decay of Smith et al. (2017), who divide the rate by a factor
    at chosen epochs.
    """

    name = "multistep"

    def __init__(self, lr: float, milestones: list[int], gamma: float = 0.1) -> None:
        if any(int(m) < 1 for m in milestones) or gamma <= 0:
            raise ConfigError("MultiStepDecay needs milestones >= 1 and gamma > 0")
        self.lr, self.milestones, self.gamma = float(lr), sorted(int(m) for m in milestones), float(gamma)

    def __call__(self, epoch):
        e = _epoch(epoch)
        return self.lr * self.gamma ** sum(e > m for m in self.milestones)


class ExponentialDecay(Schedule):
    name = "exponential"

    def __init__(self, lr: float, gamma: float) -> None:
        self.lr, self.gamma = float(lr), float(gamma)

    def __call__(self, epoch):
        return self.lr * self.gamma ** (_epoch(epoch) - 1)


class CosineWarmup(Schedule):
    name = "cosine"

    def __init__(self, lr: float, total_epochs: int, warmup_epochs: int = 0, min_lr: float = 0.0) -> None:
        if total_epochs < 1 or not 0 <= warmup_epochs < total_epochs:
            raise ConfigError("CosineWarmup needs total_epochs >= 1 and 0 <= warmup_epochs < total_epochs")
        self.lr, self.total_epochs = float(lr), int(total_epochs)
        self.warmup_epochs, self.min_lr = int(warmup_epochs), float(min_lr)

    def __call__(self, epoch):
        e = _epoch(epoch)
        if e <= self.warmup_epochs:
            return self.lr * e / self.warmup_epochs
        span = max(1, self.total_epochs - self.warmup_epochs - 1)
        t = min(1.0, (e - self.warmup_epochs - 1) / span)
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * t))


class ReduceOnPlateau(Schedule):
    name = "plateau"

    def __init__(
        self,
        lr: float,
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        mode: str = "min",
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        if not 0 < factor < 1 or mode not in ("min", "max"):
            raise ConfigError("ReduceOnPlateau needs 0 < factor < 1 and mode 'min' or 'max'")
        self.lr, self.factor, self.patience = float(lr), float(factor), int(patience)
        self.min_delta, self.mode, self.cooldown, self.min_lr = float(min_delta), mode, int(cooldown), float(min_lr)
        self.current = self.lr
        self.best: float | None = None
        self.bad_epochs = 0
        self.cooldown_left = 0

    def __call__(self, epoch):
        _epoch(epoch)
        return self.current

    def state_dict(self) -> dict[str, float | int | None]:
        """What an exact resume needs: the current rate and the plateau counters."""
        return {"current": self.current, "best": self.best, "bad_epochs": self.bad_epochs,
                "cooldown_left": self.cooldown_left}

    def load_state_dict(self, state) -> None:
        self.current, self.best = float(state["current"]), state["best"]
        self.bad_epochs, self.cooldown_left = int(state["bad_epochs"]), int(state["cooldown_left"])

    def update(self, value: float) -> None:
        improved = self.best is None or (
            value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        )
        if improved:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        elif self.bad_epochs > self.patience:
            self.current = max(self.current * self.factor, self.min_lr)
            self.cooldown_left, self.bad_epochs = self.cooldown, 0

    def get_config(self):
        return {k: getattr(self, k) for k in ("lr", "factor", "patience", "min_delta", "mode", "cooldown", "min_lr")}


SCHEDULES = {c.name: c for c in (Constant, TimeDecay, StepDecay, MultiStepDecay, ExponentialDecay, CosineWarmup,
                                  ReduceOnPlateau)}
ALIASES = {"auto": "time_decay", "fixed": "constant", "cosine_warmup": "cosine", "reduce_on_plateau": "plateau"}


def make_schedule(spec: str | Mapping[str, Any] | Schedule | float) -> Schedule:
    """Build from a number (constant), a name, or ``{"name": ..., **kwargs}``."""
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, (int, float)):
        return Constant(spec)
    if isinstance(spec, str):
        spec = {"name": spec}
    kwargs = dict(spec)
    name = str(kwargs.pop("name", "")).lower()
    name = ALIASES.get(name, name)
    if name not in SCHEDULES:
        raise ConfigError(f"unknown schedule {name!r}; known: {', '.join(sorted(SCHEDULES))}, auto")
    try:
        return SCHEDULES[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"schedule {name!r}: {exc}") from None
