"""The expression experiment (seed 003 Q5): smoke run, augmentation, weight transfer, config checks."""

import json

import numpy as np
import pytest

from nnlab.data import synthetic
from nnlab.errors import ConfigError
from nnlab.experiments import EXPERIMENTS, expression_data, expression_models, expression_tta, load_all, resolve_config, run_experiment


@pytest.fixture(scope="module", autouse=True)
def _registered():
    load_all()


def _exp():
    from nnlab.experiments import exp_expression

    return exp_expression


@pytest.mark.slow
def test_smoke_run_records_the_headline_metrics_and_every_figure(smoke_run):
    run_dir = smoke_run("expression")                  # the session's default smoke run, NNLAB_DATA unset
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
    # Q5.3: the light VGG against VGG16, counted at the input used (32 px in the smoke run)
    costs = (run_dir / "tables" / "network-costs.csv").read_text().splitlines()
    assert costs[0] == "network,input,classes,parameters,mult_adds_M,size_MB,params_vs_light" and len(costs) == 5
    assert metrics["vgg16_params"] > 10 * metrics["vgg_params"] and metrics["vgg16_params_ratio"] > 10
    # Q5.4: the CAM regions of right and wrong predictions, per class and in all, for both networks
    for key in ("vgg", "transfer"):
        regions = (run_dir / "tables" / f"{key}-cam-regions.csv").read_text().splitlines()
        assert regions[0] == "class,right_n,wrong_n,centre_right,centre_wrong,lower_right,lower_wrong"
        assert len(regions) == 1 + 7 + 1 and regions[-1].startswith("all,")
    notes = {item["title"]: item["text"] for item in json.loads((run_dir / "manifest.json").read_text())
             if item["kind"] == "note"}
    assert {"Augmentation", "The light VGG against VGG16", "Transfer learning: what was pretrained on what",
            "vgg: what the class activation maps suggest", "transfer: what the class activation maps suggest"} <= set(notes)
    assert "Mirror" in notes["Augmentation"] and "vertical flips" in notes["Augmentation"]
    assert f"{metrics['n_train']:,} training images before augmentation" in notes["Augmentation"]
    assert "UTKFace" in notes["Transfer learning: what was pretrained on what"]
    # every number the run records is described for the report
    exp = EXPERIMENTS["expression"]
    undescribed = [k for k, v in metrics.items() if isinstance(v, (int, float)) and exp.describe(k) is None]
    assert not undescribed and exp.about
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
    cfg = resolve_config(EXPERIMENTS["expression"], overrides=["input_size=32"])
    source, _ = expression_models.build_light_vgg(cfg, 10)
    target, _ = expression_models.build_light_vgg(cfg, 7)
    fresh = expression_models.transfer_weights(source, target)
    head = [k for k in target.state_dict() if target.state_dict()[k].shape != source.state_dict()[k].shape]
    assert fresh == sorted(head) and len(fresh) == 2               # the last Linear's weight and bias
    for k, v in target.state_dict().items():
        if k not in fresh:
            assert np.array_equal(v.numpy(), source.state_dict()[k].numpy()), k


def test_input_size_128_upsamples_inside_the_network():
    import torch

    cfg = resolve_config(EXPERIMENTS["expression"], overrides=["input_size=128"])
    net, params = expression_models.build_light_vgg(cfg, 7)
    assert isinstance(net[0], torch.nn.Upsample)
    assert net(torch.zeros(2, 1, 48, 48)).shape == (2, 7)
    from nnlab.experiments.expression_cam import conv_relus

    assert len(conv_relus(net)) == 10                              # two per stage, five stages


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

    x = np.arange(2 * 1 * 6 * 6, dtype=np.float32).reshape(2, 1, 6, 6)
    assert [v.shape for v in expression_tta.tta_views(x, False, 0)] == [x.shape] and np.array_equal(expression_tta.tta_views(x, False, 0)[0], x)
    views = expression_tta.tta_views(x, True, 2)
    assert len(views) == 10 and all(v.shape == x.shape for v in views)
    assert np.array_equal(views[1], x[..., ::-1])                     # the mirror of the face
    down = views[2]                                                   # offset (+2, 0): rows 2.. of the face
    assert np.array_equal(down[..., :4, :], x[..., 2:, :])
    assert np.array_equal(down[..., 4:, :], x[..., [4, 3], :])        # reflected past the border
    assert len(expression_tta.tta_views(x, False, 2)) == 5 and len(expression_tta.tta_views(x, True, 0)) == 2


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

    cfg = resolve_config(EXPERIMENTS["expression"])
    from nnlab.data.registry import load

    ctx = SimpleNamespace(cfg=cfg, smoke=False, data=lambda name, split=None, **kw: load(name, split, data_dir=data_dir))
    train, test = expression_data.load_expressions(ctx)
    assert train.images.shape == (18436, 1, 48, 48) and test.images.shape == (7178, 1, 48, 48)
    assert np.bincount(test.labels).tolist() == [958, 111, 1024, 1774, 1247, 831, 1233]
    assert train.class_names == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_online_transform_adds_erasing_only_when_asked():
    from nnlab.torchlib.augment import RandomAffine

    affine = RandomAffine(0, 0, 0, flip=0)                          # the identity
    x = np.full((64, 1, 48, 48), 0.5, dtype=np.float32)
    plain = expression_data.online_transform(resolve_config(EXPERIMENTS["expression"]), affine)
    assert plain is affine
    erasing = expression_data.online_transform(resolve_config(EXPERIMENTS["expression"], overrides=["erase=1.0"]), affine)
    out = erasing(x, np.random.default_rng(0))
    assert out.shape == x.shape and ((out != 0.5).reshape(64, -1).any(1)).all()   # every face has a noise patch
    np.testing.assert_array_equal(out, erasing(x, np.random.default_rng(0)))       # seeded


