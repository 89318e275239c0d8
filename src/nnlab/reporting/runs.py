"""Finding run folders: every run under a folder, and the newest finished one of an experiment.

A run folder is one with a ``config.yaml`` written by the runner (``run:`` holds the experiment,
preset, engine, whether it was a smoke run, the ``--set`` overrides and the start time) and a
``metrics.json`` (``status: ok`` once it finished). Sweep trials (folders under ``trials/``)
are grid points, not runs of an experiment's own settings, and are left out.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)


@dataclass
class RunRecord:
    path: Path
    experiment: str
    preset: str | None
    smoke: bool
    status: str
    started: str
    overrides: list[str] = field(default_factory=list)
    config_file: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def canonical(self) -> bool:
        """Run with the experiment's own settings (or its preset's): no ``--set``, no file."""
        return not self.overrides and not self.config_file

    @property
    def key(self) -> tuple[str, str | None]:
        return self.experiment, self.preset


def run_state(run_dir: str | Path, status: str) -> str:
    """``status`` from ``metrics.json``, with ``running`` told apart from ``incomplete``: a run
    that says it is running but whose lock nobody holds was killed (SIGKILL, power loss)."""
    import fcntl

    if status != "running":
        return status
    lock = Path(run_dir) / ".lock"
    if not lock.is_file():
        return "incomplete"
    try:
        with open(lock) as f:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)      # got it: nobody is writing the run
            return "incomplete"
    except BlockingIOError:
        return "running"
    except OSError:
        return "incomplete"


def read_run(path: str | Path) -> RunRecord | None:
    """The record of run folder ``path``, or None when it is not a run folder (or unreadable)."""
    path = Path(path)
    try:
        cfg = yaml.safe_load((path / "config.yaml").read_text()) or {}
        metrics = json.loads((path / "metrics.json").read_text()) if (path / "metrics.json").is_file() else {}
    except (OSError, yaml.YAMLError, json.JSONDecodeError) as exc:
        log.warning("skipping %s: %s", path, exc)
        return None
    meta = cfg.get("run") if isinstance(cfg, dict) else None
    if not isinstance(meta, dict) or "experiment" not in meta:
        return None
    return RunRecord(path=path, experiment=str(meta["experiment"]), preset=meta.get("preset"),
                     smoke=bool(meta.get("smoke")), status=run_state(path, str(metrics.get("status", "incomplete"))),
                     started=str(meta.get("started") or ""), overrides=list(meta.get("overrides") or []),
                     config_file=meta.get("config_file"), metrics=metrics)


def find_runs(root: str | Path = "runs", max_depth: int = 4) -> list[RunRecord]:
    """Every run folder under ``root`` (at most ``max_depth`` levels down), sweep trials excluded."""
    root = Path(root)
    found: list[RunRecord] = []

    def walk(folder: Path, depth: int) -> None:
        if (folder / "config.yaml").is_file():
            record = read_run(folder)
            if record is not None:
                found.append(record)
            return
        if depth >= max_depth:
            return
        for child in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "trials"):
            walk(child, depth + 1)

    if root.is_dir():
        walk(root, 0)
    return found


def newest_runs(runs: list[RunRecord], *, smoke: bool = False) -> dict[tuple[str, str | None], RunRecord]:
    """For each (experiment, preset): the newest finished, canonical run (smoke runs only when
    ``smoke``, otherwise real runs only)."""
    best: dict[tuple[str, str | None], RunRecord] = {}
    for r in runs:
        if r.status != "ok" or r.smoke != smoke or not r.canonical:
            continue
        if r.key not in best or r.started > best[r.key].started:
            best[r.key] = r
    return best


@dataclass
class SweepRecord:
    path: Path
    experiment: str
    preset: str | None
    overrides: list[str]
    grid: dict[str, list[Any]]
    smoke: bool
    rows: list[dict[str, str]]  # results.csv, best first


def find_sweeps(root: str | Path = "runs") -> list[SweepRecord]:
    """Every sweep folder (``sweep.yaml`` and ``results.csv``) under ``root``."""
    import csv

    found = []
    for settings in sorted(Path(root).rglob("sweep.yaml")):
        folder = settings.parent
        if not (folder / "results.csv").is_file():
            continue
        try:
            data = yaml.safe_load(settings.read_text()) or {}
            with open(folder / "results.csv", newline="") as f:
                rows = list(csv.DictReader(f))
        except (OSError, yaml.YAMLError) as exc:
            log.warning("skipping sweep %s: %s", folder, exc)
            continue
        found.append(SweepRecord(path=folder, experiment=str(data.get("experiment")), preset=data.get("preset"),
                                 overrides=list(data.get("set") or []), grid=dict(data.get("grid") or {}),
                                 smoke=bool(data.get("smoke")), rows=rows))
    return found
