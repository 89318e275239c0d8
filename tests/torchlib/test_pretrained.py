"""VGG16 weights from a local torchvision-layout file."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nnlab.errors import DataError, WeightsMismatchError  # noqa: E402
from nnlab.models import vgg16  # noqa: E402
from nnlab.torchlib import to_torch  # noqa: E402
from nnlab.torchlib.pretrained import load_vgg16_weights  # noqa: E402
from tests.torchlib.vgg16_file import write_vgg16_file  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def torchvision_file(tmp_path_factory):
    """The features and the last classifier layer of a torchvision vgg16 state dict (float16 to
    keep the file small), with torchvision's names and shapes."""
    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    state = write_vgg16_file(path)
    return path, state


def test_features_load_by_name_and_mismatched_heads_are_skipped(torchvision_file):
    path, state = torchvision_file
    model = to_torch(vgg16(num_classes=7, input_size=32), input_shape=(3, 32, 32), init="torch")
    report = load_vgg16_weights(model, path)
    assert len(report["loaded"]) == 26
    assert any(s.startswith("2.6.weight") for s in report["skipped"])
    assert torch.equal(model.state_dict()["0.28.weight"], state["features.28.weight"].float())


@pytest.mark.slow
def test_a_grey_model_sees_grey_images_as_the_rgb_model_sees_them_repeated(torchvision_file):
    path, _ = torchvision_file
    rgb = to_torch(vgg16(num_classes=4, input_size=32), input_shape=(3, 32, 32), init="torch").double().eval()
    grey = to_torch(vgg16(num_classes=4, input_size=32, in_channels=1), input_shape=(1, 32, 32),
                    init="torch").double().eval()
    load_vgg16_weights(rgb, path)
    load_vgg16_weights(grey, path)
    head = {k: v for k, v in rgb.state_dict().items() if k.startswith("2.")}
    grey.load_state_dict(head, strict=False)
    x = torch.rand(2, 1, 32, 32, dtype=torch.float64)
    np.testing.assert_allclose(grey(x).detach().numpy(), rgb(x.repeat(1, 3, 1, 1)).detach().numpy(), rtol=1e-9)


def test_wrong_or_missing_files_say_what_is_wrong(tmp_path, torchvision_file):
    model = to_torch(vgg16(num_classes=2, input_size=32), input_shape=(3, 32, 32), init="torch")
    with pytest.raises(DataError, match="does not exist.*download.pytorch.org"):
        load_vgg16_weights(model, tmp_path / "none.pth")
    path, state = torchvision_file
    partial = tmp_path / "partial.pth"
    torch.save({k: v for k, v in state.items() if k != "features.28.weight"}, partial)
    with pytest.raises(WeightsMismatchError, match="lacks the VGG16 feature weights"):
        load_vgg16_weights(model, partial)
    wrong = tmp_path / "wrong.pth"
    torch.save({**state, "features.0.weight": torch.zeros(64, 3, 5, 5)}, wrong)
    with pytest.raises(WeightsMismatchError, match="is this a VGG16"):
        load_vgg16_weights(model, wrong)


def test_the_torch_twin_has_the_counted_parameters():
    from nnlab.models import count_parameters

    spec = vgg16(num_classes=10, input_size=32)
    model = to_torch(spec, input_shape=(3, 32, 32), init="torch")
    assert sum(p.numel() for p in model.parameters()) == count_parameters(spec, (3, 32, 32))
