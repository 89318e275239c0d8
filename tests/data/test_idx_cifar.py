"""MNIST-format IDX files and CIFAR-10 pickles: tiny fixtures written in the real formats."""

import gzip
import pickle
import struct
import tarfile

import numpy as np
import pytest

from nnlab.data.cifar import read_cifar10
from nnlab.data.errors import DataFormatError
from nnlab.data.idx import read_idx, read_mnist


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[type_code]
    head = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + b"".join(struct.pack(">i", d) for d in array.shape)
    return head + array.astype(dtype).tobytes()


def write_mnist(folder, n=6, gz=True, labels=None, rng=None):
    rng = rng or np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.arange(n) % 10 if labels is None else np.asarray(labels)
    for split, stem in (("train", "train"), ("test", "t10k")):
        for kind, arr in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            data = idx_bytes(arr)
            path = folder / f"{stem}-{kind}{'.gz' if gz else ''}"
            path.write_bytes(gzip.compress(data) if gz else data)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_round_trip(tmp_path, gz):
    images, labels = write_mnist(tmp_path, gz=gz)
    ds = read_mnist(tmp_path, "train")
    assert ds.images.shape == (6, 1, 28, 28) and ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.images[:, 0], images)
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.class_names == [str(d) for d in range(10)]


def test_idx_other_types(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    (tmp_path / "f.idx").write_bytes(idx_bytes(a, 0x0D))
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), a)
    b = np.array([-3, 300, 7], dtype=np.int16)
    (tmp_path / "s.idx").write_bytes(idx_bytes(b, 0x0B))
    out = read_idx(tmp_path / "s.idx")
    assert out.dtype.byteorder in ("=", "|") and out.tolist() == [-3, 300, 7]


def test_idx_bad_files_name_the_file_and_the_problem(tmp_path):
    good = idx_bytes(np.zeros((2, 3, 3), np.uint8))
    (tmp_path / "magic").write_bytes(b"\x01\x02" + good[2:])
    with pytest.raises(DataFormatError, match=r"magic.*wrong magic number 0x0102"):
        read_idx(tmp_path / "magic")
    (tmp_path / "trunc").write_bytes(good[:-5])
    with pytest.raises(DataFormatError, match=r"trunc: truncated: header \(2, 3, 3\) needs 18 data bytes, found 13"):
        read_idx(tmp_path / "trunc")
    (tmp_path / "trunc.gz").write_bytes(gzip.compress(good)[:-12])
    with pytest.raises(DataFormatError, match=r"trunc.gz: the gzip stream is truncated or corrupt"):
        read_idx(tmp_path / "trunc.gz")
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(DataFormatError, match="too short"):
        read_idx(tmp_path / "tiny")


def test_mnist_label_out_of_range_and_count_mismatch(tmp_path):
    write_mnist(tmp_path, labels=[0, 1, 2, 3, 4, 12])
    with pytest.raises(DataFormatError, match=r"train-labels-idx1-ubyte.gz: 1 label\(s\) outside 0..9"):
        read_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(5, np.uint8))))
    with pytest.raises(DataFormatError, match="5 labels for 6 images"):
        read_mnist(tmp_path)


def cifar_batch(n, labels, rng):
    return {b"batch_label": b"training batch 1 of 5", b"labels": list(labels),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img{i}.png".encode() for i in range(n)]}


def write_cifar(root, rng=None):
    rng = rng or np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names, b"num_cases_per_batch": 4}, protocol=2))
    batches = {}
    for i in range(1, 6):
        batches[f"data_batch_{i}"] = cifar_batch(4, [7, 1, 7, (i + 2) % 10], rng)
    batches["test_batch"] = cifar_batch(3, [0, 7, 9], rng)
    for name, d in batches.items():
        (folder / name).write_bytes(pickle.dumps(d, protocol=2))
    return batches


def test_cifar_layout_and_channel_order(tmp_path):
    batches = write_cifar(tmp_path)
    ds = read_cifar10(tmp_path, "train")
    assert ds.images.shape == (20, 3, 32, 32) and ds.class_names[7] == "horse"
    first = batches["data_batch_1"][b"data"][0]
    np.testing.assert_array_equal(ds.images[0, 0].ravel(), first[:1024])  # red plane first
    np.testing.assert_array_equal(ds.images[0, 2].ravel(), first[2048:])  # blue plane last
    horses = read_cifar10(tmp_path / "cifar-10-batches-py", "train", classes=["horse"])
    assert len(horses) == 11 and set(horses.labels) == {7}  # 2 per batch + batch 5's fourth
    assert read_cifar10(tmp_path, "test").labels.tolist() == [0, 7, 9]


def test_cifar_from_the_official_tar_gz_in_place(tmp_path):
    write_cifar(tmp_path / "src")
    tar_path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    before = sorted(p.name for p in tmp_path.iterdir())
    ds = read_cifar10(tar_path, "test")
    assert len(ds) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing unpacked


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_cifar_unpickler_refuses_code(tmp_path, capsys):
    write_cifar(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2))
    with pytest.raises(DataFormatError, match=r"data_batch_3: refusing to load (__builtin__|builtins).print"):
        read_cifar10(tmp_path, "train")
    assert "pwned" not in capsys.readouterr().out


def test_cifar_corrupt_and_malformed_batches(tmp_path):
    write_cifar(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    data = batch.read_bytes()
    batch.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"data_batch_2: not a readable CIFAR pickle"):
        read_cifar10(tmp_path, "train")
    batch.write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2))
    with pytest.raises(DataFormatError, match=r"shape \(N, 3072\)"):
        read_cifar10(tmp_path, "train")
    batch.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, protocol=2))
    with pytest.raises(DataFormatError, match="labels outside 0..9"):
        read_cifar10(tmp_path, "train")
    batch.unlink()
    with pytest.raises(DataFormatError, match="data_batch_2: file not found"):
        read_cifar10(tmp_path, "train")


# -- the shared copies (NNLAB_DATA) ------------------------------------------------------
def test_real_mnist_counts(data_dir):
    train = read_mnist(data_dir / "mnist", "train")
    test = read_mnist(data_dir / "mnist", "test")
    assert len(train) == 60000 and len(test) == 10000
    assert list(train.class_counts().values()) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert list(test.class_counts().values()) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_cifar_counts(data_dir):
    horses = read_cifar10(data_dir / "cifar-10", "train", classes=["horse"])
    assert len(horses) == 5000 and horses.images.shape[1:] == (3, 32, 32)
    test = read_cifar10(data_dir / "cifar-10", "test")
    assert set(test.class_counts().values()) == {1000}
    assert horses.files[0].startswith("cifar10_train_") and horses.files[0].endswith("_horse.png")


def test_cifar_truncated_archive_and_missing_path(tmp_path):
    from nnlab.data.errors import MissingDataError

    write_cifar(tmp_path / "src")
    with tarfile.open(tmp_path / "c.tar", "w") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    data = (tmp_path / "c.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"cut.tar: .*tar archive"):
        read_cifar10(tmp_path / "cut.tar", "test")
    with pytest.raises(MissingDataError, match="nope"):
        read_cifar10(tmp_path / "nope")
