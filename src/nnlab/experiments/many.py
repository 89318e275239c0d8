"""Run several experiments, side by side in worker processes: what ``nnlab book --smoke`` needs.

Each job is (experiment, preset) and runs through :func:`nnlab.experiments.runner.run_experiment`
into ``root/EXPERIMENT/PRESET`` (``default`` for no preset). Workers are fresh processes (spawned,
so no thread pool or torch state is inherited) limited to one BLAS and torch thread each, so
``workers`` of them share the machine's cores without fighting over them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from nnlab.experiments.runner import run_experiment

log = logging.getLogger(__name__)


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _init_worker() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    logging.getLogger("nnlab").setLevel(logging.WARNING)


def _run_one(name: str, preset: str | None, out: str, smoke: bool, data_dir: str | None) -> tuple[str, str | None, str, str]:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    try:
        run_experiment(name, preset=preset, smoke=smoke, out=out, data_dir=data_dir, force=True)
        return name, preset, out, ""
    except Exception as exc:  # reported to the caller, who decides
        return name, preset, out, f"{type(exc).__name__}: {exc}"


def run_many(jobs: Sequence[tuple[str, str | None]], root: str | Path, *, smoke: bool = False,
             data_dir: str | None = None, workers: int = 2) -> dict[tuple[str, str | None], Path]:
    """Run every (experiment, preset) job into ``root``; return the run folders of those that
    finished. Failures are logged with their error and left out."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    root = Path(root)
    done: dict[tuple[str, str | None], Path] = {}
    args = [(name, preset, str(root / name / (preset or "default")), smoke, data_dir) for name, preset in jobs]
    context = multiprocessing.get_context("spawn")
    saved = {v: os.environ.get(v) for v in THREAD_VARS}
    os.environ.update({v: "1" for v in THREAD_VARS})  # read by NumPy's BLAS when a worker imports it
    try:
        pool = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context, initializer=_init_worker)
        try:
            futures = [pool.submit(_run_one, *a) for a in args]
            for future in as_completed(futures):
                name, preset, out, error = future.result()
                if error:
                    log.error("%s (%s) failed: %s", name, preset or "default", error)
                else:
                    log.info("%s (%s) done: %s", name, preset or "default", out)
                    done[(name, preset)] = Path(out)
        except KeyboardInterrupt:  # the runs not started are dropped; the running ones end on their own
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    return done
