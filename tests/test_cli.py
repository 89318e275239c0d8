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
    with pytest.raises(SystemExit, match=r"bad.yaml: Linear needs out_features >= 1"):
        main(["summary", str(bad)])
    bad.write_text("[1, 2")
    with pytest.raises(SystemExit, match="cannot parse"):
        main(["summary", str(bad)])


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
