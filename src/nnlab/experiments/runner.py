"""The one pipeline every experiment runs through: config, run folder, log, report.

``run_experiment(name, ...)`` resolves the config, makes ``runs/NAME/TIMESTAMP/`` (or ``out``),
logs into ``run.log``, calls the experiment's ``run(ctx)``, and writes what it recorded:

    config.yaml     the resolved config, with the experiment, preset, engine and seed
    metrics.json    the recorded metrics, ``wall_s`` and ``status`` (``ok`` or ``failed``)
    summary.json    what the experiment is, and each metric's description, unit, seed number, target
    history*.csv    one row per epoch for every training run recorded
    figures/*.png   every figure;  tables/*.csv  every table
    model.*         the model files the experiment saved
    manifest.json   what the report shows, in order
    report.html     self-contained (figures embedded), and report.md

A run that fails still writes its metrics (with the error) and a report of what it got to.

One concept, running an experiment: the context it records through, and the run's life (start,
resume, the processes of a torchrun job, the files written at its end), so one module of about 500
lines; the run folder itself (place, lock, what a finished or unfinished run left) is
:mod:`nnlab.experiments.run_folder`.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import shutil
import time
import weakref
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import yaml

from nnlab import seeds
from nnlab.atomic_io import atomic_write_bytes, atomic_write_text
from nnlab.data.registry import entry, load
from nnlab.data.sources import locate
from nnlab.engine.layers.registry import layer_config
from nnlab.engine.module import Module
from nnlab.engine.serialization import save_model
from nnlab.errors import ConfigError, DataError
from nnlab.process import tune_malloc
from nnlab.experiments import config as configs
from nnlab.experiments.registry import Experiment, get
from nnlab.experiments.run_folder import (
    CHECKPOINTS,
    check_same_run,
    finished_run,
    git_revision,
    lock_run_dir,
    make_run_dir,
    release_run_dir,
)
from nnlab.reporting.figures import history_figure, save
from nnlab.reporting.report import write_report
from nnlab.training.callbacks import EpochLogger, ModelCheckpoint, PhaseBar
from nnlab.training.history import History

log = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Fitted(NamedTuple):
    """What :meth:`RunContext.fit` returns."""

    history: History
    seconds: float          # wall time of the fit (a resumed fit: of this process's part)


class RunContext:
    """What an experiment's ``run`` uses: its config and the run folder's recorders."""

    def __init__(self, experiment: Experiment, cfg: Any, out: Path, *, smoke: bool, engine: str,
                 data_dir: str | None, progress: bool) -> None:
        self.experiment, self.cfg, self.out = experiment, cfg, Path(out)
        self.name = experiment.name
        self.smoke, self.engine, self.data_dir, self.progress = smoke, engine, data_dir, progress
        self.data_used: list[dict[str, str]] = []  # every data set read: name, split, folder
        self.device = "auto"  # where a torch-engine experiment trains: auto, cpu or cuda
        self.log = logging.getLogger(f"nnlab.experiments.{experiment.name}")
        self.metrics: dict[str, Any] = {}
        self.manifest: list[dict[str, Any]] = []
        self.checkpoint_names: list[str] = []  # the training phases that asked for a checkpoint
        self.checkpoint_dir = self.out / CHECKPOINTS  # under torchrun, the main process's run folder's
        self.rank, self.world_size = 0, 1  # under torchrun: this process's place in the job
        self.phases_started = 0      # calls of callbacks(): training phases begun
        self.tensorboard: Path | None = None   # with --tensorboard: the run's TensorBoard folder (rank 0)
        self._tb_phases: list[str] = ["figures"]   # its folders so far (a phase named figures gets figures-2)
        self._tb_figures: Any = None
        self._tb_figure_steps: dict[str, int] = {}   # figure name -> times written
        # a torch Trainer -> the engine model it trains a copy of (weak: a dropped trainer leaves)
        self._converted: weakref.WeakKeyDictionary[Any, Module] = weakref.WeakKeyDictionary()
        self._drawn: set[str] = set()  # the architectures drawn so far (input shape + layer config, as JSON)

    # -- recording ------------------------------------------------------------------
    def record(self, **metrics: Any) -> None:
        """Add headline metrics (numbers, strings or small lists) to ``metrics.json``."""
        self.metrics.update(_jsonable(metrics))
        self.log.info("%s", "  ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in metrics.items() if not isinstance(v, (list, dict))))

    def figure(self, name: str, fig: Any, caption: str = "") -> Path:
        """Save a matplotlib figure as ``figures/NAME.png`` and show it in the report."""
        path = self.out / "figures" / f"{name}.png"
        save(fig, path)
        if self.tensorboard is not None:
            self._tensorboard_figure(name, path.read_bytes())
        self.manifest.append({"kind": "figure", "name": name, "path": str(path.relative_to(self.out)),
                              "caption": caption})
        return path

    def table(self, name: str, rows: list[dict[str, Any]], caption: str = "") -> Path:
        """Save rows as ``tables/NAME.csv`` and show them in the report."""
        import io

        path = self.out / "tables" / f"{name}.csv"
        rows = _jsonable(rows)
        keys = list(dict.fromkeys(k for row in rows for k in row))
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(path, buf.getvalue())
        self.manifest.append({"kind": "table", "name": name, "path": str(path.relative_to(self.out)),
                              "caption": caption})
        return path

    def note(self, markdown: str, title: str = "") -> None:
        """A paragraph of text (Markdown) in the report."""
        self.manifest.append({"kind": "note", "title": title, "text": markdown})

    def history(self, history: History, name: str = "history", plot: bool = True, caption: str = "") -> Path:
        """Write ``NAME.csv`` (one row per epoch) and, with ``plot``, its curves as a figure."""
        path = self.out / f"{name}.csv"
        history.to_csv(path)
        self.manifest.append({"kind": "history", "name": name, "path": path.name})
        if plot and len(history):
            self.figure(f"{name}-curves", history_figure(history, title=name), caption or f"{name}: curves per epoch")
        return path

    def save_model(self, model: Any, name: str = "model") -> Path:
        """Save an engine model (``NAME.json`` + ``NAME.npz``) or a torch module (``NAME.pt``)."""
        if isinstance(model, Module):
            save_model(model, self.out / name)
            path = self.out / f"{name}.npz"
        else:
            import io

            import torch

            buf = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
            path = self.out / f"{name}.pt"
            atomic_write_bytes(path, buf.getvalue())
        self.manifest.append({"kind": "model", "name": name, "path": path.name})
        return path

    def checkpoint(self, name: str) -> ModelCheckpoint:
        """The resumable checkpoint of training phase ``name`` (unique within the run), for the
        ``checkpoint`` argument of ``Sequential.fit`` and ``Trainer.fit``: written under
        ``checkpoints/`` after each epoch (at most every :data:`CHECKPOINT_INTERVAL_S`) and when the
        phase ends. Running the experiment again into the same folder resumes every phase from it;
        a finished phase returns at once. The folder is removed when the run finishes."""
        base, n = name, 1
        while name in self.checkpoint_names:   # the same name twice: numbered in call order, so a resume agrees
            n += 1
            name = f"{base}-{n}"
        self.checkpoint_names.append(name)
        return ModelCheckpoint(self.checkpoint_dir / name, min_interval_s=CHECKPOINT_INTERVAL_S)

    # -- training -------------------------------------------------------------------
    def trainer(self, model: Any, *, loss: Any, optimizer: Any, metrics: Any = (), engine: str | None = None,
                **options: Any) -> Any:
        """What trains ``model`` on this run's engine (or ``engine``, for a phase that always runs on
        one), for :meth:`fit`.

        On the NumPy engine, ``model`` (an engine ``Sequential``) itself, compiled with ``loss``,
        ``optimizer`` and ``metrics``. On the torch engine, a :class:`nnlab.torchlib.Trainer` of
        its PyTorch copy (or of ``model`` itself when it already is a ``torch.nn.Module``) with the
        run's seed and device; ``options`` go to the Trainer (``channels_last``...). After
        :meth:`fit`, a converted model gets the trained weights back, so the experiment goes on
        with the engine model whatever the engine.
        """
        if (engine or self.engine) != "torch":
            if not isinstance(model, Module):
                raise ConfigError(f"{self.name}: the numpy engine trains nnlab.engine models, not"
                                  f" {type(model).__name__}")
            model.compile(loss=loss, optimizer=optimizer, metrics=list(metrics))
            return model
        from nnlab.torchlib import Trainer, to_torch   # torch loads only for the torch engine

        net = to_torch(model) if isinstance(model, Module) else model
        options.setdefault("device", self.device)
        trainer = Trainer(net, loss=loss, optimizer=optimizer, metrics=list(metrics), seed=self.cfg.seed, **options)
        if isinstance(model, Module):
            self._converted[trainer] = model
        return trainer

    def fit(self, name: str, trainer: Any, x: Any, y: Any, *, epochs: int, batch_size: int,
            validation_data: Any = None, callbacks: Any = (), history: bool = True, plot: bool = True,
            caption: str = "", **options: Any) -> Fitted:
        """Train phase ``name``: ``trainer.fit`` (an engine model or a torchlib Trainer, e.g. from
        :meth:`trainer`) with ``callbacks`` and the run's own (epoch log, progress), resumable from
        the phase's checkpoint (:meth:`checkpoint`), timed. With ``history`` the epochs go to
        ``NAME.csv`` (and, with ``plot``, a figure with ``caption``). ``options`` go to ``fit``
        (``augment``, ``shuffle``...). Returns the history and the seconds it took. The first phase
        to train an engine network of a given architecture draws it (figure ``network-NAME``)."""
        self._draw_network(name, trainer if isinstance(trainer, Module) else self._converted.get(trainer))
        start = time.perf_counter()
        callbacks = list(callbacks)
        # under torchrun a NumPy-engine phase is trained by the main process alone (a torch Trainer
        # trains data-parallel in every process)
        on_main_only = self.world_size > 1 and isinstance(trainer, Module)
        h = None if on_main_only and self.rank != 0 else trainer.fit(
            x, y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
            callbacks=[*callbacks, *self.callbacks(epochs, name, x=x)], checkpoint=self.checkpoint(name), **options)
        if on_main_only:
            h = self._share_phase(trainer, h, callbacks)
        seconds = time.perf_counter() - start
        model = self._converted.pop(trainer, None)
        if model is not None:                           # the torch engine trained a copy: weights come back
            from nnlab.torchlib.convert import copy_weights_from_torch

            copy_weights_from_torch(trainer.model, model)
        if history:
            self.history(h, name, plot=plot, caption=caption)
        return Fitted(h, seconds)

    def _draw_network(self, name: str, model: Module | None) -> None:
        """Record the drawing of ``model``, which phase ``name`` trains, as ``network-NAME``: once per
        architecture in a run (a batch-size study's many fits of one network give one drawing), by the
        main process only. A drawing that fails is logged; it never stops the run."""
        if self.rank != 0 or model is None or not model.built:
            return
        key = json.dumps([list(model.input_shape or ()), layer_config(model)], sort_keys=True, default=str)
        if key in self._drawn:
            return
        self._drawn.add(key)
        from nnlab.reporting.network_plot import figure_caption, network_figure, network_layout

        taken = {item["name"] for item in self.manifest if item["kind"] == "figure"}
        figure_name, n = f"network-{name}", 1
        while figure_name in taken:                     # one phase name, two networks: network-NAME-2
            n += 1
            figure_name = f"network-{name}-{n}"
        try:
            layout = network_layout(model)
            self.figure(figure_name, network_figure(layout), figure_caption(layout))
        except Exception as exc:  # a drawing is not worth a run
            self.log.warning("could not draw the network of phase %s: %s", name, exc)

    def _share_phase(self, model: Module, h: Any, callbacks: list[Any]) -> Any:
        """After a NumPy-engine phase under torchrun, which the main process trained: the others take
        its weights, history and the state of the experiment's callbacks (what they recorded), so
        that every process goes on with the same model. Returns the history."""
        states = [cb.state_dict() if callable(getattr(cb, "state_dict", None)) else None for cb in callbacks]
        h, weights, states = _share((h, model.state_dict(), states) if self.rank == 0 else None)
        if self.rank != 0:
            model.load_state_dict(weights)
            for cb, state in zip(callbacks, states):
                if state is not None:
                    cb.load_state_dict(state)
        return h

    def callbacks(self, epochs: int, name: str = "", x: Any = None) -> list[Any]:
        """The standard callbacks of a training run: a progress bar (if on), an epoch log and, with
        :attr:`tensorboard`, a :class:`~nnlab.training.tensorboard.TensorBoard` (``x``: the phase's
        inputs, whose first images it shows)."""
        # with a progress bar the console shows each epoch as the bar's compact line; the log file keeps it all
        cbs: list[Any] = [EpochLogger(logging.getLogger(f"nnlab.experiments.{self.name}{'.' + name if name else ''}"),
                                      console=not self.progress)]
        self.phases_started += 1
        if self.progress:
            cbs.append(PhaseBar(epochs, self.phase_label(name)))
        if self.tensorboard is not None and self.rank == 0:
            cbs.append(self._tensorboard_callback(name, x))
        return cbs

    # -- TensorBoard (--tensorboard) --------------------------------------------------
    def _tensorboard_callback(self, name: str, x: Any) -> Any:
        """The TensorBoard callback of phase ``name``, logging into ``tensorboard/NAME/`` (numbered when
        a run trains two phases of one name): the run's settings as hparams and, for image inputs
        ((N, C, H, W) with 1 or 3 channels), the first 8 as ``inputs/0..7``."""
        from nnlab.training.tensorboard import TensorBoard, flatten_hparams

        base = phase = name or self.name
        n = 1
        while phase in self._tb_phases:    # numbered in call order, so a resume agrees
            n += 1
            phase = f"{base}-{n}"
        self._tb_phases.append(phase)
        hparams = {**flatten_hparams(configs.to_dict(self.cfg)), "run.experiment": self.name,
                   "run.engine": self.engine, "run.phase": phase, "run.smoke": self.smoke}
        images = {}
        if getattr(x, "ndim", 0) == 4 and x.shape[1] in (1, 3):
            images["inputs"] = _display_images(np.asarray(x[:8]))
        return TensorBoard(self.tensorboard / phase, hparams=hparams, images=images,
                           trial_id=f"{self.name}/{self.out.name}/{phase}")

    def _tensorboard_figure(self, name: str, png: bytes) -> None:
        """A saved figure as the image ``figures/NAME`` in ``tensorboard/figures`` (step: times saved)."""
        from nnlab.training.tensorboard import EventWriter

        if self._tb_figures is None:
            self._tb_figures = EventWriter(self.tensorboard / "figures")
            self._tb_figures.restart(0)    # a resumed run makes its figures again: drop the first try's
        step = self._tb_figure_steps[name] = self._tb_figure_steps.get(name, -1) + 1
        self._tb_figures.png(f"figures/{name}", png, step)
        self._tb_figures.flush()

    def close(self) -> None:
        """Close what the run keeps open (the TensorBoard figure writer)."""
        if self._tb_figures is not None:
            self._tb_figures.close()
            self._tb_figures = None

    def phase_label(self, name: str) -> str:
        """``[2/3] unet`` when the experiment declares its phases, else ``[phase 2] unet``."""
        planned = self.experiment.phases(self.cfg) if self.experiment.phases is not None else []
        if name in planned:
            return f"[{planned.index(name) + 1}/{len(planned)}] {name}"
        return f"[phase {self.phases_started}] {name or self.name}"

    def data(self, name: str, split: str | None = None, **kwargs: Any):
        """A data set by name from ``--data-dir`` (only there when given), else ``NNLAB_DATA`` or the
        cache; the folder read is logged and listed in ``summary.json`` and the report."""
        folder, _ = locate(entry(name).files, self.data_dir, name=name)
        data = load(name, split, data_dir=self.data_dir, **kwargs)
        used = {"name": name, "split": split or entry(name).splits[0], "folder": str(folder.resolve())}
        if used not in self.data_used:
            self.data_used.append(used)
        return data


def _display_images(x: np.ndarray) -> np.ndarray:
    """Images (N, C, H, W) as (N, H, W, C) for display: floats outside [0, 1] rescaled to it (over the batch)."""
    x = np.moveaxis(x, 1, -1)
    if np.issubdtype(x.dtype, np.floating):
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        if lo < 0 or hi > 1:
            x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    return x


#: a training phase writes its checkpoint after an epoch at most this often (every epoch when
#: epochs are slower): thousands of millisecond epochs would otherwise spend their time writing
CHECKPOINT_INTERVAL_S = 5.0


def resolve_config(exp: Experiment, *, preset: str | None = None, config_file: str | Path | None = None,
                   overrides: list[str] | tuple[str, ...] = (), smoke: bool = False) -> Any:
    layers = []
    if preset is not None:
        if preset not in exp.presets:
            raise ConfigError(f"{exp.name} has presets {sorted(exp.presets) or 'none'}, not {preset!r}")
        layers.append((f"preset {preset}", exp.presets[preset]))
    if smoke:
        layers.append(("smoke settings", exp.smoke))
    cfg = configs.resolve(exp.config, layers=layers, config_file=config_file, overrides=overrides)
    if exp.check is not None:
        exp.check(cfg)
    return cfg


def check_run_options(exp: Experiment, engine: str | None, threads: int | None, device: str) -> str:
    """The engine a run of ``exp`` trains on (its first when None), after checking it and the thread
    count and device against each other; a bad one is a ConfigError."""
    engine = engine or exp.engines[0]
    if engine not in exp.engines:
        raise ConfigError(f"{exp.name} runs on {', '.join(exp.engines)}, not {engine!r}")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {threads}")
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and engine != "torch":
        raise ConfigError(f"{exp.name} on the {engine} engine runs on the CPU; --device cuda needs --engine torch")
    return engine


def run_experiment(name: str, *, preset: str | None = None, config_file: str | Path | None = None,
                   overrides: list[str] | tuple[str, ...] = (), smoke: bool = False, engine: str | None = None,
                   out: str | Path | None = None, data_dir: str | None = None, progress: bool = False,
                   root: str | Path = "runs", force: bool = False, threads: int | None = None,
                   device: str = "auto", tensorboard: bool = False) -> Path:
    """Run experiment ``name`` into its own folder and return the folder.

    An ``out`` folder that holds a finished run (``metrics.json`` with status ``ok``) is refused
    unless ``force``: a finished run is never overwritten by accident. ``threads`` caps the BLAS
    (threadpoolctl) and torch threads for the run; ``device`` (``auto``, ``cpu`` or ``cuda``) is where
    a torch-engine experiment trains. With ``tensorboard`` every training phase also logs for
    TensorBoard into ``RUN/tensorboard/PHASE/`` (curves, weight and gradient histograms, settings) and
    every figure into ``RUN/tensorboard/figures/``: ``tensorboard --logdir runs`` shows every run.
    """
    if tensorboard:
        from nnlab.training.tensorboard import require_tensorboard

        require_tensorboard()     # a ConfigError naming the extra to install, before any run folder
    tune_malloc()          # the allocator keeps the pages training frees and takes again (nnlab.process)
    exp = get(name)
    engine = check_run_options(exp, engine, threads, device)
    cfg = resolve_config(exp, preset=preset, config_file=config_file, overrides=overrides, smoke=smoke)
    ranks = _torchrun_ranks()
    if ranks is not None and not ranks.is_main:
        return _follow_main(exp, cfg, ranks, engine=engine, device=device, threads=threads, smoke=smoke,
                            data_dir=data_dir)
    try:
        created = out is None or not Path(out).exists()
        if out is not None and not force and finished_run(Path(out)):
            raise ConfigError(f"{out} holds a finished run; choose another --out, or --force to overwrite it")
        if out is not None and not force and not created:
            check_same_run(Path(out), name, cfg)
        run_dir = make_run_dir(name, out, root)
        lock = lock_run_dir(run_dir)
    except Exception:
        if ranks is not None:  # the other processes wait for the run folder: none, so they stop
            _share(None)
        raise
    if ranks is not None:
        _share(str(run_dir))
    try:
        if force:
            shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)   # start over
        resuming = (run_dir / CHECKPOINTS).is_dir()
        result = _run_locked(exp, cfg, run_dir, name=name, preset=preset, engine=engine, device=device,
                             threads=threads, smoke=smoke, overrides=overrides, config_file=config_file,
                             data_dir=data_dir, progress=progress, created=created, out=out, resuming=resuming,
                             ranks=ranks, tensorboard=tensorboard)
    finally:
        release_run_dir(lock)
    if ranks is not None:  # finished: the others end too (on a failure torchrun stops them)
        _share(None)
    return result


# -- under torchrun -------------------------------------------------------------------------
RANK_TIMEOUT_S = 7 * 24 * 3600  # how long the other processes may wait for the main one's NumPy-engine phases


def _torchrun_ranks() -> Any:
    """This process's place in a ``torchrun`` job (joined now), or None when not under torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from nnlab.torchlib.distributed import init_distributed

    return init_distributed(timeout_s=RANK_TIMEOUT_S)


def _share(value: Any) -> Any:
    from nnlab.torchlib.distributed import share_from_main

    return share_from_main(value)


def _follow_main(exp: Experiment, cfg: Any, ranks: Any, *, engine: str, device: str, threads: int | None,
                 smoke: bool, data_dir: str | None) -> Path:
    """A process of a ``torchrun`` job other than the main one: it runs the experiment beside the
    main process (the torch phases train data-parallel; the NumPy-engine phases are the main
    process's, see :meth:`RunContext.fit`), writes into a scratch folder that it removes, resumes
    from the main run folder's checkpoints, and ends when the main process has finished (torchrun
    stops it when the main process fails)."""
    import tempfile

    main_dir = _share(None)
    if main_dir is None:  # the main process refused the run, and says why
        raise SystemExit(2)
    run_dir = Path(main_dir)
    scratch = Path(tempfile.mkdtemp(prefix=f"nnlab-rank{ranks.rank}-"))
    ctx = RunContext(exp, cfg, scratch, smoke=smoke, engine=engine, data_dir=data_dir, progress=False)
    ctx.device, ctx.rank, ctx.world_size = device, ranks.rank, ranks.world_size
    ctx.checkpoint_dir = run_dir / CHECKPOINTS
    nnlab_log = logging.getLogger("nnlab")
    previous_level = nnlab_log.level
    nnlab_log.setLevel(logging.WARNING)  # the main process logs the run
    try:
        with _thread_limits(threads, engine):
            exp.run(ctx)
        _share(None)  # until the main process has written the run's files
    finally:
        nnlab_log.setLevel(previous_level)
        shutil.rmtree(scratch, ignore_errors=True)
    return run_dir


def _run_locked(exp: Experiment, cfg: Any, run_dir: Path, *, name: str, preset: str | None, engine: str,
                device: str, threads: int | None, smoke: bool, overrides: Any, config_file: Any,
                data_dir: str | None, progress: bool, created: bool, out: Any, resuming: bool = False,
                ranks: Any = None, tensorboard: bool = False) -> Path:
    atomic_write_text(run_dir / "metrics.json", json.dumps({"status": "running"}) + "\n")
    meta = {"experiment": name, "preset": preset, "engine": engine, "device": device, "threads": threads,
            "smoke": smoke,
            "overrides": list(overrides), "config_file": str(config_file) if config_file else None,
            "data_dir": data_dir, "started": datetime.now().isoformat(timespec="seconds"), "git": git_revision(),
            "resumed": resuming, "tensorboard": tensorboard, "malloc": tune_malloc(),
            **({"processes": ranks.world_size} if ranks is not None else {})}
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump({"run": meta, "config": configs.to_dict(cfg)}, sort_keys=False))
    handler = logging.FileHandler(run_dir / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    nnlab_log = logging.getLogger("nnlab")
    previous_level = nnlab_log.level
    nnlab_log.addHandler(handler)
    if nnlab_log.getEffectiveLevel() > logging.INFO:
        nnlab_log.setLevel(logging.INFO)
    ctx = RunContext(exp, cfg, run_dir, smoke=smoke, engine=engine, data_dir=data_dir, progress=progress)
    ctx.device = device
    if tensorboard:
        ctx.tensorboard = run_dir / "tensorboard"
        log.info("TensorBoard logs in %s (tensorboard --logdir %s)", ctx.tensorboard, ctx.tensorboard)
    if ranks is not None:
        ctx.rank, ctx.world_size = ranks.rank, ranks.world_size
    start = time.perf_counter()
    status, error, discard = "ok", None, False
    if resuming:
        log.info("continuing the unfinished run in %s from its checkpoints (%s)", run_dir,
                 ", ".join(sorted(p.name for p in (run_dir / CHECKPOINTS).iterdir())) or "none yet")
    log.info("running %s%s into %s", name, " (smoke)" if smoke else "", run_dir)
    try:
        with _thread_limits(threads, engine):
            exp.run(ctx)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        status = "interrupted" if interrupted else "failed"
        error = (str(exc) or "Ctrl-C") if interrupted else f"{type(exc).__name__}: {exc}"
        # a bad setting or missing data found before anything was recorded: the caller reports it
        # once, and the folder this call made goes away
        discard = created and isinstance(exc, (ConfigError, DataError)) and not ctx.manifest and not ctx.metrics
        quiet = interrupted or isinstance(exc, (ConfigError, DataError))  # the CLI says these, once
        (log.debug if quiet else log.error)("%s %s: %s", name, status, error)
        raise
    finally:
        try:
            if discard:
                shutil.rmtree(run_dir, ignore_errors=True)
                if out is None:  # runs/NAME/ and runs/ too, when they hold nothing else
                    with contextlib.suppress(OSError):
                        run_dir.parent.rmdir()
                        run_dir.parent.parent.rmdir()
            else:
                if status == "ok":
                    shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)  # finished: the models are saved
                ctx.metrics.update({"wall_s": round(time.perf_counter() - start, 3), "status": status})
                if error:
                    ctx.metrics["error"] = error
                atomic_write_text(run_dir / "metrics.json", json.dumps(_jsonable(ctx.metrics), indent=2) + "\n")
                atomic_write_text(run_dir / "manifest.json", json.dumps(ctx.manifest, indent=2) + "\n")
                summary = {**summarize(exp, ctx.metrics), "data": ctx.data_used}
                atomic_write_text(run_dir / "summary.json", json.dumps(_jsonable(summary), indent=2) + "\n")
                write_report(run_dir)
        finally:
            ctx.close()
            nnlab_log.removeHandler(handler)
            handler.close()
            nnlab_log.setLevel(previous_level)
    return run_dir


