"""super-resolution: smoke run, determinism, and the seed's own protocol (sizes, loss curves with
the test part, its images, x4, architecture). The samples are tested in tests/data/test_superres.py."""

import csv
import json

import numpy as np
import pytest

from nnlab.experiments import get, run_experiment
from nnlab.experiments.exp_super_resolution import (
    architecture,
    per_image_table,
    seed_picks,
)

KEYS = ["set5_x2_psnr_bicubic", "set5_x2_psnr_mlp", "set5_x2_psnr_cnn", "set14_x2_psnr_cnn", "set5_x4_psnr_cnn",
        "set5_x2_ssim_cnn", "set14_x4_psnr_mlp", "set5_x4_psnr_mlp_2x_twice", "seed_test_mse",
        "set5_x4_psnr_mlp_seed", "set5_x4_psnr_mlp_seed_2x_twice", "seed_images_x2_psnr_bicubic",
        "seed_images_x2_psnr_mlp_seed", "seed_images_x4_ssim_mlp_seed_2x_twice", "seed_x4_test_mse"]


@pytest.fixture(scope="module")
def sr_run(smoke_run):
    """One smoke run with the seed's 10 images (synthetic in smoke runs): 10 x 32 x 32 samples,
    made once per session (tests/conftest.py, NNLAB_DATA unset)."""
    return smoke_run("super-resolution", overrides=["seed_images=10"])


def _metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


def _table(run_dir, name):
    with open(run_dir / "tables" / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_smoke_run_writes_figures_and_metrics(sr_run, tmp_path, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    metrics = _metrics(sr_run)
    assert metrics["status"] == "ok"
    for key in KEYS:
        assert np.isfinite(metrics[key]), key
    names = {p.stem for p in (sr_run / "figures").glob("*.png")}
    assert {"seed_mlp-curves", "cnn_x2-curves", "reconstructions-x2", "reconstructions-x4", "seed-images",
            "seed_mlp_x4-curves", "seed-architecture", "seed-reconstructions"} <= names
    assert {"psnr-x2", "seed-images-x2", "seed-images-x4", "x4-direct-vs-twice"} <= \
        {p.stem for p in (sr_run / "tables").glob("*.csv")}
    second = _metrics(run_experiment("super-resolution", smoke=True, overrides=["seed_images=10"], out=tmp_path / "b"))
    for key in KEYS:
        assert second[key] == metrics[key], key


@pytest.mark.slow
def test_the_seed_protocol_has_the_seeds_data_set_sizes(sr_run):
    m = _metrics(sr_run)
    assert (m["seed_samples"], m["seed_train_samples"], m["seed_test_samples"], m["seed_val_samples"]) == \
        (10240, 7168, 2048, 1024)  # the seed's tensors: 10 images of 32x32, split 70/20/10


@pytest.mark.slow
def test_the_seed_mlp_history_has_a_test_curve_beside_training_and_validation(sr_run):
    with open(sr_run / "seed_mlp.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {"loss", "val_loss", "test_loss"} <= set(rows[0])  # one row per epoch (smoke: 2)
    m = _metrics(sr_run)
    # the last test loss is the recorded test MSE of the final weights (evaluated, not trained on)
    assert float(rows[-1]["test_loss"]) == pytest.approx(m["seed_test_mse"], rel=1e-5)
    assert float(rows[-1]["val_loss"]) == pytest.approx(m["seed_val_mse"], rel=1e-6)
    assert float(rows[0]["test_loss"]) > float(rows[-1]["test_loss"])  # it learns


@pytest.mark.slow
def test_seed_images_table_has_one_row_per_image_and_bicubic_beside(sr_run):
    rows = _table(sr_run, "seed-images-x2")
    assert [r["image"] for r in rows] == [f"synthetic #{i}" for i in range(10)] + ["mean"]
    assert {"bicubic_psnr", "bicubic_ssim", "mlp_seed_psnr", "mlp_seed_ssim"} <= set(rows[0])
    mean = np.mean([float(r["bicubic_psnr"]) for r in rows[:-1]])
    assert float(rows[-1]["bicubic_psnr"]) == pytest.approx(mean, abs=1e-3)
    assert _metrics(sr_run)["seed_images_x2_psnr_bicubic"] == pytest.approx(mean, abs=1e-3)


@pytest.mark.slow
def test_x4_table_sets_each_direct_model_beside_its_x2_model_twice(sr_run):
    rows = _table(sr_run, "x4-direct-vs-twice")
    assert {(r["set"], r["model"]) for r in rows} == {(s, m) for s in ("set5", "set14", "seed_images")
                                                      for m in ("bicubic", "seed MLP (per pixel)", "block MLP", "CNN")}
    m = _metrics(sr_run)
    seed5 = next(r for r in rows if r["set"] == "set5" and r["model"] == "seed MLP (per pixel)")
    assert float(seed5["psnr_direct_x4"]) == pytest.approx(m["set5_x4_psnr_mlp_seed"], abs=1e-3)
    assert float(seed5["psnr_x2_twice"]) == pytest.approx(m["set5_x4_psnr_mlp_seed_2x_twice"], abs=1e-3)


@pytest.mark.slow
def test_every_recorded_metric_is_described(sr_run):
    exp = get("super-resolution")
    assert exp.about
    metrics = _metrics(sr_run)
    missing = [k for k in metrics if k not in ("wall_s", "status", "error") and exp.describe(k) is None]
    assert not missing, missing
    assert exp.describe("set14_x4_psnr_mlp_seed_2x_twice") == (
        "mean PSNR on Y (4-pixel border shaved) of mlp_seed_2x_twice at x4 on set14", "dB")
    assert exp.describe("seed_images_x2_ssim_cnn")[0].endswith("on seed_images")


def test_seed_picks_take_one_image_per_class_first():
    labels = np.array([3, 3, 0, 1, 0, 2, 1])
    assert seed_picks(labels, 4) == [2, 3, 5, 0]  # first 0, first 1, first 2, first 3
    assert seed_picks(labels, 6) == [2, 3, 5, 0, 4, 6]  # then the second of each class


def test_per_image_table_pivots_methods_into_columns():
    rows = [{"image": i, "method": m, "psnr": p, "ssim": s} for i, m, p, s in
            [("a", "bicubic", 30.0, 0.9), ("a", "mlp", 31.0, 0.91), ("b", "bicubic", 20.0, 0.5), ("b", "mlp", 23.0, 0.7)]]
    table = per_image_table(rows)
    assert table[0] == {"image": "a", "bicubic_psnr": 30.0, "bicubic_ssim": 0.9, "mlp_psnr": 31.0, "mlp_ssim": 0.91}
    assert table[-1] == {"image": "mean", "bicubic_psnr": 25.0, "bicubic_ssim": 0.7, "mlp_psnr": 27.0, "mlp_ssim": 0.805}


def test_the_architecture_drawing_labels_each_layer_of_the_seed_mlp():
    from nnlab.models import sr_mlp

    model = sr_mlp()
    model.build((27,))
    texts = [t.get_text() for t in architecture(model).axes[0].texts]
    for label in ("input: 27", "hidden: 64\nReLU", "hidden: 128\nReLU", "output: 3"):
        assert any(t.startswith(label) for t in texts), (label, texts)
    assert "W 64x128 + bias\n8,320 parameters" in texts
    assert sum(t == "..." for t in texts) == 3  # 27, 64 and 128 units do not fit: 8 drawn and a "..." each
    assert "10,499 parameters" in architecture(model).axes[0].get_title()
