"""nnlab.data.superres: the standard protocol's LR images and the seed's samples, in (C, H, W)."""

import numpy as np
import pytest

from nnlab.data.superres import (
    assemble,
    bicubic_downscale,
    bicubic_upscale,
    blocks,
    mod_crop,
    neighbourhoods,
    sr_patches,
)
from nnlab.errors import ConfigError, ShapeError


def _slow_features(lr, f, h, w):
    """The seed's 27 features by loops: LR pixel (i // f, j // f) and its neighbours, border
    replicated, ordered (dy, dx, c)."""
    c, lh, lw = lr.shape
    rows = []
    for i in range(h):
        for j in range(w):
            a, b = i // f, j // f
            rows.append([lr[ch, min(max(a + dy, 0), lh - 1), min(max(b + dx, 0), lw - 1)]
                         for dy in (-1, 0, 1) for dx in (-1, 0, 1) for ch in range(c)])
    return np.array(rows)


def test_neighbourhoods_match_a_hand_computation():
    lr = np.arange(3 * 2 * 2, dtype=np.float32).reshape(3, 2, 2)  # lr[c, i, j] = 4 c + 2 i + j
    x = neighbourhoods(lr)
    assert x.shape == (4, 27)
    # LR pixel (0, 1): rows of dy = -1, 0, 1 are 0, 0, 1 (row -1 replicated); columns of dx are 0, 1, 1
    rows, cols = [0, 0, 1], [0, 1, 1]
    hand = [4 * c + 2 * rows[dy] + cols[dx] for dy in range(3) for dx in range(3) for c in range(3)]
    np.testing.assert_array_equal(x[1], hand)


@pytest.mark.parametrize("factor, shape", [(2, (3, 6, 8)), (3, (3, 7, 10)), (2, (1, 5, 5)), (4, (3, 16, 12))])
def test_sr_patches_against_slow_reference(factor, shape):
    hr = np.random.default_rng(0).random(shape).astype(np.float32)
    X, Y, lr = sr_patches(hr, factor)
    h, w = shape[1] // factor * factor, shape[2] // factor * factor
    assert lr.shape == (shape[0], h // factor, w // factor)
    assert X.shape == (h * w, 9 * shape[0]) and Y.shape == (h * w, shape[0])
    np.testing.assert_array_equal(lr, bicubic_downscale(hr[:, :h, :w], factor))
    np.testing.assert_array_equal(X, _slow_features(lr, factor, h, w))
    np.testing.assert_array_equal(Y, hr[:, :h, :w].reshape(shape[0], -1).T)
    # the factor x factor HR pixels of one LR pixel share their features
    np.testing.assert_array_equal(X[0], X[factor - 1])
    np.testing.assert_array_equal(X[0], X[(factor - 1) * w])
    assert not np.array_equal(X[0], X[factor])
    np.testing.assert_array_equal(assemble(Y, (shape[0], h, w)), hr[:, :h, :w])


def test_bicubic_downscale_is_antialiased_and_8_bit():
    hr = np.zeros((3, 8, 8), np.float32)
    hr[:, :, ::2] = 1.0  # one-pixel stripes: a box or antialiased filter averages them to grey
    lr = bicubic_downscale(hr, 2)
    assert lr.shape == (3, 4, 4) and lr.dtype == np.float32
    np.testing.assert_allclose(lr[:, :, 1:-1], 0.5, atol=0.03)  # point sampling would give 0 or 1
    np.testing.assert_allclose(lr, 0.5, atol=0.1)  # the edge columns see the border
    np.testing.assert_array_equal(np.round(lr * 255), lr * 255)  # rounded to 8 bits
    flat = np.full((3, 5, 7), 0.3, np.float32)
    up = bicubic_upscale(bicubic_downscale(flat, 1), 3)
    assert up.shape == (3, 15, 21)
    np.testing.assert_allclose(up, round(0.3 * 255) / 255, atol=1e-6)
    assert bicubic_upscale(np.full((1, 2, 2), 2.0, np.float32), 2).max() == 1.0  # clipped to [0, 1]


def test_blocks_round_trip_and_order():
    img = np.random.default_rng(0).random((3, 6, 8))
    b = blocks(img, 2)
    assert b.shape == (12, 12)
    np.testing.assert_array_equal(b[0].reshape(2, 2, 3), img[:, :2, :2].transpose(1, 2, 0))  # (sy, sx, c)
    np.testing.assert_array_equal(b[1].reshape(2, 2, 3), img[:, :2, 2:4].transpose(1, 2, 0))
    np.testing.assert_array_equal(assemble(b, img.shape, 2), img)
    np.testing.assert_array_equal(mod_crop(img, 4), img[:, :4, :8])


def test_bad_input_names_the_problem():
    with pytest.raises(ShapeError, match=r"\(C, H, W\)"):
        sr_patches(np.zeros((4, 4)), 2)
    with pytest.raises(ConfigError, match="positive integer"):
        bicubic_downscale(np.zeros((3, 4, 4)), 0)
    with pytest.raises(ShapeError, match="smaller than the factor"):
        bicubic_downscale(np.zeros((3, 1, 4)), 2)
    with pytest.raises(ShapeError, match=r"needs values of shape \(12, 12\)"):
        assemble(np.zeros((11, 12)), (3, 6, 8), 2)
