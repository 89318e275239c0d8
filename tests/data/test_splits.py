"""nnlab.data.splits: group-aware hold-out splits (identical images never straddle)."""

import numpy as np
import pytest

from nnlab.data.dataset import ImageSet
from nnlab.data.splits import group_split, image_groups, image_holdout_split, split_imageset, split_indices
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


def test_split_indices_disjoint_covering_deterministic():
    parts = split_indices(103, (0.7, 0.2, 0.1), seed=5)
    allidx = np.concatenate(parts)
    assert sorted(allidx.tolist()) == list(range(103))
    assert [len(p) for p in parts] == [72, 20, 11]
    again = split_indices(103, (0.7, 0.2, 0.1), seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = split_indices(103, (0.7, 0.2, 0.1), seed=6)
    assert not np.array_equal(parts[0], other[0])
    two = split_indices(50, (0.8, 0.2), seed=0)
    assert len(two) == 2 and len(two[0]) == 40 and not set(two[0]) & set(two[1])


def test_split_indices_stratified_proportions():
    labels = np.repeat([0, 1, 2], [500, 300, 200])
    train, val, test = split_indices(labels, (0.7, 0.2, 0.1), seed=0)
    for part, size in ((train, 700), (val, 200), (test, 100)):
        assert abs(len(part) - size) <= 2
        frac = np.bincount(labels[part], minlength=3) / len(part)
        np.testing.assert_allclose(frac, [0.5, 0.3, 0.2], atol=0.011)
    # unstratified split of sorted labels can be skewed; stratified is exact here
    assert np.bincount(labels[test], minlength=3).tolist() == [50, 30, 20]


def test_split_fraction_errors():
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(10, (0.7, 0.2))
    with pytest.raises(ValueError):
        split_indices(10, (1.0,))
    with pytest.raises(ValueError, match="stratified"):
        split_indices(np.array([0, 0, 0, 0, 1]), (0.6, 0.2, 0.2))


def test_split_imageset():
    n = 60
    rng = np.random.default_rng(0)
    ims = ImageSet(images=rng.integers(0, 256, (n, 1, 2, 2)).astype(np.uint8), labels=np.arange(n) % 3,
                   class_names=["a", "b", "c"], name="toy", targets={"gender": np.arange(n) % 2},
                   files=[f"f{i}.png" for i in range(n)])
    train, val, test = split_imageset(ims, (0.5, 0.25, 0.25), seed=1, stratify_by="gender")
    assert (train.split, val.split, test.split) == ("train", "val", "test")
    assert len(train) + len(val) + len(test) == n
    assert not set(train.files) & set(test.files)
    assert train.targets["gender"].mean() == 0.5
    i = train.files.index("f7.png")
    assert train.labels[i] == 7 % 3 and np.array_equal(train.images[i], ims.images[7])
    tr, _ = split_imageset(ims, (0.8, 0.2), stratify_by="labels")
    assert tr.class_counts() == {"a": 16, "b": 16, "c": 16}
    with pytest.raises(ValueError, match="known"):
        split_imageset(ims, stratify_by="age")
