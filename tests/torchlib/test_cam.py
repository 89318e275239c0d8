from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from nnlab.metrics import normalize_map  # noqa: E402
from nnlab.torchlib.cam import activations_and_gradients, cam_maps, grad_cam_maps, layer_output  # noqa: E402

pytestmark = pytest.mark.torch


def _tiny_cnn(inplace: bool = False) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(3, 4, 3, padding=1), relu1=nn.ReLU(inplace),
        conv2=nn.Conv2d(4, 5, 3, padding=1), relu2=nn.ReLU(inplace),
        pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), fc=nn.Linear(5, 3),
    )).double()


@pytest.fixture
def images():
    torch.manual_seed(1)
    return torch.randn(4, 3, 8, 8, dtype=torch.float64)  # (N, C, H, W)


def test_grad_cam_equals_relu_cam_for_a_gap_linear_head(images, torch_one_thread):
    model = _tiny_cnn()
    gc, predicted = grad_cam_maps(model, "relu2", images)
    cam, predicted_too = cam_maps(model, "relu2", "fc", images)
    assert gc.shape == (4, 8, 8) and cam.shape == (4, 8, 8)
    np.testing.assert_array_equal(predicted, model(images).argmax(1).numpy())
    np.testing.assert_array_equal(predicted, predicted_too)
    np.testing.assert_allclose(gc, normalize_map(np.maximum(cam, 0)), atol=1e-12)
    assert gc.min() == 0.0 and gc.max() == 1.0
    # a chosen class per sample, and a layer passed as a module
    gc2, _ = grad_cam_maps(model, model.relu2, images, class_idx=[2, 1, 0, 2])
    cam2, _ = cam_maps(model, model.relu2, model.fc, images, class_idx=[2, 1, 0, 2])
    np.testing.assert_allclose(gc2, normalize_map(np.maximum(cam2, 0)), atol=1e-12)


def test_gradients_match_autograd_and_the_layer_is_read_before_an_inplace_relu(images):
    model = _tiny_cnn(inplace=True)
    acts, grads, logits = activations_and_gradients(model, "conv2", images.numpy(), class_idx=1)
    x = images.clone()
    pre = model.conv2(model.relu1(model.conv1(x)))  # (N, 5, 8, 8)
    pre.retain_grad()
    out = model.fc(model.flatten(model.pool(torch.relu(pre))))
    out[:, 1].sum().backward()
    np.testing.assert_allclose(acts, pre.detach().numpy())
    np.testing.assert_allclose(grads, pre.grad.numpy())
    np.testing.assert_allclose(logits, out.detach().numpy())
    assert (acts < 0).any()  # the pre-ReLU output, not the in-place result


def test_hooks_removed_modes_restored_and_grads_untouched(images):
    model = _tiny_cnn()
    model.train()
    model.fc.eval()  # a mixed state must come back as it was
    grad_cam_maps(model, "relu2", images)
    cam_maps(model, "relu2", "fc", images)
    assert len(model.relu2._forward_hooks) == 0
    assert model.training and model.conv1.training and not model.fc.training
    assert all(p.grad is None for p in model.parameters())


def test_bad_layer_name_lists_suggestions(images):
    model = _tiny_cnn()
    with pytest.raises(KeyError, match="relu2"):
        grad_cam_maps(model, "relu_2", images)
    with pytest.raises(KeyError, match="conv1"):
        cam_maps(model, "features.3", "fc", images)
    assert len(model.relu2._forward_hooks) == 0


def test_layer_output_is_the_layers_feature_maps_in_eval_mode(images):
    model = _tiny_cnn()
    model.train()
    maps, out = layer_output(model, "relu1", images)
    with torch.no_grad():
        expected = model.relu1(model.conv1(images)).numpy()
        logits = model(images).numpy()
    np.testing.assert_allclose(maps, expected)
    np.testing.assert_allclose(out, logits)
    assert maps.shape == (4, 4, 8, 8) and len(model.relu1._forward_hooks) == 0 and model.training
