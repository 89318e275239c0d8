import pickle

import numpy as np
import pytest

from nnlab.data.augment import (
    ColorJitter,
    Compose,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    TorchTransform,
    augment_offline,
    format_counts,
    paired_horizontal_flip,
)
from nnlab.data.dataset import ImageSet

TRANSFORMS = {
    "flip": lambda: RandomHorizontalFlip(0.5),
    "rotate": lambda: RandomRotation(15),
    "rotate_edge": lambda: RandomRotation(15, mode="edge"),
    "crop_reflect": lambda: RandomCrop(16, padding=4),
    "crop_constant": lambda: RandomCrop((16, 16), padding=3, pad_mode="constant"),
    "jitter": lambda: ColorJitter(0.3, 0.3),
    "compose": lambda: Compose([RandomCrop(16, 2), RandomHorizontalFlip(), ColorJitter(), RandomRotation(5)]),
}


def _batch(dtype=np.uint8, n=6, seed=0):
    x = np.random.default_rng(seed).integers(0, 256, (n, 3, 16, 16))
    return x.astype(np.uint8) if dtype == np.uint8 else (x / 255).astype(dtype)


def _gen(seed):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_shape_dtype_and_seeding(name, dtype):
    t = TRANSFORMS[name]()
    x = _batch(dtype)
    before = x.copy()
    out = t(x, _gen(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(x, before)  # input untouched
    one = t(x[0], _gen(0))
    assert one.shape == x[0].shape and one.dtype == x.dtype
    np.testing.assert_array_equal(t(x, _gen(0)), out)  # same seed, same output
    assert not np.array_equal(t(x, _gen(1)), out)  # different seed, different output
    lo, hi = (0, 255) if dtype == np.uint8 else (0, 1)
    assert out.min() >= lo and out.max() <= hi


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_batch_is_independent_per_image(name):
    t = TRANSFORMS[name]()
    x = np.repeat(_batch(n=1), 8, axis=0)  # 8 identical images
    out = t(x, _gen(3))
    assert len({o.tobytes() for o in out}) > 1  # not the same draw for every image
    g = _gen(3)
    np.testing.assert_array_equal(out, np.stack([t(img, g) for img in x]))


def test_flip_twice_is_identity_and_p():
    x = _batch()
    always = RandomHorizontalFlip(p=1.0)
    np.testing.assert_array_equal(always(x, _gen(0))[..., ::-1], x)
    np.testing.assert_array_equal(always(always(x, _gen(0)), _gen(1)), x)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x, _gen(0)), x)
    with pytest.raises(ValueError):
        RandomHorizontalFlip(p=1.5)


def test_rotation_zero_is_identity_and_fill_is_not_black():
    x = _batch(np.float32)
    np.testing.assert_allclose(RandomRotation(0)(x, _gen(0)), x, atol=1e-6)
    bright = np.full((1, 3, 16, 16), 200, np.uint8)
    rotated = RandomRotation(30, mode="reflect")(bright, _gen(0))
    assert np.all(rotated == 200)  # reflect fill: no black corners
    constant = RandomRotation(30, mode="constant")(bright, _gen(0))
    assert constant.min() < 100  # corners filled with 0
    with pytest.raises(ValueError):
        RandomRotation(10, mode="nearest-ish")


def _reference_flip_crop(x, rng, p, size, padding, mode, fill=0):
    """Flip then pad-and-crop written out image by image, drawing as the transforms document:
    per image one uniform (flip), then top, then left."""
    out = []
    for img in x:
        if rng.random() < p:
            img = img[..., ::-1]
        kw = {"constant_values": fill} if mode == "constant" else {}
        padded = np.pad(img, ((0, 0), (padding, padding), (padding, padding)), mode=mode, **kw)
        top = int(rng.integers(0, padded.shape[1] - size[0] + 1))
        left = int(rng.integers(0, padded.shape[2] - size[1] + 1))
        out.append(padded[:, top:top + size[0], left:left + size[1]])
    return np.stack(out)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("mode,padding,size", [("reflect", 3, (16, 16)), ("constant", 4, (12, 14)),
                                               ("reflect", 0, (10, 16))])
