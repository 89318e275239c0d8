"""nnlab.data.images: decoding single images, folder-per-class trees (folder and tar), loose images."""

import io
import logging
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nnlab.data.images as images_mod
from nnlab.data.cache import cache_dir
from nnlab.data.errors import DataFormatError, MissingDataError
from nnlab.data.images import decode_image, read_image_folder, read_images
from tests.data.formats import encode, make_tar, snapshot, write


def make_tree(root, rng, classes=("cat", "dog"), per_class=2, size=(6, 5), split=None):
    """ROOT/[split/]<class>/img<i>.png with random RGB pixels; returns {relative name: pixels}."""
    out = {}
    for c in classes:
        for i in range(per_class):
            arr = rng.integers(0, 256, size + (3,), dtype=np.uint8)
            rel = "/".join(p for p in (split, c, f"img{i}.png") if p)
            write(Path(root) / rel, encode(arr))
            out[rel] = arr
    return out





def tree_members(root):
    """{relative posix name: bytes} of every file below ``root``, sorted."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------
# decode_image


def test_decode_rgb_and_gray_png(rng):
    rgb = rng.integers(0, 256, (4, 7, 3), dtype=np.uint8)
    out = decode_image(encode(rgb), "x.png")
    assert out.dtype == np.uint8 and out.shape == (3, 4, 7)
    np.testing.assert_array_equal(out, rgb.transpose(2, 0, 1))
    gray = rng.integers(0, 256, (4, 7), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image(encode(gray)), gray[None])


def test_decode_mode_conversion(rng, tmp_path):
    gray = rng.integers(0, 256, (3, 5), dtype=np.uint8)
    rgb = decode_image(encode(gray), mode="RGB")
    assert rgb.shape == (3, 3, 5)
    np.testing.assert_array_equal(rgb[0], gray)
    np.testing.assert_array_equal(rgb[2], gray)
    colour = rng.integers(0, 256, (3, 5, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(colour).convert("L"))
    np.testing.assert_array_equal(decode_image(encode(colour), mode="L")[0], expected)
    # from a path, and RGBA (alpha dropped)
    rgba = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8)
    p = write(tmp_path / "a.png", encode(rgba))
    np.testing.assert_array_equal(decode_image(p), rgba[..., :3].transpose(2, 0, 1))


def test_decode_palette_bmp_jpeg_and_16bit(rng):
    arr = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    pal = Image.fromarray(arr).quantize(8)
    buf = io.BytesIO()
    pal.save(buf, "PNG")
    assert decode_image(buf.getvalue()).shape == (3, 6, 6)
    assert decode_image(encode(arr, "BMP")).shape == (3, 6, 6)
    assert decode_image(encode(arr, "JPEG")).shape == (3, 6, 6)
    deep = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    buf = io.BytesIO()
    Image.fromarray(deep).save(buf, "PNG")  # a 16-bit grayscale PNG
    out = decode_image(buf.getvalue())
    assert out.shape == (1, 3, 4)
    np.testing.assert_array_equal(out[0], (deep >> 8).astype(np.uint8))


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_decode_garbage_names_the_file(data):
    with pytest.raises(DataFormatError, match="bad.png") as err:
        decode_image(data, "some/dir/bad.png")
    assert err.value.path == "some/dir/bad.png"


def test_decode_truncated_png_and_jpeg(rng):
    arr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for fmt in ("PNG", "JPEG"):
        data = encode(arr, fmt)
        with pytest.raises(DataFormatError, match="cut"):
            decode_image(data[: len(data) // 2], f"cut.{fmt.lower()}")


def test_decode_missing_file_and_bad_mode(tmp_path):
    with pytest.raises(MissingDataError, match="nope.png"):
        decode_image(tmp_path / "nope.png")
    with pytest.raises(ValueError, match="mode"):
        decode_image(b"", mode="CMYK")


# ------------------------------------------------------------------------------------------
# read_image_folder: folders


def test_folder_classes_sorted_and_labels(tmp_path, rng):
    truth = make_tree(tmp_path / "data", rng, classes=("zebra", "ant", "Moth"), per_class=2)
    ims = read_image_folder(tmp_path / "data")
    assert ims.class_names == ["Moth", "ant", "zebra"]  # plain sorted order
    assert ims.images.shape == (6, 3, 6, 5) and ims.images.dtype == np.uint8
    assert ims.files == sorted(truth)
    for img, lab, f in zip(ims.images, ims.labels, ims.files):
        np.testing.assert_array_equal(img, truth[f].transpose(2, 0, 1))
        assert ims.class_names[lab] == f.split("/")[0]
    assert ims.skipped == []
    assert ims.class_counts() == {"Moth": 2, "ant": 2, "zebra": 2}


def test_folder_given_classes_order_case_and_unknown(tmp_path, rng, caplog):
    make_tree(tmp_path / "d", rng, classes=("Dog", "cat", "bird"), per_class=1)
    with caplog.at_level(logging.WARNING):
        ims = read_image_folder(tmp_path / "d", classes=["dog", "cat", "fish"])
    assert ims.class_names == ["dog", "cat", "fish"]
    assert sorted(ims.labels.tolist()) == [0, 1]
    assert ims.labels[ims.files.index("Dog/img0.png")] == 0
    assert ims.skipped and ims.skipped[0][0] == "bird" and "not among the classes" in ims.skipped[0][1]
    assert "fish" in caplog.text and "skipped 1" in caplog.text


def test_folder_split_dirs_and_names(tmp_path, rng):
    make_tree(tmp_path / "set", rng, split="train", per_class=2)
    make_tree(tmp_path / "set", rng, split="Test", classes=("cat", "dog", "eel"), per_class=1)
    train = read_image_folder(tmp_path / "set", split_dirs="train")
    assert len(train) == 4 and train.split == "train" and train.class_names == ["cat", "dog"]
    test = read_image_folder(tmp_path / "set", split_dirs="test")  # case-insensitive
    assert len(test) == 3 and test.class_names == ["cat", "dog", "eel"]
    both = read_image_folder(tmp_path / "set", split_dirs=["train", "Test"])
    assert len(both) == 7 and both.class_counts() == {"cat": 3, "dog": 3, "eel": 1}
    with pytest.raises(MissingDataError, match="valid"):
        read_image_folder(tmp_path / "set", split_dirs="valid")
    with pytest.raises(MissingDataError, match="nowhere"):
        read_image_folder(tmp_path / "nowhere")


def test_folder_skips_non_images_ignores_hidden(tmp_path, rng):
    make_tree(tmp_path / "d", rng, per_class=1)
    write(tmp_path / "d" / "cat" / "notes.txt", b"hello")
    write(tmp_path / "d" / "README.md", b"loose file")
    write(tmp_path / "d" / ".DS_Store", b"\0\0")
    write(tmp_path / "d" / ".ipynb_checkpoints" / "x.png", encode(np.zeros((6, 5, 3))))
    ims = read_image_folder(tmp_path / "d")
    assert len(ims) == 2 and ims.class_names == ["cat", "dog"]
    reasons = dict(ims.skipped)
    assert "not an image" in reasons["cat/notes.txt"]
    assert "not inside a class folder" in reasons["README.md"]
    assert not any(".DS_Store" in n or "ipynb" in n for n in reasons)


def test_folder_corrupt_image_raise_or_skip(tmp_path, rng, caplog):
    make_tree(tmp_path / "d", rng, per_class=2)
    write(tmp_path / "d" / "dog" / "broken.png", b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DataFormatError, match="broken.png") as err:
        read_image_folder(tmp_path / "d", on_error="raise")
    assert str(tmp_path / "d" / "dog" / "broken.png") in str(err.value)
    with caplog.at_level(logging.WARNING):
        ims = read_image_folder(tmp_path / "d")  # on_error="skip" is the default
    assert len(ims) == 4
    assert [n for n, _ in ims.skipped] == ["dog/broken.png"]
    assert "broken.png" in caplog.text
    with pytest.raises(ValueError, match="on_error"):
        read_image_folder(tmp_path / "d", on_error="ignore")


def test_folder_odd_size_raise_or_skip(tmp_path, rng):
    make_tree(tmp_path / "d", rng, per_class=2, size=(6, 5))
    write(tmp_path / "d" / "cat" / "big.png", encode(np.zeros((9, 9, 3))))
    with pytest.raises(DataFormatError, match="big.png.*9x9.*5x6"):
        read_image_folder(tmp_path / "d", on_error="raise")
    ims = read_image_folder(tmp_path / "d", on_error="skip")
    assert len(ims) == 4 and ims.skipped[0][0] == "cat/big.png"


def test_folder_mixed_channels(tmp_path, rng):
    make_tree(tmp_path / "d", rng, per_class=2)  # 4 RGB images
    gray = rng.integers(0, 256, (6, 5), dtype=np.uint8)
    write(tmp_path / "d" / "dog" / "gray.png", encode(gray))
    ims = read_image_folder(tmp_path / "d")  # majority: RGB
    assert ims.images.shape == (5, 3, 6, 5)
    g = ims.images[ims.files.index("dog/gray.png")]
    np.testing.assert_array_equal(g, np.repeat(gray[None], 3, 0))
    assert read_image_folder(tmp_path / "d", mode="L").images.shape == (5, 1, 6, 5)


def test_folder_all_unreadable_is_an_error(tmp_path):
    write(tmp_path / "d" / "a" / "x.png", b"junk")
    with pytest.raises(DataFormatError, match="no readable images"):
        read_image_folder(tmp_path / "d")
    write(tmp_path / "e" / "a" / "x.txt", b"junk")
    with pytest.raises(DataFormatError, match="no images"):
        read_image_folder(tmp_path / "e")


# ------------------------------------------------------------------------------------------
# read_image_folder: tar archives


@pytest.mark.parametrize("compression", ["", "gz", "xz"])
def test_tar_matches_folder(tmp_path, rng, compression):
    make_tree(tmp_path / "src" / "Top", rng, split="train", per_class=2)
    make_tree(tmp_path / "src" / "Top", rng, split="test", per_class=1)
    tar = make_tar(tmp_path / f"set.tar{'.' + compression if compression else ''}",
                   tree_members(tmp_path / "src"), compression)
    from_dir = read_image_folder(tmp_path / "src" / "Top" / "train")
    from_tar = read_image_folder(f"{tar}/Top/train")
    np.testing.assert_array_equal(from_tar.images, from_dir.images)
    np.testing.assert_array_equal(from_tar.labels, from_dir.labels)
    assert from_tar.class_names == from_dir.class_names == ["cat", "dog"]
    assert from_tar.files == ["Top/train/" + f for f in from_dir.files]
    # a prefix as a keyword, a split folder, case-insensitive names
    again = read_image_folder(tar, split_dirs="TRAIN", prefix="top")
    np.testing.assert_array_equal(again.images, from_dir.images)
    assert len(read_image_folder(tar, prefix="Top/test")) == 2
    with pytest.raises(MissingDataError, match="nothere"):
        read_image_folder(f"{tar}/Top/nothere")


def test_tar_corrupt_member_raise_or_skip(tmp_path, rng):
    make_tree(tmp_path / "src", rng, per_class=1)
    members = tree_members(tmp_path / "src")
    members["dog/zz_bad.jpg"] = b"\xff\xd8\xff\xe0 this is no jpeg"
    tar = make_tar(tmp_path / "x.tar", members)
    with pytest.raises(DataFormatError, match=r"x\.tar/dog/zz_bad\.jpg"):
        read_image_folder(tar, on_error="raise")
    ims = read_image_folder(tar)
    assert len(ims) == 2 and ims.skipped[0][0] == "dog/zz_bad.jpg"


def test_tar_links_not_followed(tmp_path, rng):
    make_tree(tmp_path / "src", rng, per_class=1)
    tar = tmp_path / "links.tar"
    make_tar(tar, tree_members(tmp_path / "src"))
    with tarfile.open(tar, "a") as tf:
        info = tarfile.TarInfo("cat/evil.png")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    ims = read_image_folder(tar)
    assert len(ims) == 2
    assert ("cat/evil.png", "not a regular file (link or device); not read") in ims.skipped


def test_truncated_tar_is_an_error(tmp_path, rng):
    make_tree(tmp_path / "src", rng, per_class=3, size=(40, 40))
    good = make_tar(tmp_path / "good.tar", tree_members(tmp_path / "src"))
    data = good.read_bytes()
    # cut inside a member's data, at a header boundary (no end marker), and inside a header
    with tarfile.open(good) as tf:
        m = tf.getmembers()
    cuts = {"mid-data": m[1].offset_data + 100, "boundary": m[2].offset, "mid-header": m[2].offset + 200}
    for what, cut in cuts.items():
        bad = write(tmp_path / f"cut-{what}.tar", data[:cut])
        with pytest.raises(DataFormatError, match="truncated") as err:
            read_image_folder(bad)
        assert f"cut-{what}.tar" in str(err.value), what
    gz = make_tar(tmp_path / "good.tar.gz", tree_members(tmp_path / "src"), "gz")
    bad = write(tmp_path / "cut.tar.gz", gz.read_bytes()[: gz.stat().st_size // 2])
    with pytest.raises(DataFormatError, match="cut.tar.gz"):
        read_image_folder(bad)
    notatar = write(tmp_path / "notatar.tar", b"hello" * 300)
    with pytest.raises(DataFormatError, match="notatar.tar.*not a readable tar"):
        read_image_folder(notatar)


# ------------------------------------------------------------------------------------------
# cache, and nothing written next to the data


def test_nothing_written_into_the_data_folder(tmp_path, rng, monkeypatch):
    data = tmp_path / "data"
    make_tree(data / "tree", rng, per_class=2)
    make_tar(data / "t.tar", tree_members(data / "tree"))
    before = snapshot(data)
    read_image_folder(data / "tree", cache=True)
    read_image_folder(data / "t.tar", cache=True)
    read_image_folder(data / "tree", cache=True)  # from the cache
    read_images(data / "tree" / "cat")
    assert snapshot(data) == before
    assert list((cache_dir()).rglob("*.npz"))  # the cache went to NNLAB_CACHE


def test_cache_hit_and_invalidation(tmp_path, rng, monkeypatch):
    make_tree(tmp_path / "src", rng, per_class=2)
    tar = make_tar(tmp_path / "t.tar", tree_members(tmp_path / "src"))
    first = read_image_folder(tar, cache=True)

    def boom(*a, **k):
        raise AssertionError("decoded again although the cache is valid")

    decode_files = images_mod.decode_files
    monkeypatch.setattr(images_mod, "decode_files", boom)
    second = read_image_folder(tar, cache=True)
    np.testing.assert_array_equal(first.images, second.images)
    assert second.files == first.files and second.class_names == first.class_names
    monkeypatch.setattr(images_mod, "decode_files", decode_files)
    # change the archive: one more class; the entry must be rebuilt
    make_tree(tmp_path / "src", rng, classes=("eel",), per_class=1)
    make_tar(tar, tree_members(tmp_path / "src"))
    st = tar.stat()
    os.utime(tar, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = read_image_folder(tar, cache=True)
    assert len(third) == 5 and third.class_names == ["cat", "dog", "eel"]


# ------------------------------------------------------------------------------------------
# read_images


def test_read_images_sizes_and_channels(tmp_path, rng):
    a = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    g = rng.integers(0, 256, (4, 4), dtype=np.uint8)
    write(tmp_path / "sr" / "b.png", encode(b))
    write(tmp_path / "sr" / "a.bmp", encode(a, "BMP"))
    write(tmp_path / "sr" / "c.png", encode(g))
    write(tmp_path / "sr" / "d.jpg", encode(a, "JPEG"))
    write(tmp_path / "sr" / "notes.txt", b"x")
    out = read_images(tmp_path / "sr")
    assert [n for n, _ in out] == ["a.bmp", "b.png", "c.png", "d.jpg"]
    assert [x.shape for _, x in out] == [(3, 10, 12), (3, 7, 5), (3, 4, 4), (3, 10, 12)]
    np.testing.assert_array_equal(out[0][1], a.transpose(2, 0, 1))
    np.testing.assert_array_equal(out[2][1], np.repeat(g[None], 3, 0))
    one = read_images([tmp_path / "sr" / "c.png", tmp_path / "sr" / "b.png"])
    assert [n for n, _ in one] == ["c.png", "b.png"] and one[0][1].shape == (1, 4, 4)
    assert read_images(tmp_path / "sr" / "b.png", mode="L")[0][1].shape == (1, 7, 5)


def test_read_images_errors(tmp_path, rng):
    write(tmp_path / "sr" / "ok.png", encode(np.zeros((3, 3, 3))))
    write(tmp_path / "sr" / "bad.png", b"nope")
    with pytest.raises(DataFormatError, match="bad.png"):
        read_images(tmp_path / "sr")
    assert [n for n, _ in read_images(tmp_path / "sr", on_error="skip")] == ["ok.png"]
    with pytest.raises(MissingDataError):
        read_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="no image files"):
        read_images(tmp_path / "empty")


# ------------------------------------------------------------------------------------------
# real data (NNLAB_DATA)


SR_SIZES = {  # README: name -> (width, height), mode
    "set5": {"baby": (512, 512), "bird": (288, 288), "butterfly": (256, 256), "head": (280, 280),
             "woman": (228, 344)},
    "set14": {"baboon": (500, 480), "barbara": (720, 576), "bridge": (512, 512), "coastguard": (352, 288),
              "comic": (250, 361), "face": (276, 276), "flowers": (500, 362), "foreman": (352, 288),
              "lenna": (512, 512), "man": (512, 512), "monarch": (768, 512), "pepper": (512, 512),
              "ppt3": (529, 656), "zebra": (586, 391)},
}


@pytest.mark.parametrize("bench", ["set5", "set14"])
def test_real_sr_benchmarks(data_dir, bench):
    folder = data_dir / "sr-benchmarks" / bench
    before = snapshot(folder)
    out = read_images(folder)
    assert {Path(n).stem: (x.shape[2], x.shape[1]) for n, x in out} == SR_SIZES[bench]
    assert all(x.shape[0] == 3 and x.dtype == np.uint8 for _, x in out)
    if bench == "set14":
        bridge = dict(out)["bridge.png"]  # grayscale in the file: converted to RGB (the majority)
        assert (bridge[0] == bridge[1]).all() and (bridge[1] == bridge[2]).all()
        assert read_images(folder / "bridge.png")[0][1].shape == (1, 512, 512)
    assert snapshot(folder) == before


def test_real_fer_tar_as_generic_folder(data_dir):
    tar = data_dir / "fer2013" / "FER2013_images.tar"
    ims = read_image_folder(f"{tar}/FER2013/test")
    assert ims.class_names == sorted(["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"])
    assert ims.class_counts() == {"angry": 958, "disgust": 111, "fear": 1024, "happy": 1774, "neutral": 1233,
                                  "sad": 1247, "surprise": 831}
    assert ims.images.shape == (7178, 1, 48, 48) and ims.skipped == []
