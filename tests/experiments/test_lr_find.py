"""`nnlab lr-find NAME`: the finder on an experiment's own phase, and its one-line errors."""

import json

import pytest

from nnlab.cli import main


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    monkeypatch.setenv("NNLAB_CACHE", str(tmp_path / "cache"))


@pytest.mark.slow
def test_lr_find_sweeps_the_first_phase_and_writes_the_figure_and_numbers(tmp_path, capsys, no_data):
    out = tmp_path / "sweep" / "blobs.png"
    assert main(["-q", "lr-find", "blobs-bce", "--smoke", "--steps", "40", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "blobs-bce / softmax: suggested learning rate" in said and "configured with 0.05" in said
    assert out.read_bytes()[:4] == b"\x89PNG"
    numbers = json.loads(out.with_suffix(".json").read_text())
    assert numbers["phase"] == "softmax" and numbers["engine"] == "numpy" and numbers["configured_lr"] == 0.05
    assert len(numbers["lrs"]) == len(numbers["losses"]) <= 40
    assert numbers["lrs"][0] == pytest.approx(1e-7) and min(numbers["lrs"]) <= numbers["suggestion"]
    assert not list(tmp_path.glob("runs")) and not (tmp_path / "sweep" / "runs").exists()


@pytest.mark.slow
def test_a_later_phase_is_swept_after_the_earlier_ones_trained(tmp_path, capsys, no_data):
    out = tmp_path / "sigmoid.png"
    assert main(["-q", "lr-find", "blobs-bce", "--smoke", "--steps", "20", "--phase", "sigmoid", "--out", str(out)]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["phase"] == "sigmoid"


@pytest.mark.parametrize("args, message", [
    (["mnist-autoencoder", "--smoke", "--phase", "nope"], "mnist-autoencoder has no training phase 'nope'; its phases:"
                                                          " autoencoder, classifier, finetune"),
    (["blobs-bce", "--out", "x.txt"], "--out x.txt: the figure must be .png, .svg or .pdf"),
    (["no-such-experiment"], "unknown experiment 'no-such-experiment'"),
])
def test_lr_find_errors_are_one_line(args, message, capsys, no_data):
    with pytest.raises(SystemExit) as exc:
        main(["lr-find", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


@pytest.mark.slow
def test_a_run_shows_each_epoch_as_one_compact_line_and_logs_it_in_full(tmp_path, capsys, no_data):
    out = tmp_path / "run"
    assert main(["run", "blobs-bce", "--smoke", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "softmax  epoch 1/" in err and "epoch 1: loss=" not in err
    assert "epoch 1: loss=" in (out / "run.log").read_text()
