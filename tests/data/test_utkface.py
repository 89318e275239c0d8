"""nnlab.data.utkface: labels from file names, folder and tar, skipped names, cache."""

import io
import logging
import os

import numpy as np
import pytest
from PIL import Image

import nnlab.data.utkface as utk
from nnlab.data.cache import cache_dir
from nnlab.data.errors import DataFormatError, MissingDataError
from nnlab.data.utkface import RACES, parse_utkface_name, read_utkface
from tests.data import formats
from tests.data.formats import snapshot
from tests.data.formats import write_tree as make_folder


def jpeg(rng, size=8):
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


#: name -> (age, gender, race) or None when the name does not parse; sorted as in the real tar
NAMES = {
    "100_0_0_20170112213500903.jpg.chip.jpg": (100, 0, 0),
    "1_1_4_20161221193016140.jpg.chip.jpg": (1, 1, 4),
    "24_0_1_20170116220224657 .jpg.chip.jpg": (24, 0, 1),  # space before .jpg: still parses
    "26_1_2_20170116174525125.jpg.chip.jpg": (26, 1, 2),
    "39_1_20170116174525125.jpg.chip.jpg": None,  # race missing: does not parse
    "55_0_0_20170116232725357jpg.chip.jpg": (55, 0, 0),  # dot missing: still parses
    "7_1_3_20170104223713233.jpg.chip.jpg": (7, 1, 3),
}


def members(rng, names=NAMES, top="UTKFace"):
    return {f"{top}/{n}" if top else n: jpeg(rng) for n in names}


def make_tar(path, files, compression=""):
    """Like the real archive: sorted members under a top folder with its own entry."""
    return formats.make_tar(path, files, compression, sort=True, top_dir_entry=True)


def test_parse_names():
    assert parse_utkface_name("UTKFace/100_0_0_20170112213500903.jpg.chip.jpg") == (100, 0, 0)
    assert parse_utkface_name("24_0_1_20170116220224657 .jpg.chip.jpg") == (24, 0, 1)
    assert parse_utkface_name("55_0_0_20170116232725357jpg.chip.jpg") == (55, 0, 0)
    assert parse_utkface_name("39_1_20170116174525125.jpg.chip.jpg") is None
    assert parse_utkface_name("a_0_0_x.jpg") is None
    assert parse_utkface_name("-3_0_0_x.jpg") == (-3, 0, 0)  # parses, then fails the range check


def test_read_tar(tmp_path, rng, caplog):
    files = members(rng)
    tar = make_tar(tmp_path / "utk.tar", files)
    with caplog.at_level(logging.WARNING, logger="nnlab.data.utkface"):
        ims = read_utkface(tar)
    good = {f"UTKFace/{n}": v for n, v in NAMES.items() if v is not None}
    assert ims.files == sorted(good)
    assert ims.images.shape == (6, 3, 8, 8) and ims.images.dtype == np.uint8
    assert ims.class_names == RACES == ["White", "Black", "Asian", "Indian", "Others"]
    for i, f in enumerate(ims.files):
        age, gender, race = good[f]
        assert (ims.targets["age"][i], ims.targets["gender"][i], ims.targets["race"][i]) == (age, gender, race)
        assert ims.labels[i] == race
    assert ims.targets["age"].dtype == np.int64
    # the unparseable name is skipped, recorded and logged, never silently
    assert [n for n, _ in ims.skipped] == ["UTKFace/39_1_20170116174525125.jpg.chip.jpg"]
    assert "does not parse" in ims.skipped[0][1]
    assert "skipped 1 file" in caplog.text and "39_1_20170116174525125" in caplog.text
    assert any(r.name == "nnlab.data.utkface" for r in caplog.records)
    # pixels: as Pillow decodes the JPEG
    expected = np.asarray(Image.open(io.BytesIO(files[ims.files[0]])).convert("RGB")).transpose(2, 0, 1)
    np.testing.assert_array_equal(ims.images[0], expected)


def test_folder_and_archive_variants_agree(tmp_path, rng):
    files = members(rng)
    ref = read_utkface(make_tar(tmp_path / "a" / "utk.tar", files), cache=False)
    folder = read_utkface(make_folder(tmp_path / "f", files))
    assert folder.files == ref.files
    np.testing.assert_array_equal(folder.images, ref.images)
    inner = read_utkface(tmp_path / "f" / "UTKFace")  # the image folder itself
    assert inner.files == [f.split("/", 1)[1] for f in ref.files]
    gz = read_utkface(make_tar(tmp_path / "g" / "utk.tar.gz", files, "gz"))
    np.testing.assert_array_equal(gz.images, ref.images)
    via_folder = read_utkface(tmp_path / "a")  # a folder holding just the archive
    np.testing.assert_array_equal(via_folder.images, ref.images)
    with pytest.raises(MissingDataError, match="no UTKFace images"):
        read_utkface(make_folder(tmp_path / "empty", {"README.md": b"x"}))
    with pytest.raises(MissingDataError):
        read_utkface(tmp_path / "does-not-exist")


