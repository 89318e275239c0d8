"""The colourization seed's six sweeps at the seed's budget, on the seed's colours.

    NNLAB_DATA=../shared/data python benchmarks/colourization_sweeps.py                 # all six, in turn
    NNLAB_DATA=../shared/data python benchmarks/colourization_sweeps.py unet.lr base.kernel_size

Seed 001 swept the base model and the U-Net over the number of filters (16..128), the learning
rate (base 1 to 1e-5, U-Net 10 to 1e-4) and the kernel size (3, 5, 7). Each sweep here is ``nnlab
sweep colourization --preset seed --set models=[MODEL] --set palette=csc321`` over one setting:
every point a full run of the seed's network (30 epochs, constant Adam lr, batch 100) on the 5,000
training horses with CSC321's 24 colours, into ``runs/sweeps/colourization/csc321/MODEL-KEY``.
Run again, a sweep goes on where it stopped (finished points are kept). The validation pixel
accuracy of every point, beside the seed's own table (the seed gives no kernel-size table, only
that 3 was best), goes to ``benchmarks/results/colourization_sweeps.json`` and is printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, update_result  # noqa: E402

FILTERS = [16, 32, 48, 64, 80, 96, 128]
#: MODEL.KEY -> the swept values, the seed's own grids, in the order they run by default
GRIDS = {
    "base.lr": [1, 0.1, 0.01, 0.001, 0.0001, 0.00001],
    "unet.lr": [10, 1, 0.1, 0.01, 0.001, 0.0001],
    "base.num_filters": FILTERS,
    "unet.num_filters": FILTERS,
    "base.kernel_size": [3, 5, 7],
    "unet.kernel_size": [3, 5, 7],
}
#: the settings every point shares besides the preset (the book finds the sweeps by them)
PALETTE = "palette=csc321"


def overrides(model: str) -> list[str]:
    return [f"models=[{model}]", PALETTE]


def seed_table(model: str, key: str) -> dict[float, float]:
    """The seed's table for ``model`` and ``key`` (none for the kernel size)."""
    from nnlab import seeds

    return {float(v): acc for v, acc in seeds.SWEEPS[model].get(key, [])}


def finished_trials(sweep_dir: Path, key: str) -> dict[float, dict]:
    """value -> {metrics..., "state"} of the trials of a sweep folder that finished (``status: ok``)."""
    import json

    import yaml

    rows = {}
    for trial in sorted((sweep_dir / "trials").glob("*")):
        try:
            metrics = json.loads((trial / "metrics.json").read_text())
            value = yaml.safe_load((trial / "config.yaml").read_text())["config"][key]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # still running, or never started
        if metrics.get("status") == "ok":
            rows[float(value)] = {**metrics, "state": "COMPLETE"}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweeps", nargs="*", default=list(GRIDS), help=f"MODEL.KEY (default: {' '.join(GRIDS)})")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per sweep (default 1)")
    parser.add_argument("--data-dir", default=os.environ.get("NNLAB_DATA"))
    parser.add_argument("--smoke", action="store_true", help="tiny synthetic data (checks the script; writes nothing)")
    parser.add_argument("--record", action="store_true",
                        help="run nothing: record the finished points of the sweeps so far (a stopped or running sweep)")
    args = parser.parse_args()
    unknown = [k for k in args.sweeps if k not in GRIDS]
    if unknown:
        raise SystemExit(f"unknown sweeps {unknown}; known: {', '.join(GRIDS)}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("nnlab").setLevel(logging.INFO)

    from nnlab.experiments import load_all
    from nnlab.experiments.sweep import run_sweep
    from nnlab.reporting.sweep_report import read_results

    load_all()
    path = RESULTS / "colourization_sweeps.json"
    for name in args.sweeps:
        model, key = name.split(".")
        start = time.perf_counter()
        out = Path("runs/sweeps/colourization/csc321") / f"{model}-{key.replace('_', '-')}{'-smoke' if args.smoke else ''}"
        if args.record:
            if not out.is_dir():
                continue
            sweep_dir, rows, wall = out, finished_trials(out, key), None
        else:
            sweep_dir = run_sweep("colourization", {key: GRIDS[name]}, workers=args.workers, out=out, preset="seed",
                                  overrides=overrides(model), data_dir=args.data_dir, smoke=args.smoke,
                                  metric=f"{model}_accuracy:max")
            wall = time.perf_counter() - start
            rows = {float(r[key]): r for r in read_results(sweep_dir)}
        seed = seed_table(model, key)
        points = []
        for value in GRIDS[name]:
            row = rows.get(float(value), {})
            acc = row.get(f"{model}_accuracy")
            points.append({key: value, f"{model}_accuracy": float(acc) if acc not in (None, "") else None,
                           "seed_accuracy": seed.get(float(value)), "state": row.get("state", "NOT RUN")})
        if not args.smoke:
            update_result("colourization_sweeps", name, lambda old: {
                "model": model, "key": key, "palette": "csc321", "points": points,
                "complete": all(p["state"] == "COMPLETE" for p in points),
                "wall_s": None if wall is None else round(wall, 1),
                "workers": args.workers, "cpus": os.cpu_count(), "threads": os.environ.get("OMP_NUM_THREADS"),
                "sweep": str(out)})
        print(f"\n{name}  ({'recorded' if wall is None else f'{wall:.0f} s'}, {args.workers} workers, {sweep_dir})")
        for p in points:
            acc, s = p[f"{model}_accuracy"], p["seed_accuracy"]
            print(f"  {key}={p[key]:<8} {'-' if acc is None else f'{acc:.4f}':>8}   seed "
                  f"{'-' if s is None else f'{s:.3f}'}   {p['state']}")
    print(f"\n-> {path}" if not args.smoke else "\n(smoke: nothing written)")


if __name__ == "__main__":
    main()
