"""Grid sweeps of an experiment on Optuna: one run folder per grid point, one report for all.

One concept, running a sweep (its scheduling, workers and recovery share the study's state), so
one module of about 500 lines.

``run_sweep("dummy", {"optimizer.lr": ["0.1", "0.01"], "hidden": ["[8]", "[16]"]})`` runs every
grid point through :func:`~nnlab.experiments.runner.run_experiment` and writes the sweep folder
(``runs/sweeps/NAME/TIMESTAMP`` or ``out``)::

    sweep.yaml        what was swept: experiment, grid, metric, preset, --set, study, storage
    study.db          the Optuna study (SQLite), unless ``storage`` names another database
    sweep.log         one line per finished trial, from every worker
    trials/P/         the run folder of grid point P, e.g. ``optimizer.lr=0.1,hidden=16x8``
    results.csv       one row per grid point, best first; report.html (self-contained), report.md

Scheduling. Optuna's GridSampler counts a failed trial as a visited grid point, so by itself it
never runs a failed point again. The sweep therefore queues every grid point that has no
COMPLETE, RUNNING or WAITING trial itself (with the sampler's grid id, so the sampler's own
bookkeeping agrees), and workers take trials from the queue until it is empty. Running the sweep
again with the same ``out`` thus resumes it: complete points are kept; failed, interrupted and
never-started ones run again. A trial whose worker died is failed and its point queued again
within the same run: on this host as soon as its process is gone, elsewhere once its Optuna
heartbeat is ``GRACE_S`` old. A point whose run raised is retried only by the next run.

Modules. The grid (parsing, checking every value, the points and their folder names) is
:mod:`nnlab.experiments.sweep_grid`; opening the database and the study (drivers, concurrent
creation, names) :mod:`nnlab.experiments.sweep_storage`; the report (``results.csv``, figures, HTML) is
:mod:`nnlab.reporting.sweep_report`; this module holds the Optuna study and the workers.

Workers. ``workers=1`` runs in this process; ``workers=N`` starts N 'spawn' processes that share
the study through its storage (SQLite is fine for a handful) and end when the sweep process
does. Another machine joins with the same ``storage`` URL (``postgresql://...``, with the
``postgres`` extra): with a database URL the study's name is derived from the experiment and
the grid, so the same command on any machine joins the same study. Any number of workers may
open a new database at once (the schema is created by one, the others retry). Each trial's
metrics are stored in the database with the host that ran it, so every machine's report shows
every point; a run folder on another machine is marked as such.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from nnlab.errors import ConfigError
from nnlab.experiments.registry import get
from nnlab.experiments.run_folder import CHECKPOINTS, finished_run, make_run_dir
from nnlab.experiments.runner import resolve_config, run_experiment
from nnlab.experiments.sweep_grid import Point, grid_points, objective, point_key
from nnlab.experiments.sweep_storage import default_study_name, grid_ids, masked_url, open_study
from nnlab.reporting.sweep_report import write_sweep_report

log = logging.getLogger(__name__)

HEARTBEAT_S = 20       # a running trial writes a heartbeat into the storage this often ...
GRACE_S = 60           # ... and is taken for dead (its point runs again) after this long without
POLL_S = 1.0           # how often an idle worker looks at points still running elsewhere


@dataclass(frozen=True)
class Plan:
    """What a worker needs to run grid points (picklable, for the 'spawn' processes)."""
    name: str
    module: str                       # the module that registers the experiment; workers import it
    choices: dict[str, list[Any]]     # the grid, in the order given
    points: tuple[Point, ...]
    metric: str
    direction: str                    # "min" | "max"
    sweep_dir: str
    storage: str
    study: str
    preset: str | None
    overrides: tuple[str, ...]
    smoke: bool
    data_dir: str | None
    threads: int | None = None        # CPU threads per trial (None: all)
    device: str = "auto"              # where torch-engine trials train

    def point(self, params: Any) -> Point | None:
        """The grid point with these values (in any key order), if any."""
        return self._by_key.get(point_key(params)) if isinstance(params, Mapping) else None

    @functools.cached_property
    def _by_key(self) -> dict[str, Point]:
        return {point_key(p.params): p for p in self.points}


# -- the study ------------------------------------------------------------------------------
def _open_study(plan: Plan):
    """The study's storage and the study (see :func:`~nnlab.experiments.sweep_storage.open_study`)."""
    return open_study(plan.storage, plan.study, plan.choices, plan.direction, heartbeat_s=HEARTBEAT_S,
                      grace_s=GRACE_S)


