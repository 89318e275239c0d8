"""super-resolution: the seed's 27 features by hand, blocks round-trip, smoke run, determinism."""

import json

import numpy as np

from nnlab.experiments import run_experiment
from nnlab.experiments.exp_super_resolution import blocks, neighbourhood_features, pixel_samples, unblocks

KEYS = ["set5_x2_psnr_bicubic", "set5_x2_psnr_mlp", "set5_x2_psnr_cnn", "set14_x2_psnr_cnn", "set5_x4_psnr_cnn",
        "set5_x2_ssim_cnn", "set14_x4_psnr_mlp", "set5_x4_psnr_mlp_2x_twice", "seed_test_mse"]


def test_pixel_samples_match_a_hand_computation():
    lr = np.arange(2 * 2 * 3, dtype=np.float32).reshape(2, 2, 3)  # lr[i, j, c] = 6 i + 3 j + c
    hr = np.arange(4 * 4 * 3, dtype=np.float32).reshape(4, 4, 3)
    x, y = pixel_samples(hr, lr, 2)
    assert x.shape == (16, 27) and y.shape == (16, 3)
    # HR pixel (1, 2) -> LR pixel (0, 1); neighbours (dy, dx) with the border replicated
    rows = [0, 0, 1]  # LR row of dy = -1, 0, 1 (row -1 clamped to 0)
    cols = [0, 1, 1]  # LR column of dx = -1, 0, 1 (column 2 clamped to 1)
    hand = [6 * rows[dy] + 3 * cols[dx] + c for dy in range(3) for dx in range(3) for c in range(3)]
    np.testing.assert_array_equal(x[1 * 4 + 2], hand)
    np.testing.assert_array_equal(y[1 * 4 + 2], hr[1, 2])
    # the four HR pixels of one LR pixel share their features
    np.testing.assert_array_equal(x[0], x[1])
    np.testing.assert_array_equal(x[0], x[4])
    assert neighbourhood_features(lr).shape == (4, 27)


def test_blocks_round_trip():
    img = np.random.default_rng(0).random((6, 8, 3))
    b = blocks(img, 2)
    assert b.shape == (12, 12)
    np.testing.assert_array_equal(b[0].reshape(2, 2, 3), img[:2, :2])
    np.testing.assert_array_equal(unblocks(b, 3, 4, 2), img)


def test_smoke_run_writes_figures_and_metrics(tmp_path, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    first = run_experiment("super-resolution", smoke=True, out=tmp_path / "a")
    metrics = json.loads((first / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    for key in KEYS:
        assert np.isfinite(metrics[key]), key
    names = {p.stem for p in (first / "figures").glob("*.png")}
    assert {"seed_mlp-curves", "cnn_x2-curves", "reconstructions-x2", "reconstructions-x4"} <= names
    assert (first / "tables" / "psnr-x2.csv").is_file()
    second = json.loads((run_experiment("super-resolution", smoke=True, out=tmp_path / "b") / "metrics.json").read_text())
    for key in KEYS:
        assert second[key] == metrics[key], key
