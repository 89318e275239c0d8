"""Shared helpers for benchmarks: run settings and writing results."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

RESULTS = Path(__file__).resolve().parent / "results"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def blas_info() -> dict[str, Any]:
    import numpy as np

    info: dict[str, Any] = {"numpy": np.__version__}
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["numpy_blas"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration") if k in blas}
    except Exception as exc:  # pragma: no cover - informational only
        info["numpy_blas"] = f"unavailable: {exc}"
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = threadpool_info()
    except ImportError:
        pass
    info["env"] = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP", "MKL", "MALLOC"))}
    info.update(cpu_info())
    info["cpu_count"] = os.cpu_count()
    return info


def cpu_info() -> dict[str, Any]:
    """The CPU's model name and whether it has AVX2 and AVX-512 (Linux: /proc/cpuinfo)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return {"cpu": platform.processor() or platform.machine()}
    flags = next((ln for ln in lines if ln.startswith("flags")), "") + " "
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.machine())
    return {"cpu": model, "avx2": " avx2 " in flags, "avx512f": " avx512f " in flags}


def parse_args(doc: str, options: Callable[[argparse.ArgumentParser], None]) -> argparse.Namespace:
    """The benchmark's own ``options`` plus the hidden ``--worker``/``--threads`` of its workers."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    options(p)
    p.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


def run_thread_counts(script: str, args: list[str], threads: Sequence[int] = (1, 2)) -> Iterator[tuple[int, dict[str, Any]]]:
    """``run_worker`` once per thread count, yielding (threads, the worker's JSON) as each ends."""
    for t in threads:
        yield t, run_worker(script, t, args)


def rotated(names: Sequence[str], shift: int) -> list[str]:
    """``names`` rotated by ``shift``: each round starts elsewhere, so that no contender always
    runs right after the same other one."""
    k = shift % len(names)
    return [*names[k:], *names[:k]]


def run_worker(script: str, threads: int, args: list[str]) -> dict[str, Any]:
    """Run ``script --worker`` in a fresh process limited to ``threads`` threads; return its JSON."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    out = subprocess.run([sys.executable, script, "--worker", "--threads", str(threads), *args],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"worker with {threads} thread(s) failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        return "unknown"


def update_result(name: str, key: str, entry: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Set ``key`` of ``results/NAME.json`` to ``entry(its old value, {} if none)``, keep the
    other entries, and return the new value. The file is read just before it is written, so
    benchmark processes running side by side keep each other's entries."""
    path = RESULTS / f"{name}.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results[key] = entry(results.get(key, {}))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return results[key]


def run_revision(run_dir: Path) -> str:
    """The git revision a run folder's run was started at (its config.yaml), else the current one."""
    import yaml

    try:
        return str(yaml.safe_load((run_dir / "config.yaml").read_text())["run"]["git"])
    except (OSError, KeyError, TypeError):
        return git_revision()


def saved_wall(path: Path) -> float | None:
    """The seconds a :func:`wall_clock` file holds, or None when there is none."""
    return float(path.read_text()) if path.is_file() else None


@contextlib.contextmanager
def wall_clock(path: Path, earlier: float = 0.0, every: float = 30.0) -> Iterator[None]:
    """Keep ``earlier`` + the seconds spent inside the block in the text file ``path``, written
    every ``every`` seconds and at the end, so a session that is stopped or killed (SIGKILL, the
    machine taken back) leaves its time for the one that resumes the run: at most ``every``
    seconds are lost."""
    start, done = time.perf_counter(), threading.Event()

    def write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(f"{earlier + time.perf_counter() - start:.1f}\n")
        os.replace(tmp, path)          # a reader never sees half a number

    def beat() -> None:
        while not done.wait(every):
            write()

    thread = threading.Thread(target=beat, name="wall-clock", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        write()
