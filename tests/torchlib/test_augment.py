"""RandomAffine: batched mirror, rotation, zoom and shift on torch."""

import numpy as np
import pytest

pytest.importorskip("torch")

from nnlab.errors import ConfigError  # noqa: E402
from nnlab.torchlib.augment import RandomAffine  # noqa: E402


def test_random_affine_identity_and_mirror():
    rng = np.random.default_rng(0)
    x = rng.random((5, 1, 12, 12)).astype(np.float32)
    same = RandomAffine(degrees=0, zoom=0, shift=0, flip=0)(x, rng)
    np.testing.assert_allclose(same, x, atol=1e-5)
    mirrored = RandomAffine(degrees=0, zoom=0, shift=0, flip=1)(x, rng)
    np.testing.assert_allclose(mirrored, x[..., ::-1], atol=1e-5)
    u8 = (x * 255).astype(np.uint8)
    out = RandomAffine()(u8[0], rng)                           # one (C, H, W) image, as augment_offline calls it
    assert out.shape == u8[0].shape and out.dtype == np.uint8
    moved = RandomAffine(degrees=20, zoom=0.2, shift=0.2)(x, np.random.default_rng(1))
    assert moved.shape == x.shape and not np.allclose(moved, x)
    assert 0 <= moved.min() and moved.max() <= 1                  # bilinear + reflection stays in range


def test_random_affine_rejects_bad_ranges():
    with pytest.raises(ConfigError, match="zoom"):
        RandomAffine(zoom=1.5)