def test_batched_flip_and_crop_draw_and_cut_as_image_by_image(dtype, mode, padding, size):
    x = _batch(dtype, n=9, seed=4)
    chain = Compose([RandomHorizontalFlip(0.5), RandomCrop(size, padding, mode, fill=0.25 if dtype != np.uint8 else 7)])
    assert chain.batched                                    # the one-pass path is the one under test
    fill = 0.25 if dtype != np.uint8 else 7
    np.testing.assert_array_equal(chain(x, _gen(11)), _reference_flip_crop(x, _gen(11), 0.5, size, padding, mode, fill))
    g = _gen(5)                                             # a single image: the same draws
    np.testing.assert_array_equal(chain(x[2], g), _reference_flip_crop(x[2:3], _gen(5), 0.5, size, padding, mode, fill)[0])
    with_rotation = Compose([RandomHorizontalFlip(), RandomRotation(5)])
    assert not with_rotation.batched                        # any unbatched transform: image by image


def test_crop_with_padding_keeps_size_and_content():
    x = _batch(n=4)
    crop = RandomCrop(16, padding=4, pad_mode="constant")
    out = crop(x, _gen(0))
    assert out.shape == x.shape
    # every output is a window of the zero-padded input
    for o, img in zip(out, x):
        padded = np.pad(img, ((0, 0), (4, 4), (4, 4)))
        found = any(np.array_equal(padded[:, t:t + 16, left:left + 16], o) for t in range(9) for left in range(9))
        assert found
    smaller = RandomCrop((8, 12), padding=0)(x, _gen(0))
    assert smaller.shape == (4, 3, 8, 12)
    with pytest.raises(ValueError):
        RandomCrop(30, padding=4)(x, _gen(0))
    with pytest.raises(ValueError):
        RandomCrop(16, pad_mode="wrap")


def test_jitter_stays_in_range_and_changes_values():
    white = np.full((4, 3, 8, 8), 250, np.uint8)
    out = ColorJitter(brightness=0.5, contrast=0.5)(white, _gen(0))
    assert out.dtype == np.uint8 and out.max() <= 255
    f = np.random.default_rng(0).random((4, 3, 8, 8)).astype(np.float32)
    jf = ColorJitter(0.8, 0.8)(f, _gen(1))
    assert jf.dtype == np.float32 and jf.min() >= 0 and jf.max() <= 1
    assert not np.allclose(jf, f)
    np.testing.assert_array_equal(ColorJitter(0, 0)(f, _gen(0)), f)


def test_generator_required():
    with pytest.raises(TypeError):
        RandomHorizontalFlip()(_batch(), 0)
    with pytest.raises(ValueError):
        RandomHorizontalFlip()(np.zeros((16, 16), np.uint8), _gen(0))


# ---------------------------------------------------------------- PyTorch adapter

def test_torch_transform_numpy_and_tensor():
    torch = pytest.importorskip("torch")
    t = TorchTransform(Compose([RandomCrop(16, 4), RandomHorizontalFlip()]), seed=0)
    x = _batch()[0]
    out_np = t(x)
    assert isinstance(out_np, np.ndarray) and out_np.shape == x.shape
    out_t = t(torch.from_numpy(x.astype(np.float32) / 255))
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32 and out_t.shape == (3, 16, 16)
    # the main-process generator advances: consecutive calls differ; a fresh adapter repeats
    a = TorchTransform(RandomCrop(16, 4), seed=7)
    first, second = a(x), a(x)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(TorchTransform(RandomCrop(16, 4), seed=7)(x), first)
    with pytest.raises(TypeError):
        t([1, 2, 3])


class _Images:
    def __init__(self, images, transform):
        self.images, self.transform = images, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        import torch

        return self.transform(torch.from_numpy(self.images[i])), i


def _epoch(loader):
    return np.concatenate([b[0].numpy() for b in loader])


def test_torch_transform_in_dataloader():
    pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    images = np.repeat(_batch(n=1), 12, axis=0)  # identical images: only augmentation differs
    loader = DataLoader(_Images(images, TorchTransform(RandomCrop(16, 4), seed=0)), batch_size=4, num_workers=0)
    e1, e2 = _epoch(loader), _epoch(loader)
    assert e1.shape == (12, 3, 16, 16) and e1.dtype == np.uint8
    assert len({im.tobytes() for im in e1}) > 6  # different crops for identical images
    assert not np.array_equal(e1, e2)  # the next epoch gets new augmentations
    again = DataLoader(_Images(images, TorchTransform(RandomCrop(16, 4), seed=0)), batch_size=4, num_workers=0)
    np.testing.assert_array_equal(_epoch(again), e1)  # reproducible from the seed


