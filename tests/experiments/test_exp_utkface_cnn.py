"""utkface-cnn: the same split as utkface-mlp, target encoding, metrics, and the smoke run."""

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

from nnlab.data import synthetic
from nnlab.data.splits import image_holdout_split
from nnlab.experiments import exp_utkface_cnn as cnn
from nnlab.experiments import load_all, resolve_config
from nnlab.experiments.exp_utkface_mlp import UTKFaceMLPConfig, make_features


class _Ctx(SimpleNamespace):
    def record(self, **_):
        pass


@pytest.mark.slow
def test_split_is_utkface_mlps_split():
    data = synthetic.utkface(300, seed=3)
    fit, val, test = cnn.split_indices(data.images, 0.2, 0.1, seed=3)
    train_ref, test_ref = image_holdout_split(data.images, 0.2, 3)
    np.testing.assert_array_equal(test, test_ref)
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, val])), train_ref)
    feats = make_features(_Ctx(cfg=UTKFaceMLPConfig(seed=3, pca_components=4, flip=False)), data)
    for ours, theirs in ((fit, feats["fit"]), (val, feats["val"]), (test, feats["test"])):
        np.testing.assert_array_equal(ours, theirs)
    # copies of an image never straddle the sides
    groups = {img.tobytes() for img in data.images[test]}
    assert not any(img.tobytes() in groups for img in data.images[fit])


def test_encode_targets_round_trips_age_and_keeps_labels():
    targets = {"age": np.array([1, 30, 60, 90]), "gender": np.array([0, 1, 1, 0]), "race": np.array([4, 0, 2, 3])}
    y, (mu, sd) = cnn.encode_targets(targets, fit=np.array([0, 1, 2]))
    assert y.shape == (4, 3) and y.dtype == np.float32
    assert mu == pytest.approx(91 / 3) and y[:3, 0].mean() == pytest.approx(0, abs=1e-6)
    np.testing.assert_allclose(y[:, 0] * sd + mu, targets["age"], rtol=1e-5)
    np.testing.assert_array_equal(y[:, 1:], np.stack([targets["gender"], targets["race"]], 1))


def test_scaled_mae_reports_years():
    m = cnn.ScaledMAE(scale=20.0)
    m.update(np.array([0.0, 1.0]), np.array([[0.5], [0.0]]))
    m.update(np.array([2.0]), np.array([[2.0]]))
    assert m.result() == pytest.approx(20.0 * 1.5 / 3)


def test_task_scores_and_baselines():
    truth = {"age": np.array([10.0, 20.0]), "gender": np.array([0, 1]), "race": np.array([2, 2])}
    gender = np.array([[2.0, 1.0], [3.0, 0.0]])                  # predicts 0, 0
    ethnicity = np.eye(5)[[2, 1]]                                 # predicts 2, 1
    s = cnn.task_scores(truth, np.array([13.0, 16.0]), gender, ethnicity, "_x")
    assert s == pytest.approx({"age_rmse_x": np.sqrt(12.5), "age_mae_x": 3.5, "gender_accuracy_x": 0.5,
                               "ethnicity_accuracy_x": 0.5})
    targets = {"age": np.array([10, 30, 50, 70]), "gender": np.array([1, 1, 0, 0]), "race": np.array([3, 3, 1, 0])}
    b = cnn.trivial_baselines(targets, fit=np.array([0, 1, 2]), test=np.array([3]))
    assert b["age_rmse_mean"] == pytest.approx(40) and b["gender_accuracy_majority"] == 0
    assert b["ethnicity_accuracy_majority"] == 0


def test_prepare_images_resizes_and_standardises_on_the_fit_part():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 3, 64, 64)).astype(np.uint8)
    x = cnn.prepare_images(images, 32, fit=np.arange(10))
    assert x.shape == (10, 3, 32, 32) and x.dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(0, 2, 3)), 1, atol=1e-3)


