"""``nnlab lr-find NAME``: the learning-rate finder on an experiment's own network and data.

The experiment runs as it would (its data, preprocessing, network, loss and optimizer, on its
engine) up to the training phase asked for, the first by default; there, instead of training,
:func:`nnlab.training.lr_finder.find_lr` sweeps the learning rate on a copy of the phase's model
with the phase's batch size and training data, and the run stops. Earlier phases, when a later one
is asked for, train as usual (a fine-tuning phase starts from the pretrained weights). Nothing is
written into ``runs/``: the run's own files go to a scratch folder that is removed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnlab.errors import ConfigError
from nnlab.experiments.registry import get
from nnlab.experiments.runner import Fitted, RunContext, _thread_limits, check_run_options, resolve_config
from nnlab.training.lr_finder import LRFinderResult, find_lr

log = logging.getLogger(__name__)


@dataclass
class PhaseSweep:
    """The finder's result for one training phase of an experiment."""

    experiment: str
    phase: str
    engine: str
    result: LRFinderResult
    configured_lr: float | None    # the learning rate the phase's optimizer was given


class _Found(Exception):
    def __init__(self, sweep: PhaseSweep) -> None:
        super().__init__(sweep.phase)
        self.sweep = sweep


class _FinderContext(RunContext):
    """A RunContext whose ``fit`` of the chosen phase sweeps the learning rate and ends the run."""

    def __init__(self, *args: Any, phase: str | None, sweep: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target, self.sweep_options = phase, sweep
        self.seen: list[str] = []

    def fit(self, name: str, trainer: Any, x: Any, y: Any, *, epochs: int, batch_size: int,
            validation_data: Any = None, callbacks: Any = (), history: bool = True, plot: bool = True,
            caption: str = "", **options: Any) -> Fitted:
        self.seen.append(name)
        if self.target is not None and name != self.target:
            return super().fit(name, trainer, x, y, epochs=epochs, batch_size=batch_size,
                               validation_data=validation_data, callbacks=callbacks, history=history, plot=plot,
                               caption=caption, **options)
        lr = getattr(trainer, "lr", None)
        if lr is None and getattr(trainer, "optimizer", None) is not None:
            lr = getattr(trainer.optimizer, "lr", None)
        fit_options = {k: v for k, v in options.items() if k in ("augment", "augment_targets", "shuffle")}
        result = find_lr(trainer, x, y, batch_size=batch_size, **self.sweep_options, **fit_options)
        raise _Found(PhaseSweep(self.name, name, self.engine, result, None if lr is None else float(lr)))


def lr_find_experiment(name: str, *, phase: str | None = None, preset: str | None = None,
                       overrides: list[str] | tuple[str, ...] = (), config_file: str | Path | None = None,
                       smoke: bool = False, engine: str | None = None, device: str = "auto",
                       data_dir: str | None = None, threads: int | None = None, steps: int = 100,
                       start_lr: float = 1e-7, end_lr: float = 10.0) -> PhaseSweep:
    """Sweep the learning rate of experiment ``name``'s training phase ``phase`` (the first when
    None) and return what the sweep saw. Raises ConfigError when the experiment has no such phase."""
    exp = get(name)
    cfg = resolve_config(exp, preset=preset, config_file=config_file, overrides=overrides, smoke=smoke)
    planned = exp.phases(cfg) if exp.phases is not None else None
    if phase is not None and planned is not None and phase not in planned:
        raise ConfigError(f"{name} has no training phase {phase!r}; its phases: {', '.join(planned)}")
    engine = check_run_options(exp, engine, threads, device)
    scratch = Path(tempfile.mkdtemp(prefix=f"nnlab-lr-find-{name}-"))
    ctx = _FinderContext(exp, cfg, scratch, smoke=smoke, engine=engine, data_dir=data_dir, progress=False,
                         phase=phase, sweep={"steps": steps, "start_lr": start_lr, "end_lr": end_lr})
    ctx.device = device
    try:
        with _thread_limits(threads, engine):
            exp.run(ctx)
    except _Found as found:
        return found.sweep
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not ctx.seen:
        raise ConfigError(f"{name} trains no phase through its run context, so there is nothing to sweep")
    raise ConfigError(f"{name} has no training phase {phase!r}; its phases: {', '.join(dict.fromkeys(ctx.seen))}")
