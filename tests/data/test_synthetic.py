import numpy as np

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