def test_torch_transform_per_worker_generators(monkeypatch):
    pytest.importorskip("torch")
    import torch.utils.data as tud

    class Info:
        def __init__(self, id, seed):
            self.id, self.seed = id, seed

    t = TorchTransform(RandomCrop(16, 4), seed=0)
    x = _batch(n=1)[0]
    results = {}
    for wid in (0, 1):
        copy = pickle.loads(pickle.dumps(t))  # what a DataLoader worker gets
        monkeypatch.setattr(tud, "get_worker_info", lambda wid=wid: Info(wid, 1000 + wid))
        results[wid] = np.stack([copy(x) for _ in range(6)])
    assert not np.array_equal(results[0], results[1])  # workers do not repeat each other
    monkeypatch.setattr(tud, "get_worker_info", lambda: Info(0, 1000))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(t))(x), results[0][0])  # reproducible


@pytest.mark.slow
def test_torch_transform_real_workers_differ():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    images = np.repeat(_batch(n=1), 8, axis=0)

    def loader(seed):
        ds = _Images(images, TorchTransform(RandomCrop(16, 4), seed=0))
        return DataLoader(ds, batch_size=4, num_workers=2, generator=torch.Generator().manual_seed(seed))

    first = loader(0)
    batches = [b[0].numpy() for b in first]  # batch 0 from worker 0, batch 1 from worker 1
    assert not np.array_equal(batches[0], batches[1])  # workers do not repeat each other
    assert not np.array_equal(_epoch(first), np.concatenate(batches))  # nor do epochs
    np.testing.assert_array_equal(_epoch(loader(0)), np.concatenate(batches))  # reproducible


# ---------------------------------------------------------------- offline augmentation

def _imageset():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 5 + [1] * 2 + [2] * 8)
    return ImageSet(images=rng.integers(0, 256, (15, 1, 8, 8)).astype(np.uint8), labels=labels,
                    class_names=["angry", "disgust", "happy"], name="fer", split="train",
                    targets={"id": np.arange(15)}, files=[f"img{i}.png" for i in range(15)])


def test_augment_offline_copies():
    ims = _imageset()
    out, report = augment_offline(ims, RandomHorizontalFlip(1.0), copies=2, seed=0)
    assert len(out) == 45
    assert report["before"] == {"angry": 5, "disgust": 2, "happy": 8}
    assert report["after"] == {"angry": 15, "disgust": 6, "happy": 24} == out.class_counts()
    assert report["added"] == {"angry": 10, "disgust": 4, "happy": 16}
    np.testing.assert_array_equal(out.images[:15], ims.images)
    np.testing.assert_array_equal(out.images[15:30], ims.images[..., ::-1])
    assert out.files[15] == "img0.png#aug1" and out.files[30] == "img0.png#aug2"
    np.testing.assert_array_equal(out.targets["id"], np.tile(np.arange(15), 3))
    np.testing.assert_array_equal(out.labels, np.tile(ims.labels, 3))
    default, _ = augment_offline(ims, RandomHorizontalFlip(), seed=0)
    assert len(default) == 30  # one copy by default


def test_augment_offline_per_class_target():
    ims = _imageset()
    t = Compose([RandomCrop(8, 2), RandomHorizontalFlip()])
    out, report = augment_offline(ims, t, per_class_target=6, seed=3)
    assert report["after"] == {"angry": 6, "disgust": 6, "happy": 8} == out.class_counts()
    assert report["added"] == {"angry": 1, "disgust": 4, "happy": 0}
    src = report["source_index"]
    assert len(src) == len(out) and np.array_equal(out.labels, ims.labels[src])
    # disgust (2 images, 4 needed) uses each image twice: #aug1 and #aug2
    names = sorted(f for f in out.files[15:] if f.split("#")[0] in ("img5.png", "img6.png"))
    assert names == ["img5.png#aug1", "img5.png#aug2", "img6.png#aug1", "img6.png#aug2"]
    again, _ = augment_offline(ims, t, per_class_target=6, seed=3)
    np.testing.assert_array_equal(again.images, out.images)
    table = format_counts(report)
    assert "disgust" in table and "total" in table
    assert table.splitlines()[0].split() == ["class", "before", "added", "after"]
    assert table.splitlines()[-1].split() == ["total", "15", "5", "20"]
    with pytest.raises(ValueError):
        augment_offline(ims, t, copies=1, per_class_target=6)


def test_augment_offline_rejects_shape_changes():
    with pytest.raises(ValueError, match="keeps the shape"):
        augment_offline(_imageset(), RandomCrop(4, padding=0), copies=1)


