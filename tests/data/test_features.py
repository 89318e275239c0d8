import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from nnlab.data.features import FeaturePipeline, Standardizer, fit_pca
from nnlab.data.preprocess import to_grayscale
from tests.data.test_preprocess import _images


def test_standardizer_channel_and_feature(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3, 4, 5)) * np.array([1, 5, 0])[None, :, None, None] + np.array([2, -1, 7])[None, :, None, None]
    s = Standardizer("channel").fit(x)
    z = s.transform(x)
    assert z.dtype == np.float64  # float64 in -> float64 out
    np.testing.assert_allclose(z[:, :2].mean(axis=(0, 2, 3)), 0, atol=1e-10)
    np.testing.assert_allclose(z[:, :2].std(axis=(0, 2, 3)), 1, atol=1e-10)
    assert np.all(z[:, 2] == 0)  # zero-std channel -> 0, not inf/nan
    np.testing.assert_allclose(s.inverse_transform(z), x, atol=1e-10)
    # saved with np.savez and restored without pickle
    np.savez(tmp_path / "s.npz", **s.state_dict())
    with np.load(tmp_path / "s.npz", allow_pickle=False) as state:
        s2 = Standardizer.from_state_dict(state)
    assert s2.mode == "channel"
    np.testing.assert_array_equal(s2.transform(x), z)

    flat = x.reshape(50, -1).astype(np.float32)
    f = Standardizer("feature").fit(flat)
    zf = f.transform(flat)
    assert zf.dtype == np.float32 and f.mean_.shape == (60,)
    np.testing.assert_allclose(zf[:, :20].mean(axis=0), 0, atol=1e-5)
    with pytest.raises(ValueError):
        f.transform(flat[:, :10])
    with pytest.raises(NotFittedError):
        Standardizer().transform(flat)


def test_standardizer_chunked_statistics_match_numpy():
    x = np.random.default_rng(1).integers(0, 256, size=(600, 2, 3, 3)).astype(np.uint8)  # > one chunk
    s = Standardizer("channel").fit(x)
    np.testing.assert_allclose(s.mean_.ravel(), x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(s.std_.ravel(), x.std(axis=(0, 2, 3)), rtol=1e-10)


def test_pca_fitted_on_train_only():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(80, 12)) @ rng.normal(size=(12, 12))
    test = rng.normal(size=(20, 12)) * 10 + 5
    pca = fit_pca(train, 4, seed=0)
    comps, mean = pca.components_.copy(), pca.mean_.copy()
    np.testing.assert_allclose(mean, train.mean(axis=0))
    # the components are the top right singular vectors of the centred training data
    _, _, vt = np.linalg.svd(train - train.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(np.abs(np.sum(comps * vt[:4], axis=1)), 1, atol=1e-8)
    z = pca.transform(test)
    assert z.shape == (20, 4)
    np.testing.assert_array_equal(pca.components_, comps)  # transforming test changes nothing
    np.testing.assert_array_equal(pca.mean_, mean)
    np.testing.assert_allclose(z, (test - mean) @ comps.T, atol=1e-10)
    assert not pca.whiten
    with pytest.raises(ValueError):
        fit_pca(train, 13)


def test_feature_pipeline_seed000_style():
    train, test = _images(30, 3, 6, 6, seed=1), _images(5, 3, 6, 6, seed=2)
    pipe = FeaturePipeline(grayscale="luma", pca=8, seed=0)
    with pytest.raises(NotFittedError):
        pipe.transform(test)
    pipe.fit(train)
    xt = pipe.transform(test)
    assert xt.shape == (5, 8) and xt.dtype == np.float32
    # by hand: greyscale, /255, flatten, PCA fitted on the train features
    def feats(im):
        return to_grayscale(im).reshape(len(im), -1).astype(np.float32) / 255

    ref = fit_pca(feats(train), 8, seed=0)
    np.testing.assert_allclose(xt, ref.transform(feats(test)), atol=1e-5)
    np.testing.assert_allclose(pipe.pca_.mean_, feats(train).mean(axis=0), atol=1e-6)
    # without PCA: the raw scaled pixels; with standardisation: zero-mean columns on train
    raw = FeaturePipeline(grayscale="mean").fit(train).transform(test)
    assert raw.shape == (5, 36) and raw.min() >= 0 and raw.max() <= 1
    std = FeaturePipeline(grayscale=None, standardize=True).fit(train)
    assert std.transform(train).shape == (30, 108)
    np.testing.assert_allclose(std.transform(train).mean(axis=0), 0, atol=1e-5)
    with pytest.raises(ValueError):
        pipe.transform(_images(2, 3, 5, 5))
