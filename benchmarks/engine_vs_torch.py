"""One epoch of the seed-004 autoencoder: the NumPy engine against PyTorch on the CPU.

784-500-200-100-30-100-200-500-784, ReLU, sigmoid output, MSE, Adam(1e-3), batch 100, 60,000
MNIST-shaped samples (uniform noise: speed does not depend on the pixels). Each thread count
runs in its own process (BLAS thread pools are fixed at start-up); inside it the three
contenders alternate for ``--repeats`` rounds and the best epoch of each is kept.

    python benchmarks/engine_vs_torch.py [--samples 60000] [--repeats 3]

Writes ``benchmarks/results/engine_vs_torch.json``; key ``ratio`` is NumPy seconds / PyTorch
fused-Adam seconds at 2 threads (target: at most 1.0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import blas_info, git_revision, parse_args, rotated, run_thread_counts, write_result  # noqa: E402

SIZES = [784, 500, 200, 100, 30, 100, 200, 500, 784]
BATCH = 100


def numpy_epoch(x, seed: int) -> float:
    from nnlab.engine import Dense, Sequential

    layers = [Dense(s, "relu") for s in SIZES[1:-1]] + [Dense(SIZES[-1], "sigmoid")]
    layers[3] = Dense(SIZES[4])  # the 30-d code layer is linear
    model = Sequential(layers, input_shape=(784,), seed=seed)
    model.compile("mse", {"name": "adam", "lr": 1e-3})
    model.fit(x[:2000], x[:2000], epochs=1, batch_size=BATCH)  # warm-up
    t = time.perf_counter()
    model.fit(x, x, epochs=1, batch_size=BATCH)
    return time.perf_counter() - t


def torch_epoch(x, seed: int, fused: bool) -> float:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(SIZES, SIZES[1:])):
        mods.append(nn.Linear(a, b))
        if i == len(SIZES) - 2:
            mods.append(nn.Sigmoid())
        elif i != 3:
            mods.append(nn.ReLU())
    model = nn.Sequential(*mods)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    loss_fn = nn.MSELoss()
    data = torch.from_numpy(x)
    gen = torch.Generator().manual_seed(seed)

    def epoch(d):
        perm = torch.randperm(len(d), generator=gen)
        for lo in range(0, len(d), BATCH):
            xb = d.index_select(0, perm[lo:lo + BATCH])
            loss = loss_fn(model(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    epoch(data[:2000])  # warm-up
    t = time.perf_counter()
    epoch(data)
    return time.perf_counter() - t


def worker(args: argparse.Namespace) -> None:
    import numpy as np

    from nnlab.process import tune_malloc

    tune_malloc()       # what nnlab run sets for the process, for both contenders
    import torch

    torch.set_num_threads(args.threads)
    x = np.random.default_rng(0).random((args.samples, 784), dtype=np.float32)
    runners = {
        "numpy": lambda r: numpy_epoch(x, r),
        "torch_adam": lambda r: torch_epoch(x, r, fused=False),
        "torch_fused_adam": lambda r: torch_epoch(x, r, fused=True),
    }
    times: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for r in range(args.repeats):
        for name in rotated(names, r):
            times[name].append(runners[name](r))
    best = {k: min(v) for k, v in times.items()}
    print(json.dumps({"threads": args.threads, "torch_threads": torch.get_num_threads(), "best": best,
                      "all": times, "blas": blas_info(), "torch": torch.__version__}))


def main() -> None:
    def options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--samples", type=int, default=60_000)
        p.add_argument("--repeats", type=int, default=3)

    args = parse_args(__doc__, options)
    if args.worker:
        worker(args)
        return
    runs = {}
    for threads, r in run_thread_counts(__file__, ["--samples", str(args.samples), "--repeats", str(args.repeats)]):
        runs[threads] = r
        b = r["best"]
        print(f"{threads} thread(s): numpy {b['numpy']:.2f} s   torch Adam {b['torch_adam']:.2f} s   "
              f"torch fused Adam {b['torch_fused_adam']:.2f} s   numpy/fused {b['numpy'] / b['torch_fused_adam']:.3f}"
              f"   numpy/default {b['numpy'] / b['torch_adam']:.3f}", flush=True)
    two = runs[2]["best"]
    result = {
        "benchmark": "engine_vs_torch",
        "what": "one epoch, seed-004 autoencoder, batch 100, Adam, MSE",
        "samples": args.samples,
        "repeats": args.repeats,
        "ratio": two["numpy"] / two["torch_fused_adam"],
        "ratio_vs_default_adam": two["numpy"] / two["torch_adam"],
        "ratio_1_thread": runs[1]["best"]["numpy"] / runs[1]["best"]["torch_fused_adam"],
        "configurations": {
            "numpy": "Sequential.fit(batch_size=100), NumPy's BLAS with the process's thread count",
            "torch_adam": "nn.Sequential + torch.optim.Adam, torch.set_num_threads(threads)",
            "torch_fused_adam": "the same with Adam(fused=True)",
        },
        "seconds": {str(t): r["best"] for t, r in runs.items()},
        "all_seconds": {str(t): r["all"] for t, r in runs.items()},
        "torch": runs[2]["torch"],
        "blas": runs[2]["blas"],
        "git": git_revision(),
        "process": "both contenders in one process per thread count, glibc's allocator set by nnlab.process.tune_malloc;"
                   " the engine's own threads (nnlab.engine.threads) follow OMP_NUM_THREADS",
        "target": "ratio <= 1.0",
    }
    path = write_result("engine_vs_torch", result)
    print(f"ratio (numpy / torch fused Adam, 2 threads) = {result['ratio']:.3f}   -> {path}")


if __name__ == "__main__":
    main()
