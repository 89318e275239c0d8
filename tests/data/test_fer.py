"""nnlab.data.fer: FER2013 image folders (folder and tar), the FER2013 CSV, AffectNet-style trees."""

import gzip
import logging
import re
from pathlib import Path

import numpy as np
import pytest

import nnlab.data.images as images_mod
from nnlab.data.cache import cache_dir
from nnlab.data.errors import DataFormatError, MissingDataError
from nnlab.data.fer import FER_CLASSES, read_affectnet, read_fer2013, read_fer2013_csv
from tests.data.formats import encode, make_tar, snapshot, tree_members, write

#: a tiny FER2013 tree: train count per class (folder order is alphabetical, not FER order)
TRAIN_COUNTS = {"angry": 2, "disgust": 1, "fear": 2, "happy": 3, "neutral": 2, "sad": 1, "surprise": 2}
TEST_COUNTS = {"angry": 1, "disgust": 1, "fear": 1, "happy": 1, "neutral": 2, "sad": 1, "surprise": 1}


def make_fer_tree(root, rng, top="FER2013"):
    """FER2013/train/<class>/Training_<i>.png and FER2013/test/<class>/PublicTest_<i>.jpg.

    Each train image is filled with its class's FER index, so labels can be checked from pixels.
    """
    base = Path(root) / top if top else Path(root)
    i = 0
    for c, n in TRAIN_COUNTS.items():
        for _ in range(n):
            write(base / "train" / c / f"Training_{i:05d}.png", encode(np.full((48, 48), FER_CLASSES.index(c))))
            i += 1
    for c, n in TEST_COUNTS.items():
        for _ in range(n):
            write(base / "test" / c / f"PublicTest_{i:05d}.jpg", encode(rng.integers(0, 256, (48, 48)), "JPEG"))
            i += 1
    return base


def check_train(ims):
    assert ims.images.shape == (13, 1, 48, 48) and ims.images.dtype == np.uint8
    assert ims.class_names == FER_CLASSES == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert ims.class_counts() == {c: TRAIN_COUNTS[c] for c in FER_CLASSES}
    # every image's pixel value is its FER index: labels follow the CSV order, not the folder order
    np.testing.assert_array_equal(ims.images[:, 0, 0, 0], ims.labels)
    assert ims.labels[ims.files.index(next(f for f in ims.files if "/neutral/" in f))] == 6
    assert ims.split == "train" and ims.skipped == []


# ------------------------------------------------------------------------------------------
# FER2013 image folders


def test_fer_folder_layouts(tmp_path, rng):
    make_fer_tree(tmp_path / "a", rng)
    for p in (tmp_path / "a", tmp_path / "a" / "FER2013"):
        check_train(read_fer2013(p, "train"))
    make_fer_tree(tmp_path / "b", rng, top="fer2013")
    check_train(read_fer2013(tmp_path / "b", "train"))
    test = read_fer2013(tmp_path / "a", "test")
    assert test.images.shape == (8, 1, 48, 48)
    assert test.class_counts() == {c: TEST_COUNTS[c] for c in FER_CLASSES}
    assert all(f.startswith("test/") for f in test.files)  # relative to the FER2013 folder


def test_fer_tar_layouts(tmp_path, rng):
    make_fer_tree(tmp_path / "src", rng)
    tar = make_tar(tmp_path / "data" / "fer2013" / "FER2013_images.tar", tree_members(tmp_path / "src"), sort=True)
    from_dir = read_fer2013(tmp_path / "src", "train")
    for p in (tar, tar.parent, tmp_path / "data", f"{tar}/FER2013"):
        ims = read_fer2013(p, "train")
        check_train(ims)
        np.testing.assert_array_equal(ims.images, from_dir.images)
    assert read_fer2013(tar, "train").files[0] == "FER2013/train/angry/Training_00000.png"
    assert len(read_fer2013(tar, "test")) == 8


def test_fer_case_and_extra_folders(tmp_path, rng, caplog):
    base = make_fer_tree(tmp_path / "d", rng)
    (base / "train" / "happy").rename(base / "train" / "Happy")
    write(base / "train" / "contempt" / "x.png", encode(np.zeros((48, 48))))
    with caplog.at_level(logging.WARNING):
        ims = read_fer2013(tmp_path / "d", "train")
    assert ims.class_counts()["happy"] == 3
    assert [n for n, _ in ims.skipped] == ["contempt"] and "contempt" in caplog.text


