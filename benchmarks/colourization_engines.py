"""Seed 001 on both engines: the seed's base CNN (``--preset seed``) trained by the NumPy engine and by
PyTorch, same data, settings, threads and machine, one after the other.

    NNLAB_DATA=../shared/data python benchmarks/colourization_engines.py            # both engines
    NNLAB_DATA=../shared/data python benchmarks/colourization_engines.py --engines numpy

Writes ``benchmarks/results/colourization_engines.json``: per engine and thread count the final and
best validation pixel accuracy, the validation loss, the seconds per epoch and the wall time,
beside the seed's 44.7%, with the CPU and BLAS it ran on. Each engine's entry is written when its
run ends, and an engine already recorded at these threads is skipped (``--force`` runs it again),
so a stopped session loses at most the run it was in. Run it with nothing else running.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, blas_info, cpu_info, git_revision, parse_args, update_result  # noqa: E402

SEED_BASE_ACCURACY = 0.447   # the seed's base CNN after 30 epochs (its figure, nnlab.seeds)


def options(p) -> None:
    p.add_argument("--engines", nargs="+", default=["numpy", "torch"], choices=["numpy", "torch"])
    p.add_argument("--models", default="base", help="the networks, as the models setting (default base)")
    p.add_argument("--force", action="store_true", help="run an engine again even when it is recorded")


def main() -> None:
    args = parse_args(__doc__, options)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    from nnlab.experiments import run_experiment

    path = RESULTS / "colourization_engines.json"
    done = json.loads(path.read_text()).get("runs", {}) if path.is_file() else {}
    args.threads = 2     # the machine's two cores, as a student's laptop would use them
    for engine in args.engines:
        key = f"{engine}-{args.threads}t-{args.models}"
        if key in done and not args.force:
            print(f"{key}: recorded already ({done[key]['base_accuracy']:.2%}); --force runs it again")
            continue
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        start = time.perf_counter()
        run_dir = run_experiment("colourization", preset="seed", engine=engine, threads=args.threads,
                                 overrides=[f"models=[{args.models}]"], progress=True,
                                 out=Path("runs/benchmarks/colourization-engines") / key / stamp)
        wall = time.perf_counter() - start
        m = json.loads((run_dir / "metrics.json").read_text())
        nets = [k for k in ("base", "unet", "residual") if f"{k}_accuracy" in m]
        entry = {"run": str(run_dir), "wall_s": round(wall, 1), "threads": args.threads,
                 "recorded": datetime.now().isoformat(timespec="seconds"), "git": git_revision(),
                 **{f"{k}_{what}": m[f"{k}_{what}"] for k in nets
                    for what in ("accuracy", "best_accuracy", "val_loss", "epoch_s", "train_s")}}
        update_result("colourization_engines", "runs", lambda old, key=key, entry=entry: {**old, key: entry})
        update_result("colourization_engines", "machine", lambda old: {
            **cpu_info(), "cpus": os.cpu_count(), "blas": blas_info().get("numpy_blas"),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")})
        update_result("colourization_engines", "seed", lambda old: {"base_accuracy": SEED_BASE_ACCURACY})
        print(f"{key}: base {entry.get('base_accuracy', float('nan')):.2%} (seed {SEED_BASE_ACCURACY:.1%}),"
              f" {entry.get('base_epoch_s')} s/epoch, {wall:.0f} s in all")


if __name__ == "__main__":
    main()
