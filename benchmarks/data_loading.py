"""How long the data readers take on the shared copies: cold (no cache) and warm (cached).

    NNLAB_DATA=../shared/data python benchmarks/data_loading.py

Target (issue 3): all of UTKFace from its tar in under 30 s on the lab machine. Writes
``benchmarks/results/data_loading.json``. Uses a private, temporary cache folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import blas_info, git_revision, write_result  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    if not os.environ.get("NNLAB_DATA"):
        raise SystemExit("set NNLAB_DATA to the folder holding the data sets (e.g. ../shared/data)")
    os.environ["NNLAB_CACHE"] = tempfile.mkdtemp(prefix="nnlab-bench-cache-")
    from nnlab.data import load

    cases = [("utkface", "all"), ("fer2013", "train"), ("fer2013", "test"), ("mnist", "train"), ("cifar10", "test")]
    results = {}
    for name, split in cases:
        cold, ds = timed(lambda: load(name, split))
        warm, _ = timed(lambda: load(name, split))
        results[f"{name}/{split}"] = {"cold_s": cold, "warm_s": warm, "n": len(ds), "shape": list(ds.shape),
                                      "skipped": len(ds.skipped)}
        print(f"{name}/{split:6s} {len(ds):6,d} images  cold {cold:6.2f} s   warm (cache) {warm:5.2f} s", flush=True)
    result = {"benchmark": "data_loading", "results": results, "utkface_cold_s": results["utkface/all"]["cold_s"],
              "target": "utkface_cold_s < 30", "git": git_revision(), "blas": blas_info()}
    print(f"-> {write_result('data_loading', result)}")


if __name__ == "__main__":
    main()
