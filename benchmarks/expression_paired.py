"""Is one saved expression network better than another on the FER2013 test set, or is the
difference noise? A paired comparison of two networks on the same test faces.

    NNLAB_DATA=../shared/data python benchmarks/expression_paired.py \\
        runs/benchmarks/expression/STAMP_A:vgg runs/benchmarks/expression/STAMP_B:transfer

Each network is rebuilt from its run's ``config.yaml``, loaded from ``KEY.pt`` and evaluated with
its run's test-time views. Printed and written to ``benchmarks/results/expression_paired.json``:
each accuracy; the faces only one of them gets right (the discordant pairs); the exact McNemar
test on those (a two-sided binomial test, ``scipy.stats.binomtest``); and a bootstrap 95%
interval of the accuracy difference (test faces resampled with replacement, 10,000 times).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, update_result  # noqa: E402


def network_spec(text: str) -> tuple[Path, str]:
    run, sep, key = text.rpartition(":")
    if not sep or not run or not key:
        raise argparse.ArgumentTypeError(f"expected RUN_FOLDER:KEY (e.g. runs/expression/STAMP:vgg), got {text!r}")
    return Path(run), key


def predictions(run: Path, key: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, true class) of every FER2013 test face, with the run's test-time views."""
    from nnlab.data.preprocess import scale01
    from nnlab.data.registry import load
    from nnlab.experiments.exp_expression import saved_light_vgg
    from nnlab.experiments.expression_tta import predict_proba
    from nnlab.torchlib import Trainer

    test = load("fer2013", "test", data_dir=data_dir)
    cfg, net = saved_light_vgg(run, key, len(test.class_names))
    if cfg.dataset != "fer2013":
        raise SystemExit(f"{run}: trained on {cfg.dataset}; only FER2013 runs are handled here")
    proba, _ = predict_proba(Trainer(net, loss="cross_entropy"), scale01(test.images), cfg.tta_flip, cfg.tta_shift)
    return proba.argmax(axis=1), np.asarray(test.labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=network_spec, help="RUN_FOLDER:KEY of the first network")
    parser.add_argument("b", type=network_spec, help="RUN_FOLDER:KEY of the second network")
    parser.add_argument("--data-dir", default=os.environ.get("NNLAB_DATA"))
    parser.add_argument("--resamples", type=int, default=10_000)
    args = parser.parse_args()

    from scipy.stats import binomtest

    (pa, y), (pb, yb) = predictions(*args.a, args.data_dir), predictions(*args.b, args.data_dir)
    assert np.array_equal(y, yb)
    right_a, right_b = pa == y, pb == y
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    p = binomtest(only_b, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    rng = np.random.default_rng(0)
    diff = (right_b.astype(np.int8) - right_a.astype(np.int8)).astype(np.float64)   # (N,) -1, 0 or 1
    boot = np.array([diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(args.resamples)])
    lo, hi = np.percentile(boot, [2.5, 97.5])
    names = [f"{run}:{key}" for run, key in (args.a, args.b)]
    result = {"a": names[0], "b": names[1], "test_images": len(y),
              "accuracy_a": round(float(right_a.mean()), 5), "accuracy_b": round(float(right_b.mean()), 5),
              "difference": round(float(diff.mean()), 5), "difference_ci95": [round(float(lo), 5), round(float(hi), 5)],
              "only_a_right": only_a, "only_b_right": only_b, "mcnemar_exact_p": round(float(p), 5)}
    for k, v in result.items():
        print(f"{k:<16} {v}")
    update_result("expression_paired", f"{names[0]} vs {names[1]}", lambda old: result)
    print(f"-> {RESULTS / 'expression_paired.json'}")


if __name__ == "__main__":
    main()
