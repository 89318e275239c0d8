"""Re-evaluate a finished ``expression`` run's saved networks under each set of test-time views.

    NNLAB_DATA=../shared/data python benchmarks/expression_tta.py runs/benchmarks/expression/STAMP

Training the two networks takes most of an hour here; the test-time views cost a minute. This
loads ``vgg.pt`` and ``transfer.pt`` from the run folder (built with the run's own
``config.yaml``), and prints and writes the test accuracy and macro ROC AUC of each with the face
alone, with its mirror image (2 views) and with mirror and 2-pixel shifts (10 views, the
default now) to ``benchmarks/results/expression_tta.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS  # noqa: E402

VIEWS = {"face alone": (False, 0), "mirror (2 views)": (True, 0), "mirror + shifts (10 views)": (True, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="an expression run folder with config.yaml, vgg.pt and transfer.pt")
    parser.add_argument("--data-dir", default=os.environ.get("NNLAB_DATA"))
    args = parser.parse_args()

    from nnlab.data.preprocess import scale01
    from nnlab.data.registry import load
    from nnlab.experiments.exp_expression import MODEL_KEYS, saved_light_vgg
    from nnlab.experiments.expression_tta import predict_proba
    from nnlab.metrics.classification import roc_curves
    from nnlab.torchlib import Trainer

    test = load("fer2013", "test", data_dir=args.data_dir)
    x, y = scale01(test.images), test.labels
    out: dict[str, dict[str, dict[str, float]]] = {}
    for key in [k for k in MODEL_KEYS if (args.run / f"{k}.pt").is_file()]:   # the networks the run saved
        cfg, net = saved_light_vgg(args.run, key, len(test.class_names))
        if cfg.dataset != "fer2013":
            raise SystemExit(f"{args.run}: trained on {cfg.dataset}; only FER2013 runs are handled here")
        trainer = Trainer(net, loss="cross_entropy")
        out[key] = {}
        for name, (flip, shift) in VIEWS.items():
            proba, _ = predict_proba(trainer, x, flip, shift)
            acc = float(np.mean(proba.argmax(axis=1) == y))
            auc = float(roc_curves(y, proba, len(test.class_names))["macro_auc"])
            out[key][name] = {"accuracy": round(acc, 4), "macro_auc": round(auc, 4)}
            print(f"{key:<9} {name:<28} accuracy {acc:.4f}   macro AUC {auc:.4f}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "expression_tta.json"
    path.write_text(json.dumps({"run": str(args.run), "test_images": len(y), "results": out,
                                "threads": os.environ.get("OMP_NUM_THREADS")}, indent=2) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