def test_age_band_pretraining_labels_split_each_gender_ethnicity_class_in_three():
    from types import SimpleNamespace

    ages, genders, races = np.array([3, 24, 25, 39, 40, 90]), np.array([0, 0, 1, 1, 0, 1]), np.array([0, 4, 2, 2, 1, 0])
    faces = SimpleNamespace(images=np.zeros((6, 3, 64, 64), np.uint8),
                            targets={"age": ages, "gender": genders, "race": races})
    for task, expected in (("gender_race", 5 * genders + races),
                           ("gender_race_age", 3 * (5 * genders + races) + np.array([0, 0, 1, 1, 2, 2]))):
        cfg = resolve_config(EXPERIMENTS["expression"], overrides=[f"pretrain_task={task}"])
        ctx = SimpleNamespace(cfg=cfg, smoke=False, data=lambda name: faces)
        x, y, names = expression_data.utkface_faces(ctx)
        assert x.shape == (6, 1, 48, 48) and np.array_equal(y, expected), task
        assert len(names) == (30 if task == "gender_race_age" else 10)
    assert names[y[1]] == "male-other-<25" and names[y[4]] == "male-black-40+" and names[y[3]] == "female-asian-25-39"


def test_the_seed_preset_enlarges_the_training_set_offline_as_the_seed_asks():
    from nnlab.experiments.expression_notes import augmentation_note
    from nnlab.torchlib.augment import RandomAffine

    cfg = resolve_config(EXPERIMENTS["expression"], preset="seed")
    assert cfg.augment_copies == 1 and not cfg.augment and cfg.balance_to == 0
    faces = synthetic.faces(21, 7, 0)                                       # 3 per class
    fit, report = expression_data.offline_augmentation(cfg, faces, RandomAffine())
    assert len(fit) == 42 and report["before"] == dict.fromkeys(faces.class_names, 3)
    assert report["after"] == dict.fromkeys(faces.class_names, 6) and sum(report["added"].values()) == 21
    assert not np.array_equal(fit.images[21:], fit.images[:21])                # the copies are augmented views
    note = augmentation_note(cfg, report["before"], report["after"], cfg.epochs)
    assert "21 training images before augmentation and 42 after" in note and "1 augmented copy" in note
    assert "fresh random view" not in note                                    # no online augmentation here
    default = resolve_config(EXPERIMENTS["expression"])
    assert "stored count stays 42" in augmentation_note(default, report["before"], report["after"], 50)


def test_network_costs_count_parameters_and_multiply_adds_of_both_vggs():
    from nnlab.experiments.expression_notes import network_costs

    cfg = resolve_config(EXPERIMENTS["expression"])                            # 64 px, BatchNorm, 4 poolings
    rows = network_costs(cfg, 7)
    assert [r["parameters"] for r in rows[1:4:2]] == [3_744_664, 138_357_544]  # the paper's and ImageNet's
    assert abs(rows[3]["mult_adds_M"] - 15_470) < 10                           # VGG16 at 224: 15.47 G multiply-adds
    assert rows[0]["params_vs_light"] == 1.0 and rows[2]["params_vs_light"] > 10
    assert rows[3]["size_MB"] == round(4 * 138_357_544 / 2 ** 20, 1)


def test_multiply_adds_match_a_count_of_the_torch_twin(torch_one_thread):
    import torch

    from nnlab.experiments.expression_notes import multiply_adds
    from nnlab.models import create_model
    from nnlab.torchlib import to_torch

    spec = create_model("light_vgg", input_size=32, in_channels=1, num_classes=7, pools=4)
    net = to_torch(spec.build(seed=0))
    counted = []

    def hook(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d):
            counted.append(output[0].numel() * module.in_channels * module.kernel_size[0] * module.kernel_size[1])
        else:
            counted.append(module.in_features * module.out_features)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    net.eval()(torch.zeros(1, 1, 32, 32))
    for h in handles:
        h.remove()
    assert multiply_adds(spec.model, (1, 32, 32)) == sum(counted) > 0


