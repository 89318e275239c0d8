"""Time to result: each experiment's default run, alone, and when each network first reaches the
seed's number and nnlab's target.

    NNLAB_DATA=../shared/data python benchmarks/time_to_target.py                 # every experiment
    NNLAB_DATA=../shared/data python benchmarks/time_to_target.py colourization utkface-mlp

Runs each named experiment with its default (improved) config, as ``nnlab run`` does, into
``runs/benchmarks/time_to_target/NAME`` and writes ``benchmarks/results/time_to_target.json``:

    {NAME: {"wall_s": ..., "target_s": ..., "met": ..., "networks": {NET: {"seconds_to_seed": ...,
            "seconds_to_target": ..., "train_s": ..., "epochs": ..., "column": ...}}, ...}}

(entries of experiments not run this time are kept). The headline metrics also go to
``experiments.json`` (as ``benchmarks/experiments.py`` records them), so the accuracy targets are
checked on the same run.

- ``train_s`` is the sum of the network's epoch times (training and validation passes, the
  ``epoch_s`` column of its history), over every phase that trains it (a transferred network's
  pretraining too).
- ``seconds_to_seed`` and ``seconds_to_target`` are the same sum up to the end of the first epoch
  whose per-epoch score (``column``: the validation or test score the history records every
  epoch, named in the entry) reaches the seed's number and the target. The final metric may be
  measured differently (test-time views, another split), so these are the epoch-level view of it.
  ``null``: the seed gives no number, the history has no per-epoch score for it, or it was never
  reached.
- ``wall_s`` is the whole run, from start to report, data preparation and figures included.

Resumable: a stopped run goes on from its checkpoints when the script is run again (its wall
time adds the earlier sessions' time, kept in the run folder); a finished run is only read
again (``--again`` runs it afresh). Run it with nothing else busy: 2 threads slow down sharply
when another process is working.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, blas_info, run_revision, update_result, saved_wall, wall_clock  # noqa: E402

#: the wall-time targets of issue 22 on a 2-core machine at 2 threads, in seconds
TARGET_S = {"expression": 40 * 60, "colourization": 20 * 60, "utkface-cnn": 15 * 60}
DEFAULT_TARGET_S = 3 * 60

#: experiment -> network -> (its phases' histories, in training order; the per-epoch score;
#: the metric of nnlab.seeds it stands for). A score that ends in ``_years`` is an error (lower is
#: better), as is a loss; every other score is better higher.
NETWORKS: dict[str, dict[str, tuple[tuple[str, ...], str | None, str | None]]] = {
    "colourization": {"base": (("base",), "val_accuracy", "base_accuracy"),
                      "unet": (("unet",), "val_accuracy", "unet_accuracy"),
                      "residual": (("residual",), "val_accuracy", "residual_accuracy")},
    "expression": {"vgg": (("vgg",), "val_accuracy", "vgg_accuracy"),
                   "transfer": (("transfer-pretrain", "transfer"), "val_accuracy", "transfer_accuracy")},
    "utkface-cnn": {"cnn": (("cnn",), "val_gender_accuracy", "gender_accuracy")},
    "utkface-mlp": {"age": (("age",), "test_rmse_years", "age_rmse"),
                    "ethnicity": (("ethnicity",), "test_accuracy", "ethnicity_accuracy"),
                    "gender": (("gender",), "test_accuracy", "gender_accuracy")},
    "mnist-autoencoder": {"autoencoder": (("autoencoder",), "val_loss", "test_mse"),
                          "classifier": (("classifier", "finetune"), "val_accuracy", "code_accuracy")},
    "super-resolution": {net: ((net,), None, None) for net in
                         ("seed_mlp", "seed_mlp_x4", "mlp_x2", "mlp_x4", "cnn_x2", "cnn_x4")},
}
#: experiments timed as a whole only (their studies train many small networks, none against a seed's number)
WHOLE_ONLY = ("batch-size", "blobs-bce", "relu-pwl", "symmetry")
WALL_FILE = "time_to_target.wall_s"     # in the run folder: the wall seconds of earlier, stopped sessions


def lower_is_better(column: str) -> bool:
    return "loss" in column or column.endswith("_years") or column.endswith("mse")


def network_times(run_dir: Path, phases: tuple[str, ...], column: str | None,
                  seed: float | None, target: float | None) -> dict | None:
    """One network's entry from its histories in ``run_dir`` (None if none was written): the
    epoch times summed over ``phases``, and the seconds until ``column`` first reaches ``seed``
    and ``target``. A ``*-pretrain`` phase counts in the time but not in the score: it learns
    another task, whose score is not the network's."""
    from nnlab.training import History

    found = [(p, History.from_csv(run_dir / f"{p}.csv")) for p in phases if (run_dir / f"{p}.csv").is_file()]
    if not found:
        return None
    histories = [h for _, h in found]
    before, reach = 0.0, {"seed": None, "target": None}
    for phase, h in found:
        if column is not None and column in h and not phase.endswith("-pretrain"):
            elapsed = h.elapsed()
            for key, bound in (("seed", seed), ("target", target)):
                i = None if bound is None else h.first_reaching(column, bound, "min" if lower_is_better(column) else "max")
                if reach[key] is None and i is not None and not math.isnan(elapsed[i]):
                    reach[key] = round(before + elapsed[i], 1)
        before += sum(s for s in h.seconds if not math.isnan(s))
    return {"seconds_to_seed": reach["seed"], "seconds_to_target": reach["target"], "train_s": round(before, 1),
            "epochs": sum(len(h) for h in histories), "column": column}


