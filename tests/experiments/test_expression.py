"""The expression experiment (seed 003 Q5): smoke run, augmentation, weight transfer, config checks."""

import json

import numpy as np
import pytest

from nnlab.engine.errors import ConfigError
from nnlab.experiments import EXPERIMENTS, load_all, resolve_config, run_experiment


@pytest.fixture(scope="module", autouse=True)
def _registered():
    load_all()


def _exp():
    from nnlab.experiments import exp_expression

    return exp_expression


def test_smoke_run_records_the_headline_metrics_and_every_figure(tmp_path, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    run_dir = run_experiment("expression", smoke=True, out=tmp_path / "expr")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    for key in ("vgg_accuracy", "transfer_accuracy", "macro_auc", "vgg_macro_auc"):
        assert 0 <= metrics[key] <= 1, key
    assert 0 <= metrics["vgg_plain_accuracy"] <= 1                   # without the test-time views too
    assert metrics["macro_auc"] == metrics["transfer_macro_auc"]
    assert metrics["vgg_params"] == metrics["transfer_params"] > 0
    assert metrics["n_train_augmented"] > metrics["n_train"]       # the offline top-up added images
    figures = {p.stem for p in (run_dir / "figures").iterdir()}
    per_model = {f"{m}-{kind}" for m in ("vgg", "transfer") for kind in ("curves", "roc", "confusion", "cam")}
    assert per_model | {"samples", "augmented", "class-counts", "transfer-pretrain-curves"} <= figures
    counts = (run_dir / "tables" / "class-counts.csv").read_text().splitlines()
    assert counts[0] == "class,before,added,after" and counts[-1].startswith("total,")
    assert {"vgg.pt", "transfer.pt"} <= {p.name for p in run_dir.iterdir()}
    # a saved network comes back from the run folder alone, as the benchmarks rebuild it
    import torch

    cfg, net = _exp().saved_light_vgg(run_dir, "transfer", 7)
    assert cfg.input_size == 32                                    # the smoke run's, not the default 64
    saved = torch.load(run_dir / "transfer.pt", weights_only=True)
    assert all(torch.equal(v, saved[k]) for k, v in net.state_dict().items())
    with pytest.raises(ConfigError, match="alexnet.pt does not exist"):
        _exp().saved_light_vgg(run_dir, "alexnet", 7)


def test_transfer_copies_everything_but_a_head_of_another_size():
    ex = _exp()
    cfg = resolve_config(EXPERIMENTS["expression"], overrides=["input_size=32"])
    source, _ = ex.build_light_vgg(cfg, 10)
    target, _ = ex.build_light_vgg(cfg, 7)
    fresh = ex.transfer_weights(source, target)
    head = [k for k in target.state_dict() if target.state_dict()[k].shape != source.state_dict()[k].shape]
    assert fresh == sorted(head) and len(fresh) == 2               # the last Linear's weight and bias
    for k, v in target.state_dict().items():
        if k not in fresh:
            assert np.array_equal(v.numpy(), source.state_dict()[k].numpy()), k


def test_input_size_128_upsamples_inside_the_network():
    import torch

    ex = _exp()
    cfg = resolve_config(EXPERIMENTS["expression"], overrides=["input_size=128"])
    net, params = ex.build_light_vgg(cfg, 7)
    assert isinstance(net[0], torch.nn.Upsample)
    assert net(torch.zeros(2, 1, 48, 48)).shape == (2, 7)
    assert len(ex.conv_relus(net)) == 10                           # two per stage, five stages


def test_vgg16_backbone_without_weights_fails_early_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    missing = tmp_path / "vgg16-397923af.pth"
    with pytest.raises(ConfigError) as err:
        run_experiment("expression", overrides=["backbone=vgg16", f"vgg16_weights={missing}"],
                       out=tmp_path / "run")
    assert str(missing) in str(err.value) and "download.pytorch.org" in str(err.value)
    with pytest.raises(ConfigError, match="vgg16_weights is not set"):
        run_experiment("expression", overrides=["backbone=vgg16"], out=tmp_path / "run2")


def test_tta_views_are_the_faces_their_shifts_and_mirror_images():
    from nnlab.experiments.exp_expression import tta_views

    x = np.arange(2 * 1 * 6 * 6, dtype=np.float32).reshape(2, 1, 6, 6)
    assert [v.shape for v in tta_views(x, False, 0)] == [x.shape] and np.array_equal(tta_views(x, False, 0)[0], x)
    views = tta_views(x, True, 2)
    assert len(views) == 10 and all(v.shape == x.shape for v in views)
    assert np.array_equal(views[1], x[..., ::-1])                     # the mirror of the face
    down = views[2]                                                   # offset (+2, 0): rows 2.. of the face
    assert np.array_equal(down[..., :4, :], x[..., 2:, :])
    assert np.array_equal(down[..., 4:, :], x[..., [4, 3], :])        # reflected past the border
    assert len(tta_views(x, False, 2)) == 5 and len(tta_views(x, True, 0)) == 2


def test_unknown_names_are_config_errors(tmp_path):
    for override, pattern in (("dataset=mnist", "dataset"), ("models=[vgg, alexnet]", "models"),
                              ("backbone=resnet", "backbone"), ("tta_shift=30", "tta_shift"),
                              ("pretrain_task=age", "pretrain_task")):
        with pytest.raises(ConfigError, match=pattern):
            run_experiment("expression", overrides=[override], out=tmp_path / override.split("=")[0])


def test_presets_seed_is_the_papers_network_and_default_improves_it():
    exp = EXPERIMENTS["expression"]
    seed, default = resolve_config(exp, preset="seed"), resolve_config(exp)
    assert seed.input_size == 128 and not seed.batch_norm and not seed.tta_flip and seed.tta_shift == 0
    assert default.input_size == 64 and default.batch_norm and default.dataset == "fer2013"
    assert exp.engines == ("torch",) and exp.objective == ("transfer_accuracy", "max")


def test_fer2013_loads_with_its_documented_counts(data_dir, tmp_path):
    from types import SimpleNamespace

    ex = _exp()
    cfg = resolve_config(EXPERIMENTS["expression"])
    from nnlab.data.registry import load

    ctx = SimpleNamespace(cfg=cfg, smoke=False, data=lambda name, split=None, **kw: load(name, split, data_dir=data_dir))
    train, test = ex.load_expressions(ctx)
    assert train.images.shape == (18436, 1, 48, 48) and test.images.shape == (7178, 1, 48, 48)
    assert np.bincount(test.labels).tolist() == [958, 111, 1024, 1774, 1247, 831, 1233]
    assert train.class_names == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_online_transform_adds_erasing_only_when_asked():
    from nnlab.torchlib.augment import RandomAffine

    ex = _exp()
    affine = RandomAffine(0, 0, 0, flip=0)                          # the identity
    x = np.full((64, 1, 48, 48), 0.5, dtype=np.float32)
    plain = ex.online_transform(resolve_config(EXPERIMENTS["expression"]), affine)
    assert plain is affine
    erasing = ex.online_transform(resolve_config(EXPERIMENTS["expression"], overrides=["erase=1.0"]), affine)
    out = erasing(x, np.random.default_rng(0))
    assert out.shape == x.shape and ((out != 0.5).reshape(64, -1).any(1)).all()   # every face has a noise patch
    np.testing.assert_array_equal(out, erasing(x, np.random.default_rng(0)))       # seeded


def test_age_band_pretraining_labels_split_each_gender_ethnicity_class_in_three():
    from types import SimpleNamespace

    ex = _exp()
    ages, genders, races = np.array([3, 24, 25, 39, 40, 90]), np.array([0, 0, 1, 1, 0, 1]), np.array([0, 4, 2, 2, 1, 0])
    faces = SimpleNamespace(images=np.zeros((6, 3, 64, 64), np.uint8),
                            targets={"age": ages, "gender": genders, "race": races})
    for task, expected in (("gender_race", 5 * genders + races),
                           ("gender_race_age", 3 * (5 * genders + races) + np.array([0, 0, 1, 1, 2, 2]))):
        cfg = resolve_config(EXPERIMENTS["expression"], overrides=[f"pretrain_task={task}"])
        ctx = SimpleNamespace(cfg=cfg, smoke=False, data=lambda name: faces)
        x, y, names = ex.utkface_faces(ctx)
        assert x.shape == (6, 1, 48, 48) and np.array_equal(y, expected), task
        assert len(names) == (30 if task == "gender_race_age" else 10)
    assert names[y[1]] == "male-other-<25" and names[y[4]] == "male-black-40+" and names[y[3]] == "female-asian-25-39"
