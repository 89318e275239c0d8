"""nnlab.data.splits: group-aware hold-out splits (identical images never straddle)."""

import numpy as np
import pytest

from nnlab.data.splits import group_split, image_groups, image_holdout_split
from nnlab.errors import ConfigError, ShapeError


def images_with_copies(rng, n=500, copies=40):
    """(n, 3, 8, 8) uint8 random images where ``copies`` of them repeat earlier ones (some 3 times)."""
    images = rng.integers(0, 256, (n, 3, 8, 8), dtype=np.uint8)
    src = rng.choice(n // 2, copies, replace=True)
    dst = rng.choice(np.arange(n // 2, n), copies, replace=False)
    images[dst] = images[src]
    return images


def test_image_groups_equal_exactly_for_identical_images(rng):
    images = images_with_copies(rng)
    ids = image_groups(images)
    assert ids.shape == (500,) and ids.dtype == np.int64
    for i in range(0, 500, 7):
        same = np.flatnonzero(ids == ids[i])
        assert all(np.array_equal(images[j], images[i]) for j in same)
        identical = np.flatnonzero((images == images[i]).all(axis=(1, 2, 3)))
        assert np.array_equal(np.sort(same), identical)
    one_pixel = images.copy()
    one_pixel[0, 0, 0, 0] ^= 1
    assert image_groups(one_pixel)[0] != ids[0]


def test_image_groups_do_not_depend_on_order(rng):
    images = images_with_copies(rng)
    perm = rng.permutation(len(images))
    assert np.array_equal(image_groups(images)[perm], image_groups(images[perm]))


def test_identical_images_never_straddle_and_fractions_are_right(rng):
    images = images_with_copies(rng, n=1000, copies=120)
    groups = image_groups(images)
    for seed in range(5):
        train, test = group_split(groups, 0.2, seed)
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 1000
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(1000))
        assert not set(groups[train]) & set(groups[test])
        assert 200 <= len(test) <= 200 + np.bincount(np.unique(groups, return_inverse=True)[1]).max() - 1


def test_same_seed_same_split_other_seed_other_split(rng):
    images = images_with_copies(rng)
    a = image_holdout_split(images, 0.2, seed=3)
    b = image_holdout_split(images.copy(), 0.2, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], image_holdout_split(images, 0.2, seed=4)[1])


def test_split_is_a_function_of_the_images_not_their_order(rng):
    images = images_with_copies(rng)
    perm = rng.permutation(len(images))
    test = image_holdout_split(images, 0.25, seed=1)[1]
    test_perm = image_holdout_split(images[perm], 0.25, seed=1)[1]
    assert np.array_equal(np.sort(perm[test_perm]), test)


def test_singleton_groups_split_like_a_plain_split():
    train, test = group_split(np.arange(10), 0.3, seed=0)
    assert len(test) == 3 and len(train) == 7 and train.dtype == np.int64


@pytest.mark.parametrize("groups, fraction, error", [
    (np.zeros(10), 0.2, ConfigError),        # one group: nothing to split
    (np.arange(10), 0.0, ConfigError),
    (np.arange(10), 1.0, ConfigError),
    (np.arange(10).reshape(5, 2), 0.2, ShapeError),
])
def test_bad_arguments_say_why(groups, fraction, error):
    with pytest.raises(error):
        group_split(groups, fraction, 0)
