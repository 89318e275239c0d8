"""The model zoo: shapes, parameter counts (built and counted), the example YAMLs, the registry."""

import numpy as np
import pytest
import yaml

from nnlab.engine import (
    Concat,
    ConfigError,
    Conv2d,
    Dropout,
    Linear,
    MaxPool2d,
    ReLU,
    Residual,
    Sequential,
    ShapeError,
    gradcheck,
    model_from_spec,
)
from nnlab.models import (
    MODELS,
    UTKFACE_OUTPUTS,
    code_classifier,
    colour_residual,
    colour_unet_full,
    count_parameters,
    create_model,
    encoder_of,
    light_vgg,
    list_models,
    mnist_autoencoder,
    torchvision_vgg16_key,
    vgg16,
)
from tests.conftest import ROOT


def linear(a, b):
    return a * b + b


def conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


# name, small keyword arguments, input shape, output shape
SMALL = [
    ("mnist_autoencoder", {}, (784,), (784,)),
    ("code_classifier", {}, (30,), (10,)),
    ("colour_base", {"num_filters": 8}, (1, 32, 32), (24, 32, 32)),
    ("colour_unet", {"num_filters": 8, "input_size": 16}, (1, 16, 16), (24, 16, 16)),
    ("colour_residual", {"num_filters": 8, "input_size": 16}, (1, 16, 16), (24, 16, 16)),
    ("colour_residual_seed", {"num_filters": 8, "input_size": 16}, (1, 16, 16), (24, 16, 16)),
    ("colour_unet_full", {"num_filters": 8, "input_size": 16}, (1, 16, 16), (24, 16, 16)),
    ("light_vgg", {"input_size": 48}, (3, 48, 48), (8,)),
    ("light_vgg", {"input_size": 32, "in_channels": 1, "num_classes": 7, "batch_norm": True}, (1, 32, 32), (7,)),
    ("sr_mlp", {}, (27,), (3,)),
    ("espcn", {"input_size": 8}, (3, 8, 8), (3, 16, 16)),
    ("espcn", {"input_size": 6, "scale": 3, "channels": 1}, (1, 6, 6), (1, 18, 18)),
    ("sr_cnn", {"input_size": 5, "scale": 4, "depth": 2, "width": 4}, (1, 5, 5), (1, 20, 20)),
    ("utkface_cnn", {"input_size": 32, "width": 8}, (3, 32, 32), (8,)),
]


@pytest.mark.parametrize("name, kwargs, in_shape, out_shape", SMALL, ids=[f"{s[0]}-{i}" for i, s in enumerate(SMALL)])
def test_every_model_builds_runs_and_is_counted_without_building(name, kwargs, in_shape, out_shape, rng):
    spec = create_model(name, **kwargs)
    assert spec.input_shape == in_shape
    assert not spec.model.built
    counted = spec.num_parameters()
    model = spec.build(seed=0)
    assert model.num_parameters() == counted
    assert model.output_shape() == out_shape
    y = model.forward(rng.standard_normal((2, *in_shape)))
    assert y.shape == (2, *out_shape)
    assert np.isfinite(y).all()


def test_parameter_counts_at_the_defaults():
    ae = [linear(a, b) for a, b in [(784, 500), (500, 200), (200, 100), (100, 30)]]
    ae += [linear(a, b) for a, b in [(30, 100), (100, 200), (200, 500), (500, 784)]]
    espcn = conv(3, 64, 5) + conv(64, 32, 3) + conv(32, 3 * 2 * 2, 3)
    expected = {
        "mnist_autoencoder": sum(ae),                                         # 1,032,414
        "code_classifier": 30 * 20 + 20 + 20 * 15 + 15 + 15 * 10 + 10,        # 1,095
        "colour_base": 86_784,
        "colour_unet": 112_344,
        "colour_residual": 498_648,
        "colour_residual_seed": 120_360,
        "colour_unet_full": 472_376,
        "light_vgg": 3_744_664,
        "vgg16": 138_357_544,
        "sr_mlp": 27 * 64 + 64 + 64 * 128 + 128 + 128 * 3 + 3,                # 10,499
        "espcn": espcn,                                                       # 26,796
        "sr_cnn": conv(1, 32, 3) + 5 * conv(32, 32, 3) + conv(32, 4, 3),      # 47,716
        "utkface_cnn": 608_168,
    }
    assert set(expected) == set(MODELS)
    assert sum(ae) == 1_032_414 and espcn == 26_796
    counted = {name: create_model(name).num_parameters() for name in MODELS}
    assert counted == expected


def test_light_vgg_has_the_papers_count_when_built_at_128():
    model = create_model("light_vgg").build(seed=0)
    assert model.num_parameters() == 3_744_664
    rows = model.summary_rows()
    flatten = next(r for r in rows if r["layer"] == "Flatten")
    assert flatten["output_shape"] == ("N", 128 * 4 * 4)
    assert sum(isinstance(layer, Dropout) for layer in model.layers) == 2
    assert not any(isinstance(layer, Dropout) for layer in light_vgg(dropout=0).layers)
    # flatten size 128 * (input_size // 32)**2: at 48 one position is left
    assert count_parameters(light_vgg(input_size=48), (3, 48, 48)) == 3_744_664 - (2048 - 128) * 1024


