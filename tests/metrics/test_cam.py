import numpy as np
import pytest

from nnlab.metrics import class_activation_map, grad_cam, normalize_map, overlay


def test_cam_by_hand():
    features = np.array([[[1.0, 0.0], [0.0, 2.0]],     # channel 0
                         [[0.0, 3.0], [1.0, 1.0]]])    # channel 1, (C=2, h=2, w=2)
    weight = np.array([[1.0, -1.0], [0.5, 2.0]])       # (K=2, C=2)
    np.testing.assert_allclose(class_activation_map(features, weight, 0), [[1, -3], [-1, 1]])
    np.testing.assert_allclose(class_activation_map(features, weight, 1), [[0.5, 6], [2, 3]])
    np.testing.assert_allclose(class_activation_map(features, weight, 0, normalize=True),
                               [[1, 0], [0.5, 1]])
    batch = np.stack([features, 2 * features])  # (N=2, C, h, w)
    maps = class_activation_map(batch, weight, np.array([0, 1]))
    np.testing.assert_allclose(maps, [[[1, -3], [-1, 1]], [[1, 12], [4, 6]]])
    assert class_activation_map(batch, weight, 1).shape == (2, 2, 2)
    with pytest.raises(ValueError, match="expected \\(K, 2\\)"):
        class_activation_map(features, weight[:, :1], 0)


def test_grad_cam_of_a_gap_linear_head_is_relu_cam(rng):
    """logit_k = sum_c w[k, c] mean(A_c) + b, so dlogit_k/dA_c = w[k, c] / (h w) everywhere."""
    acts = rng.standard_normal((3, 5, 4, 6))  # (N, C, h, w)
    weight = rng.standard_normal((7, 5))  # (K, C)
    k = np.array([0, 3, 6])
    grads = np.broadcast_to(weight[k][:, :, None, None] / (4 * 6), acts.shape)
    cam = class_activation_map(acts, weight, k)
    ours = grad_cam(acts, grads)
    assert ours.shape == (3, 4, 6) and ours.min() == 0.0 and ours.max() == 1.0
    positive = cam > 0
    assert not positive.all(axis=(1, 2)).any()  # each map has a zero, so the min-shift is 0
    expected = np.maximum(cam, 0) / cam.max(axis=(1, 2), keepdims=True)  # CAM+ scaled to max 1
    np.testing.assert_allclose(ours, expected)
    np.testing.assert_array_equal(ours[~positive], 0.0)
    np.testing.assert_allclose(ours, normalize_map(np.maximum(cam, 0)))


def test_normalize_and_size():
    flat = normalize_map(np.full((2, 3, 3), 4.0))
    np.testing.assert_array_equal(flat, 0.0)  # constant maps: no division by zero
    rng = np.random.default_rng(0)
    acts, grads = rng.standard_normal((4, 3, 3)), rng.standard_normal((4, 3, 3))
    big = grad_cam(acts, grads, size=(12, 9))
    assert big.shape == (12, 9) and big.min() >= 0.0 and big.max() == pytest.approx(1.0)
    assert class_activation_map(acts, rng.standard_normal((2, 4)), 1, size=(6, 5)).shape == (6, 5)
    with pytest.raises(ValueError, match="gradients"):
        grad_cam(acts, grads[:2])


def test_overlay_blends_into_rgb():
    image = np.full((4, 5), 0.5)
    cam = np.zeros((4, 5))
    out = overlay(image, cam, alpha=0.0)
    assert out.shape == (4, 5, 3)
    np.testing.assert_allclose(out, 0.5)
    hot = overlay(np.zeros((4, 5, 3), np.uint8), np.ones((4, 5)), alpha=1.0, colormap="gray")
    np.testing.assert_allclose(hot, 1.0)
    with pytest.raises(ValueError, match="size="):
        overlay(image, np.zeros((2, 2)))


def test_mass_share_counts_the_mass_inside_the_region():
    from nnlab.metrics.cam import mass_share

    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True                                          # the centre, a quarter of the area
    maps = np.stack([np.ones((4, 4)), mask * 2.0, np.zeros((4, 4)), np.eye(4)])  # (N=4, 4, 4)
    share = mass_share(maps, mask)
    np.testing.assert_allclose(share[[0, 1, 3]], [0.25, 1.0, 0.5])  # even: the area; inside only: 1; diagonal 2 of 4
    assert np.isnan(share[2])                                      # no mass: looks nowhere
    assert mass_share(maps[1], mask) == 1.0 and mass_share(maps[1], ~mask) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        mass_share(-maps, mask)
    with pytest.raises(ValueError, match="does not match"):
        mass_share(maps, mask[:3])
