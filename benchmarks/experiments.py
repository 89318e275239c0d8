"""Full runs of the lab's experiments: headline metrics and wall time on this machine.

    NNLAB_DATA=../shared/data python benchmarks/experiments.py mnist-autoencoder utkface-mlp

Runs each named experiment with its default (improved) config through the same pipeline as
``nnlab run`` (run folders under ``runs/benchmarks/``) and merges the figures into
``benchmarks/results/experiments.json`` as ``{name: {metric: value, "wall_s": seconds}}``
(accuracies as fractions); entries of experiments not run this time are kept. It prints the
figures next to the seeds' numbers and the targets. With no names, it runs every experiment
listed in HEADLINES.

``--set KEY=VALUE`` overrides a setting as in ``nnlab run``. With ``--set models=[...]`` an
experiment that trains its networks independently (the same seed, data and schedule whatever
else runs) can be measured in parts, one process per network on a 2-core machine; the entry
then keeps the figures of the other parts and lists every part under ``parts``.

    python benchmarks/experiments.py expression --set 'models=[vgg]' &
    python benchmarks/experiments.py expression --set 'models=[transfer]'
"""

from __future__ import annotations

import argparse
import json
import logging
import operator
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, update_result  # noqa: E402

#: experiment -> {metric: (seed's number, target, "min"|"max")}; None where the seed gives none
HEADLINES: dict[str, dict[str, tuple[float | None, float | str | None, str]]] = {
    "mnist-autoencoder": {"test_mse": (0.0165, 0.009, "min"), "code_accuracy": (0.93, 0.975, "max")},
    "utkface-mlp": {"age_rmse": (13.0, 11.5, "min"), "ethnicity_accuracy": (0.65, 0.75, "max"),
                    "gender_accuracy": (0.86, 0.88, "max")},
    "colourization": {"base_accuracy": (0.447, 0.45, "max"), "unet_accuracy": (0.564, 0.57, "max"),
                      "residual_accuracy": (0.705, 0.71, "max")},
    # targets "beat bicubic": the published bicubic PSNRs (MATLAB imresize) stand in for our own,
    # which the run records as set*_x*_psnr_bicubic (ours: 33.69 on Set5 x2)
    "super-resolution": {"set5_x2_psnr_bicubic": (None, None, "max"), "set5_x2_psnr_mlp": (None, 33.66, "max"),
                         "set5_x2_psnr_cnn": (None, 35.5, "max"), "set14_x2_psnr_cnn": (None, 30.24, "max"),
                         "set5_x4_psnr_cnn": (None, 28.42, "max")},
    # a target that names another metric: beat that metric's value in the same entry
    "expression": {"vgg_accuracy": (None, 0.66, "max"), "transfer_accuracy": (None, "vgg_accuracy", "max"),
                   "macro_auc": (None, 0.90, "max")},
    "utkface-cnn": {"age_rmse": (None, 8.0, "min"), "gender_accuracy": (None, 0.91, "max"),
                    "ethnicity_accuracy": (None, 0.81, "max")},
}


def with_part(old: dict, part: dict, metrics: dict, keys) -> dict:
    """The entry ``old`` with one more ``part``: its metrics replace the old values of the same
    keys, the others stay. A whole-run entry measured earlier becomes the first part, so its
    figures keep their provenance; each earlier part keeps the names of only the figures it still
    provides, and goes once it provides none (a part run again with the same overrides too)."""
    earlier = old.get("parts")
    if earlier is None and old:
        earlier = [{"overrides": old.get("overrides", []), "metrics": [k for k in keys if k in old]}
                   | {k: old[k] for k in ("run", "wall_s", "cpus", "threads") if k in old}]
    parts = []
    for p in earlier or []:
        still = [k for k in p.get("metrics", []) if k not in part["metrics"]]
        if still and p.get("overrides") != part["overrides"]:
            parts.append(p | {"metrics": still})
    parts.append(part)
    return {k: metrics[k] if k in metrics else old.get(k) for k in keys} | {"parts": parts}


def target_line(metric: str, spec: tuple, entry: dict) -> str:
    """One printed line: the metric's value, the seed's, the target and whether it is met. A
    target that is a metric's name is that metric's value in the same entry, to be beaten."""
    seed, target, mode = spec
    value = entry.get(metric)
    relative = isinstance(target, str)
    bound = entry.get(target) if relative else target
    sign, meets = {("min", False): ("<=", operator.le), ("max", False): (">=", operator.ge),
                   ("min", True): ("<", operator.lt), ("max", True): (">", operator.gt)}[mode, relative]
    ok = value is not None and bound is not None and meets(value, bound)
    said = f"{target} ({bound if bound is None else f'{bound:.4f}'})" if relative else target
    return (f"  {metric:<20} {value if value is None else f'{value:.4f}':>10}   seed {seed}   target"
            f" {sign} {said}   {'' if target is None else 'met' if ok else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="experiments to run (default: every one in HEADLINES)")
    parser.add_argument("--data-dir", default=os.environ.get("NNLAB_DATA"))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting (repeatable); with models=[...] the entry is measured in parts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("nnlab").setLevel(logging.INFO)

    from nnlab.experiments import load_all, run_experiment

    known = load_all()
    names = args.names or list(HEADLINES)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown experiments {unknown}; known: {', '.join(sorted(known))}")
    path = RESULTS / "experiments.json"
    for name in names:
        start = time.perf_counter()
        run_dir = run_experiment(name, data_dir=args.data_dir, root="runs/benchmarks", overrides=args.overrides)
        wall = time.perf_counter() - start
        metrics = json.loads((run_dir / "metrics.json").read_text())
        keys = HEADLINES.get(name) or {k: None for k, v in metrics.items() if isinstance(v, (int, float))
                                       and not isinstance(v, bool) and k != "wall_s"}
        run_info = {"run": str(run_dir), "wall_s": round(wall, 1), "cpus": os.cpu_count(),
                    "threads": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
        if any(o.replace(" ", "").startswith("models=") for o in args.overrides):   # one part of the entry
            part = {"overrides": args.overrides, "metrics": [k for k in keys if k in metrics], **run_info}
            entry = update_result("experiments", name, lambda old: with_part(old, part, metrics, keys))
        else:
            entry = update_result("experiments", name, lambda old: {k: metrics.get(k) for k in keys} | run_info | (
                {"overrides": args.overrides} if args.overrides else {}))
        print(f"\n{name}  ({wall:.0f} s on {os.cpu_count()} cores, {run_dir})")
        for metric, spec in (HEADLINES.get(name) or {}).items():
            print(target_line(metric, spec, entry))
    print(f"\n-> {path}")


if __name__ == "__main__":
    main()
