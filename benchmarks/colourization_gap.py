"""Where nnlab's colourization falls short of seed 001, measured on the seed's own palette.

    NNLAB_DATA=../shared/data python benchmarks/colourization_gap.py             # the newest seed-preset run
    NNLAB_DATA=../shared/data python benchmarks/colourization_gap.py --batch50   # + the base net at batch 50

The seed-preset run (``benchmarks/reproduce.py colourization --presets seed``) trains the seed's
networks with the seed's palette, optimiser, learning rate, batch and epochs, and still ends under
the seed's numbers. Three checks, written to ``benchmarks/results/colourization_gap.json``:

1. ``base_log``: the seed's printed 30-epoch base-model log against nnlab's seed-preset base run,
   epoch by epoch (training loss, validation loss, accuracy), and the accuracy nnlab's run has at
   each of the seed's validation losses (nnlab's accuracy-against-loss curve, interpolated, where
   it reaches that loss): does the seed train faster, and is it measured higher at an equal loss?
2. ``measurement``: each seed-preset network's validation loss and accuracy computed again from its
   saved weights, with batch normalisation in evaluation mode (running statistics: how nnlab and
   the CSC321 code measure) and in training mode (each batch of 100 normalised by its own
   statistics): does measuring the other way explain the gap?
3. ``batch50`` (with ``--batch50``, about 10 minutes of one core): the base network trained at
   batch 50, twice the updates per epoch, into ``runs/benchmarks/colourization-gap/base-batch50``
   (kept, so a rerun reads it instead of training again).
4. ``seed_tables``: the seed's base filter table against the last epoch the seed printed for each
   of its runs: is the table the final accuracy (as nnlab's sweeps record) or something above it?
5. ``residual_cost``: the seed's residual net took 7.5x its U-Net's time per epoch; nnlab's literal
   reading of it (the U-Net with each stage's input added) takes about 2x at the same width. With
   ``--residual-filters N`` (about an hour of one core at 64) the literal residual net is trained
   again at N filters into ``runs/benchmarks/colourization-gap/residual-nfN`` (kept): does a
   bigger network, as the seed's timing implies, close the gap?

    NNLAB_DATA=../shared/data python benchmarks/colourization_gap.py --residual-filters 64
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, git_revision, write_result  # noqa: E402

MODELS = {"base": "colour_base", "unet": "colour_unet", "residual": "colour_residual_seed"}


def newest_seed_run(root: Path = Path("runs")) -> Path:
    from nnlab.reporting.runs import find_runs, newest_runs

    run = newest_runs(find_runs(root)).get(("colourization", "seed"))
    if run is None:
        raise SystemExit("no finished colourization seed-preset run under runs/: run"
                         " `python benchmarks/reproduce.py colourization --presets seed` first")
    return run.path


def base_log(run: Path) -> dict:
    from nnlab import seeds
    from nnlab.training.history import History

    ours = History.from_csv(run / "base.csv")
    log = seeds.CURVES["001.base"]
    loss, acc = np.asarray(ours["val_loss"]), np.asarray(ours["val_accuracy"])
    order = np.argsort(loss)
    epochs = []
    for (epoch, seed_train, seed_val, seed_acc), train, val, a in zip(log, ours["loss"], loss, acc):
        reached = loss.min() <= seed_val <= loss.max()
        at_loss = float(np.interp(seed_val, loss[order], acc[order])) if reached else None
        epochs.append({"epoch": epoch, "seed_train_loss": seed_train, "train_loss": round(float(train), 4),
                       "seed_val_loss": seed_val, "val_loss": round(float(val), 4), "seed_accuracy": seed_acc,
                       "accuracy": round(float(a), 4),
                       "accuracy_at_seed_loss": None if at_loss is None else round(at_loss, 4)})
    gaps = [e["seed_accuracy"] - e["accuracy_at_seed_loss"] for e in epochs if e["accuracy_at_seed_loss"] is not None]
    first = next((e["epoch"] for e in epochs if e["seed_val_loss"] <= loss[-1]), None)
    return {"epochs": epochs, "train_loss_gap_final": round(float(ours["loss"][-1]) - log[-1][1], 4),
            "mean_accuracy_gap_at_equal_loss": round(float(np.mean(gaps)), 4) if gaps else None,
            "equal_loss_points": len(gaps), "seed_epoch_reaching_our_final_loss": first}


def measurement(run: Path, data_dir: str | None) -> dict:
    import torch

    from nnlab.data.palettes import quantize
    from nnlab.data.registry import load
    from nnlab.experiments.exp_colourization import greyscale
    from nnlab.models import create_model
    from nnlab.torchlib import to_torch

    val = load("cifar10", "test", data_dir=data_dir, classes=["horse"]).images
    y = torch.as_tensor(quantize(val, load("csc321-colours", "24", data_dir=data_dir) * 256))
    x = torch.as_tensor(greyscale(val))
    out = {}
    for key, name in MODELS.items():
        if not (run / f"{key}.pt").is_file():
            continue
        net = to_torch(create_model(name, num_filters=32).build(seed=0))
        net.load_state_dict(torch.load(run / f"{key}.pt", weights_only=True))
        for mode in ("eval", "train"):       # eval first: a training-mode pass moves the running statistics
            net.train(mode == "train")
            losses, correct = [], 0
            with torch.no_grad():
                for i in range(0, len(x), 100):
                    scores = net(x[i:i + 100])
                    losses.append(torch.nn.functional.cross_entropy(scores, y[i:i + 100]).item())
                    correct += int((scores.argmax(1) == y[i:i + 100]).sum())
            out[f"{key}_bn_{mode}"] = {"val_loss": round(float(np.mean(losses)), 4),
                                       "accuracy": round(correct / y.numel(), 4)}
    return out


def batch50(data_dir: str | None) -> dict:
    from nnlab.experiments import run_experiment

    out = Path("runs/benchmarks/colourization-gap/base-batch50")
    metrics_path = out / "metrics.json"
    finished = metrics_path.is_file() and json.loads(metrics_path.read_text()).get("status") == "ok"
    if not finished:
        run_experiment("colourization", preset="seed", overrides=["models=[base]", "batch_size=50"], out=out,
                       data_dir=data_dir, force=True)
    m = json.loads(metrics_path.read_text())
    return {"run": str(out), "accuracy": m["base_accuracy"], "val_loss": m["base_val_loss"],
            "train_loss": m["base_train_loss"]}


def seed_tables() -> dict:
    """The seed's base filter table minus the final accuracy of the run the seed printed for each point."""
    from nnlab import seeds

    table = dict(seeds.SWEEPS["base"]["num_filters"])
    logs = seeds.SWEEP_LOGS["base.num_filters"]
    rows = [{"num_filters": nf, "table": table[nf], "final_epoch": log[2], "difference": round(table[nf] - log[2], 4)}
            for nf, log in logs.items()]
    diffs = [r["difference"] for r in rows]
    return {"base.num_filters": rows, "all_at_or_above": all(d >= 0 for d in diffs),
            "mean_difference": round(float(np.mean(diffs)), 4), "max_difference": round(max(diffs), 4)}