def test_fer_corrupt_image(tmp_path, rng, caplog):
    base = make_fer_tree(tmp_path / "d", rng)
    write(base / "train" / "sad" / "Training_99999.png", b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(DataFormatError, match="Training_99999.png"):
        read_fer2013(tmp_path / "d", "train", on_error="raise")
    with caplog.at_level(logging.WARNING, logger="nnlab.data.fer"):
        ims = read_fer2013(tmp_path / "d", "train")
    assert len(ims) == 13 and [n for n, _ in ims.skipped] == ["train/sad/Training_99999.png"]
    assert "Training_99999.png" in caplog.text
    # from the cache: the skipped file is still reported
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nnlab.data.fer"):
        again = read_fer2013(tmp_path / "d", "train")
    assert again.skipped == ims.skipped and "Training_99999.png" in caplog.text


def test_fer_missing_and_bad_arguments(tmp_path, rng):
    write(tmp_path / "nothing" / "README.md", b"x")
    with pytest.raises(MissingDataError, match="FER2013/train"):
        read_fer2013(tmp_path / "nothing")
    make_fer_tree(tmp_path / "d", rng)
    with pytest.raises(ValueError, match="split"):
        read_fer2013(tmp_path / "d", "validation")
    tar = make_tar(tmp_path / "fer.tar", {"FER2013/train/angry/a.png": encode(np.zeros((48, 48)))}, sort=True)
    with pytest.raises(MissingDataError, match="no test/ folder"):
        read_fer2013(tar, "test")


def test_fer_truncated_tar(tmp_path, rng):
    make_fer_tree(tmp_path / "src", rng)
    data = make_tar(tmp_path / "fer.tar", tree_members(tmp_path / "src"), sort=True).read_bytes()
    cut = write(tmp_path / "cut" / "fer.tar", data[: len(data) * 2 // 3])
    with pytest.raises(DataFormatError, match=r"cut/fer\.tar.*truncated"):
        read_fer2013(cut, "train")


def test_fer_cache_and_no_writes(tmp_path, rng, monkeypatch):
    make_fer_tree(tmp_path / "src", rng)
    data = tmp_path / "data"
    make_tar(data / "fer2013" / "FER2013_images.tar", tree_members(tmp_path / "src"), sort=True)
    write(data / "affectnet" / "Train" / "happy" / "a.png", encode(np.zeros((8, 8, 3))))
    write(data / "affectnet" / "Validation" / "happy" / "b.png", encode(np.zeros((8, 8, 3))))
    before = snapshot(data)
    first = read_fer2013(data, "train")
    read_fer2013(data, "test")
    read_affectnet(data / "affectnet", "train")
    with monkeypatch.context() as m:
        m.setattr(images_mod, "decode_files", lambda *a, **k: pytest.fail("decoded although cached"))
        second = read_fer2013(data, "train")
        read_affectnet(data / "affectnet", "train")
    np.testing.assert_array_equal(first.images, second.images)
    assert second.files == first.files
    assert snapshot(data) == before
    assert len(list((cache_dir()).rglob("*.npz"))) == 3


# ------------------------------------------------------------------------------------------
# FER2013 CSV


def csv_text(rows, header="emotion,pixels,Usage"):
    return header + "\n" + "".join(f"{e},{p},{u}\n" for e, p, u in rows)


def pixels(rng, n=2304):
    return " ".join(map(str, rng.integers(0, 256, n)))


@pytest.fixture
def fer_rows(rng):
    return [(0, pixels(rng), "Training"), (3, pixels(rng), "Training"), (6, pixels(rng), "PublicTest"),
            (2, pixels(rng), "PrivateTest"), (5, pixels(rng), "Training")]


def test_csv(tmp_path, fer_rows):
    path = write(tmp_path / "fer2013.csv", csv_text(fer_rows).encode())
    ims = read_fer2013_csv(path)
    assert ims.images.shape == (5, 1, 48, 48) and ims.images.dtype == np.uint8
    assert ims.labels.tolist() == [0, 3, 6, 2, 5] and ims.class_names == FER_CLASSES
    np.testing.assert_array_equal(ims.images[2, 0].ravel(), np.array(fer_rows[2][1].split(), int))
    assert ims.files == [f"fer2013.csv:{i}" for i in range(2, 7)]
    train = read_fer2013_csv(path, usage="Training")
    assert train.labels.tolist() == [0, 3, 5] and train.split == "Training"
    assert read_fer2013_csv(path, usage="PrivateTest").labels.tolist() == [2]
    with pytest.raises(ValueError, match="usage"):
        read_fer2013_csv(path, usage="Validation")


def test_csv_header_variants_and_gzip(tmp_path, fer_rows):
    # icml_face_data.csv: other column order, spaces in the header
    text = "emotion, Usage, pixels\n" + "".join(f"{e},{u},{p}\n" for e, p, u in fer_rows)
    a = read_fer2013_csv(write(tmp_path / "icml_face_data.csv", text.encode()), usage="Training")
    assert a.labels.tolist() == [0, 3, 5]
    gz = write(tmp_path / "fer2013.csv.gz", gzip.compress(csv_text(fer_rows).encode()))
    assert len(read_fer2013_csv(gz)) == 5
    # Kaggle train.csv has no Usage column: fine unless a usage is asked for
    plain = write(tmp_path / "train.csv", ("emotion,pixels\n" + "".join(f"{e},{p}\n" for e, p, _ in fer_rows)).encode())
    assert len(read_fer2013_csv(plain)) == 5
    with pytest.raises(DataFormatError, match="train.csv.*missing column.*Usage"):
        read_fer2013_csv(plain, usage="Training")


def test_csv_missing_columns(tmp_path, rng):
    path = write(tmp_path / "bad.csv", b"label,Usage\n0,Training\n")
    with pytest.raises(DataFormatError, match="missing column") as err:
        read_fer2013_csv(path)
    assert "bad.csv" in str(err.value) and "emotion" in err.value.problem and "pixels" in err.value.problem
    with pytest.raises(DataFormatError, match="empty"):
        read_fer2013_csv(write(tmp_path / "empty.csv", b""))
    with pytest.raises(MissingDataError):
        read_fer2013_csv(tmp_path / "nope.csv")


@pytest.mark.parametrize("row, problem", [
    ((0, "2303 pixels", "Training"), "2303 pixel values, expected 2304"),
    ((7, None, "Training"), "emotion 7 out of range"),
    ((-1, None, "Training"), "emotion -1 out of range"),
    (("x", None, "Training"), "emotion 'x' is not an integer"),
    ((1, "256", "Training"), "out of 0..255"),
    ((1, "float", "Training"), "not all integers"),
])
def test_csv_bad_rows(tmp_path, rng, fer_rows, row, problem, caplog):
    e, p, u = row
    if p is None:
        p = pixels(rng)
    elif p == "2303 pixels":
        p = pixels(rng, 2303)
    elif p == "256":
        p = pixels(rng, 2303) + " 256"
    elif p == "float":
        p = pixels(rng, 2303) + " 1.5"
    rows = fer_rows[:2] + [(e, p, u)] + fer_rows[2:]
    path = write(tmp_path / "fer2013.csv", csv_text(rows).encode())
    with pytest.raises(DataFormatError, match=f"fer2013.csv: line 4: .*{re.escape(problem)}"):
        read_fer2013_csv(path, on_error="raise")
    with caplog.at_level(logging.WARNING, logger="nnlab.data.fer"):
        ims = read_fer2013_csv(path, on_error="skip")
    assert len(ims) == 5 and ims.skipped == [("fer2013.csv:4", ims.skipped[0][1])]
    assert problem.split(",")[0] in ims.skipped[0][1]
    assert "fer2013.csv:4" in caplog.text


def test_csv_wrong_field_count(tmp_path, fer_rows):
    text = csv_text(fer_rows) + "3,1 2 3\n"
    path = write(tmp_path / "f.csv", text.encode())
    with pytest.raises(DataFormatError, match="line 7: 2 fields, the header has 3"):
        read_fer2013_csv(path, on_error="raise")
    assert len(read_fer2013_csv(path)) == 5


# ------------------------------------------------------------------------------------------
# AffectNet-style trees


def make_affectnet(root, rng, size=(12, 12)):
    spec = {"Train": {"Anger": 2, "happy": 3, "Neutral": 1}, "Validation": {"anger": 1, "Happy": 1, "contempt": 1}}
    for split, classes in spec.items():
        for c, n in classes.items():
            for i in range(n):
                write(Path(root) / split / c / f"{i}.jpg", encode(rng.integers(0, 256, size + (3,)), "JPEG"))
    return spec


def test_affectnet(tmp_path, rng):
    make_affectnet(tmp_path / "aff", rng)
    train = read_affectnet(tmp_path / "aff", "train")
    val = read_affectnet(tmp_path / "aff", "validation")
    names = ["anger", "contempt", "happy", "neutral"]  # both splits' folders, lower-cased, sorted
    assert train.class_names == val.class_names == names
    assert train.class_counts() == {"anger": 2, "contempt": 0, "happy": 3, "neutral": 1}
    assert val.class_counts() == {"anger": 1, "contempt": 1, "happy": 1, "neutral": 0}
    assert train.images.shape == (6, 3, 12, 12) and train.split == "train" and val.split == "validation"
    assert read_affectnet(tmp_path / "aff", "val").class_counts() == val.class_counts()
    assert read_affectnet(tmp_path / "aff", "train", mode="L").images.shape == (6, 1, 12, 12)


def test_affectnet_nested_lowercase_and_tar(tmp_path, rng):
    make_affectnet(tmp_path / "src" / "AffectNet", rng)
    (tmp_path / "src" / "AffectNet" / "Train").rename(tmp_path / "src" / "AffectNet" / "train")
    ref = read_affectnet(tmp_path / "src", "train")  # one folder down, lower-case split folder
    assert len(ref) == 6
    tar = make_tar(tmp_path / "aff.tar", tree_members(tmp_path / "src"), sort=True)
    from_tar = read_affectnet(tar, "train")
    np.testing.assert_array_equal(from_tar.images, ref.images)
    assert from_tar.class_names == ref.class_names


def test_affectnet_errors(tmp_path, rng):
    make_affectnet(tmp_path / "aff", rng)
    write(tmp_path / "aff" / "Train" / "happy" / "big.jpg", encode(np.zeros((20, 20, 3)), "JPEG"))
    write(tmp_path / "aff" / "Train" / "happy" / "bad.jpg", b"\xff\xd8 not a jpeg")
    with pytest.raises(DataFormatError, match="bad.jpg"):
        read_affectnet(tmp_path / "aff", "train", on_error="raise", cache=False)
    (tmp_path / "aff" / "Train" / "happy" / "bad.jpg").unlink()
    with pytest.raises(DataFormatError, match="big.jpg.*20x20"):
        read_affectnet(tmp_path / "aff", "train", on_error="raise", cache=False)
    ims = read_affectnet(tmp_path / "aff", "train")
    assert len(ims) == 6 and [n for n, _ in ims.skipped] == ["Train/happy/big.jpg"]
    with pytest.raises(ValueError, match="split"):
        read_affectnet(tmp_path / "aff", "test")
    with pytest.raises(MissingDataError, match="no validation folder"):
        read_affectnet(tmp_path / "aff" / "Train", "validation")


# ------------------------------------------------------------------------------------------
# real data (NNLAB_DATA): the counts the README states

REAL_TRAIN = {"angry": 3000, "disgust": 436, "fear": 3000, "happy": 3000, "sad": 3000, "surprise": 3000,
              "neutral": 3000}
REAL_TEST = {"angry": 958, "disgust": 111, "fear": 1024, "happy": 1774, "sad": 1247, "surprise": 831,
             "neutral": 1233}


@pytest.mark.slow
@pytest.mark.parametrize("split, counts, total", [("train", REAL_TRAIN, 18_436), ("test", REAL_TEST, 7_178)])
def test_real_fer2013(data_dir, split, counts, total):
    folder = data_dir / "fer2013"
    before = snapshot(folder)
    ims = read_fer2013(folder / "FER2013_images.tar", split)
    assert ims.class_names == FER_CLASSES
    assert ims.class_counts() == counts and len(ims) == total == sum(counts.values())
    assert ims.images.shape == (total, 1, 48, 48) and ims.images.dtype == np.uint8
    assert ims.skipped == []
    prefix = "Training_" if split == "train" else ("PublicTest_", "PrivateTest_")
    assert all(Path(f).name.startswith(prefix) for f in ims.files)
    if split == "test":
        assert sum("PublicTest_" in f for f in ims.files) == 3_589
    again = read_fer2013(data_dir, split)  # the data root; from the cache
    assert np.array_equal(again.images, ims.images) and np.array_equal(again.labels, ims.labels)
    assert snapshot(folder) == before
