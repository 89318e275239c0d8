import math

import numpy as np
import pytest

from nnlab.metrics import psnr, rgb_to_y, shave, ssim

pytest.importorskip("skimage")


def test_rgb_to_y_white_black_and_uint8(rng):
    assert rgb_to_y(np.ones((2, 3, 3))) == pytest.approx(235 / 255)
    assert rgb_to_y(np.zeros((2, 3, 3))) == pytest.approx(16 / 255)
    img = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    y = rgb_to_y(img)
    assert y.shape == (5, 4)
    np.testing.assert_allclose(y, rgb_to_y(img / 255.0))
    r, g, b = img[1, 2] / 255.0
    assert y[1, 2] == pytest.approx((16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255)
    with pytest.raises(ValueError, match=r"\(3, 5, 4\)"):
        rgb_to_y(np.moveaxis(img, -1, 0))
    stack = np.stack([img, img[::-1]])                               # (2, 5, 4, 3): one Y per image
    np.testing.assert_allclose(rgb_to_y(stack), np.stack([y, y[::-1]]))


def test_shave_grey_and_colour():
    img = np.arange(6 * 7 * 3).reshape(6, 7, 3)
    np.testing.assert_array_equal(shave(img, 2), img[2:4, 2:5])
    assert shave(img[..., 0], 1).shape == (4, 5)
    assert shave(img, 0) is img
    with pytest.raises(ValueError):
        shave(img, 3)


def test_psnr_of_a_constant_offset_and_identical_images(rng):
    ref = rng.uniform(0.2, 0.8, (16, 16, 3))
    assert psnr(ref, ref + 0.1) == pytest.approx(10 * math.log10(1 / 0.1**2))
    assert psnr(ref * 255, ref * 255 + 5, data_range=255) == pytest.approx(10 * math.log10(255**2 / 25))
    assert psnr(ref, ref.copy()) == math.inf


def test_psnr_y_channel_shaves_the_border(rng):
    ref = rng.uniform(0, 1, (20, 20, 3))
    test = ref.copy()
    test[:2] = 0.0  # only the top two rows differ
    assert psnr(ref, test, y_channel=True, border=2) == math.inf
    assert psnr(ref, test, y_channel=True, border=1) < math.inf
    # the Y protocol: PSNR of the luma alone, float and uint8 alike
    noisy = np.clip(ref + rng.normal(0, 0.05, ref.shape), 0, 1)
    y_ref, y_noisy = rgb_to_y(ref)[3:-3, 3:-3], rgb_to_y(noisy)[3:-3, 3:-3]
    expected = 10 * math.log10(1 / np.mean((y_ref - y_noisy) ** 2))
    assert psnr(ref, noisy, y_channel=True, border=3) == pytest.approx(expected)
    as_uint8 = (ref * 255).round().astype(np.uint8), (noisy * 255).round().astype(np.uint8)
    assert psnr(*as_uint8, y_channel=True, border=3) == pytest.approx(
        psnr(as_uint8[0] / 255, as_uint8[1] / 255, y_channel=True, border=3))


def test_psnr_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(3, 8, 8\)"):
        psnr(np.zeros((3, 8, 8)), np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="data_range=255"):
        psnr(np.zeros((8, 8), np.uint8), np.ones((8, 8), np.uint8))
    with pytest.raises(ValueError, match="!="):
        psnr(np.zeros((8, 8)), np.zeros((8, 9)))


def test_ssim_identical_noisy_and_y_protocol(rng):
    ref = rng.uniform(0, 1, (24, 24, 3))
    noisy = np.clip(ref + rng.normal(0, 0.1, ref.shape), 0, 1)
    assert ssim(ref, ref) == pytest.approx(1.0)
    assert ssim(ref[..., 0], ref[..., 0]) == pytest.approx(1.0)
    assert 0 < ssim(ref, noisy) < 0.99
    y = ssim(ref, noisy, y_channel=True, border=4)
    assert 0 < y < 0.99
    from skimage.metrics import structural_similarity

    expected = structural_similarity(rgb_to_y(ref)[4:-4, 4:-4], rgb_to_y(noisy)[4:-4, 4:-4],
                                     data_range=1.0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert y == pytest.approx(expected)
