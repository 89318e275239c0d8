"""The colourization experiment: smoke run outputs, its data helpers and the pixel-accuracy metric."""

import json

import numpy as np
import pytest

from nnlab.errors import ConfigError
from nnlab.experiments import EXPERIMENTS, load_all, resolve_config
from nnlab.metrics.pixel import PixelAccuracy, pixel_accuracy


@pytest.fixture(scope="module", autouse=True)
def _registered():
    load_all()


@pytest.mark.slow
def test_smoke_run_writes_figures_and_metric_keys(smoke_run):
    run_dir = smoke_run("colourization")               # the session's default smoke run, NNLAB_DATA unset
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["wall_s"] > 0
    assert 0 <= metrics["lookup_accuracy"] <= 1 and metrics["input_std"] > 0   # standardised input by default
    for key in ("base", "unet", "residual"):
        assert 0 <= metrics[f"{key}_accuracy"] <= 1 and metrics[f"{key}_params"] > 0
    figures = {p.stem for p in (run_dir / "figures").iterdir()}
    assert {"curves-overlay", "colourized", "feature-maps", "base-curves", "unet-curves", "residual-curves"} <= figures
    assert {"base.pt", "unet.pt", "residual.pt"} <= {p.name for p in run_dir.iterdir()}
    rows = (run_dir / "tables" / "seed-comparison.csv").read_text().splitlines()
    assert rows[0] == "model,val_loss,seed_val_loss,val_accuracy,seed_val_accuracy" and len(rows) == 4
    assert rows[3].startswith("residual,") and rows[3].endswith(",0.705")


@pytest.mark.slow
def test_the_numpy_engine_trains_the_same_networks(smoke_run):
    """Seed 001 on the NumPy engine: per-pixel cross-entropy, the paired augmentation, the engine's
    own feature maps; the engine models are what the run saves."""
    run_dir = smoke_run("colourization", engine="numpy", overrides=["models=[base, unet]"])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    for key in ("base", "unet"):
        assert 0 <= metrics[f"{key}_accuracy"] <= 1 and metrics[f"{key}_train_loss"] > 0
    assert {"base.npz", "unet.npz"} <= {p.name for p in run_dir.iterdir()}
    assert {"feature-maps", "colourized", "network-base", "network-unet"} <= {p.stem for p in (run_dir / "figures").iterdir()}
    assert "recorded in the engine model" in (run_dir / "report.md").read_text()


def test_config_has_the_sweep_keys_and_the_seed_setting():
    exp = EXPERIMENTS["colourization"]
    cfg = resolve_config(exp, preset="seed", overrides=["num_filters=16", "lr=0.01", "kernel_size=5"])
    assert (cfg.num_filters, cfg.lr, cfg.kernel_size) == (16, 0.01, 5)
    cfg = resolve_config(exp, preset="seed")
    assert (cfg.lr, cfg.batch_size, cfg.epochs, cfg.residual_epochs, cfg.num_colours) == (1e-3, 100, 30, 25, 24)
    assert (cfg.palette, cfg.residual_layout, cfg.unet_layout) == ("csc321", "seed", "seed")
    assert cfg.models == ["base", "unet", "residual"] and exp.engines == ("torch", "numpy")   # torch by default
    assert cfg.unet_layout == "seed" and cfg.standardise is False              # CSC321's U-Net, grey in [0, 1]
    assert cfg.flip is False and cfg.shift == 0                                # no augmentation
    assert resolve_config(exp).unet_layout == "full"
    assert exp.objective == ("unet_accuracy", "max")


def test_unknown_model_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    with pytest.raises(ConfigError, match="models"):
        from nnlab.experiments.exp_colourization import check_config

        check_config(resolve_config(EXPERIMENTS["colourization"], overrides=["models=[vgg]"]))


def test_unknown_unet_layout_is_a_config_error():
    from nnlab.experiments.exp_colourization import check_config

    with pytest.raises(ConfigError, match="unet_layout"):
        check_config(resolve_config(EXPERIMENTS["colourization"], overrides=["unet_layout=deep"]))


def test_lookup_accuracy_is_the_best_grey_level_table():
    from nnlab.experiments.exp_colourization import lookup_accuracy

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 4, (50, 1, 4, 4)) / 4.0                      # four grey levels, in units of 1/4
    # the class is a function of the grey level: the table gets every pixel right
    cls = np.rint(grey[:, 0] * 4).astype(int)
    assert lookup_accuracy(grey, cls, grey, cls, levels=4) == 1.0
    assert lookup_accuracy(grey, cls, grey, (cls + 1) % 4, levels=4) == 0.0
    # level 0 is class 0 in 3 of 4 training pixels, so the table says 0; validation is all class 1 there
    g = np.zeros((1, 1, 1, 4))
    y = np.array([[[0, 0, 0, 1]]])
    assert lookup_accuracy(g, y, g, np.ones_like(y), levels=4) == 0.0
    assert lookup_accuracy(g, y, g, y, levels=4) == 0.75