@contextlib.contextmanager
def _thread_limits(threads: int | None, engine: str):
    """BLAS (threadpoolctl), the NumPy engine's own threads and, for the torch engine, torch
    threads capped at ``threads``."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    from nnlab.engine import threads as engine_threads

    previous = engine_threads.set_threads(threads)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(threadpool_limits(limits=threads))
            if engine == "torch":
                from nnlab.torchlib import torch_threads

                stack.enter_context(torch_threads(threads))
            yield
    finally:
        engine_threads.set_threads(previous)


def summarize(exp: Experiment, metrics: dict[str, Any]) -> dict[str, Any]:
    """What a report needs to explain a run's numbers: the experiment's ``about`` and one row
    per numeric metric with its description, unit, the seed's number and nnlab's target.

    Rows of the numbers the seeds report (:mod:`nnlab.seeds`) come first, in the seeds' order;
    the other metrics follow in the order they were recorded.
    """
    catalog = seeds.by_metric(exp.name)
    numeric = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    order = [k for k in catalog if k in numeric] + [k for k in numeric if k not in catalog]
    rows = []
    for key in order:
        number = catalog.get(key)
        description, unit = exp.describe(key) or (number and (number.what, number.unit)) or ("", "")
        rows.append({"key": key, "value": numeric[key], "description": description, "unit": unit,
                     "seed": number.value if number else None,
                     "seed_ref": f"seed {number.seed}, {number.question}" if number and number.seed else None,
                     "target": number.target if number else None, "mode": number.mode if number else None,
                     "met": number.met(numeric[key], numeric) if number else None,
                     "note": number.note if number else ""})
    return {"experiment": exp.name, "summary": exp.summary, "about": exp.about, "metrics": rows}


