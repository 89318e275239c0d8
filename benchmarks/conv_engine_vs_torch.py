"""The colourization base network as the *engine's* layers (examples/colourization-base.yaml,
a Sequential of Conv2d/MaxPool2d/BatchNorm2d/ReLU/Upsample) against the same torch.nn network:
forward + backward for one batch of 100 grey 32x32 images, the same upstream gradient.

``benchmarks/conv_vs_torch.py`` times the kernels with a hand-fused network; this one times what
a user of the engine gets.

    python benchmarks/conv_engine_vs_torch.py [--repeats 4]

Writes ``benchmarks/results/conv_engine_vs_torch.json`` (key ``ratio``: engine / torch seconds at
2 threads; the issue's target for the base network is at most 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import blas_info, git_revision, parse_args, rotated, run_thread_counts, write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def worker(args: argparse.Namespace) -> None:
    import numpy as np

    from nnlab.process import tune_malloc

    tune_malloc()       # what nnlab run sets for the process, for both contenders
    import torch
    import yaml
    from torch import nn

    from nnlab.engine import model_from_spec

    torch.set_num_threads(args.threads)
    model = model_from_spec(yaml.safe_load((ROOT / "examples/colourization-base.yaml").read_text()), seed=0)
    x = np.random.default_rng(0).random((100, 1, 32, 32), dtype=np.float32)
    g = np.random.default_rng(1).standard_normal((100, 24, 32, 32)).astype(np.float32)
    nf = 32
    net = nn.Sequential(
        nn.Conv2d(1, nf, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(nf), nn.ReLU(),
        nn.Conv2d(nf, 2 * nf, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(2 * nf), nn.ReLU(),
        nn.Conv2d(2 * nf, 2 * nf, 3, padding=1), nn.BatchNorm2d(2 * nf), nn.ReLU(),
        nn.Conv2d(2 * nf, nf, 3, padding=1), nn.Upsample(scale_factor=2), nn.BatchNorm2d(nf), nn.ReLU(),
        nn.Conv2d(nf, 24, 3, padding=1), nn.Upsample(scale_factor=2), nn.BatchNorm2d(24), nn.ReLU(),
        nn.Conv2d(24, 24, 3, padding=1))
    assert sum(p.numel() for p in net.parameters()) == model.num_parameters() == 86_784
    tx, tg = torch.from_numpy(x), torch.from_numpy(g)

    def engine() -> None:
        with model.workspace():  # the fast path that fit() uses
            model.zero_grad()
            model.forward(x)
            model.backward(g.copy(), need_input_grad=False)

    def torch_step() -> None:
        net.zero_grad(set_to_none=True)
        net(tx).backward(tg)

    contenders = {"engine": engine, "torch": torch_step}
    for f in contenders.values():  # warm-up
        f()
        f()
    times: dict[str, list[float]] = {k: [] for k in contenders}
    names = list(contenders)
    for r in range(args.repeats):
        for name in rotated(names, r):
            for _ in range(3):
                t = time.perf_counter()
                contenders[name]()
                times[name].append(time.perf_counter() - t)
    print(json.dumps({"threads": args.threads, "best": {k: min(v) for k, v in times.items()}, "all": times,
                      "blas": blas_info()}))


def main() -> None:
    args = parse_args(__doc__, lambda p: p.add_argument("--repeats", type=int, default=4))
    if args.worker:
        worker(args)
        return
    runs = {}
    for threads, r in run_thread_counts(__file__, ["--repeats", str(args.repeats)]):
        runs[threads] = r
        b = r["best"]
        print(f"{threads} thread(s): engine {b['engine'] * 1e3:.1f} ms   torch {b['torch'] * 1e3:.1f} ms   "
              f"ratio {b['engine'] / b['torch']:.2f}", flush=True)
    result = {
        "benchmark": "conv_engine_vs_torch",
        "what": "colourization base network (86,784 parameters) as engine layers, batch 100, forward + backward",
        "ratio": runs[2]["best"]["engine"] / runs[2]["best"]["torch"],
        "ratio_1_thread": runs[1]["best"]["engine"] / runs[1]["best"]["torch"],
        "seconds": {str(t): r["best"] for t, r in runs.items()},
        "blas": runs[2]["blas"],
        "git": git_revision(),
        "process": "both contenders in one process per thread count, glibc's allocator set by nnlab.process.tune_malloc;"
                   " the engine's own threads (nnlab.engine.threads) follow OMP_NUM_THREADS",
        "target": "ratio <= 2.0",
    }
    print(f"ratio (engine / torch, 2 threads) = {result['ratio']:.2f}   -> {write_result('conv_engine_vs_torch', result)}")


if __name__ == "__main__":
    main()
