import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from nnlab.data.dataset import ImageSet
from nnlab.data.features import FeaturePipeline, Standardizer, fit_pca
from nnlab.data.palettes import fit_palette, palette_image, quantize
from nnlab.data.preprocess import downscale, resize, scale01, to_grayscale
from nnlab.data.splits import split_imageset, split_indices
from nnlab.data.superres import assemble, sr_patches


def _images(n=6, c=3, h=8, w=10, seed=0, dtype=np.uint8):
    x = np.random.default_rng(seed).integers(0, 256, size=(n, c, h, w))
    return x.astype(np.uint8) if dtype == np.uint8 else (x / 255).astype(dtype)


# ---------------------------------------------------------------- greyscale and scaling

def test_grayscale_values_by_hand():
    img = np.zeros((1, 3, 1, 4), np.uint8)
    img[0, :, 0, 0] = (255, 0, 0)      # luma 76.245 -> 76, mean 85
    img[0, :, 0, 1] = (0, 255, 0)      # luma 149.685 -> 150, mean 85
    img[0, :, 0, 2] = (10, 20, 31)     # luma 2.99 + 11.74 + 3.534 = 18.264 -> 18, mean 20.33 -> 20
    img[0, :, 0, 3] = (1, 2, 2)        # mean 5/3 = 1.67 -> 2
    luma = to_grayscale(img, "luma")
    mean = to_grayscale(img, "mean")
    assert luma.shape == (1, 1, 1, 4) and luma.dtype == np.uint8
    assert luma[0, 0, 0].tolist() == [76, 150, 18, 2]
    assert mean[0, 0, 0].tolist() == [85, 85, 20, 2]
    f = to_grayscale(img.astype(np.float32) / 255, "luma")
    assert f.dtype == np.float32
    np.testing.assert_allclose(f[0, 0, 0, :3] * 255, [76.245, 149.685, 18.264], rtol=1e-5)


def test_grayscale_matches_pillow_within_one_level():
    from PIL import Image

    img = _images(1, 3, 16, 16, seed=3)[0]
    ours = to_grayscale(img, "luma")[0]
    pil = np.asarray(Image.fromarray(img.transpose(1, 2, 0)).convert("L"))
    assert np.abs(ours.astype(int) - pil.astype(int)).max() <= 1
    assert (ours == pil).mean() > 0.95


def test_grayscale_single_channel_unchanged_and_bad_channels():
    one = _images(2, 1)
    assert to_grayscale(one) is one
    with pytest.raises(ValueError, match=r"\(2, 4, 8, 10\)"):
        to_grayscale(_images(2, 4))
    with pytest.raises(ValueError):
        to_grayscale(_images(2, 3), method="green")


def test_scale01():
    x = np.array([[[[0, 51, 255]]]], np.uint8)
    s = scale01(x)
    assert s.dtype == np.float32
    np.testing.assert_array_equal(s.ravel(), np.array([0, 0.2, 1], np.float32))
    assert scale01(np.array([[0.5]], np.float64)).dtype == np.float32
    with pytest.raises(ValueError, match="0, 1"):
        scale01(np.array([0.0, 2.0], np.float32))
    with pytest.raises(ValueError):
        scale01(np.array([0.0, np.nan], np.float32))


# ---------------------------------------------------------------- standardisation and PCA

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


# ---------------------------------------------------------------- resize

def test_resize_keeps_dtype_and_values():
    x = np.full((2, 3, 8, 8), 200, np.uint8)
    x[1] = 17
    r = resize(x, (4, 6))
    assert r.shape == (2, 3, 4, 6) and r.dtype == np.uint8
    assert np.all(r[0] == 200) and np.all(r[1] == 17)  # constant images stay constant, no mixing
    f = resize(x.astype(np.float32) / 255, (16, 16), anti_aliasing=False)
    assert f.dtype == np.float32 and f.shape == (2, 3, 16, 16)
    single = resize(_images(1)[0], (4, 5))
    assert single.shape == (3, 4, 5)
    # each channel of each image is resized on its own, exactly as skimage does it
    from skimage.transform import resize as sk_resize

    imgs = _images(3, 3, 8, 10, seed=4, dtype=np.float64)
    ours = resize(imgs, (5, 7))
    for n in range(3):
        for c in range(3):
            np.testing.assert_allclose(ours[n, c], sk_resize(imgs[n, c], (5, 7), order=1, anti_aliasing=True), atol=1e-12)
    # 2x box-like downsampling of a checkerboard ends near the mean
    board = (np.indices((16, 16)).sum(axis=0) % 2 * 255).astype(np.uint8)[None, None]
    assert abs(resize(board, (8, 8)).astype(float).mean() - 127.5) < 2


# ---------------------------------------------------------------- splits

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


# ---------------------------------------------------------------- super-resolution patches

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


def test_downscale_box_average_and_crop():
    img = np.arange(2 * 5 * 7, dtype=np.float64).reshape(2, 5, 7)
    lr = downscale(img, 2)
    assert lr.shape == (2, 2, 3)
    assert lr[1, 1, 2] == img[1, 2:4, 4:6].mean()
    u8 = downscale(np.array([[[0, 1], [1, 1]]], np.uint8), 2)
    assert u8.dtype == np.uint8 and u8[0, 0, 0] == 1  # 0.75 rounds to 1


# ---------------------------------------------------------------- colourization palette

def _palette_images(seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, (5, 3))
    which = rng.integers(0, 5, (4, 12, 12))
    x = centres[which] + rng.integers(-6, 7, (4, 12, 12, 3))
    return np.clip(x, 0, 255).astype(np.uint8).transpose(0, 3, 1, 2)


def test_palette_deterministic_sorted_and_quantize_brute_force():
    images = _palette_images()
    p1 = fit_palette(images, k=5, seed=0, max_pixels=300)
    p2 = fit_palette(images, k=5, seed=0, max_pixels=300)
    np.testing.assert_array_equal(p1, p2)
    assert p1.shape == (5, 3) and p1.dtype == np.float32
    lum = p1 @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(lum) >= 0)
    q = quantize(images, p1, chunk_pixels=100)  # several chunks
    px = images.transpose(0, 2, 3, 1).astype(np.float64)
    brute = np.array([[[np.argmin([np.sum((px[n, i, j] - c) ** 2) for c in p1.astype(np.float64)])
                        for j in range(12)] for i in range(12)] for n in range(4)])
    np.testing.assert_array_equal(q, brute)
    assert q.shape == (4, 12, 12) and q.dtype == np.int64
    recon = palette_image(q, p1)
    assert recon.shape == images.shape and recon.dtype == np.uint8
    assert np.abs(recon.astype(int) - images.astype(int)).max() <= 12  # 5 tight clusters


def test_palette_seed_changes_sample_and_errors():
    images = _palette_images(1)
    a = fit_palette(images, k=8, seed=0, max_pixels=200)
    b = fit_palette(images, k=8, seed=1, max_pixels=200)
    assert not np.array_equal(a, b)
    with pytest.raises(ValueError):
        fit_palette(np.zeros((1, 3, 4, 4), np.uint8), k=3)  # one distinct colour
    with pytest.raises(ValueError):
        palette_image(np.full((1, 2, 2), 8), a)
