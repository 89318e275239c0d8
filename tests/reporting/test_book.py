"""The lab book, built from smoke runs: every chapter, every question and every figure is there."""

import json
import re

import pytest

from nnlab.cli import main
from nnlab.reporting.book import build_book, chapters
from nnlab.reporting.runs import read_run


@pytest.fixture(scope="module")
def smoke_book(smoke_runs, tmp_path_factory):
    runs = {key: read_run(path) for key, path in smoke_runs.items()}
    out = tmp_path_factory.mktemp("book")
    html_path, md_path = build_book(runs, out, smoke=True)
    return out, md_path.read_text(), html_path.read_text()


@pytest.mark.slow
def test_every_chapter_and_question_is_answered(smoke_book):
    _, text, _ = smoke_book
    for chapter in chapters():
        assert re.search(rf"^## (Chapter {chapter.id}|Beyond the homework): ", text, re.M), chapter.id
        for q in chapter.questions:
            assert f"### {q.id}. {q.title}\n" in text, (chapter.id, q.id)
    for broken in ("Not in this book yet", "has no figure", "has no table", "has no note", "could not be built",
                   "Checks that failed"):
        assert broken not in text, f"the smoke book says {broken!r}:\n" + "\n".join(
            line for line in text.splitlines() if broken in line)


@pytest.mark.slow
def test_every_figure_exists_and_is_embedded_in_the_html(smoke_book):
    out, text, html = smoke_book
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) >= 60
    assert all((out / path).is_file() for path in images)
    assert html.count("data:image/png;base64,") == len(images)


@pytest.mark.slow
def test_the_book_sets_the_seed_numbers_beside_nnlab_and_says_it_is_smoke(smoke_book):
    _, text, _ = smoke_book
    assert "**Built from smoke runs.**" in text
    assert "| homework | quantity | seed | nnlab, seed preset | nnlab, default | target | verdict |" in text
    assert "13.00 years" in text and "70.50%" in text and "7,904" in text  # seeds 000, 001 and 003


@pytest.mark.slow
def test_a_book_without_runs_says_which_command_makes_each(tmp_path):
    html_path, md_path = build_book({}, tmp_path)
    text = md_path.read_text()
    assert "`nnlab run utkface-mlp --preset seed` produces it" in text
    assert "### Missing runs" in text and "- `nnlab run mnist-autoencoder`" in text
    assert "have not been recorded" in text and "no sweep found" in text     # no benchmarks' results either


@pytest.mark.slow
def test_book_command_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit, match="is not a run folder"):
        main(["book", str(tmp_path), "--out", str(tmp_path / "b"), "--runs-dir", str(tmp_path)])
    assert main(["book", "--out", str(tmp_path / "empty"), "--runs-dir", str(tmp_path / "none")]) == 0
    assert "built from 0 runs" in capsys.readouterr().out


@pytest.mark.slow
def test_a_book_shows_the_sweeps_and_gap_probes_the_benchmarks_recorded(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    points = [{"lr": 0.01, "unet_accuracy": 0.5323, "state": "COMPLETE"},
              {"lr": 0.001, "unet_accuracy": None, "state": "RUNNING"}]
    (results / "colourization_sweeps.json").write_text(json.dumps(
        {"unet.lr": {"points": points, "complete": False, "sweep": "runs/sweeps/x/unet-lr"}}))
    (results / "colourization_gap.json").write_text(json.dumps(
        {"run": "runs/r", "batch50": {"accuracy": 0.4218},
         "residual_cost": {"seed_residual_over_unet": 7.5, "nnlab_residual_over_unet": 1.88,
                           "residual_nf64": {"params": 480000, "accuracy": 0.6, "val_loss": 1.1, "run": "runs/p"}}}))
    (results / "seed_reproduction.json").write_text("{not json")        # unreadable: left out, not fatal
    _, md_path = build_book({}, tmp_path / "book", results=results)
    text = md_path.read_text()
    unet_lr = text[text.index("**U-Net, lr**"):text.index("**U-Net, kernel_size**")]
    assert "as recorded in `benchmarks/results/colourization_sweeps.json` from `runs/sweeps/x/unet-lr`" in unet_lr
    assert "| 0.01 | 57.60% | 53.23% |" in unet_lr and "| 0.001 | 56.40% | not run |" in unet_lr
    assert "benchmarks/colourization_sweeps.py unet.lr" in unet_lr               # how to finish it
    assert "batch 50) gives the base model 42.18%" in text
    assert "took 7.5x its U-Net's time per epoch" in text and "at 64 filters (480,000 parameters" in text


def test_book_results_folder_must_exist_when_named(tmp_path):
    with pytest.raises(SystemExit, match=r"nowhere: no such folder \(--results\)"):
        main(["book", "--out", str(tmp_path / "b"), "--runs-dir", str(tmp_path), "--results", str(tmp_path / "nowhere")])
