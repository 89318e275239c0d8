"""Cheaper settings for a heavy experiment, screened on the accuracy targets.

    NNLAB_DATA=../shared/data python benchmarks/budget_runs.py utkface-cnn            # every candidate
    NNLAB_DATA=../shared/data python benchmarks/budget_runs.py utkface-cnn 40px-w24-e20-mse
    NNLAB_DATA=../shared/data python benchmarks/budget_runs.py utkface-cnn --pairs     # two at a time

Each candidate is the experiment's default with a few settings changed (``CANDIDATES``), run as
``nnlab run NAME --set ...`` into ``runs/benchmarks/budget/NAME/LABEL``. Its test metrics, the
targets they meet and its wall time go to ``benchmarks/results/budget_runs.json``. A stopped
candidate goes on from its checkpoints when the script is run again; a finished one is only read.

``--pairs`` runs two candidates side by side at one thread each, to screen twice as many settings
in the same hours on a 2-core machine: their accuracy is what one run gives (the order of float
sums can move the last digits), their wall times are not the time alone and are marked
``"side_by_side": true``. The chosen setting is then timed alone by ``time_to_target.py``.

The targets are judged on the test metrics, as the README's table judges them; each entry also
keeps the run's validation metrics, so that a choice among candidates can be checked against the
validation part, which the test split should not replace.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, blas_info, run_revision, update_result, saved_wall, wall_clock  # noqa: E402

#: experiment -> label -> the settings changed from the default
CANDIDATES: dict[str, dict[str, list[str]]] = {
    "utkface-cnn": {
        "40px-w32-e12-l1": ["input_size=40", "width=32", "epochs=12", "age_loss=l1"],
        "40px-w32-e12-mse": ["input_size=40", "width=32", "epochs=12", "age_loss=mse"],
        "48px-w24-e13-mse": ["input_size=48", "width=24", "epochs=13", "age_loss=mse"],
        "40px-w24-e20-mse": ["input_size=40", "width=24", "epochs=20", "age_loss=mse"],
        "40px-w24-e18-mse": ["input_size=40", "width=24", "epochs=18", "age_loss=mse"],
        "40px-w24-e18-mse-age2": ["input_size=40", "width=24", "epochs=18", "age_loss=mse", "age_weight=2"],  # default
    },
    # one network a run: 20 minutes for all three is about a quarter of the default's 75
    "colourization": {
        "base-nf96-e10": ["models=[base]", "num_filters=96", "epochs=10"],
        "unet-nf16-e10": ["models=[unet]", "num_filters=16", "epochs=10"],
        "base-e10": ["models=[base]", "epochs=10"],
        "residual-nf24-e10": ["models=[residual]", "num_filters=24", "epochs=10"],
        # the base CNN binds: twice the steps for the same compute (the seed's log ran batch 50 too)
        "base-e10-b50": ["models=[base]", "epochs=10", "batch_size=50"],
        "base-nf96-e12-b50": ["models=[base]", "num_filters=96", "epochs=12", "batch_size=50"],
    },
}
#: in each run folder: {"threads": 1 side by side, null alone}, and the sessions' wall time so far
RUN_FILE = "budget.json"
WALL_FILE = "budget.wall_s"


def targets(name: str, metrics: dict) -> dict[str, dict]:
    """metric -> {"value", "target", "met"} for every number of ``nnlab.seeds`` with a target."""
    from nnlab import seeds

    out = {}
    for metric, n in seeds.by_metric(name).items():
        met = n.met(metrics.get(metric), metrics)
        if met is not None:
            out[metric] = {"value": metrics[metric], "target": n.target, "met": met}
    return out


def entry(name: str, label: str, out: Path) -> dict:
    """The JSON entry of a finished candidate run in ``out``."""
    metrics = json.loads((out / "metrics.json").read_text())
    run = json.loads((out / RUN_FILE).read_text()) if (out / RUN_FILE).is_file() else {}
    wall = saved_wall(out / WALL_FILE) or metrics.get("wall_s")
    scores = targets(name, metrics)
    validation = {k: v for k, v in metrics.items() if k.startswith("val_") and isinstance(v, (int, float))}
    return {"overrides": CANDIDATES[name][label], "metrics": scores, "all_met": all(s["met"] for s in scores.values()),
            "validation": validation,
            "wall_s": wall, "epoch_s": metrics.get("epoch_s"), "threads": run.get("threads") or "default",
            "side_by_side": run.get("threads") == 1, "run": str(out), "git": run_revision(out),
            "machine": {k: v for k, v in blas_info().items() if k in ("cpu", "avx2", "avx512f", "cpu_count")}}


def command(name: str, label: str, out: Path, data_dir: str | None, threads: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "nnlab", "run", name, "--out", str(out)]
    cmd += [a for kv in CANDIDATES[name][label] for a in ("--set", kv)]
    cmd += ["--data-dir", data_dir] if data_dir else []
    return cmd + (["--threads", str(threads)] if threads else [])


def run_all(name: str, labels: list[str], root: Path, data_dir: str | None, pairs: bool) -> None:
    from nnlab.experiments.run_folder import finished_run

    todo = [label for label in labels if not finished_run(root / name / label)]
    threads = 1 if pairs else None
    for start in range(0, len(todo), 2 if pairs else 1):
        group = todo[start:start + (2 if pairs else 1)]
        procs, clocks = {}, {}
        try:
            for label in group:
                out = root / name / label
                out.mkdir(parents=True, exist_ok=True)
                (out / RUN_FILE).write_text(json.dumps({"threads": threads}) + "\n")
                clocks[label] = contextlib.ExitStack()     # this run's clock, stopped when it ends
                clocks[label].enter_context(wall_clock(out / WALL_FILE, saved_wall(out / WALL_FILE) or 0.0))
                log_file = clocks[label].enter_context(open(root / name / f"{label}.log", "a"))
                procs[label] = subprocess.Popen(command(name, label, out, data_dir, threads), stdout=log_file,
                                                stderr=subprocess.STDOUT)
                logging.info("%s %s: running (log %s)", name, label, log_file.name)
            running = dict(procs)
            while running:
                for label, proc in list(running.items()):
                    if proc.poll() is not None:
                        clocks[label].close()
                        del running[label]
                        if proc.returncode:
                            raise SystemExit(f"{name} {label}: nnlab run failed (exit {proc.returncode});"
                                             f" see {root / name / label}.log")
                time.sleep(1.0)
        finally:   # Ctrl-C: stop the runs (they go on from their checkpoints next time)
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait()
            for clock in clocks.values():
                clock.close()
    for label in labels:
        out = root / name / label
        if finished_run(out):
            update_result("budget_runs", f"{name}/{label}", lambda _, lb=label, o=out: entry(name, lb, o))


def show(name: str) -> None:
    results = json.loads((RESULTS / "budget_runs.json").read_text())
    for key, e in results.items():
        if key.startswith(f"{name}/"):
            scores = ", ".join(f"{m} {s['value']:.4g} ({'met' if s['met'] else 'missed'} {s['target']})"
                               for m, s in e["metrics"].items())
            alone = "side by side, 1 thread" if e["side_by_side"] else "alone"
            print(f"{key:<32} {e['wall_s']:>7.0f} s ({alone})  {scores}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(CANDIDATES))
    parser.add_argument("labels", nargs="*", help="candidates (default: every one of the experiment)")
    parser.add_argument("--pairs", action="store_true", help="two candidates side by side at 1 thread each")
    parser.add_argument("--data-dir", default=os.environ.get("NNLAB_DATA"))
    parser.add_argument("--root", type=Path, default=Path("runs/benchmarks/budget"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    unknown = [label for label in args.labels if label not in CANDIDATES[args.name]]
    if unknown:
        raise SystemExit(f"unknown candidates {unknown}; known: {', '.join(CANDIDATES[args.name])}")
    run_all(args.name, args.labels or list(CANDIDATES[args.name]), args.root, args.data_dir, args.pairs)
    show(args.name)
    print(f"-> {RESULTS / 'budget_runs.json'}")


if __name__ == "__main__":
    main()
