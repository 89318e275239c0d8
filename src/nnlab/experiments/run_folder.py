"""A run's folder: where it goes, its lock while a process writes it, and what a finished or
unfinished run left there (``config.yaml``, ``metrics.json``, ``checkpoints/``).
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from nnlab.errors import ConfigError
from nnlab.experiments import config as configs

CHECKPOINTS = "checkpoints"  # the folder of a run's resumable checkpoints, removed when it finishes


def make_run_dir(name: str, out: str | Path | None, root: str | Path = "runs") -> Path:
    if out is not None:
        path = Path(out)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path(root) / name / stamp
        n = 1
        while path.exists():
            n += 1
            path = Path(root) / name / f"{stamp}-{n}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def lock_run_dir(run_dir: Path) -> Any:
    """Hold ``run_dir/.lock`` (an exclusive ``flock``) while a process writes the run; a second
    process is refused with the holder's pid. The kernel drops the lock when the holder dies, so a
    killed run's folder shows as ``incomplete``, not as running (:func:`nnlab.reporting.runs.run_state`)."""
    import fcntl

    f = open(run_dir / ".lock", "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        raise ConfigError(f"{run_dir} is being written by another nnlab process (pid {holder}); wait for it or"
                          " choose another --out") from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


def release_run_dir(f: Any) -> None:
    with contextlib.suppress(OSError):
        Path(f.name).unlink()
    f.close()


def saved_run(folder: Path) -> dict[str, Any]:
    """``config.yaml`` of a run folder: ``{"run": how it was started, "config": its settings}``."""
    path = folder / "config.yaml"
    try:
        saved = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{folder} is not a run folder (no config.yaml)") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("run"), dict) or "config" not in saved:
        raise ConfigError(f"{path}: not a run's config.yaml (no run and config sections)")
    return saved


def check_same_run(folder: Path, name: str, cfg: Any) -> None:
    """An unfinished run in ``folder`` is continued only with its own experiment and settings."""
    if not (folder / "config.yaml").is_file():
        return                                  # an empty or foreign folder: a new run goes there
    saved = saved_run(folder)
    if saved["run"].get("experiment") != name:
        raise ConfigError(f"{folder} holds an unfinished {saved['run'].get('experiment')} run, not {name}; choose"
                          " another --out, or --force to replace it")
    new = yaml.safe_load(yaml.safe_dump(configs.to_dict(cfg), sort_keys=False))
    old = saved["config"] or {}
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if changed:
        shown = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:4])
        raise ConfigError(f"{folder} holds an unfinished run with other settings ({shown}{', ...' if len(changed) > 4 else ''});"
                          f" `nnlab run {name} --resume {folder}` continues it as it was, --force starts it over")


def finished_run(folder: Path) -> bool:
    """Whether ``folder`` holds a run that finished (status ok)."""
    try:
        return json.loads((folder / "metrics.json").read_text()).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


def git_revision() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