def test_greyscale_and_colour_classes_follow_the_assignment():
    """The assignment divides pixels by 256, takes the RGB mean as input and gives each pixel the
    nearest palette row (rows in units of 1/256): a palette times 256 through ``quantize`` is that."""
    from nnlab.data.palettes import quantize
    from nnlab.experiments.exp_colourization import greyscale

    images = np.zeros((1, 3, 1, 2), dtype=np.uint8)           # two pixels
    images[0, :, 0, 0] = (255, 0, 0)                            # red
    images[0, :, 0, 1] = (30, 30, 240)                          # nearly blue
    np.testing.assert_allclose(greyscale(images)[0, 0, 0], [85 / 256, 100 / 256], rtol=1e-6)
    rng = np.random.default_rng(0)
    palette = rng.random((24, 3))                               # rows in [0, 1] of units 1/256
    pixels = rng.integers(0, 256, (5, 3, 8, 8)).astype(np.uint8)
    xs = pixels / 256.0                                         # the assignment's process(..., max_pixel=256)
    dists = np.linalg.norm(xs[None] - palette.reshape(24, 1, 3, 1, 1), axis=2)  # its _get_rgb_cat
    np.testing.assert_array_equal(quantize(pixels, palette * 256), dists.argmin(0))


def test_pixel_accuracy_equals_a_hand_computation():
    y_true = np.array([[[0, 1], [2, 2]]])                       # (1, 2, 2)
    scores = np.zeros((1, 3, 2, 2))                             # (1, K=3, 2, 2)
    scores[0, 0, 0, 0] = 1                                      # right
    scores[0, 2, 0, 1] = 1                                      # wrong (true 1)
    scores[0, 2, 1, 0] = 1                                      # right
    scores[0, 1, 1, 1] = 1                                      # wrong (true 2)
    assert pixel_accuracy(y_true, scores) == 0.5


def test_streaming_pixel_accuracy_equals_the_function_on_all_pixels():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, (7, 4, 6))
    scores = rng.standard_normal((7, 5, 4, 6))
    metric = PixelAccuracy()
    for lo in range(0, 7, 3):
        metric.update(y_true[lo:lo + 3], scores[lo:lo + 3])
    expected = np.mean(scores.argmax(1) == y_true)
    assert metric.result() == pytest.approx(expected) == pytest.approx(pixel_accuracy(y_true, scores))
    assert metric.name == "accuracy"


def test_pixel_accuracy_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="do not match"):
        pixel_accuracy(np.zeros((2, 4, 4), int), np.zeros((2, 3, 4, 5)))


def test_shift_out_of_range_is_a_config_error():
    from nnlab.experiments.exp_colourization import check_config

    with pytest.raises(ConfigError, match="shift"):
        check_config(resolve_config(EXPERIMENTS["colourization"], overrides=["shift=16"]))


def test_the_palette_is_csc321s_when_found_and_a_missing_file_is_named(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from nnlab.data.errors import MissingDataError
    from nnlab.data.registry import load
    from nnlab.experiments.exp_colourization import colour_palette
    from nnlab.experiments.registry import EXPERIMENTS
    from nnlab.experiments.runner import resolve_config
    from tests.data.test_palettes import write_palette

    monkeypatch.delenv("NNLAB_DATA", raising=False)                # only tmp_path is looked in
    cfg = resolve_config(EXPERIMENTS["colourization"])
    assert cfg.palette == "csc321"
    images = np.random.default_rng(0).integers(0, 256, (4, 3, 8, 8)).astype(np.uint8)

    def ctx(smoke: bool, cfg=cfg):
        return SimpleNamespace(cfg=cfg, smoke=smoke, data=lambda name, split: load(name, split, data_dir=tmp_path))

    with pytest.raises(MissingDataError, match=r"(?s)colour_kmeans24_cat7.npy.*--set palette=kmeans"):
        colour_palette(ctx(False), images)
    palette, source = colour_palette(ctx(True), images)          # a smoke run fits k-means colours instead
    assert palette.shape == (24, 3) and "k-means" in source
    (tmp_path / "csc321-colours").mkdir()
    codebook = np.random.default_rng(1).random((24, 3))
    write_palette(tmp_path / "csc321-colours" / "colour_kmeans24_cat7.npy", codebook)
    palette, source = colour_palette(ctx(False), images)
    np.testing.assert_allclose(palette, codebook * 256)          # in uint8 pixel units, as the assignment divides
    assert "colour_kmeans24_cat7.npy" in source


@pytest.mark.parametrize("override, message", [
    ("palette=lab", "palette must be one of"),
    ("num_colours=20", "palette csc321 comes in num_colours"),
    ("residual_layout=deep", "residual_layout must be one of"),
    ("residual_epochs=-1", "residual_epochs >= 0"),
])
def test_bad_palette_and_layout_settings_are_config_errors(override, message):
    from nnlab.errors import ConfigError
    from nnlab.experiments.exp_colourization import check_config
    from nnlab.experiments.registry import EXPERIMENTS
    from nnlab.experiments.runner import resolve_config

    with pytest.raises(ConfigError, match=message):
        check_config(resolve_config(EXPERIMENTS["colourization"], overrides=[override]))


def test_category_picks_another_cifar_class_with_a_palette_fitted_to_it():
    exp = EXPERIMENTS["colourization"]
    assert resolve_config(exp, overrides=["category=cat", "palette=kmeans"]).category == "cat"
    with pytest.raises(ConfigError, match="fitted to the horses .* colouring cats needs --set palette=kmeans"):
        resolve_config(exp, overrides=["category=cat"])
    with pytest.raises(ConfigError, match="'cats' is not a CIFAR-10 class"):
        resolve_config(exp, overrides=["category=cats", "palette=kmeans"])
