"""Where data comes from: search order, offline errors, checksummed downloads, the cache."""

import hashlib
import os

import numpy as np
import pytest

from nnlab.cli import main
from nnlab.data import ChecksumError, MissingDataError, load
from nnlab.data.cache import cache_dir, cached_arrays
from nnlab.data.sources import DataFiles, RemoteFile, fetch, locate
from tests.data.test_idx_cifar import write_mnist

SPEC = DataFiles("toy", ((RemoteFile("a.bin"), RemoteFile("b.bin")),), how_to_get="Ask the instructor.")


def make(root, *names):
    (root / "toy").mkdir(parents=True, exist_ok=True)
    for n in names:
        (root / "toy" / n).write_bytes(b"x")


def test_search_order_data_dir_then_env_then_cache(tmp_path, monkeypatch):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    make(explicit, "a.bin", "b.bin")
    make(env, "a.bin", "b.bin")
    make(cache_dir() / "data", "a.bin", "b.bin")
    monkeypatch.setenv("NNLAB_DATA", str(env))
    assert locate(SPEC, explicit)[0] == explicit / "toy"
    assert locate(SPEC)[0] == env / "toy"
    with pytest.raises(MissingDataError, match="Only --data-dir was looked in"):   # never a silent fall-through
        locate(SPEC, tmp_path / "elsewhere")
    monkeypatch.delenv("NNLAB_DATA")
    assert locate(SPEC)[0] == cache_dir() / "data" / "toy"


def test_incomplete_folders_are_skipped_and_the_error_lists_what_goes_where(tmp_path, monkeypatch):
    make(tmp_path / "d", "a.bin")  # b.bin missing
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    with pytest.raises(MissingDataError) as exc:
        locate(SPEC, tmp_path / "d", name="toyset")
    msg = str(exc.value)
    assert "data set 'toyset' not found" in msg
    assert f"{tmp_path / 'd' / 'toy'}  (--data-dir; incomplete)" in msg
    assert "(cache; folder missing)" not in msg and "Only --data-dir was looked in" in msg
    assert "a.bin" in msg and "b.bin" in msg and "Ask the instructor." in msg
    with pytest.raises(MissingDataError, match=r"\(cache; folder missing\)"):
        locate(SPEC, name="toyset")                                    # no --data-dir: every root is listed
    assert "nnlab data fetch" not in msg  # no public download for this set


def remote(tmp_path, payload: bytes, good=True):
    src = tmp_path / "server" / "file.bin"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(payload)
    digest = hashlib.sha256(payload if good else payload + b"!").hexdigest()
    return RemoteFile("file.bin", url=src.as_uri(), sha256=digest, size=len(payload))


def test_fetch_verifies_and_reports_progress(tmp_path):
    f = remote(tmp_path, b"0123456789" * 1000)
    seen = []
    path = fetch(f, tmp_path / "dest", progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == b"0123456789" * 1000
    assert seen[-1] == (10000, 10000)


def test_fetch_with_a_bad_checksum_leaves_nothing_behind(tmp_path):
    f = remote(tmp_path, b"payload", good=False)
    with pytest.raises(ChecksumError, match="sha256 .* expected"):
        fetch(f, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []


def test_unreachable_source_is_a_clear_error(tmp_path):
    f = RemoteFile("x.bin", url=(tmp_path / "nothing-here.bin").as_uri())
    with pytest.raises(MissingDataError, match="could not download x.bin"):
        fetch(f, tmp_path / "dest")


def test_locate_downloads_public_sets_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    f = remote(tmp_path, b"abc")
    spec = DataFiles("pub", ((f,),))
    with pytest.raises(MissingDataError, match="nnlab data fetch pub"):
        locate(spec, name="pub")
    folder, _ = locate(spec, download=True)
    assert folder == cache_dir() / "data" / "pub" and (folder / "file.bin").read_bytes() == b"abc"


def test_cache_is_used_and_invalidated_when_the_source_changes(tmp_path):
    src = tmp_path / "source.bin"
    src.write_bytes(b"one")
    calls = []

    def build():
        calls.append(1)
        return {"x": np.frombuffer(src.read_bytes(), np.uint8).copy()}, {"n": len(calls)}

    a, meta = cached_arrays("toy", [src], {"p": 1}, build)
    b, meta2 = cached_arrays("toy", [src], {"p": 1}, build)
    assert len(calls) == 1 and meta2 == {"n": 1} and np.array_equal(a["x"], b["x"])
    cached_arrays("toy", [src], {"p": 2}, build)  # other parameters: another entry
    assert len(calls) == 2
    src.write_bytes(b"two!")
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10**9))
    c, _ = cached_arrays("toy", [src], {"p": 1}, build)
    assert len(calls) == 3 and bytes(c["x"]) == b"two!"
    assert str(cache_dir()).startswith(str(tmp_path.parent.parent))  # the tests' private cache


def test_registry_load_and_cli_show(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    write_mnist(tmp_path / "data" / "mnist", n=20)
    ds = load("mnist", "test", data_dir=tmp_path / "data")
    assert len(ds) == 20 and ds.split == "test"
    out = tmp_path / "figs"
    assert main(["data", "show", "mnist", "--data-dir", str(tmp_path / "data"), "--out", str(out)]) == 0
    assert (out / "train-samples.png").stat().st_size > 1000
    assert (out / "train-class-counts.png").stat().st_size > 1000
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(ValueError, match="splits"):
        load("mnist", "validation", data_dir=tmp_path / "data")
    with pytest.raises(KeyError, match="unknown data set 'imagenet'"):
        load("imagenet")


def test_cli_missing_data_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    with pytest.raises(SystemExit, match=r"(?s)utkface.*not found.*UTKFace_aligned_cropped_64x64_q90.tar"):
        main(["data", "show", "utkface", "--data-dir", str(tmp_path)])


def test_cli_data_list(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    write_mnist(tmp_path / "mnist", n=3)
    assert main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"splits: train, test; {tmp_path / 'mnist'}" in out
    assert "fer2013" in out and "missing" in out