def test_face_crop_keeps_the_centre_and_bad_values_are_config_errors(tmp_path):
    from nnlab.data.preprocess import resize

    faces = synthetic.faces(7, 7, 0).images                                  # (7, 1, 48, 48) uint8
    assert expression_data.crop_faces(faces, 1.0) is faces
    half = expression_data.crop_faces(faces, 0.5)
    assert half.shape == faces.shape and half.dtype == np.uint8
    np.testing.assert_array_equal(half, resize(faces[..., 12:36, 12:36], (48, 48)))
    for override in ("face_crop=0.3", "cam_box=1.2", "augment_copies=-1"):
        with pytest.raises(ConfigError, match=override.split("=")[0]):
            run_experiment("expression", overrides=[override], out=tmp_path / override.split("=")[0])


def _rows(centre_right, centre_wrong, lower_right, lower_wrong):
    row = {"class": "all", "right_n": 10, "wrong_n": 10, "centre_right": centre_right, "centre_wrong": centre_wrong,
           "lower_right": lower_right, "lower_wrong": lower_wrong}
    return [{**row, "class": "happy"}, row]


def test_cam_advice_follows_the_numbers():
    from nnlab.experiments.expression_cam import cam_advice

    assert "face_crop" in cam_advice(_rows(0.60, 0.50, 0.5, 0.5), 0.6, 0.36, "vgg")     # wrong ones look at the border
    assert "input_size" in cam_advice(_rows(0.50, 0.60, 0.5, 0.5), 0.6, 0.36, "vgg")    # wrong ones stare at the centre
    assert "the mouth" in cam_advice(_rows(0.60, 0.60, 0.45, 0.55), 0.6, 0.36, "vgg")   # wrong ones lean on the mouth
    assert "erase" in cam_advice(_rows(0.60, 0.60, 0.55, 0.45), 0.6, 0.36, "vgg")
    same = cam_advice(_rows(0.60, 0.59, 0.5, 0.51), 0.6, 0.36, "vgg")
    assert "same places" in same and "face_crop" not in same
    assert "too few" in cam_advice(_rows(0.6, None, 0.5, None), 0.6, 0.36, "vgg")


def test_cam_regions_measure_where_the_grad_cam_mass_lies(torch_one_thread):
    """A network whose Grad-CAM at its ReLU is the image itself: bright centres give centre
    share 1, bright borders 0, and the upper or lower half shows in ``lower``."""
    import torch
    from torch import nn

    from nnlab.experiments.expression_cam import cam_regions, region_masks

    net = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1, 2))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[4].weight.copy_(torch.tensor([[1.0], [2.0]]))                     # class 1 always wins, alpha > 0
        net[4].bias.zero_()
    masks = region_masks(48, 0.5)
    assert masks["centre"].sum() == 24 * 24 and (masks["upper"] | masks["lower"]).sum() == 24 * 24
    x = np.zeros((8, 1, 48, 48), np.float32)
    x[:4, 0] = masks["lower"]                                                  # right: the lower face only
    x[4:, 0] = ~masks["centre"]                                                # wrong: the border only
    y = np.ones(8, np.int64)
    pred = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    rows = cam_regions(net, "1", x, y, pred, ["a", "b"], per_kind=10, box=0.5, seed=0)
    assert [r["class"] for r in rows] == ["a", "b", "all"] and rows[0]["right_n"] == rows[0]["wrong_n"] == 0
    b = rows[1]
    assert (b["right_n"], b["wrong_n"]) == (4, 4)
    assert b["centre_right"] == pytest.approx(1.0, abs=0.02) and b["centre_wrong"] == pytest.approx(0.0, abs=0.02)
    assert b["lower_right"] == pytest.approx(1.0, abs=0.02)


def test_the_vgg16_backbone_loads_a_torchvision_file(tmp_path, torch_one_thread):
    """``backbone: vgg16`` with ``vgg16_weights``: the convolutions come from the file (the first
    summed over RGB for grey faces), the rest starts fresh; the network takes 48 px faces."""
    import torch

    from nnlab.experiments.expression_notes import transfer_note
    from tests.torchlib.vgg16_file import write_vgg16_file

    path = tmp_path / "vgg16-397923af.pth"
    state = write_vgg16_file(path, classifier=False)
    cfg = resolve_config(EXPERIMENTS["expression"], overrides=["backbone=vgg16", f"vgg16_weights={path}",
                                                               "input_size=32"])
    _exp().check_config(cfg)                                                       # the file is there: no error
    net, params = expression_models.build_vgg16(cfg, 7)
    weights = net.state_dict()
    assert isinstance(net[0], torch.nn.Upsample)                              # 48 px faces, upsampled to 32
    assert torch.equal(weights["1.0.0.weight"], state["features.0.weight"].float().sum(1, keepdim=True))
    assert torch.equal(weights["1.0.28.bias"], state["features.28.bias"].float())
    assert params == sum(p.numel() for p in net.parameters()) and net(torch.zeros(2, 1, 48, 48)).shape == (2, 7)
    note = transfer_note(cfg, 7, None, "", 0)
    assert str(path) in note and "summed over RGB" in note