def _trials_by_point(study, plan: Plan, states=None) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for t in study.get_trials(deepcopy=False, states=states):
        point = plan.point(t.user_attrs.get("params", t.system_attrs.get("fixed_params")))
        if point is not None:
            out.setdefault(point.label, []).append(t)
    return out


def _enqueue(study, plan: Plan, retry_failed: bool) -> int:
    """Queue every point without a COMPLETE, RUNNING or WAITING trial; return how many.

    Without ``retry_failed``, a point whose last trial raised stays failed (this run tried it).
    """
    import optuna
    from optuna.trial import TrialState

    live = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)
    trials = _trials_by_point(study, plan)
    ids = grid_ids(study.sampler)
    queued = 0
    for p in plan.points:
        tried = trials.get(p.label, [])
        if any(t.state in live for t in tried) or (tried and not retry_failed and "error" in tried[-1].user_attrs):
            continue
        system = {"fixed_params": p.params, "search_space": plan.choices}
        grid_id = ids.get(tuple(p.params[k] for k in sorted(p.params)))
        if grid_id is not None:
            system["grid_id"] = grid_id
        study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING, system_attrs=system,
                                                  user_attrs={"point": p.label, "params": p.params}))
        queued += 1
    return queued


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or os.name == "nt":  # os.kill(pid, 0) would end the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        pass
    return True


def _recover(study, storage, plan: Plan) -> None:
    """Fail the trials whose worker is gone and queue their points again."""
    import optuna
    from optuna.trial import TrialState

    running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # heartbeats older than GRACE_S
    if running:
        for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
            if t.number in running:
                log.warning("trial %d (%s) on %s: no heartbeat for %d s, its worker is gone; running it again",
                            t.number, t.user_attrs.get("point"), t.user_attrs.get("host", "an unknown host"), GRACE_S)
    host, now = socket.gethostname(), datetime.now()
    study_id = storage.get_study_id_from_name(study.study_name)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if "host" in t.user_attrs:
            dead = t.user_attrs["host"] == host and not _pid_alive(t.user_attrs.get("pid"))
        else:  # a worker says where it runs as it starts; one that never did is long gone
            dead = t.datetime_start is not None and now - t.datetime_start > timedelta(seconds=GRACE_S)
        if dead:
            try:
                trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
                storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
                log.warning("trial %d (%s): its worker is gone; running it again", t.number, t.user_attrs.get("point"))
            except optuna.exceptions.UpdateFinishedTrialError:
                pass
    _enqueue(study, plan, retry_failed=False)


