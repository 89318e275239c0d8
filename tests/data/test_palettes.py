"""The CSC321 palette files: read without running code, in the assignment's formats."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.data.errors import DataFormatError, MissingDataError
from nnlab.data.palettes import csc321_file, fit_palette, palette_image, quantize, read_csc321_palette
from nnlab.data.registry import load


def write_palette(path, codebook, distortion=0.05):
    """A palette in the assignment's format: an object array [codebook, distortion], pickled."""
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = codebook, np.float64(distortion)
    np.save(path, obj, allow_pickle=True)
    return path


def test_reads_the_pickled_codebook(tmp_path):
    codebook = np.random.default_rng(0).random((24, 3))
    path = write_palette(tmp_path / csc321_file(24), codebook)
    np.testing.assert_array_equal(read_csc321_palette(path), codebook)


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_a_hostile_pickle_is_refused_and_runs_nothing(tmp_path, capsys):
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = Evil(), 0.0
    path = tmp_path / "colour_kmeans24_cat7.npy"
    np.save(path, obj, allow_pickle=True)
    with pytest.raises(DataFormatError, match=r"colour_kmeans24_cat7.npy: refusing to load builtins.print"):
        read_csc321_palette(path)
    assert "pwned" not in capsys.readouterr().out


def test_plain_arrays_text_and_bad_files(tmp_path):
    codebook = np.random.default_rng(1).random((16, 3))
    np.save(tmp_path / "plain.npy", codebook)
    np.testing.assert_array_equal(read_csc321_palette(tmp_path / "plain.npy"), codebook)
    np.savetxt(tmp_path / "p.txt", codebook)
    np.testing.assert_allclose(read_csc321_palette(tmp_path / "p.txt"), codebook)
    np.save(tmp_path / "wide.npy", np.zeros((24, 4)))
    with pytest.raises(DataFormatError, match=r"wide.npy: expected a float codebook of shape \(K, 3\)"):
        read_csc321_palette(tmp_path / "wide.npy")
    np.save(tmp_path / "bright.npy", codebook * 255)                 # uint8 units, not [0, 1]
    with pytest.raises(DataFormatError, match=r"bright.npy: .*in \[0, 1\]"):
        read_csc321_palette(tmp_path / "bright.npy")
    data = write_palette(tmp_path / "cut.npy", codebook).read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:len(data) - 40])
    with pytest.raises(DataFormatError, match=r"cut.npy: not a readable pickled palette"):
        read_csc321_palette(tmp_path / "cut.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(DataFormatError, match=r"junk.npy: not a .npy file"):
        read_csc321_palette(tmp_path / "junk.npy")


def test_the_registry_finds_each_size_and_names_a_missing_file(tmp_path):
    folder = tmp_path / "csc321-colours"
    folder.mkdir()
    codebook = np.random.default_rng(2).random((24, 3))
    write_palette(folder / csc321_file(24), codebook)
    np.testing.assert_array_equal(load("csc321-colours", "24", data_dir=tmp_path), codebook)
    with pytest.raises(MissingDataError, match=r"colour_kmeans32_cat7.npy not found"):
        load("csc321-colours", "32", data_dir=tmp_path)


def test_the_shared_copy_is_the_assignments_file(data_dir):
    from nnlab.data.sources import file_digest

    path = data_dir / "csc321-colours" / csc321_file(24)
    assert file_digest(path) == "182e780824b5abd532d830e277a69aeec3b74d7e6c51e160f7295cde1e020d2e"
    codebook = read_csc321_palette(path)
    assert codebook.shape == (24, 3)
    np.testing.assert_allclose(codebook, read_csc321_palette(path.with_suffix(".txt")), atol=1e-9)


def test_cli_shows_a_palette_row_by_row(tmp_path, monkeypatch, capsys):
    from nnlab.cli import main

    monkeypatch.delenv("NNLAB_DATA", raising=False)
    (tmp_path / "csc321-colours").mkdir()
    codebook = np.zeros((16, 3))
    codebook[3] = (1.0, 0.5, 0.0)
    write_palette(tmp_path / "csc321-colours" / csc321_file(16), codebook)
    assert main(["data", "show", "csc321-colours", "--split", "16", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "16 colours" in out and "  3  1.0000 0.5000 0.0000  #ff8000" in out


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
