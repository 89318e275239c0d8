import numpy as np
import pytest

from nnlab.data.preprocess import downscale, resize, scale01, to_grayscale


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


# ---------------------------------------------------------------- super-resolution patches


def test_downscale_box_average_and_crop():
    img = np.arange(2 * 5 * 7, dtype=np.float64).reshape(2, 5, 7)
    lr = downscale(img, 2)
    assert lr.shape == (2, 2, 3)
    assert lr[1, 1, 2] == img[1, 2:4, 4:6].mean()
    u8 = downscale(np.array([[[0, 1], [1, 1]]], np.uint8), 2)
    assert u8.dtype == np.uint8 and u8[0, 0, 0] == 1  # 0.75 rounds to 1


# ---------------------------------------------------------------- colourization palette