# -- the workers ----------------------------------------------------------------------------
class _Objective:
    """Runs one queued grid point into ``trials/LABEL`` and returns its metric."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def __call__(self, trial) -> float:
        import optuna

        point = self.plan.point(trial.user_attrs.get("params"))
        if point is None:  # a trial the sweep did not queue: the queue ran dry under another worker
            trial.study.stop()
            raise optuna.TrialPruned("not a queued point of this grid")
        first = self._first_live_trial(trial, point)
        if first is not None:  # queued twice (sweeps that started together): the first one runs it
            raise optuna.TrialPruned(f"{point.label} is trial {first}'s")
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        for key, choices in self.plan.choices.items():
            trial.suggest_categorical(key, choices)
        run_dir = Path(self.plan.sweep_dir) / "trials" / point.label
        trial.set_user_attr("run_dir", str(run_dir))
        # an earlier attempt that did not complete: continued from its checkpoints, if it has any
        # (a killed worker loses at most an epoch of the point), or started over; one that finished
        # but was not recorded (killed in between) is read
        finished = finished_run(run_dir)
        if run_dir.exists() and not finished and not (run_dir / CHECKPOINTS).is_dir():
            shutil.rmtree(run_dir)
        try:
            if not finished:
                run_experiment(self.plan.name, out=run_dir, overrides=[*self.plan.overrides, *point.overrides],
                               preset=self.plan.preset, smoke=self.plan.smoke, data_dir=self.plan.data_dir,
                               progress=False, threads=self.plan.threads, device=self.plan.device)
            metrics = json.loads((run_dir / "metrics.json").read_text())
            value = _metric_value(metrics, self.plan.name, self.plan.metric)
            trial.set_user_attr("metrics", _finite_numbers(metrics))  # readable from every machine
            return value
        except BaseException as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            raise

    def _first_live_trial(self, trial, point: Point) -> int | None:
        """Another trial of ``point`` that is complete, or queued or running with a lower number
        (sweeps started at the same moment on a new study may both queue a point); None if this
        trial is the one to run it."""
        from optuna.trial import TrialState

        for t in _trials_by_point(trial.study, self.plan).get(point.label, []):
            if t.number != trial.number and (t.state == TrialState.COMPLETE or (
                    t.state in (TrialState.RUNNING, TrialState.WAITING) and t.number < trial.number)):
                return t.number
        return None

    def finished(self, study, trial) -> None:
        """Log one line per trial; stop taking trials when the queue is empty."""
        from optuna.trial import TrialState

        point = self.plan.point(trial.user_attrs.get("params"))
        tried = _trials_by_point(study, self.plan).values()
        done = sum(any(t.state == TrialState.COMPLETE for t in ts) for ts in tried)
        progress = f"[{done}/{len(self.plan.points)} done]"
        if point is not None and trial.state == TrialState.COMPLETE:
            log.info("trial %d %s: %s=%.5g %s", trial.number, point.label, self.plan.metric, trial.value, progress)
        elif point is not None and trial.state == TrialState.FAIL:
            log.warning("trial %d %s failed: %s %s", trial.number, point.label, trial.user_attrs.get("error"), progress)
        if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            study.stop()


def _finite_numbers(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of a run's metrics (what the shared database keeps of a trial)."""
    return {k: v for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def _metric_value(metrics: Mapping[str, Any], name: str, metric: str) -> float:
    """``metrics[metric]`` of a run of ``name``, or a ValueError that says what it recorded instead."""
    value = metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        if metric not in metrics:
            known = ", ".join(k for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
            raise ValueError(f"{name} recorded no metric {metric!r} (it recorded {known})")
        raise ValueError(f"{name} recorded {metric}={value!r}, not a finite number")
    return float(value)


def _work(plan: Plan, opened: tuple[Any, Any] | None = None) -> None:
    """Take queued trials until none is queued and none of the grid runs elsewhere."""
    import optuna
    from optuna.trial import TrialState

    storage, study = opened or _open_study(plan)
    objective = _Objective(plan)
    while True:
        _recover(study, storage, plan)
        states = [t.state for ts in _trials_by_point(study, plan).values() for t in ts]
        if TrialState.WAITING in states:
            try:
                study.optimize(objective, n_trials=states.count(TrialState.WAITING), catch=(Exception,),
                               callbacks=[objective.finished])
            except (ValueError, optuna.exceptions.UpdateFinishedTrialError) as exc:  # "Cannot tell a FAIL
                log.warning("%s (was it taken for dead while it ran?)", exc)  # trial": taken for dead
        elif TrialState.RUNNING in states:
            time.sleep(POLL_S)
        else:
            return


def _worker_main(plan: Plan, index: int, level: int) -> None:
    """Entry point of a worker process: minimal logging, the experiment's module, the loop."""
    fmt = logging.Formatter(f"%(asctime)s %(levelname)-7s [worker {index}] %(name)s: %(message)s", "%H:%M:%S")
    stream, file = logging.StreamHandler(), logging.FileHandler(Path(plan.sweep_dir) / "sweep.log")
    stream.setLevel(level)
    stream.addFilter(_one_line_per_trial)   # the epochs go to sweep.log and each trial's run.log
    for handler in (stream, file):
        handler.setFormatter(fmt)
    logging.basicConfig(level=logging.WARNING, handlers=[stream, file], force=True)
    logging.getLogger("nnlab").setLevel(logging.INFO)
    if plan.module != "__main__":
        importlib.import_module(plan.module)
    _end_with_parent(index)
    try:
        _work(plan)
    except KeyboardInterrupt:
        log.warning("worker %d interrupted", index)
        raise SystemExit(130) from None


def _end_with_parent(index: int) -> None:
    """Stop this worker when the sweep process that started it is gone (killed, even by SIGKILL):
    a SIGINT to itself ends the trial as Ctrl-C does (its run folder keeps its checkpoints); a
    worker still alive 10 s later exits at once."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's end of the pipe closes
        log.warning("worker %d: the sweep process is gone; stopping", index)
        os.kill(os.getpid(), signal.SIGINT)  # interrupts a sleep or a wait too, unlike _thread.interrupt_main
        time.sleep(10)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _one_line_per_trial(record: logging.LogRecord) -> bool:
    """The console of a sweep: its own lines (one per finished trial) and every warning."""
    return record.levelno >= logging.WARNING or record.name == log.name


def _spawn(plan: Plan, workers: int, level: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker_main, args=(plan, i, level), name=f"sweep-worker-{i}")
             for i in range(workers)]
    for p in procs:
        p.start()
    alive = list(procs)
    try:
        while alive:
            multiprocessing.connection.wait([p.sentinel for p in alive])
            for p in [p for p in alive if not p.is_alive()]:
                alive.remove(p)
                if p.exitcode:
                    log.warning("%s exited with code %s", p.name, p.exitcode)
    except KeyboardInterrupt:  # the workers got the Ctrl-C too: let them record their trials
        for p in alive:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
                p.join()
        raise


# -- the sweep ------------------------------------------------------------------------------
def run_sweep(name: str, grid: Mapping[str, Sequence[Any]], *, workers: int = 1, storage: str | None = None,
              out: str | Path | None = None, preset: str | None = None, overrides: Sequence[str] = (),
              smoke: bool = False, data_dir: str | None = None, metric: str | None = None,
              threads: int | None = None, device: str = "auto",
              study: str | None = None) -> Path:
    """Run every point of ``grid`` (key -> values, strings read as YAML like ``--set``) and return
    the sweep folder. ``metric`` is ``"NAME:min"`` or ``"NAME:max"`` (default: the experiment's
    objective); ``study`` defaults to ``NAME-FOLDER``, the experiment and the sweep folder's name,
    or with a ``storage`` URL to :func:`default_study_name` (the same on every machine).
    """
    exp = get(name)
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    metric_name, direction = objective(exp, metric)
    resolve_config(exp, preset=preset, overrides=list(overrides), smoke=smoke)
    choices, points = grid_points(exp, grid, preset, list(overrides), smoke)
    sweep_dir = make_run_dir(name, out, root=Path("runs") / "sweeps").resolve()
    if study is None:  # a shared database: the same command joins the same study from every machine
        study = f"{name}-{sweep_dir.name}" if storage is None else default_study_name(
            name, choices, metric=f"{metric_name}:{direction}", preset=preset, overrides=overrides, smoke=smoke)
    plan = Plan(name, exp.run.__module__, choices, tuple(points), metric_name, direction, str(sweep_dir),
                storage or f"sqlite:///{sweep_dir / 'study.db'}", study, preset, tuple(overrides), smoke, data_dir,
                threads, device)
    nnlab_log = logging.getLogger("nnlab")
    level, previous_level = nnlab_log.getEffectiveLevel(), nnlab_log.level
    handler = logging.FileHandler(sweep_dir / "sweep.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    nnlab_log.addHandler(handler)
    nnlab_log.setLevel(min(level, logging.INFO))
    consoles = [h for h in logging.getLogger().handlers if not isinstance(h, logging.FileHandler)]
    for console in consoles:
        console.addFilter(_one_line_per_trial)
    finished, optuna_study = False, None
    try:
        store, opened = _open_study(plan)
        _check_settings(opened, plan)
        optuna_study = opened  # from here on, a stopped sweep still gets its report
        _write_settings(plan)
        _recover(optuna_study, store, plan)
        _enqueue(optuna_study, plan, retry_failed=True)
        states = [r["state"] for r in _rows(plan, optuna_study)]
        log.info("sweep %s: %d grid points, %d complete, %d to run, %d worker(s); study %r in %s", name,
                 len(points), states.count("COMPLETE"), states.count("WAITING"), workers, plan.study,
                 masked_url(plan.storage))
        if workers == 1:
            _work(plan, (store, optuna_study))
        else:
            _spawn(plan, workers, level)
        finished = True
    finally:
        try:
            if optuna_study is not None:
                _write_report(plan, optuna_study, quiet=not finished)
            if optuna_study is not None and not finished:
                log.warning("sweep stopped; the same command with --out %s continues it", sweep_dir)
        finally:
            nnlab_log.removeHandler(handler)
            handler.close()
            nnlab_log.setLevel(previous_level)
            for console in consoles:
                console.removeFilter(_one_line_per_trial)
    return sweep_dir


def _check_settings(study, plan: Plan) -> None:
    settings = {"experiment": plan.name, "metric": plan.metric, "direction": plan.direction, "preset": plan.preset,
                "overrides": list(plan.overrides), "smoke": plan.smoke}
    stored = study.user_attrs.get("nnlab_sweep")
    if stored is None:
        study.set_user_attr("nnlab_sweep", settings)
    elif stored != settings:
        raise ConfigError(f"study {plan.study!r} holds a sweep of {stored}, not {settings}; "
                          "use another --out or --study")


def _write_settings(plan: Plan) -> None:
    data = {"experiment": plan.name, "metric": plan.metric, "direction": plan.direction, "grid": plan.choices,
            "preset": plan.preset, "set": list(plan.overrides), "smoke": plan.smoke, "data_dir": plan.data_dir,
            "study": plan.study, "storage": masked_url(plan.storage)}
    (Path(plan.sweep_dir) / "sweep.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


# -- the report -----------------------------------------------------------------------------
def _rows(plan: Plan, study) -> list[dict[str, Any]]:
    """One row per grid point (its latest trial, a complete one first), best first."""
    from optuna.trial import TrialState

    rank = {TrialState.COMPLETE: 3, TrialState.RUNNING: 2, TrialState.WAITING: 1}
    rows = []
    trials = _trials_by_point(study, plan)
    for p in plan.points:
        tried = sorted(trials.get(p.label, []), key=lambda t: (rank.get(t.state, 0), t.number))
        t = tried[-1] if tried else None
        rows.append({**p.params, plan.metric: t.value if t is not None and t.state == TrialState.COMPLETE else None,
                     "state": t.state.name if t is not None else "NOT RUN", "trial": t.number if t else None,
                     "run": _run_location(plan, t, p), "error": t.user_attrs.get("error", "") if t else ""})
    sign = 1 if plan.direction == "min" else -1
    return sorted(rows, key=lambda r: (r[plan.metric] is None, sign * (r[plan.metric] or 0)))


def _run_location(plan: Plan, trial, point: Point) -> str:
    """Where a trial's run folder is: relative to this sweep folder when this machine ran it,
    ``HOST:/path`` when another machine did (its folder is not here; its numbers are in the database)."""
    run = Path(trial.user_attrs.get("run_dir", "")) if trial is not None else Path()
    host = trial.user_attrs.get("host") if trial is not None else None
    if host and host != socket.gethostname():
        return f"{host}:{run} (on another machine)"
    if not run.name:
        return str(Path("trials", point.label))
    return str(run.relative_to(plan.sweep_dir) if run.is_relative_to(plan.sweep_dir) else run)


def _write_report(plan: Plan, study, quiet: bool = False) -> None:
    """Write ``results.csv``, the figures, ``report.html`` (self-contained) and ``report.md``.

    ``quiet``: a failure is logged, not raised (the sweep is already stopping on an error).
    """
    try:
        _report(plan, study)
    except Exception:
        if not quiet:
            raise
        log.exception("could not write the sweep report")


def _report(plan: Plan, study) -> None:
    rows = _rows(plan, study)
    states = [r["state"] for r in rows]
    counts = ", ".join(f"{states.count(s)} {s.lower()}" for s in dict.fromkeys(states))
    intro = (f"{len(rows)} grid points ({counts}); metric {plan.metric} ({plan.direction}); study {plan.study!r} in "
             f"{masked_url(plan.storage)}; sweep folder {plan.sweep_dir}.")
    write_sweep_report(plan.sweep_dir, rows, choices=plan.choices, metric=plan.metric, direction=plan.direction,
                       title=f"Sweep of {plan.name}{' (smoke)' if plan.smoke else ''}", intro=intro)