def test_vgg16_has_torchvisions_layout_and_count():
    model = vgg16()
    features, classifier = model.layers[0], model.layers[2]
    convs = [i for i, layer in enumerate(features.layers) if isinstance(layer, Conv2d)]
    pools = [i for i, layer in enumerate(features.layers) if isinstance(layer, MaxPool2d)]
    assert convs == [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    assert pools == [4, 9, 16, 23, 30]
    assert all(isinstance(features.layers[i + 1], ReLU) for i in convs)
    assert [type(layer).__name__ for layer in classifier.layers] == [
        "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert classifier.layers[0].in_features == 512 * 7 * 7
    assert count_parameters(model, (3, 224, 224)) == 138_357_544
    # elsewhere the classifier's first layer takes 512 * (input_size // 32)**2 features
    small = count_parameters(vgg16(num_classes=10, input_size=64), (3, 64, 64))
    assert small == 138_357_544 - (25_088 - 2048) * 4096 - 990 * 4097


def test_torchvision_vgg16_key_mapping():
    assert torchvision_vgg16_key("features.0.weight") == "0.0.weight"
    assert torchvision_vgg16_key("features.28.bias") == "0.28.bias"
    assert torchvision_vgg16_key("classifier.6.weight") == "2.6.weight"
    assert torchvision_vgg16_key("classifier.3.bias") == "2.3.bias"
    for key in ("features.1.weight", "classifier.2.weight", "avgpool.weight", "features.0.running_mean",
                "module.features.0.weight", "features.0.weight.extra"):
        assert torchvision_vgg16_key(key) is None, key
    # every torchvision parameter maps to a layer of ours that has it
    model = vgg16()
    tv_keys = [f"features.{i}.{p}" for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28) for p in ("weight", "bias")]
    tv_keys += [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
    for key in tv_keys:
        part, index, _ = torchvision_vgg16_key(key).split(".")
        assert isinstance(model.layers[int(part)].layers[int(index)], (Conv2d, Linear)), key


def _yaml_model(name):
    return model_from_spec(yaml.safe_load((ROOT / "examples" / name).read_text()), seed=0)


@pytest.mark.parametrize("name, yaml_file", [("colour_base", "colourization-base.yaml"),
                                             ("colour_unet", "colourization-unet.yaml")])
def test_colourization_models_are_the_example_yamls(name, yaml_file):
    ours = create_model(name).build(seed=0)
    theirs = _yaml_model(yaml_file)
    assert ours.get_config() == theirs.get_config()
    assert ours.input_shape == theirs.input_shape
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())  # the same weight names


def test_autoencoder_is_the_example_yaml_nested_in_encoder_and_decoder(rng):
    ours = create_model("mnist_autoencoder").build(seed=0)
    theirs = _yaml_model("seed004-autoencoder.yaml")
    flat = [layer.get_config() for part in ours.layers for layer in part.layers]
    assert flat == [layer.get_config() for layer in theirs.layers]
    assert ours.num_parameters() == theirs.num_parameters()
    encoder = encoder_of(ours)
    assert encoder is ours.layers[0] and encoder.output_shape() == (30,)
    x = rng.random((3, 784))
    codes = encoder.predict(x)
    np.testing.assert_allclose(ours.layers[1].predict(codes), ours.predict(x), rtol=1e-6)
    with pytest.raises(ConfigError, match="encoder, decoder"):
        encoder_of(code_classifier())


def test_colour_residual_is_a_unet_of_residual_blocks_with_full_resolution_ends():
    model = colour_residual()
    blocks = [m for m in model.modules() if isinstance(m, Residual)]
    assert len(blocks) == 5                                                # e1, e2, b, d2, d1
    assert sum(isinstance(m, Concat) for m in model.modules()) == 2        # the U-Net's two skips
    e1, d1 = model.layers[0], model.layers[3]
    assert isinstance(e1, Residual) and isinstance(d1, Residual)
    assert e1.output_shape((1, 32, 32)) == (32, 32, 32)                    # full resolution in
    assert d1.output_shape((96, 32, 32)) == (32, 32, 32)                   # cat(up(d2), e1) -> nf, full resolution
    assert model.output_shape((1, 32, 32)) == (24, 32, 32)
    assert count_parameters(colour_residual(kernel_size=5), (1, 32, 32)) > 498_648


def test_colour_residual_seed_is_the_seed_unet_with_a_shortcut_around_every_stage():
    from nnlab.models import colour_residual_seed, colour_unet

    seed_res, unet = colour_residual_seed(), colour_unet()
    blocks = [m for m in seed_res.modules() if isinstance(m, Residual)]
    assert len(blocks) == 5                                                # down1, down2, rf, up1, up2
    assert sum(b.projection is None for b in blocks) == 1                  # rf keeps its shape: identity
    assert sum(isinstance(m, Concat) for m in seed_res.modules()) == 3     # the seed U-Net's three skips
    assert seed_res.output_shape((1, 32, 32)) == (24, 32, 32)
    # the seed U-Net's weights plus a 1x1 convolution (no bias) and BN where a stage changes the shape
    projections = [(1, 32), (32, 64), (128, 32), (64, 24)]
    extra = sum(cin * cout + 2 * cout for cin, cout in projections)
    assert count_parameters(seed_res, (1, 32, 32)) - count_parameters(unet, (1, 32, 32)) == extra


def test_colour_unet_full_is_the_residual_graph_without_the_additions():
    plain, residual = colour_unet_full(), colour_residual()
    assert not any(isinstance(m, Residual) for m in plain.modules())
    assert sum(isinstance(m, Concat) for m in plain.modules()) == 2
    assert plain.output_shape((1, 32, 32)) == (24, 32, 32)
    # the same convolutions; the residual net adds only the 1x1 projections where widths change
    projections = [(1, 32), (32, 64), (64, 128), (192, 64), (96, 32)]
    extra = sum(cin * cout + 2 * cout for cin, cout in projections)           # 1x1 conv (no bias) + BN
    assert count_parameters(residual, (1, 32, 32)) - count_parameters(plain, (1, 32, 32)) == extra


def test_utkface_heads_are_named_column_ranges(rng):
    spec = create_model("utkface_cnn", input_size=16, width=4, dropout=0)
    assert spec.outputs == UTKFACE_OUTPUTS == {"age": slice(0, 1), "gender": slice(1, 3), "ethnicity": slice(3, 8)}
    heads = spec.model.layers[-1]
    assert isinstance(heads, Concat)
    assert [b.layers[-1].out_features for b in heads.branches] == [1, 2, 5]
    # Concat joins (N, k) vectors along axis 1, gradients included
    cat = Concat([Sequential([Linear(4, 1)]), Sequential([Linear(4, 2), ReLU(), Linear(2, 5)])])
    cat.build((4,), np.random.default_rng(0), np.float64)
    assert cat.output_shape((4,)) == (6,)
    assert gradcheck(cat, rng.standard_normal((3, 4))).ok


def test_build_is_seeded():
    a = create_model("colour_unet", num_filters=4).build(seed=3).state_dict()
    b = create_model("colour_unet", num_filters=4).build(seed=3).state_dict()
    c = create_model("colour_unet", num_filters=4).build(seed=4).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_registry_errors_name_the_problem():
    with pytest.raises(ConfigError, match=r"unknown model 'resnet50'; known: code_classifier, colour_base"):
        create_model("resnet50")
    with pytest.raises(ConfigError, match=r"'num_filter'.*takes: input_size, kernel_size, num_colours"):
        create_model("colour_unet", num_filter=16)
    with pytest.raises(ConfigError, match="'input_size'"):
        create_model("sr_mlp", input_size=8)
    assert list(list_models()) == sorted(MODELS)
    assert all(isinstance(d, str) and d and "\n" not in d for d in list_models().values())


@pytest.mark.parametrize("name, kwargs, match", [
    ("light_vgg", {"input_size": 31}, ">= 32"),
    ("vgg16", {"input_size": 16}, ">= 32"),
    ("utkface_cnn", {"input_size": 15}, ">= 16"),
    ("colour_base", {"input_size": 30}, "multiple of 4"),
    ("colour_unet", {"kernel_size": 4}, "odd"),
    ("light_vgg", {"dropout": 1.0}, "dropout"),
    ("espcn", {"scale": 0}, "scale"),
    ("sr_cnn", {"depth": 0}, "depth"),
    ("mnist_autoencoder", {"code_size": 0}, "positive"),
])
def test_bad_arguments_are_config_errors(name, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        create_model(name, **kwargs)


def test_counting_checks_shapes_like_building():
    with pytest.raises(ShapeError, match="layer 0"):
        count_parameters(light_vgg(), (1, 128, 128))          # wrong number of channels
    with pytest.raises(ShapeError):
        count_parameters(light_vgg(input_size=32), (3, 16, 16))  # pooled away to nothing
    with pytest.raises(ShapeError):
        count_parameters(mnist_autoencoder(), (100,))


def test_light_vgg_pools_keeps_a_larger_map_at_48_pixels():
    five = create_model("light_vgg", input_size=48, in_channels=1, num_classes=7)
    four = create_model("light_vgg", input_size=48, in_channels=1, num_classes=7, pools=4)
    assert sum(isinstance(m, MaxPool2d) for m in five.model.layers) == 5
    assert sum(isinstance(m, MaxPool2d) for m in four.model.layers) == 4
    flat = [m for m in four.model.layers if isinstance(m, Linear)][0]
    assert flat.in_features == 128 * 3 * 3                     # 48 / 2**4 = 3
    assert four.build(seed=0).output_shape() == (7,)
    with pytest.raises(ConfigError, match="pools"):
        create_model("light_vgg", pools=0)