def test_predict_averages_a_face_with_its_mirror():
    class Fake:  # age = mean of the left half, logits favour class 0 only for the unmirrored face
        def predict(self, x):
            left = x[..., : x.shape[-1] // 2].mean(axis=(1, 2, 3))
            out = np.zeros((len(x), 8))
            out[:, 0], out[:, 1], out[:, 3] = left, 10 * left, 10 * left
            return out

    x = np.zeros((1, 1, 2, 2), np.float32)
    x[..., 0] = 1.0                                # left column bright
    age, gender, eth = cnn.predict(Fake(), x, mirror=True)
    assert age[0] == pytest.approx(0.5)             # (1 + 0) / 2
    assert gender.sum() == pytest.approx(1) and eth.shape == (1, 5)
    age_plain, _, _ = cnn.predict(Fake(), x, mirror=False)
    assert age_plain[0] == pytest.approx(1.0)


def test_registered_with_a_plain_seed_preset():
    exp = load_all()["utkface-cnn"]
    assert exp.objective == ("age_rmse", "min") and exp.engines == ("torch",)
    seed, default = resolve_config(exp, preset="seed"), resolve_config(exp)
    assert seed.schedule == "constant" and not seed.tta_flip and seed.crop_padding == 0
    assert seed.width < default.width and default.tta_flip and default.flip
    assert seed.age_weight == seed.gender_weight == seed.ethnicity_weight == 1.0   # the plain setting
    assert default.age_weight > 1.0


def test_metric_descriptions_pick_the_most_specific_pattern():
    exp = load_all()["utkface-cnn"]
    # "{task}_accuracy" also matches, with the task "val_gender"; the validation pattern is more specific
    assert exp.describe("val_gender_accuracy")[0] == "gender accuracy on the validation part after the last epoch"
    assert exp.describe("gender_accuracy")[0] == "gender accuracy on the test split"
    assert exp.describe("ethnicity_accuracy_plain")[0] == "ethnicity accuracy on the test split, the face alone"


@pytest.mark.slow
def test_smoke_run_records_the_metrics_and_table(smoke_run):
    run = smoke_run("utkface-cnn")                     # the session's default smoke run
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    for key in ("age_rmse", "gender_accuracy", "ethnicity_accuracy", "age_mae", "age_rmse_mean",
                "gender_accuracy_majority", "params", "epoch_s"):
        assert key in metrics
    assert 0 <= metrics["gender_accuracy"] <= 1 and metrics["age_rmse"] > 0
    assert metrics["age_rmse"] == metrics["age_rmse_mirrored"]
    assert {"cnn-curves", "age-scatter", "gender-confusion", "ethnicity-confusion"} <= \
        {p.stem for p in (run / "figures").glob("*.png")}
    assert (run / "tables" / "cnn-vs-mlp.csv").read_text().count("\n") == 4  # header + 3 tasks


@pytest.mark.skipif(not os.environ.get("NNLAB_DATA"), reason="needs the UTKFace tar (NNLAB_DATA)")
def test_real_split_sizes_match_utkface_mlp():
    from nnlab.data.registry import load

    data = load("utkface")
    fit, val, test = cnn.split_indices(data.images, 0.2, 0.1, seed=0)
    _, test_ref = image_holdout_split(data.images, 0.2, 0)
    np.testing.assert_array_equal(test, test_ref)
    assert len(fit) + len(val) + len(test) == len(data) and abs(len(test) - 0.2 * len(data)) < 50


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    from nnlab.experiments.runner import RunContext

    cfg = cnn.UTKFaceCNNConfig(input_size=16, width=2, head_width=4, epochs=1, batch_size=16)

    def context():                                              # one per process: the run folder is shared
        ctx = RunContext(load_all()["utkface-cnn"], cfg, tmp_path, smoke=False, engine="torch", data_dir=None,
                         progress=False)
        ctx.device = "cpu"
        return ctx

    data = synthetic.utkface(64, seed=0)
    fit, val = np.arange(48), np.arange(48, 64)
    x = cnn.prepare_images(data.images, 16, fit)
    y, (_, sd) = cnn.encode_targets(data.targets, fit)
    first, _, _, _ = cnn.train(context(), x, y, fit, val, sd)  # a first process ends after epoch 1
    assert (tmp_path / "checkpoints" / "cnn.pt").is_file() and first.epoch == 1
    cfg.epochs = 2
    trainer, history, _, _ = cnn.train(context(), x, y, fit, val, sd)
    assert history.epochs == [1, 2] and trainer.epoch == 2