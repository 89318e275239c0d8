"""Full runs of the lab's experiments: headline metrics and wall time on this machine.

    NNLAB_DATA=../shared/data python benchmarks/experiments.py mnist-autoencoder utkface-mlp

Runs each named experiment with its default (improved) config through the same pipeline as
``nnlab run`` (run folders under ``runs/benchmarks/``) and merges the figures into
``benchmarks/results/experiments.json`` as ``{name: {metric: value, "wall_s": seconds}}``
(accuracies as fractions); entries of experiments not run this time are kept. It prints the
figures next to the seeds' numbers and the targets (both from :mod:`nnlab.seeds`). With no
names, it runs every experiment that has a number there.

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

def headlines() -> dict[str, dict[str, tuple[float | None, float | str | None, str | None]]]:
    """experiment -> {metric: (the seed's number, nnlab's target, "min"|"max"|"eq"|None)}, from
    :mod:`nnlab.seeds` (the one list of what the seeds report and what nnlab aims for)."""
    from nnlab import seeds

    out: dict[str, dict[str, tuple]] = {}
    for n in seeds.NUMBERS:
        if not n.experiment.startswith("exercise:"):
            out.setdefault(n.experiment, {})[n.metric] = (n.value, n.target, n.mode)
    return out


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
    if mode is None:
        return f"  {metric:<24} {value if value is None else f'{value:.4f}':>10}   seed {seed}   (reference)"
    sign, meets = {("min", False): ("<=", operator.le), ("max", False): (">=", operator.ge),
                   ("eq", False): ("=", operator.eq),
                   ("min", True): ("<", operator.lt), ("max", True): (">", operator.gt)}[mode, relative]
    ok = value is not None and bound is not None and meets(value, bound)
    said = f"{target} ({bound if bound is None else f'{bound:.4f}'})" if relative else target
    return (f"  {metric:<24} {value if value is None else f'{value:.4f}':>10}   seed {seed}   target"
            f" {sign} {said}   {'' if target is None else 'met' if ok else 'NOT met'}")


def record_default(name: str, run_dir: Path, wall: float, overrides: list[str] = ()) -> dict:
    """Merge a finished default run of ``name`` into ``experiments.json`` (its headline metrics,
    run folder, wall time, cores and thread settings) and return the entry. With ``--set
    models=[...]`` among the overrides the run is one part of the entry (see :func:`with_part`)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    keys = headlines().get(name) or {k: None for k, v in metrics.items() if isinstance(v, (int, float))
                                     and not isinstance(v, bool) and k != "wall_s"}
    run_info = {"run": str(run_dir), "wall_s": round(wall, 1), "cpus": os.cpu_count(),
                "threads": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
    if any(o.replace(" ", "").startswith("models=") for o in overrides):   # one part of the entry
        part = {"overrides": list(overrides), "metrics": [k for k in keys if k in metrics], **run_info}
        return update_result("experiments", name, lambda old: with_part(old, part, metrics, keys))
    return update_result("experiments", name, lambda old: {k: metrics.get(k) for k in keys} | run_info | (
        {"overrides": list(overrides)} if overrides else {}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="experiments to run (default: every one with a headline in"
                                                 " nnlab.seeds)")
    parser.add_argument("--data-dir", default=os.environ.get("NNLAB_DATA"))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting (repeatable); with models=[...] the entry is measured in parts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("nnlab").setLevel(logging.INFO)

    from nnlab.experiments import load_all, run_experiment

    known = load_all()
    heads = headlines()
    names = args.names or list(heads)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown experiments {unknown}; known: {', '.join(sorted(known))}")
    path = RESULTS / "experiments.json"
    for name in names:
        start = time.perf_counter()
        run_dir = run_experiment(name, data_dir=args.data_dir, root="runs/benchmarks", overrides=args.overrides)
        wall = time.perf_counter() - start
        entry = record_default(name, run_dir, wall, args.overrides)
        print(f"\n{name}  ({wall:.0f} s on {os.cpu_count()} cores, {run_dir})")
        for metric, spec in (heads.get(name) or {}).items():
            print(target_line(metric, spec, entry))
    print(f"\n-> {path}")


if __name__ == "__main__":
    main()
