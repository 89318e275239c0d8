"""What nnlab's allocator setting (``nnlab.process.tune_malloc``) and channels-last buy per training step.

    python benchmarks/allocator.py              # 3 rounds, 2 threads; about 4 minutes
    python benchmarks/allocator.py --rounds 5 --threads 1

Each variant runs in a fresh process (the allocator is process-wide) with ``NNLAB_MALLOC=default``
(glibc as it comes) or tuned (nnlab's thresholds), and times whole training steps after a warm-up:
the light VGG of ``expression`` at 64 px (Adam, batch 64, PyTorch, channels-last off and on) and
the colourization base CNN on the NumPy engine (Adam, batch 100, per-pixel cross-entropy). It
records the median milliseconds per step and the kernel (system) CPU seconds per step, the sign
of page faults, in ``benchmarks/results/allocator.json`` with the CPU, threads and BLAS. Rounds
rotate the variants' order. Run it with nothing else running.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import THREAD_VARS, blas_info, cpu_info, git_revision, parse_args, rotated, write_result  # noqa: E402

VARIANTS = {  # name -> (workload, NNLAB_MALLOC, channels_last)
    "vgg64 torch": ("vgg", "default", False),
    "vgg64 torch +malloc": ("vgg", "tuned", False),
    "vgg64 torch channels-last": ("vgg", "default", True),
    "vgg64 torch channels-last +malloc": ("vgg", "tuned", True),
    "colour_base numpy": ("colour", "default", False),
    "colour_base numpy +malloc": ("colour", "tuned", False),
}


def options(p) -> None:
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=12, help="timed steps per variant and round (after 3 warm-up)")
    p.add_argument("--variant", help=__import__("argparse").SUPPRESS)


def worker(variant: str, steps: int) -> dict:
    import numpy as np

    from nnlab.models import create_model
    from nnlab.process import tune_malloc

    workload, _, channels_last = VARIANTS[variant]
    malloc = tune_malloc()
    rng = np.random.default_rng(0)
    if workload == "vgg":
        from nnlab.torchlib import Trainer

        model = create_model("light_vgg", num_classes=7, input_size=64, batch_norm=True).build(seed=0)
        trainer = Trainer(model, loss="cross_entropy", optimizer={"name": "adam", "lr": 1e-3},
                          channels_last=channels_last, device="cpu")
        x = rng.random((64, 3, 64, 64), dtype=np.float32)
        y = rng.integers(0, 7, 64)

        def step():
            trainer.fit(x, y, epochs=trainer.epoch + 1, batch_size=64, shuffle=False)
    else:
        model = create_model("colour_base").build(seed=0)
        model.compile(loss="cross_entropy", optimizer={"name": "adam", "lr": 1e-3})
        x = rng.random((100, 1, 32, 32), dtype=np.float32)
        y = rng.integers(0, 24, (100, 32, 32))

        def step():
            model.train_step(x, y)
    for _ in range(3):
        step()
    times, sys_before = [], resource.getrusage(resource.RUSAGE_SELF).ru_stime
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    sys_s = resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys_before
    return {"variant": variant, "ms": [round(1e3 * t, 2) for t in times], "sys_s_per_step": sys_s / steps,
            "malloc": malloc}


def main() -> None:
    args = parse_args(__doc__, options)
    if args.worker:
        print(json.dumps(worker(args.variant, args.steps)))
        return
    import subprocess

    threads = args.threads or 2
    samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
    system: dict[str, list[float]] = {v: [] for v in VARIANTS}
    malloc: dict[str, dict] = {}
    for r in range(args.rounds):
        for variant in rotated(list(VARIANTS), r):
            env = {**os.environ, "NNLAB_MALLOC": VARIANTS[variant][1], **{v: str(threads) for v in THREAD_VARS}}
            env.pop("MALLOC_MMAP_THRESHOLD_", None)
            env.pop("MALLOC_TRIM_THRESHOLD_", None)
            out = subprocess.run([sys.executable, __file__, "--worker", "--variant", variant, "--steps",
                                  str(args.steps)], env=env, capture_output=True, text=True)
            if out.returncode:
                sys.stderr.write(out.stderr)
                raise SystemExit(f"{variant} failed")
            got = json.loads(out.stdout.strip().splitlines()[-1])
            samples[variant] += got["ms"]
            system[variant].append(got["sys_s_per_step"])
            malloc[variant] = got["malloc"]
            print(f"round {r + 1} {variant:36s} {statistics.median(got['ms']):8.1f} ms/step"
                  f"  kernel {1e3 * got['sys_s_per_step']:6.1f} ms/step", flush=True)
    results = {}
    for variant, ms in samples.items():
        base = {"vgg": "vgg64 torch", "colour": "colour_base numpy"}[VARIANTS[variant][0]]
        results[variant] = {"median_ms": round(statistics.median(ms), 1),
                            "kernel_ms_per_step": round(1e3 * statistics.median(system[variant]), 1),
                            "speedup_vs_plain": round(statistics.median(samples[base]) / statistics.median(ms), 3),
                            "malloc": malloc[variant]}
    path = write_result("allocator", {"threads": threads, "rounds": args.rounds, "steps": args.steps,
                                      "variants": results, "machine": {**cpu_info(), "cpus": os.cpu_count(),
                                      "blas": blas_info().get("numpy_blas")}, "git": git_revision()})
    for variant, r in results.items():
        print(f"{variant:36s} {r['median_ms']:8.1f} ms  kernel {r['kernel_ms_per_step']:6.1f} ms"
              f"  x{r['speedup_vs_plain']:.2f}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
