import numpy as np
import pytest

from nnlab.data import synthetic
from nnlab.data.synthetic import make_blobs


def test_seed002_blobs_defaults():
    x, y = make_blobs()
    assert x.shape == (200, 2) and y.dtype == np.int64 and np.bincount(y).tolist() == [100, 100]
    for k, centre in enumerate([(-1, -1), (1, 1)]):
        pts = x[y == k]
        np.testing.assert_allclose(pts.mean(0), centre, atol=0.15)
        np.testing.assert_allclose(pts.std(0), 0.5, atol=0.1)
    x2, y2 = make_blobs()
    np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(make_blobs(seed=1)[0], x)


@pytest.mark.parametrize("make, shape, dtype", [
    (lambda seed: synthetic.digits(12, seed)[0], (12, 784), np.float32),
    (lambda seed: synthetic.colour_blobs(5, seed), (5, 3, 32, 32), np.uint8),
    (lambda seed: synthetic.shaded_images(4, 16, seed), (4, 3, 16, 16), np.float64),
    (lambda seed: synthetic.waves(3, 20, seed), (3, 3, 20, 20), np.float32),
    (lambda seed: synthetic.utkface(60, seed).images, (60, 3, 64, 64), np.uint8),
    (lambda seed: synthetic.faces(14, 7, seed).images, (14, 1, 48, 48), np.uint8),
])
def test_smoke_stand_ins_have_the_real_shapes_and_are_seeded(make, shape, dtype):
    a = make(0)
    assert a.shape == shape and a.dtype == dtype
    np.testing.assert_array_equal(a, make(0))
    assert not np.array_equal(a, make(1))
    if np.issubdtype(dtype, np.floating):
        assert a.min() >= 0 and a.max() <= 1


def test_synthetic_faces_hold_every_class_equally_and_utkface_has_its_targets():
    faces = synthetic.faces(21, 7, 0)
    assert np.bincount(faces.labels).tolist() == [3] * 7
    utk = synthetic.utkface(100, 0)
    assert set(utk.targets) == {"age", "gender", "race"}
    assert utk.class_names == ["White", "Black", "Asian", "Indian", "Others"]
    np.testing.assert_array_equal(utk.images[1], utk.images[0])             # the duplicate pairs UTKFace has
