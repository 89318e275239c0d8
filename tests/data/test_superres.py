import numpy as np
import pytest

from nnlab.data.superres import assemble, sr_patches


def _slow_sr_reference(hr, f):
    c, h, w = hr.shape
    h, w = h // f * f, w // f * f
    lr = np.zeros((c, h // f, w // f))
    for ch in range(c):
        for a in range(h // f):
            for b in range(w // f):
                lr[ch, a, b] = hr[ch, a * f:(a + 1) * f, b * f:(b + 1) * f].mean()

    def lr_at(ch, a, b):  # reflect: index -1 -> 1, index n -> n-2
        a = -a if a < 0 else (2 * (lr.shape[1] - 1) - a if a >= lr.shape[1] else a)
        b = -b if b < 0 else (2 * (lr.shape[2] - 1) - b if b >= lr.shape[2] else b)
        return lr[ch, a, b]

    X, Y = [], []
    for i in range(h):
        for j in range(w):
            X.append([lr_at(ch, i // f + di, j // f + dj) for ch in range(c) for di in (-1, 0, 1) for dj in (-1, 0, 1)])
            Y.append(hr[:, i, j])
    return np.array(X), np.array(Y), lr


@pytest.mark.parametrize("factor, shape", [(2, (3, 6, 8)), (3, (2, 7, 10)), (2, (1, 5, 5))])
def test_sr_patches_against_slow_reference(factor, shape):
    hr = np.random.default_rng(0).random(shape)
    X, Y, lr = sr_patches(hr, factor)
    Xr, Yr, lrr = _slow_sr_reference(hr, factor)
    c = shape[0]
    h, w = shape[1] // factor * factor, shape[2] // factor * factor
    assert X.shape == (h * w, 9 * c) and Y.shape == (h * w, c)
    np.testing.assert_allclose(lr, lrr, atol=1e-12)
    np.testing.assert_allclose(X, Xr, atol=1e-12)
    np.testing.assert_array_equal(Y, Yr)


def test_sr_patches_rgb_shapes_border_and_assemble():
    hr = np.random.default_rng(1).integers(0, 256, (3, 8, 6)).astype(np.uint8)
    X, Y, lr = sr_patches(hr, 2)
    assert X.shape == (48, 27) and Y.shape == (48, 3) and lr.shape == (3, 4, 3)
    assert X.dtype == np.uint8 and Y.dtype == np.uint8
    # pixel (0, 0): low-res centre (0, 0); the row above is reflected from row 1 (reflect, not edge)
    x0 = X[0].reshape(3, 3, 3)
    np.testing.assert_array_equal(x0[:, 1, 1], lr[:, 0, 0])
    np.testing.assert_array_equal(x0[:, 0, 1], lr[:, 1, 0])
    np.testing.assert_array_equal(x0[:, 1, 0], lr[:, 0, 1])
    np.testing.assert_array_equal(x0[:, 0, 0], lr[:, 1, 1])
    # the 4 high-res pixels of one low-res pixel share their inputs
    np.testing.assert_array_equal(X[0], X[1])
    np.testing.assert_array_equal(X[0], X[6])
    np.testing.assert_array_equal(assemble(Y, hr.shape), hr)
    with pytest.raises(ValueError):
        assemble(Y[:-1], hr.shape)