def residual_cost(run: Path, filters: int | None, data_dir: str | None) -> dict:
    """Time per epoch of the residual net relative to the U-Net: the seed's against nnlab's."""
    from nnlab import seeds

    times = {k: t / e for k, (e, t) in seeds.SEED_001_TIMES.items()}
    ours = json.loads((run / "metrics.json").read_text())
    out = {"seed_epoch_s": {k: round(v, 1) for k, v in times.items()},
           "seed_residual_over_unet": round(times["residual"] / times["unet"], 2),
           "nnlab_residual_over_unet": round(ours["residual_epoch_s"] / ours["unet_epoch_s"], 2),
           "nnlab_residual_params": ours.get("residual_params")}
    if filters:
        from nnlab.experiments import run_experiment

        folder = Path(f"runs/benchmarks/colourization-gap/residual-nf{filters}")
        path = folder / "metrics.json"
        if not (path.is_file() and json.loads(path.read_text()).get("status") == "ok"):
            run_experiment("colourization", preset="seed", overrides=["models=[residual]", f"num_filters={filters}"],
                           out=folder, data_dir=data_dir, force=True)
        m = json.loads(path.read_text())
        out[f"residual_nf{filters}"] = {"run": str(folder), "accuracy": m["residual_accuracy"],
                                        "val_loss": m["residual_val_loss"], "train_loss": m["residual_train_loss"],
                                        "params": m["residual_params"], "epoch_s": m["residual_epoch_s"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="the seed-preset run (default: the newest under runs/)")
    parser.add_argument("--batch50", action="store_true", help="also train the base net at batch 50")
    parser.add_argument("--residual-filters", type=int, metavar="N",
                        help="also train the seed's residual net at N filters (e.g. 64)")
    parser.add_argument("--data-dir", default=os.environ.get("NNLAB_DATA"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("nnlab").setLevel(logging.INFO)        # the probe runs' epochs
    run = args.run or newest_seed_run()
    result = {"run": str(run), "git": git_revision(), "base_log": base_log(run),
              "measurement": measurement(run, args.data_dir)}
    result["seed_tables"] = seed_tables()
    result["residual_cost"] = residual_cost(run, args.residual_filters, args.data_dir)
    old = json.loads((RESULTS / "colourization_gap.json").read_text()) if (RESULTS / "colourization_gap.json").is_file() else {}
    for key, value in old.get("residual_cost", {}).items():     # probes of earlier widths are kept
        result["residual_cost"].setdefault(key, value)
    if args.batch50:
        result["batch50"] = batch50(args.data_dir)
    elif "batch50" in old:
        result["batch50"] = old["batch50"]
    path = write_result("colourization_gap", result)
    b = result["base_log"]
    print(f"seed-preset run {run}")
    print(f"base, epoch 30: training loss {b['epochs'][-1]['train_loss']} (seed {b['epochs'][-1]['seed_train_loss']}),"
          f" validation {b['epochs'][-1]['val_loss']} (seed {b['epochs'][-1]['seed_val_loss']}),"
          f" accuracy {b['epochs'][-1]['accuracy']:.4f} (seed {b['epochs'][-1]['seed_accuracy']})")
    print(f"the seed's base reached nnlab's final validation loss at epoch {b['seed_epoch_reaching_our_final_loss']};"
          f" at an equal loss the seed's accuracy is {100 * (b['mean_accuracy_gap_at_equal_loss'] or 0):+.1f} points"
          f" higher (mean over {b['equal_loss_points']} of the seed's epochs)")
    for key, m in result["measurement"].items():
        print(f"  {key:18s} val loss {m['val_loss']:.4f}  accuracy {m['accuracy']:.4f}")
    if "batch50" in result:
        r = result["batch50"]
        print(f"base at batch 50: accuracy {r['accuracy']:.4f}, val loss {r['val_loss']:.4f}, train loss {r['train_loss']:.4f}")
    t = result["seed_tables"]
    print(f"the seed's base filter table is {'at or above' if t['all_at_or_above'] else 'not always above'} the final"
          f" epoch it printed for each run (by {100 * t['mean_difference']:.1f} points on average,"
          f" {100 * t['max_difference']:.1f} at most)")
    c = result["residual_cost"]
    print(f"residual net's time per epoch over the U-Net's: seed {c['seed_residual_over_unet']}x,"
          f" nnlab {c['nnlab_residual_over_unet']}x")
    for key, r in c.items():
        if key.startswith("residual_nf"):
            print(f"  {key}: accuracy {r['accuracy']:.4f}, val loss {r['val_loss']:.4f}, {r['params']:,} parameters")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
