"""The colourization seed's three U-Net sweeps at the full budget: filters, learning rate, kernel size.

    NNLAB_DATA=../shared/data python benchmarks/colourization_sweeps.py --workers 2

Each sweep runs ``nnlab sweep colourization --preset seed --set models=[unet]`` over one
setting (every point a full 25-epoch run of the seed's U-Net on the 5,000 training horses),
into ``runs/sweeps/colourization/seed-unet-KEY`` (run again, it continues where it stopped),
which holds the sweep's table, plot and report. The validation pixel accuracy of every point,
beside the seed's own table where it has one, goes to
``benchmarks/results/colourization_sweeps.json`` and is printed.
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

#: the swept values (MISSION part C / the issue) and the seed's U-Net accuracies, where it reports them
GRIDS = {
    "num_filters": [16, 32, 48, 64, 80, 96, 128],
    "lr": [1, 0.1, 0.01, 0.001, 0.0001, 0.00001],
    "kernel_size": [3, 5, 7],
}

def seed_table(key: str) -> dict[float, float]:
    """The seed's U-Net table for ``key`` (none for the kernel size: the seed names 3 best, no table)."""
    from nnlab import seeds

    return dict(seeds.SWEEPS["unet"].get(key, []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keys", nargs="*", default=list(GRIDS), help=f"sweeps to run (default: {' '.join(GRIDS)})")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per sweep (default 2)")
    parser.add_argument("--data-dir", default=os.environ.get("NNLAB_DATA"))
    parser.add_argument("--smoke", action="store_true", help="tiny synthetic data (checks the script; writes nothing)")
    args = parser.parse_args()
    unknown = [k for k in args.keys if k not in GRIDS]
    if unknown:
        raise SystemExit(f"unknown sweeps {unknown}; known: {', '.join(GRIDS)}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("nnlab").setLevel(logging.INFO)

    from nnlab.experiments import load_all
    from nnlab.experiments.sweep import read_results, run_sweep

    load_all()
    path = RESULTS / "colourization_sweeps.json"
    for key in args.keys:
        start = time.perf_counter()
        out = Path("runs/sweeps/colourization") / f"seed-unet-{key.replace('_', '-')}{'-smoke' if args.smoke else ''}"
        sweep_dir = run_sweep("colourization", {key: GRIDS[key]}, workers=args.workers, out=out, preset="seed",
                              overrides=["models=[unet]"], data_dir=args.data_dir, smoke=args.smoke)
        wall = time.perf_counter() - start
        rows = {float(r[key]): r for r in read_results(sweep_dir)}
        points = []
        for value in GRIDS[key]:
            row = rows.get(float(value), {})
            acc = row.get("unet_accuracy")
            points.append({key: value, "unet_accuracy": float(acc) if acc else None,
                           "seed_accuracy": seed_table(key).get(value), "state": row.get("state", "NOT RUN")})
        if not args.smoke:
            update_result("colourization_sweeps", key, lambda old: {
                "points": points, "wall_s": round(wall, 1), "workers": args.workers, "cpus": os.cpu_count(),
                "threads": os.environ.get("OMP_NUM_THREADS"), "sweep": str(out)})
        print(f"\n{key}  ({wall:.0f} s, {args.workers} workers, {sweep_dir})")
        for p in points:
            acc, seed = p["unet_accuracy"], p["seed_accuracy"]
            print(f"  {key}={p[key]:<8} {'-' if acc is None else f'{acc:.4f}':>8}   seed "
                  f"{'-' if seed is None else f'{seed:.3f}'}   {p['state']}")
    print(f"\n-> {path}" if not args.smoke else "\n(smoke: nothing written)")


if __name__ == "__main__":
    main()