@pytest.mark.parametrize("bad, what", [
    ("30_0_5_20170101000000000.jpg.chip.jpg", "race 5"),
    ("30_2_0_20170101000000000.jpg.chip.jpg", "gender 2"),
    ("-1_0_0_20170101000000000.jpg.chip.jpg", "age -1"),
])
def test_labels_out_of_range(tmp_path, rng, bad, what):
    tar = make_tar(tmp_path / "utk.tar", members(rng, list(NAMES) + [bad]))
    with pytest.raises(DataFormatError, match=f"{bad.split('_')[0]}_.*{what}") as err:
        read_utkface(tar, on_error="raise")
    assert "utk.tar" in str(err.value)
    ims = read_utkface(tar, on_error="skip")
    assert len(ims) == 6
    assert (f"UTKFace/{bad}", dict(ims.skipped)[f"UTKFace/{bad}"]) in ims.skipped
    assert what in dict(ims.skipped)[f"UTKFace/{bad}"]


def test_undecodable_image(tmp_path, rng):
    files = members(rng)
    files["UTKFace/50_1_1_20170101000000000.jpg.chip.jpg"] = jpeg(rng)[:60]  # truncated JPEG
    tar = make_tar(tmp_path / "utk.tar", files)
    with pytest.raises(DataFormatError, match="50_1_1_20170101000000000"):
        read_utkface(tar, on_error="raise")
    ims = read_utkface(tar)
    assert len(ims) == 6
    assert "UTKFace/50_1_1_20170101000000000.jpg.chip.jpg" in dict(ims.skipped)


def test_truncated_tar(tmp_path, rng):
    tar = make_tar(tmp_path / "utk.tar", members(rng))
    data = tar.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="cut.tar.*truncated"):
        read_utkface(cut)


def test_cache_hit_invalidation_and_no_writes(tmp_path, rng, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    tar = make_tar(data / "utk.tar", members(rng))
    before = snapshot(data)
    first = read_utkface(tar)
    assert snapshot(data) == before  # nothing written next to the data
    assert list((cache_dir()).rglob("utkface-*.npz"))

    def boom(*a, **k):
        raise AssertionError("decoded again although the cache is valid")

    with monkeypatch.context() as m:
        m.setattr(utk, "decode_files", boom)
        second = read_utkface(tar)
        np.testing.assert_array_equal(second.images, first.images)
        for k in ("age", "gender", "race"):
            np.testing.assert_array_equal(second.targets[k], first.targets[k])
        assert second.files == first.files and second.skipped == first.skipped
        with pytest.raises(AssertionError, match="decoded again"):
            read_utkface(tar, cache=False)
    # the archive changes: the cache entry no longer applies
    make_tar(tar, members(rng, list(NAMES)[:3]))
    st = tar.stat()
    os.utime(tar, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert len(read_utkface(tar)) == 3
    assert snapshot(data) != before and [p for p, *_ in snapshot(data)] == ["utk.tar"]


def test_on_error_is_checked(tmp_path, rng):
    with pytest.raises(ValueError, match="on_error"):
        read_utkface(tmp_path, on_error="warn")


# ------------------------------------------------------------------------------------------
# real data (NNLAB_DATA): the counts the README states


_REAL = {}


def real(data_dir):
    """The shared UTKFace, loaded once per test session (without the cache). Load times are
    measured by benchmarks/data_loading.py, not asserted here."""
    tar = data_dir / "utkface" / "UTKFace_aligned_cropped_64x64_q90.tar"
    if tar not in _REAL:
        _REAL[tar] = read_utkface(tar, cache=False)
    return _REAL[tar]


@pytest.mark.slow
def test_real_utkface_counts(data_dir):
    ims = real(data_dir)
    assert len(ims) == 23_705 and ims.images.shape == (23_705, 3, 64, 64) and ims.images.dtype == np.uint8
    assert sorted(n for n, _ in ims.skipped) == [
        "UTKFace/39_1_20170116174525125.jpg.chip.jpg",
        "UTKFace/61_1_20170109142408075.jpg.chip.jpg",
        "UTKFace/61_1_20170109150557335.jpg.chip.jpg",
    ]
    assert np.bincount(ims.targets["gender"]).tolist() == [12_391, 11_314]
    assert np.bincount(ims.targets["race"]).tolist() == [10_078, 4_526, 3_434, 3_975, 1_692]
    assert ims.class_counts() == dict(zip(RACES, [10_078, 4_526, 3_434, 3_975, 1_692]))
    age = ims.targets["age"]
    assert (age.min(), age.max(), np.median(age)) == (1, 116, 29)
    decades = np.bincount(np.minimum(age // 10, 9)).tolist()
    assert decades == [3062, 1531, 7344, 4536, 2245, 2299, 1316, 699, 504, 169]
    # the two malformed names that still parse
    assert "UTKFace/24_0_1_20170116220224657 .jpg.chip.jpg" in ims.files
    assert "UTKFace/55_0_0_20170116232725357jpg.chip.jpg" in ims.files
    assert "UTKFace/5_0_1_20170117193745507.jpg.chip.jpg" in ims.files  # the 23,708th file


@pytest.mark.slow
def test_real_utkface_cache_and_no_writes(data_dir, monkeypatch):
    folder = data_dir / "utkface"
    before = snapshot(folder)
    cold = read_utkface(folder)  # the folder holding the archive; fills the cache

    def no_decoding(*args, **kwargs):
        raise AssertionError("the second read decoded images instead of using the cache")

    monkeypatch.setattr(utk, "decode_files", no_decoding)
    warm = read_utkface(folder)
    assert np.array_equal(warm.images, cold.images)  # (assert_array_equal takes seconds on 290 MB)
    for k in ("age", "gender", "race"):
        np.testing.assert_array_equal(warm.targets[k], cold.targets[k])
    assert warm.files == cold.files and warm.skipped == cold.skipped and len(warm) == 23_705
    assert snapshot(folder) == before
