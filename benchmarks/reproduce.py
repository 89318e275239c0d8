"""The seeds' numbers, measured: every experiment with ``--preset seed`` at the seed's budget.

    NNLAB_DATA=../shared/data python benchmarks/reproduce.py                 # the quick ones
    NNLAB_DATA=../shared/data python benchmarks/reproduce.py utkface-cnn     # a long one, by name
    python benchmarks/reproduce.py colourization --use runs/x/y --use runs/x/z   # record finished runs

For every number a seed report states (and every target nnlab sets itself), as listed in
:mod:`nnlab.seeds`, it writes ``benchmarks/results/seed_reproduction.json``::

    {"numbers": {ID: {"seed": ..., "nnlab_seed_preset": ..., "nnlab_default": ..., "target": ...,
                      "met": ..., ...}},
     "runs": {EXPERIMENT: {"seed": {...}, "default": {...}}}, "machine": {...}}

``met`` judges the default (improved) run against the target; ``seed_preset_met`` the seed-preset
run. Runs go to ``runs/reproduce/NAME/PRESET/STAMP`` through the same pipeline as ``nnlab run``,
one at a time; the file is updated after each, so a stopped session loses nothing and a rerun
with ``--only-missing`` goes on where it stopped. Without names it runs the experiments that
take minutes (QUICK); the others take an hour or more each here and run when named, or are
recorded from finished runs with ``--use``. A default run made here is also the experiment's
entry in ``experiments.json`` (as ``benchmarks/experiments.py`` would write it); where a default
was measured by ``benchmarks/experiments.py`` and not here, its value is taken from
``experiments.json`` and the entry says so.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, blas_info, git_revision, update_result  # noqa: E402
from experiments import headlines, record_default  # noqa: E402

QUICK = ("utkface-mlp", "mnist-autoencoder", "super-resolution", "blobs-bce", "batch-size", "relu-pwl", "symmetry")
PRESETS = {"seed": "seed", "default": None}


def machine() -> dict:
    info = blas_info()
    return {"cpu": info["cpu"], "cpus": os.cpu_count(), "avx2": info.get("avx2"), "avx512f": info.get("avx512f"),
            "numpy": info.get("numpy"), "blas": info.get("numpy_blas"), "git": git_revision(),
            "threads": "per run, under runs (unset: NumPy and torch use every core)"}


def record_run(name: str, label: str, run_dir: Path, wall: float | None) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if metrics.get("status") != "ok":
        raise SystemExit(f"{run_dir}: the run did not finish (status {metrics.get('status')})")
    entry = {"run": str(run_dir), "wall_s": round(wall, 1) if wall else metrics.get("wall_s"),
             "recorded": datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
             "threads": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
             "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}}
    update_result("seed_reproduction", "runs", lambda old: {**old, name: {**old.get(name, {}), label: entry}})


def collate() -> dict:
    """The ``numbers`` section from the recorded runs (and experiments.json for defaults not run here)."""
    from nnlab import seeds
    from nnlab.exercises import run as run_exercise

    results = json.loads((RESULTS / "seed_reproduction.json").read_text())
    runs = results.get("runs", {})
    elsewhere = json.loads((RESULTS / "experiments.json").read_text()) if (RESULTS / "experiments.json").is_file() else {}
    numbers = {}
    for n in seeds.NUMBERS:
        sources = {}
        if n.experiment.startswith("exercise:"):
            value = run_exercise(n.experiment.split(":", 1)[1]).values.get(n.metric)
            values = {"seed": value, "default": value}
            metrics = {"seed": {}, "default": {}}
            sources = {"seed": n.experiment, "default": n.experiment}
        else:
            mine = runs.get(n.experiment, {})
            metrics = {label: mine.get(label, {}).get("metrics", {}) for label in PRESETS}
            values = {label: metrics[label].get(n.metric) for label in PRESETS}
            sources = {label: mine[label]["run"] for label in PRESETS if label in mine}
            if values["default"] is None and elsewhere.get(n.experiment, {}).get(n.metric) is not None:
                values["default"] = elsewhere[n.experiment][n.metric]
                metrics["default"] = elsewhere[n.experiment]
                sources["default"] = "benchmarks/results/experiments.json"
        numbers[n.id] = {"what": n.what, "unit": n.unit, "experiment": n.experiment, "metric": n.metric,
                         "question": n.question, "seed": n.value, "nnlab_seed_preset": values["seed"],
                         "nnlab_default": values["default"], "target": n.target, "mode": n.mode,
                         "met": n.met(values["default"], metrics["default"]),
                         "seed_preset_met": n.met(values["seed"], metrics["seed"]),
                         "sources": sources, "note": n.note}
    update_result("seed_reproduction", "numbers", lambda old: numbers)
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"experiments to run (default: {' '.join(QUICK)})")
    parser.add_argument("--presets", default="seed,default", help="which runs: seed, default or both (default)")
    parser.add_argument("--only-missing", action="store_true", help="skip runs already recorded")
    parser.add_argument("--use", action="append", default=[], metavar="RUN_DIR",
                        help="record this finished run instead of running it (its experiment and preset are read"
                             " from its config.yaml)")
    parser.add_argument("--data-dir", default=os.environ.get("NNLAB_DATA"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("nnlab").setLevel(logging.INFO)

    from nnlab.experiments import load_all, run_experiment
    from nnlab.reporting.runs import read_run

    known = load_all()
    update_result("seed_reproduction", "machine", lambda old: machine())
    for folder in args.use:
        record = read_run(folder)
        if record is None or record.experiment not in known:
            raise SystemExit(f"{folder} is not a run folder of a known experiment")
        label = "seed" if record.preset == "seed" else "default"
        record_run(record.experiment, label, Path(folder), None)
        print(f"recorded {folder} as {record.experiment} ({label})")
    names = args.names or ([] if args.use else list(QUICK))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown experiments {unknown}; known: {', '.join(sorted(known))}")
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    bad = [p for p in presets if p not in PRESETS]
    if bad:
        raise SystemExit(f"--presets takes seed and/or default, not {bad}")
    done = json.loads((RESULTS / "seed_reproduction.json").read_text()).get("runs", {})
    for name in names:
        for label in presets:
            if args.only_missing and label in done.get(name, {}):
                print(f"{name} ({label}): recorded already, skipped")
                continue
            start = time.perf_counter()
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            run_dir = run_experiment(name, preset=PRESETS[label], data_dir=args.data_dir,
                                     out=Path("runs/reproduce") / name / label / stamp)
            wall = time.perf_counter() - start
            record_run(name, label, run_dir, wall)
            if label == "default" and name in headlines():  # the same run is experiments.json's entry
                record_default(name, run_dir, wall)
            print(f"{name} ({label}): {wall:.0f} s, {run_dir}")
    numbers = collate()
    print(f"\n{'number':<32} {'seed':>10} {'seed preset':>12} {'default':>10}  target      verdict")
    for key, n in numbers.items():
        def show(v):
            return "-" if v is None else f"{v:.4g}"
        target = "" if n["target"] is None else f"{n['mode']} {n['target']}"
        verdict = {True: "met", False: "NOT met", None: ""}[n["met"]]
        print(f"{key:<32} {show(n['seed']):>10} {show(n['nnlab_seed_preset']):>12} {show(n['nnlab_default']):>10}"
              f"  {target:<11} {verdict}")
    print(f"\n-> {RESULTS / 'seed_reproduction.json'}")


if __name__ == "__main__":
    main()