def test_paired_flip_mirrors_image_and_target_together():
    rng = np.random.default_rng(0)
    x = rng.random((64, 2, 5, 7))
    y = rng.integers(0, 9, (64, 5, 7))
    xa, ya = paired_horizontal_flip(x, y, np.random.default_rng(1))
    flipped = np.array([np.array_equal(a, b[..., ::-1]) for a, b in zip(xa, x)])
    kept = np.array([np.array_equal(a, b) for a, b in zip(xa, x)])
    assert (flipped | kept).all() and 10 < flipped.sum() < 54      # each image mirrored or not, about half
    assert all(np.array_equal(ya[i], y[i][:, ::-1] if flipped[i] else y[i]) for i in range(64))
    assert np.array_equal(xa, paired_horizontal_flip(x, y, np.random.default_rng(1))[0])  # seeded
    assert xa is not x and np.array_equal(x, np.random.default_rng(0).random((64, 2, 5, 7)))  # input untouched
    with pytest.raises(Exception, match="same N"):
        paired_horizontal_flip(x, y[:, :4], rng)
    with pytest.raises(Exception, match="probability"):
        paired_horizontal_flip(x, y, rng, p=2)


def test_paired_shift_moves_image_and_target_by_the_same_offset():
    from nnlab.data.augment import paired_random_shift

    rng = np.random.default_rng(0)
    x = rng.random((40, 3, 8, 9))
    y = rng.integers(0, 24, (40, 8, 9))
    xa, ya = paired_random_shift(x, y, np.random.default_rng(1), padding=2)
    assert xa.shape == x.shape and ya.shape == y.shape and ya.dtype == y.dtype
    xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")
    yp = np.pad(y, ((0, 0), (2, 2), (2, 2)), mode="reflect")
    offsets = set()
    for i in range(40):                       # each image is one window of its padded self, its target the same window
        hits = [(t, l) for t in range(5) for l in range(5) if np.array_equal(xa[i], xp[i, :, t:t + 8, l:l + 9])]
        assert len(hits) == 1
        (t, l), = hits
        assert np.array_equal(ya[i], yp[i, t:t + 8, l:l + 9])
        offsets.add((t, l))
    assert len(offsets) > 10                  # the windows vary
    np.testing.assert_array_equal(xa, paired_random_shift(x, y, np.random.default_rng(1), padding=2)[0])  # seeded
    y4 = y[:, None].astype(np.float32)        # targets with a channel axis take the same windows
    np.testing.assert_array_equal(paired_random_shift(x, y4, np.random.default_rng(1), padding=2)[1][:, 0], ya)
    np.testing.assert_array_equal(paired_random_shift(x, y, rng, padding=0)[0], x)
    with pytest.raises(Exception, match="padding"):
        paired_random_shift(x, y, rng, padding=8)
    with pytest.raises(Exception, match="same N"):
        paired_random_shift(x, y[:5], rng)


def test_paired_flip_and_shift_keeps_pixel_correspondence():
    from nnlab.data.augment import paired_flip_and_shift

    x = np.random.default_rng(0).integers(0, 6, (30, 1, 6, 6)).astype(np.float32)
    y = x[:, 0].astype(np.int64) * 2                   # the target is a function of the pixel
    xa, ya = paired_flip_and_shift(padding=2)(x, y, np.random.default_rng(3))
    np.testing.assert_array_equal(ya, xa[:, 0].astype(np.int64) * 2)
    assert not np.array_equal(xa, x)


def test_random_erasing_fills_one_rectangle_with_noise():
    from nnlab.data.augment import RandomErasing

    x = np.full((200, 1, 20, 20), 0.5, dtype=np.float32)
    out = RandomErasing(p=0.5, scale=(0.05, 0.2))(x, np.random.default_rng(0))
    changed = (out != 0.5).reshape(200, -1)
    erased = changed.any(1)
    assert 60 < erased.sum() < 140 and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    for img, mask in zip(out[erased], changed[erased]):          # one axis-aligned rectangle per erased image
        rows, cols = np.nonzero((img[0] != 0.5))
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert mask.sum() <= box <= 0.2 * 400 + 20 and mask.sum() >= 0.6 * box
    np.testing.assert_array_equal(out, RandomErasing(p=0.5, scale=(0.05, 0.2))(x, np.random.default_rng(0)))
    u8 = RandomErasing(p=1.0)(np.zeros((3, 16, 16), dtype=np.uint8), np.random.default_rng(1))
    assert u8.dtype == np.uint8 and u8.max() > 0
    assert np.array_equal(RandomErasing(p=0.0)(x, np.random.default_rng(0)), x)
    with pytest.raises(Exception, match="probability"):
        RandomErasing(p=1.5)
