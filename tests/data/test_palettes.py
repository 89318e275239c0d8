"""The CSC321 palette files: read without running code, in the assignment's formats."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.data.errors import DataFormatError, MissingDataError
from nnlab.data.palettes import csc321_file, read_csc321_palette
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
