import json
import re

import pytest

from nnlab.cli import main
from tests.conftest import ROOT


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "summary" in out and "gradcheck" in out


def test_summary_of_the_seed004_autoencoder(capsys):
    assert main(["summary", str(ROOT / "examples/seed004-autoencoder.yaml")]) == 0
    out = capsys.readouterr().out
    assert "Total parameters: 1,032,414" in out
    assert "Linear(784 -> 500)" in out and "sigmoid" in out


def test_summary_json(capsys):
    assert main(["summary", str(ROOT / "examples/seed000-age.yaml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_params"] == 4738 and len(data["rows"]) == 3


@pytest.mark.parametrize("spec", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_spec_builds(spec, capsys):
    assert main(["summary", str(spec)]) == 0


def test_gradcheck_command(capsys):
    assert main(["gradcheck", str(ROOT / "examples/seed000-ethnicity.yaml"), "--batch", "2"]) == 0
    assert "all gradients agree" in capsys.readouterr().out


def test_bad_spec_files_give_one_line_errors(tmp_path):
    with pytest.raises(SystemExit, match="not found"):
        main(["summary", str(tmp_path / "nope.yaml")])
    bad = tmp_path / "bad.yaml"
    bad.write_text("input_shape: [3]\nlayers:\n  - {type: Linear, out_features: 0}\n")
    with pytest.raises(SystemExit, match=r"bad.yaml: Linear out_features must be >= 1"):
        main(["summary", str(bad)])
    bad.write_text("[1, 2")
    with pytest.raises(SystemExit, match="cannot parse"):
        main(["summary", str(bad)])


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch):
    """The README's examples must keep working as written (run in a scratch folder)."""
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README has no python example"
    for code in blocks:
        exec(compile(code.replace("progress=True", "progress=False"), "README.md", "exec"), {})


def test_exercise_command_lists_runs_and_writes_a_figure(tmp_path, capsys):
    assert main(["exercise"]) == 0
    listing = capsys.readouterr().out
    for name in ("conv-pool", "conv-backprop", "conv1d-network", "dilation", "equivariance", "transposed-conv"):
        assert name in listing
    assert main(["exercise", "conv-pool", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[yes]" in out and "[NO ]" not in out
    assert "max-pooled 1 (2x2)" in out and "[ 6  5 ]" in out  # the identity filter's pooled map
    assert (tmp_path / "conv-pool.png").stat().st_size > 10_000
    with pytest.raises(SystemExit, match="unknown exercise 'conv-poo'"):
        main(["exercise", "conv-poo"])


def test_models_lists_every_model_with_its_parameter_count(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"light_vgg\s+3,744,664\s+3x128x128", out)
    assert re.search(r"colour_unet\s+112,344", out) and re.search(r"vgg16\s+138,357,544", out)


def test_summary_of_a_model_by_name(capsys):
    assert main(["summary", "colour_base"]) == 0
    assert "Total parameters: 86,784" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="neither a spec file nor a model"):
        main(["summary", "no_such_model"])


def test_exercise_listing_names_the_theory_exercises(capsys):
    assert main(["exercise"]) == 0
    listing = capsys.readouterr().out
    for name in ("why-conv", "batchnorm", "residual-gradients", "receptive-field", "deconv-projection"):
        assert f"  {name} " in listing


def test_exercise_conv_pool_reads_filters_and_image(tmp_path, capsys):
    import numpy as np

    sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=float)
    np.save(tmp_path / "sobel.npy", np.stack([sobel, sobel.T]))
    image = "[[0, 0, 9, 9], [0, 0, 9, 9], [0, 0, 9, 9], [0, 0, 9, 9]]"
    assert main(["exercise", "conv-pool", "--filters", str(tmp_path / "sobel.npy"), "--image", image,
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "convolution with 2 filters" in out and "[NO ]" not in out
    # column 1 of the Sobel-x map at row 1 (interior): (0 + 0 + 0) - (9 + 18 + 9) = -36
    assert "-36" in out
    (tmp_path / "stacked.txt").write_text("0 0 0\n0 1 0\n0 0 0\n")
    assert main(["exercise", "conv-pool", "--filters", str(tmp_path / "stacked.txt"), "--out", str(tmp_path)]) == 0
    assert "reproduces the image" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--filters", "[[1, 2], [3, 4], [5, 6]]"], r"--filters .*got shape \(3, 2\)"),
    (["--filters", "MISSING/f.npy"], r"--filters .*f.npy: file not found"),
    (["--image", "[1, 2, 3]"], r"--image .*must be 2-D"),
    (["--filters", "[[a, b], [c, d]]"], r"--filters .*not a rectangular array of numbers"),
], ids=["bad-shape", "missing-file", "bad-image", "not-numbers"])
def test_exercise_bad_arrays_give_one_line_and_exit_code_2(tmp_path, capsys, args, message):
    args = [a.replace("MISSING", str(tmp_path / "nowhere")) for a in args]
    with pytest.raises(SystemExit) as exc:
        main(["exercise", "conv-pool", *args, "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err) and "Traceback" not in err


def test_exercise_options_that_do_not_apply_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["exercise", "why-conv", "--filters", "[[1]]", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "--filters applies to conv-pool" in capsys.readouterr().err


def test_exercise_batchnorm_says_which_images_it_used(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    assert main(["exercise", "batchnorm", "--data-dir", str(tmp_path), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "CIFAR-10 was not found" in out and "synthetic colour images" in out
    assert (tmp_path / "batchnorm.png").is_file()


def test_exercise_batchnorm_on_real_cifar(tmp_path, capsys, data_dir):
    assert main(["exercise", "batchnorm", "--data-dir", str(data_dir), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "800 CIFAR-10 training horses" in out and "[NO ]" not in out


def test_config_lists_every_key_with_value_type_and_comment(capsys):
    from nnlab.experiments.config import keys
    from nnlab.experiments.registry import get

    assert main(["config", "mnist-autoencoder", "--preset", "seed"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()[1:]
    assert len(lines) == len(keys(get("mnist-autoencoder").config))
    train_lr = next(line for line in lines if line[2:].startswith("train.lr "))
    assert "float" in train_lr and "learning rate" in train_lr
    assert any(line.startswith("*") and "(default" in line for line in lines)      # what the preset changed


def test_every_setting_of_every_experiment_says_what_it_does():
    from nnlab.experiments import load_all
    from nnlab.experiments.config import describe

    for name, exp in load_all().items():
        if not exp.config.__module__.startswith("nnlab."):
            continue  # a toy experiment a test registered
        undocumented = [r["key"] for r in describe(exp.config()) if not r["comment"]]
        assert not undocumented, f"{name}: no comment on {undocumented}"


def test_unknown_keys_suggest_the_closest(capsys):
    from nnlab.experiments.config import suggest

    assert suggest("epochs", ["train.epochs", "train.lr", "seed"]) == ["train.epochs"]
    assert suggest("num_filter", ["num_filters", "kernel_size"]) == ["num_filters"]
    with pytest.raises(SystemExit, match=r"unknown key 'num_filter'; did you mean 'num_filters'\?"):
        main(["config", "colourization", "--set", "num_filter=3"])


def test_dry_run_checks_the_settings_and_makes_no_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "colourization", "--dry-run", "--set", "epochs=3", "--out", str(out)]) == 0
    assert "* epochs" in capsys.readouterr().out and not out.exists()
    with pytest.raises(SystemExit, match="palette must be one of"):
        main(["run", "colourization", "--dry-run", "--set", "palette=lab", "--out", str(out)])
    with pytest.raises(SystemExit, match="palette must be one of"):             # a real run checks first, too
        main(["run", "colourization", "--set", "palette=lab", "--out", str(out)])
    assert not out.exists()


def test_a_malformed_data_file_is_one_line_and_status_2(tmp_path, monkeypatch, capsys):
    from tests.data.test_idx_cifar import write_mnist

    monkeypatch.delenv("NNLAB_DATA", raising=False)
    write_mnist(tmp_path / "mnist", n=6, gz=False)
    images = tmp_path / "mnist" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])                   # truncated
    assert main(["data", "show", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if " INFO " not in line]
    assert len(err) == 1 and err[0].startswith("nnlab: ") and "train-images-idx3-ubyte: truncated" in err[0]


def test_runs_lists_past_runs_and_cleans_the_failed(tmp_path, capsys):
    import yaml

    for name, status in (("a", "ok"), ("b", "failed"), ("c", "interrupted")):
        folder = tmp_path / "x" / name
        folder.mkdir(parents=True)
        (folder / "config.yaml").write_text(yaml.safe_dump({"run": {"experiment": "blobs-bce", "started": name}}))
        (folder / "metrics.json").write_text(json.dumps({"status": status, "wall_s": 3.0}))
    assert main(["runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert [line.split()[2] for line in out.splitlines()] == ["ok", "failed", "interrupted"]
    assert main(["runs", str(tmp_path), "--clean"]) == 0
    assert "removed 2" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["a"]


@pytest.mark.slow
def test_q_keeps_a_run_quiet_on_the_console(tmp_path):
    """-q: the epoch lines go to run.log only (the progress bar's log redirection is off)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NNLAB_DATA", None)
    done = subprocess.run([sys.executable, "-m", "nnlab", "-q", "run", "blobs-bce", "--smoke", "--set", "epochs=3",
                           "--out", str(tmp_path / "r")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    assert " INFO " not in done.stderr and "epoch 1:" in (tmp_path / "r" / "run.log").read_text()


def test_a_bare_ctrl_c_is_one_line_saying_so_with_status_130(monkeypatch, capsys):
    import nnlab.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser(), "models", interrupted))
    assert main(["models"]) == 130
    assert capsys.readouterr().err.strip() == "nnlab: interrupted (Ctrl-C)"


def _with_func(parser, command, func):
    parser._subparsers._group_actions[0].choices[command].set_defaults(func=func)
    return parser
