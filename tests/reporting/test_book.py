"""The lab book, built from smoke runs: every chapter, every question and every figure is there."""

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


def test_every_figure_exists_and_is_embedded_in_the_html(smoke_book):
    out, text, html = smoke_book
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) >= 60
    assert all((out / path).is_file() for path in images)
    assert html.count("data:image/png;base64,") == len(images)


def test_the_book_sets_the_seed_numbers_beside_nnlab_and_says_it_is_smoke(smoke_book):
    _, text, _ = smoke_book
    assert "**Built from smoke runs.**" in text
    assert "| homework | quantity | seed | nnlab, seed preset | nnlab, default | target | verdict |" in text
    assert "13.00 years" in text and "70.50%" in text and "7,904" in text  # seeds 000, 001 and 003


def test_a_book_without_runs_says_which_command_makes_each(tmp_path):
    html_path, md_path = build_book({}, tmp_path)
    text = md_path.read_text()
    assert "`nnlab run utkface-mlp --preset seed` produces it" in text
    assert "### Missing runs" in text and "- `nnlab run mnist-autoencoder`" in text


def test_book_command_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit, match="is not a run folder"):
        main(["book", str(tmp_path), "--out", str(tmp_path / "b"), "--runs-dir", str(tmp_path)])
    assert main(["book", "--out", str(tmp_path / "empty"), "--runs-dir", str(tmp_path / "none")]) == 0
    assert "built from 0 runs" in capsys.readouterr().out