def entry_for(name: str, run_dir: Path, wall_s: float) -> dict:
    """The JSON entry of experiment ``name``'s finished run in ``run_dir``."""
    from nnlab import seeds

    numbers = seeds.by_metric(name)
    networks = {}
    for net, (phases, column, metric) in NETWORKS.get(name, {}).items():
        n = numbers.get(metric) if metric else None
        target = n.target if n is not None and isinstance(n.target, (int, float)) else None
        times = network_times(run_dir, phases, column, n.value if n is not None else None, target)
        if times is not None:
            networks[net] = times | {"seed": n.value if n else None, "target": target}
    limit = TARGET_S.get(name, DEFAULT_TARGET_S)
    return {"wall_s": round(wall_s, 1), "target_s": limit, "met": wall_s <= limit, "networks": networks,
            "run": str(run_dir), "git": run_revision(run_dir), "threads": os.environ.get("OMP_NUM_THREADS") or "default",
            "machine": {k: v for k, v in blas_info().items() if k in ("cpu", "avx2", "avx512f", "cpu_count", "env")}}


def run_one(name: str, data_dir: str | None, root: Path, again: bool) -> dict:
    """Run (or resume, or read back) experiment ``name`` and record its entry."""
    from nnlab.experiments import run_experiment
    from nnlab.experiments.run_folder import finished_run

    from experiments import record_default

    out = root / name
    earlier = 0.0 if again else saved_wall(out / WALL_FILE) or 0.0
    if again or not finished_run(out):
        with wall_clock(out / WALL_FILE, earlier):   # a stopped run keeps its time so far
            run_experiment(name, data_dir=data_dir, out=out, force=again)
    wall = saved_wall(out / WALL_FILE) or math.nan
    record_default(name, out, wall)
    return update_result("time_to_target", name, lambda old: entry_for(name, out, wall))


def show(name: str, entry: dict) -> None:
    print(f"\n{name}: {entry['wall_s']:.0f} s (target {entry['target_s']} s: {'met' if entry['met'] else 'NOT met'})")
    for net, t in entry["networks"].items():
        def fmt(key: str) -> str:
            return "-" if t[key] is None else f"{t[key]:.0f} s"
        print(f"  {net:<12} train {t['train_s']:>7.0f} s in {t['epochs']} epochs   to seed ({t['seed']}) "
              f"{fmt('seconds_to_seed'):>7}   to target ({t['target']}) {fmt('seconds_to_target'):>7}"
              f"   [{t['column']}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    everything = [*WHOLE_ONLY, *reversed(NETWORKS)]              # the quick ones first
    parser.add_argument("names", nargs="*", help=f"experiments (default: {', '.join(everything)})")
    parser.add_argument("--data-dir", default=os.environ.get("NNLAB_DATA"))
    parser.add_argument("--root", type=Path, default=Path("runs/benchmarks/time_to_target"))
    parser.add_argument("--again", action="store_true", help="run finished experiments afresh")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("nnlab").setLevel(logging.INFO)
    unknown = [n for n in args.names if n not in everything]
    if unknown:
        raise SystemExit(f"unknown experiments {unknown}; known: {', '.join(everything)}")
    for name in args.names or everything:
        show(name, run_one(name, args.data_dir, args.root, args.again))
    print(f"\n-> {RESULTS / 'time_to_target.json'}")


if __name__ == "__main__":
    main()
